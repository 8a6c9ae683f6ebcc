// Run from the editor: an input JSON dialog; the execution then gets a link to its timeline.
import { useState } from "react";

import { Dialog } from "../dialogs/Dialog";
import { CodeField } from "../forms/LazyCodeField";
import { LargeValue } from "../dialogs/LargeValue";
import { parseJsonText } from "../lib/jsonText";
import { isTruncated } from "../lib/largeValue";

interface Props {
  onRun: (input: unknown, priority: number | undefined) => Promise<void>;
  onClose: () => void;
  busy: boolean;
  /** Prefilled: the input of the workflow's last run (remembered per workflow). */
  initialInput?: unknown;
}

export function RunDialog({ onRun, onClose, busy, initialInput }: Props) {
  // A last input the server cut (large) is not prefilled: the box would get its marker.
  const lastCut = isTruncated(initialInput) ? initialInput : null;
  const [text, setText] = useState(() => (initialInput && typeof initialInput === "object" && !lastCut ? JSON.stringify(initialInput, null, 2) : "{}"));
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
      {lastCut ? (
        <p className="fm-help" data-testid="run-last-input-large">
          The last run's input is a <LargeValue value={lastCut} /> and is not prefilled; re-run that run to reuse it unchanged.
        </p>
      ) : null}
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
