// The one modal dialog of the app: a backdrop that closes it on click, a box with
// role=dialog and its title, and the keyboard behaviour every dialog shares (useDialog).
import { type FormEvent, type ReactNode, type RefObject, useEffect, useRef } from "react";

const FOCUSABLE = [
  "a[href]", "button:not([disabled])", "input:not([disabled]):not([type=hidden])", "select:not([disabled])",
  "textarea:not([disabled])", "[contenteditable=true]", "[tabindex]:not([tabindex='-1'])",
].join(",");

// Open dialogs, innermost last: only the innermost one keeps Tab inside and takes the keys
// pressed while the focus is outside every dialog.
const open: HTMLElement[] = [];

function focusables(box: HTMLElement): HTMLElement[] {
  return [...box.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
}

/**
 * The keyboard contract of a modal dialog (WAI-ARIA dialog pattern): on open the focus moves
 * into it (to `initialFocus`, or the dialog itself unless an `autoFocus` element already has
 * it); Tab and Shift+Tab cycle inside it; Escape closes it, and the page's own Escape (clear
 * the selection, close the details) does not fire as well; on close the focus goes back to
 * where it was, so a keyboard user goes on from the button that opened it.
 *
 * Escape is taken when it bubbles up to the dialog, so that a field inside that uses it
 * (a code editor closing its completions, a nested full-size editor) comes first.
 */
export function useDialog(box: RefObject<HTMLElement | null>, onClose: () => void, initialFocus?: RefObject<HTMLElement | null>): void {
  // The latest onClose without re-running the effect (callers pass inline arrows).
  const close = useRef(onClose);
  close.current = onClose;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    open.push(element);
    if (initialFocus?.current) initialFocus.current.focus();
    else if (!element.contains(document.activeElement)) element.focus();

    const escape = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      event.stopPropagation();
      close.current();
    };
    // Keys pressed while the focus is outside every dialog (after a click on the page
    // behind, say) still belong to the innermost one.
    const outside = (event: KeyboardEvent) => {
      if (open[open.length - 1] !== element) return;
      if (event.key === "Tab") cycle(element, event);
      else if (!(event.target instanceof Node && element.contains(event.target))) escape(event);
    };
    element.addEventListener("keydown", escape);
    window.addEventListener("keydown", outside, true);
    return () => {
      element.removeEventListener("keydown", escape);
      window.removeEventListener("keydown", outside, true);
      open.splice(open.indexOf(element), 1);
      // Back to the opener unless the closing action moved the focus on purpose.
      const lost = !document.activeElement || document.activeElement === document.body || element.contains(document.activeElement);
      if (lost && opener?.isConnected) opener.focus();
    };
    // initialFocus is a ref, read once when the dialog opens.
  }, [box, initialFocus]);
}

/** Tab from the last focusable element goes to the first, Shift+Tab from the first to the last. */
export function cycle(element: HTMLElement, event: KeyboardEvent): void {
  const items = focusables(element);
  const first = items[0];
  const last = items[items.length - 1];
  if (!first || !last) {
    event.preventDefault();
    return;
  }
  const active = document.activeElement;
  const inside = element.contains(active);
  if (event.shiftKey && (!inside || active === first || active === element)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (!inside || active === last)) {
    event.preventDefault();
    first.focus();
  }
}

interface DialogProps {
  /** The heading; `titleId` labels the dialog with it. */
  title: ReactNode;
  titleId: string;
  /** The accessible name when it is not the title. */
  ariaLabel?: string;
  testId?: string;
  onClose: () => void;
  /** Extra classes of the box (`fm-modal` is always there). */
  className?: string;
  role?: "dialog" | "alertdialog";
  /** Render the box as a form: Enter in a field submits. */
  onSubmit?: () => void;
  initialFocus?: RefObject<HTMLElement | null>;
  children: ReactNode;
}

export function Dialog({ title, titleId, ariaLabel, testId, onClose, className, role = "dialog", onSubmit, initialFocus, children }: DialogProps) {
  const box = useRef<HTMLElement>(null);
  useDialog(box, onClose, initialFocus);
  const props = {
    className: className ? `fm-modal ${className}` : "fm-modal",
    role,
    "aria-modal": true,
    "aria-labelledby": ariaLabel ? undefined : titleId,
    "aria-label": ariaLabel,
    "data-testid": testId,
    tabIndex: -1,
    onClick: (event: { stopPropagation: () => void }) => event.stopPropagation(),
  };
  const content = (
    <>
      <h2 id={titleId}>{title}</h2>
      {children}
    </>
  );
  return (
    <div className="fm-modal-backdrop" onClick={onClose}>
      {onSubmit ? (
        <form {...props} ref={box as RefObject<HTMLFormElement | null>}
              onSubmit={(event: FormEvent) => { event.preventDefault(); onSubmit(); }}>
          {content}
        </form>
      ) : (
        <div {...props} ref={box as RefObject<HTMLDivElement | null>}>
          {content}
        </div>
      )}
    </div>
  );
}
