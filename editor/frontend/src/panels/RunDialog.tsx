// Run from the editor: an input JSON dialog; the execution then gets a link to its timeline.
import { useState } from "react";

import { Dialog } from "../dialogs/Dialog";
import { CodeField } from "../forms/LazyCodeField";
import { parseJsonText } from "../lib/jsonText";

interface Props {
  onRun: (input: unknown, priority: number | undefined) => Promise<void>;
  onClose: () => void;
  busy: boolean;
  /** Prefilled: the input of the workflow's last run (remembered per workflow). */
  initialInput?: unknown;
}

export function RunDialog({ onRun, onClose, busy, initialInput }: Props) {
  const [text, setText] = useState(() => (initialInput && typeof initialInput === "object" ? JSON.stringify(initialInput, null, 2) : "{}"));
  const [priority, setPriority] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async () => {
    const input = parseJsonText(text, "The input", {});
    if (!input.ok) {
      setError(input.error);
      return;
    }
    const p = priority.trim() ? Number(priority) : undefined;
    if (p !== undefined && !Number.isInteger(p)) {
      setError("Priority must be a whole number.");
      return;
    }
    setError(null);
    await onRun(input.value, p);
  };
  return (
    <Dialog title="Run workflow" titleId="run-title" testId="run-dialog" onClose={onClose}>
      <p className="fm-help">The input becomes {"{{input}}"} and the Start node's output (prefilled with the last run's input). Unsaved changes are saved first.</p>
      <label className="fm-label" htmlFor="run-input">
        Input (JSON)
      </label>
      <CodeField id="run-input" testId="run-input" label="Run input JSON" language="javascript" value={text} onChange={setText} minHeight="120px" />
      <label className="fm-label" htmlFor="run-priority">
        Priority (optional)
      </label>
      <input id="run-priority" type="number" step={1} data-testid="run-priority" value={priority} onChange={(e) => setPriority(e.target.value)} />
      {error && (
        <p className="fm-field-error" role="alert">
          {error}
        </p>
      )}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="fm-btn fm-btn-primary" data-testid="run-submit" disabled={busy} onClick={() => void submit()}>
          {busy ? "Starting…" : "Start run"}
        </button>
      </div>
    </Dialog>
  );
}
