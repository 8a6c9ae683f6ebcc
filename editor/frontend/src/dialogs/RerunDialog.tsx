// Re-run an execution (like Step Functions' redrive or Temporal's reset, for a whole run): a
// new execution on the run's own version or on the workflow's latest, with the run's input
// prefilled and editable. One dialog for the editor, the timeline header, the executions
// list and the dead letters page (which replays a dead letter through `start`).
//
// An input the server cut because it is large (lib/largeValue) is fetched whole into the box
// when it is at most EDIT_BOUND; beyond that the dialog re-runs with the same input,
// unchanged, without loading it, and loads it only when asked. Why: a re-run of a big run is
// nearly always "the same data, fixed workflow"; megabytes of JSON in a text box freeze
// the tab for seconds, and sent back they would pass the server's request-body limit
// (Django's 2.5 MB), whereas a retry without `input` reuses the stored one at no cost.
import { type ReactNode, useEffect, useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import { executionsApi, type RerunVersion, workflowsApi } from "../api/endpoints";
import { parseJsonText } from "../lib/jsonText";
import { isTruncated, sizeText } from "../lib/largeValue";
import { Dialog } from "./Dialog";
import { LargeValue } from "./LargeValue";

/** Bytes of JSON up to which a cut input is loaded into the box by itself. */
export const EDIT_BOUND = 1_000_000;

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
  start?: (body: { version: RerunVersion; input?: unknown }) => Promise<Started>;
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
  const cut = isTruncated(execution.input) ? execution.input : null;
  // "same": re-run with the stored input, not loaded; "edit": the input in the box.
  const [mode, setMode] = useState<"same" | "edit">(cut && (cut.size > EDIT_BOUND || !cut.url) ? "same" : "edit");
  const [text, setText] = useState(() => (cut ? "" : JSON.stringify(execution.input ?? {}, null, 2)));
  const [loaded, setLoaded] = useState(cut === null);
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

  // The whole input, once, when it is to be edited and the server cut it.
  const cutUrl = cut?.url;
  useEffect(() => {
    if (mode !== "edit" || loaded || !cutUrl) return;
    let stopped = false;
    api
      .get<unknown>(cutUrl)
      .then((whole) => {
        if (stopped) return;
        setText(JSON.stringify(whole ?? {}, null, 2));
        setLoaded(true);
      })
      .catch((err: unknown) => !stopped && setError(`The input could not be loaded: ${errorMessage(err)}`));
    return () => {
      stopped = true;
    };
  }, [mode, loaded, cutUrl]);

  const submit = async () => {
    let body: { version: RerunVersion; input?: unknown } = { version };
    if (mode === "edit") {
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
      body = { version, input };
    }
    // Without `input`, the server re-runs with the stored one (retry and replay alike).
    setBusy(true);
    setError(null);
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
      {cut ? (
        <fieldset className="fm-fieldset" data-testid="rerun-large-input">
          <legend className="fm-label">Input: <LargeValue value={cut} testId="rerun-input-large" /></legend>
          <label className="fm-radio">
            <input type="radio" name="rerun-input-mode" value="same" checked={mode === "same"}
                   onChange={() => setMode("same")} data-testid="rerun-same-input" />
            The same input, unchanged (not loaded here)
          </label>
          <label className="fm-radio">
            <input type="radio" name="rerun-input-mode" value="edit" checked={mode === "edit"} disabled={!cut.url}
                   onChange={() => setMode("edit")} data-testid="rerun-edit-input" />
            Edit it here{cut.size > EDIT_BOUND ? ` (loads ${sizeText(cut.size)} into the page)` : ""}
          </label>
        </fieldset>
      ) : null}
      {mode === "edit" ? (
        <>
          <label className="fm-label" htmlFor="rerun-input">Input (JSON)</label>
          {!loaded ? <p className="fm-muted" data-testid="rerun-input-loading">Loading the input ({cut ? sizeText(cut.size) : ""})…</p>
            : renderInput ? renderInput(text, setText) : (
            <textarea id="rerun-input" className="fm-textarea fm-mono" rows={8} value={text} onChange={(e) => setText(e.target.value)}
                      data-testid="rerun-input" aria-invalid={error?.startsWith("The input") ? true : undefined} />
          )}
        </>
      ) : null}
      {error ? <p className="fm-banner fm-banner-error" role="alert" data-testid="rerun-error">{error}</p> : null}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>Cancel</button>
        <button type="button" className="fm-btn fm-btn-primary" disabled={busy || (mode === "edit" && !loaded)} onClick={() => void submit()} data-testid="rerun-submit">
          {busy ? "Starting…" : start || deadLetter !== null ? "Replay" : "Re-run"}
        </button>
      </div>
    </Dialog>
  );
}
