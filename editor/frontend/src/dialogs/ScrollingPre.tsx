// A <pre> of JSON (a run's input or result, a node run's output) in a box of bounded height.
// Once its text is longer than the box it scrolls, and a scrolling box must be reachable by
// keyboard (axe's scrollable-region-focusable, serious): only the mouse wheel could scroll a
// node's long output to its end. While it overflows it is then a named region in the tab
// order (the arrow keys, Page Down and End scroll it; app.css gives it a focus ring); a short
// one stays out of the tab order, where it would be a stop with nothing to do.
import { type ReactNode, useLayoutEffect, useRef, useState } from "react";

interface Props {
  /** What a screen reader calls the box once it scrolls ("Output of Charge"). */
  label: string;
  className?: string;
  testId?: string;
  children: ReactNode;
}

function overflowing(el: HTMLElement): boolean {
  return el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1;
}

export function ScrollingPre({ label, className, testId, children }: Props) {
  const ref = useRef<HTMLPreElement>(null);
  const [scrolls, setScrolls] = useState(false);
  // Measured after each render (new text keeps the box's clamped size, so a ResizeObserver
  // alone would miss it) and when the box itself resizes (a narrower window, a folded <details>).
  useLayoutEffect(() => {
    const el = ref.current;
    if (el) setScrolls(overflowing(el));
  });
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => setScrolls(overflowing(el)));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const classes = ["fm-scroll-pre", className].filter(Boolean).join(" ");
  return (
    <pre ref={ref} className={classes} data-testid={testId}
         {...(scrolls ? { tabIndex: 0, role: "region", "aria-label": label } : {})}>
      {children}
    </pre>
  );
}
