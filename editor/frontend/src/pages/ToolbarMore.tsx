// The editor toolbar's "More" menu. In a narrow window (under 1280 px wide, see editor.css)
// the toolbar's less frequent buttons (versions, import, export, shortcuts) move into it, so
// the toolbar stays one row instead of wrapping onto the canvas. Narrower still (a window
// half a laptop screen wide) the layout buttons follow (`narrow` items), and then undo/redo
// (`narrowest`), so that Save and Run stay on screen. The run bar's overflow menu is the
// same component (its own label, test id and class; panels/RunBar.tsx).
import { type KeyboardEvent, type ReactNode, useEffect, useRef, useState } from "react";

export interface MoreItem {
  label: string;
  testId: string;
  onSelect: () => void;
  /** Listed only when the window is narrow enough that the toolbar hides its button. */
  narrow?: "narrow" | "narrowest";
  disabled?: boolean;
}

/** The menu's entries that show (the `narrow` ones are hidden by CSS in a wider window). */
function shownEntries(root: HTMLElement | null): HTMLButtonElement[] {
  return Array.from(root?.querySelectorAll<HTMLButtonElement>("[role=menuitem]") ?? []).filter((el) => el.getClientRects().length > 0 && !el.disabled);
}

interface Props {
  items: MoreItem[];
  /** The button's text and accessible name, its test id (the menu's is `<testId>-menu`) and
   * a class on the wrapper that the CSS shows or hides it by. */
  label?: ReactNode;
  ariaLabel?: string;
  testId?: string;
  className?: string;
}

export function ToolbarMore({ items, label = "More ▾", ariaLabel, testId = "toolbar-more", className }: Props) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    shownEntries(root.current)[0]?.focus();
    const away = (event: MouseEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    const escape = (event: globalThis.KeyboardEvent) => {
      if (event.key !== "Escape") return;
      event.stopPropagation();
      setOpen(false);
      root.current?.querySelector<HTMLButtonElement>("[aria-haspopup]")?.focus();
    };
    document.addEventListener("mousedown", away);
    document.addEventListener("keydown", escape, true);
    return () => {
      document.removeEventListener("mousedown", away);
      document.removeEventListener("keydown", escape, true);
    };
  }, [open]);

  const move = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    const entries = shownEntries(root.current);
    const at = entries.indexOf(document.activeElement as HTMLButtonElement);
    const next = (at + (event.key === "ArrowDown" ? 1 : entries.length - 1)) % entries.length;
    entries[next]?.focus();
  };

  return (
    <div className={className ? `fm-more ${className}` : "fm-more"} ref={root}>
      <button type="button" className="fm-btn" aria-haspopup="menu" aria-expanded={open} data-testid={testId}
              aria-label={ariaLabel} onClick={() => setOpen(!open)}>
        {label}
      </button>
      {open ? (
        <div role="menu" aria-label={ariaLabel ?? "More actions"} className="fm-more-menu" data-testid={`${testId}-menu`} onKeyDown={move}>
          {items.map((item) => (
            <button key={item.testId} type="button" role="menuitem" data-testid={`more-${item.testId}`}
                    className={item.narrow ? `fm-more-${item.narrow}` : undefined} disabled={item.disabled}
                    onClick={() => {
                      setOpen(false);
                      item.onSelect();
                    }}>
              {item.label}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
