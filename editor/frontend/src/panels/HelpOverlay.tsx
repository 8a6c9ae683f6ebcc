// Keyboard shortcuts, shown with "?" or the Help button.
import { Dialog } from "../dialogs/Dialog";

export const SHORTCUTS: [string, string][] = [
  ["Ctrl/⌘ + S", "Save (creates a version)"],
  ["Ctrl/⌘ + Z", "Undo"],
  ["Ctrl/⌘ + Shift + Z, Ctrl/⌘ + Y", "Redo"],
  ["Ctrl/⌘ + C / V", "Copy / paste selected nodes (as JSON, also between workflows); a paste lands at the pointer"],
  ["Ctrl/⌘ + D", "Duplicate selection"],
  ["Ctrl/⌘ + A", "Select all"],
  ["Delete / Backspace", "Delete selection"],
  ["Shift + drag on empty canvas", "Box-select several nodes (inside a loop: from its empty body)"],
  ["Shift or Ctrl/⌘ + click", "Add to selection (click again to take it out)"],
  ["Shift + L", "Auto-layout"],
  ["Shift + F", "Fit view"],
  ["G", "Toggle snap to grid"],
  ["Escape", "Clear selection / close dialogs"],
  ["?", "This help"],
];

export function HelpOverlay({ onClose }: { onClose: () => void }) {
  return (
    <Dialog title="Keyboard shortcuts" titleId="help-title" testId="help-overlay" onClose={onClose}>
      <table className="fm-shortcuts">
        <tbody>
          {SHORTCUTS.map(([keys, what]) => (
            <tr key={keys}>
              <th scope="row">
                <kbd>{keys}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="fm-help">
        Drag several connections out of one node to fan out into parallel branches; connect them into a Merge to join. Drop nodes
        onto a Loop to build its body, or select an empty Loop and click a palette item.
      </p>
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </Dialog>
  );
}
