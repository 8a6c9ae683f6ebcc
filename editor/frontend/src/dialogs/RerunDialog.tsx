// Re-run an execution (like Step Functions' redrive or Temporal's reset, for a whole run): a
// new execution on the run's own version or on the workflow's latest, with the run's input
// prefilled and editable. One dialog for the editor, the timeline header, the executions
// list and the dead letters page (which replays a dead letter through `start`).
import { type ReactNode, useEffect, useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import { executionsApi, type RerunVersion, workflowsApi } from "../api/endpoints";
import { parseJsonText } from "../lib/jsonText";
import { Dialog } from "./Dialog";

export interface Started {
  id: number | string;
  version?: number | null;
}

interface Props {
  execution: { id: number | string; workflow?: number | string; version?: number | null; input?: unknown };
  /** The workflow's latest version when the caller knows it (the editor); else it is fetched. */
  latestVersion?: number;
  /** The version chosen when the dialog opens. */
  initialVersion?: RerunVersion;
  onClose: () => void;
  /** Default: open the new run's timeline. */
  onStarted?: (started: Started) => void;
  /** Default: `POST /api/executions/{id}/retry`, or the replay of the run's open dead letter.
   * The dead letters page replays its entry through its own. */
  start?: (body: { version: RerunVersion; input: unknown }) => Promise<Started>;
  title?: string;
  /** A run's input is an object; a loop item's may be any JSON. */
  inputMustBeObject?: boolean;
  /** The input box; default a plain text area (the editor passes its code editor). */
  renderInput?: (value: string, onChange: (value: string) => void) => ReactNode;
}

export function RerunDialog({ execution, latestVersion, initialVersion = "original", onClose, onStarted, start, title,
                              inputMustBeObject = true, renderInput }: Props) {
  const [latest, setLatest] = useState<number | null>(latestVersion ?? null);
  const [version, setVersion] = useState<RerunVersion>(initialVersion);
  const [text, setText] = useState(() => JSON.stringify(execution.input ?? {}, null, 2));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A run kept as an open dead letter is re-run by replaying it, so the dead letter is
  // marked as dealt with (and names the replay) instead of staying open beside it.
  const [deadLetter, setDeadLetter] = useState<number | null>(null);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (latestVersion !== undefined || execution.workflow === undefined) return;
    workflowsApi.get(execution.workflow).then((wf) => setLatest(wf.version)).catch(() => setLatest(null));
  }, [execution.workflow, latestVersion]);

  useEffect(() => {
    if (start) return;
    let stopped = false;
    api
      .get<{ id: number; kind: string }[]>(`/api/dead-letters?execution=${execution.id}&state=open&kind=run`)
      .then((letters) => !stopped && setDeadLetter(letters[0]?.id ?? null))
      .catch(() => undefined);
    return () => {
      stopped = true;
    };
  }, [execution.id, start]);

  const submit = async () => {
    const parsed = parseJsonText(text, "The input", {});
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    const input = parsed.value;
    if (inputMustBeObject && (!input || typeof input !== "object" || Array.isArray(input))) {
      setError("The input must be a JSON object, like {\"items\": [1, 2]}.");
      return;
    }
    setBusy(true);
    setError(null);
    const body = { version, input };
    try {
      let started: Started;
      if (start) started = await start(body);
      else if (deadLetter !== null) {
        const replayed = await api.post<{ id: number }>(`/api/dead-letters/${deadLetter}/replay`, body);
        started = await executionsApi.get(replayed.id);
      } else started = await executionsApi.retry(execution.id, body);
      if (onStarted) onStarted(started);
      else window.location.assign(`/executions/${started.id}/`);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const same = latest !== null && latest === execution.version;
  return (
    <Dialog title={title ?? `Re-run execution #${execution.id}`} titleId="rerun-title" testId="rerun-dialog" onClose={onClose} initialFocus={first}>
      {deadLetter !== null ? (
        <p className="fm-help" data-testid="rerun-dead-letter">
          This run is dead letter #{deadLetter}: re-running replays it and marks it replayed.
        </p>
      ) : null}
      <fieldset className="fm-fieldset">
        <legend className="fm-label">Version</legend>
        <label className="fm-radio">
          <input ref={first} type="radio" name="rerun-version" value="original" checked={version === "original"}
                 onChange={() => setVersion("original")} data-testid="rerun-original" />
          The run's own version{typeof execution.version === "number" ? ` (v${execution.version})` : ""}
        </label>
        <label className="fm-radio">
          <input type="radio" name="rerun-version" value="latest" checked={version === "latest"}
                 onChange={() => setVersion("latest")} data-testid="rerun-latest" />
          The latest version{latest !== null ? ` (v${latest}${same ? ", the same" : ""})` : ""}
        </label>
      </fieldset>
      <label className="fm-label" htmlFor="rerun-input">Input (JSON)</label>
      {renderInput ? renderInput(text, setText) : (
        <textarea id="rerun-input" className="fm-textarea fm-mono" rows={8} value={text} onChange={(e) => setText(e.target.value)}
                  data-testid="rerun-input" aria-invalid={error?.startsWith("The input") ? true : undefined} />
      )}
      {error ? <p className="fm-banner fm-banner-error" role="alert" data-testid="rerun-error">{error}</p> : null}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>Cancel</button>
        <button type="button" className="fm-btn fm-btn-primary" disabled={busy} onClick={() => void submit()} data-testid="rerun-submit">
          {busy ? "Starting…" : start || deadLetter !== null ? "Replay" : "Re-run"}
        </button>
      </div>
    </Dialog>
  );
}
