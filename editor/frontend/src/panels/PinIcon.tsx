// A pushpin drawn in SVG: the 📌 emoji needs an emoji font, which many machines (and
// headless browsers) lack, and then showed as an empty box.
export function PinIcon({ className = "fm-pin-icon" }: { className?: string }) {
  return (
    <svg className={className} viewBox="0 0 16 16" width="12" height="12" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M10.6 1.2a.8.8 0 0 1 1.1 0l3.1 3.1a.8.8 0 0 1 0 1.1l-.7.7a.8.8 0 0 1-.9.2L10.8 8.7l.3 2.9a.8.8 0 0 1-.2.7l-.6.6a.8.8 0 0 1-1.1 0L6.4 10.2 2.5 14.1a.6.6 0 0 1-.9-.9l3.9-3.9-2.7-2.8a.8.8 0 0 1 0-1.1l.6-.6a.8.8 0 0 1 .7-.2l2.9.3 2.4-2.4a.8.8 0 0 1 .2-.9Z" />
    </svg>
  );
}
