// Re-run an execution (like Step Functions' redrive or Temporal's reset, for a whole run):
// a new execution on the run's own version or on the workflow's latest, with the run's
// input prefilled and editable. Used by the timeline header and the executions list.
import { useEffect, useRef, useState } from "react";

import { errorMessage } from "../api/client";
import { workflowsApi } from "../api/endpoints";
import { timelineApi } from "./api";

interface Props {
  execution: { id: number | string; workflow: number | string; version?: number | null; input?: unknown };
  onClose: () => void;
  /** Default: open the new run's timeline. */
  onStarted?: (newExecutionId: number | string) => void;
  /** Default: `POST /api/executions/{id}/retry`. A dead letter's replay passes its own. */
  start?: (body: { version: "original" | "latest"; input: unknown }) => Promise<{ id: number | string }>;
  title?: string;
  /** A run's input is an object; a loop item's may be any JSON. */
  inputMustBeObject?: boolean;
}

export function RerunDialog({ execution, onClose, onStarted, start, title, inputMustBeObject = true }: Props) {
  const [latest, setLatest] = useState<number | null>(null);
  const [version, setVersion] = useState<"original" | "latest">("original");
  const [text, setText] = useState(() => JSON.stringify(execution.input ?? {}, null, 2));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    workflowsApi.get(execution.workflow).then((wf) => setLatest(wf.version)).catch(() => setLatest(null));
  }, [execution.workflow]);

  useEffect(() => {
    first.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, [onClose]);

  const submit = async () => {
    let input: unknown;
    try {
      input = text.trim() ? JSON.parse(text) : {};
    } catch (err) {
      setError(`The input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (inputMustBeObject && (!input || typeof input !== "object" || Array.isArray(input))) {
      setError("The input must be a JSON object, like {\"items\": [1, 2]}.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const started = start ? await start({ version, input }) : await timelineApi.retry(execution.id, { version, input });
      if (onStarted) onStarted(started.id);
      else window.location.assign(`/executions/${started.id}/`);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const same = latest !== null && latest === execution.version;
  return (
    <div className="fm-modal-backdrop" onClick={onClose}>
      <div className="fm-modal tl-rerun" role="dialog" aria-modal="true" aria-labelledby="rerun-title" data-testid="rerun-dialog"
           onClick={(e) => e.stopPropagation()}>
        <h2 id="rerun-title">{title ?? `Re-run #${execution.id}`}</h2>
        <fieldset>
          <legend>Version</legend>
          <label>
            <input ref={first} type="radio" name="rerun-version" value="original" checked={version === "original"}
                   onChange={() => setVersion("original")} data-testid="rerun-original" />{" "}
            The run's own version{typeof execution.version === "number" ? ` (v${execution.version})` : ""}
          </label>
          <label>
            <input type="radio" name="rerun-version" value="latest" checked={version === "latest"}
                   onChange={() => setVersion("latest")} data-testid="rerun-latest" />{" "}
            The latest version{latest !== null ? ` (v${latest}${same ? ", the same" : ""})` : ""}
          </label>
        </fieldset>
        <label htmlFor="rerun-input"><strong>Input</strong> (JSON)</label>
        <textarea id="rerun-input" rows={8} value={text} onChange={(e) => setText(e.target.value)} data-testid="rerun-input"
                  aria-invalid={error?.startsWith("The input") ? true : undefined} />
        {error ? <p className="fm-banner fm-banner-error" role="alert" data-testid="rerun-error">{error}</p> : null}
        <div className="fm-modal-actions">
          <button type="button" className="fm-btn" onClick={onClose}>Cancel</button>
          <button type="button" className="fm-btn fm-btn-run" disabled={busy} onClick={() => void submit()} data-testid="rerun-submit">
            {busy ? "Starting…" : start ? "Replay" : "Re-run"}
          </button>
        </div>
      </div>
    </div>
  );
}
