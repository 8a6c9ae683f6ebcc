// `/dead-letters/`: runs and loop items that failed after their retries or waited in a
// queue past its timeout, kept because the queue has `deadLetterQueue: true` (SPEC §4.5).
// List (filtered by state, kind and workflow), inspect one (input, error, trace id),
// replay it (a new execution; the page links to it) or discard it.
import { useCallback, useEffect, useMemo, useState } from "react";

import { api, errorMessage } from "../api/client";

export interface DeadLetter {
  id: number;
  kind: "run" | "item";
  state: "open" | "replayed" | "discarded";
  workflow: number;
  workflowName: string;
  execution: number | null;
  traceId: string;
  nodeId: string;
  itemIndex: number | null;
  input: unknown;
  error: unknown;
  attempts: number;
  createdAt: string;
  replayedAt: string | null;
  replayedExecution: number | null;
  discardedAt: string | null;
}

interface Replayed {
  id: number;
  status: string;
  traceId: string;
  deadLetter: DeadLetter;
}

const STATES = ["open", "replayed", "discarded"] as const;

function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  if (error && typeof error === "object" && "message" in error && typeof (error as { message: unknown }).message === "string") {
    return (error as { message: string }).message;
  }
  return JSON.stringify(error);
}

function entryLabel(letter: DeadLetter): string {
  return letter.kind === "item" ? `item ${letter.itemIndex ?? "?"} of loop ${letter.nodeId}` : "run";
}

export function DeadLettersPage() {
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [state, setState] = useState<string>("open");
  const [kind, setKind] = useState<string>("");
  const [workflow, setWorkflow] = useState<string>("");
  const [selected, setSelected] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ text: string; execution?: number } | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    const query = new URLSearchParams();
    if (state) query.set("state", state);
    if (kind) query.set("kind", kind);
    if (workflow) query.set("workflow", workflow);
    const suffix = query.toString() ? `?${query.toString()}` : "";
    return api
      .get<DeadLetter[]>(`/api/dead-letters${suffix}`)
      .then((body) => {
        setLetters(body);
        setError(null);
      })
      .catch((err: unknown) => setError(errorMessage(err)));
  }, [state, kind, workflow]);

  useEffect(() => {
    void load();
  }, [load]);

  const workflows = useMemo(() => {
    const names = new Map<number, string>();
    for (const letter of letters ?? []) names.set(letter.workflow, letter.workflowName);
    return [...names.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  }, [letters]);

  const current = letters?.find((l) => l.id === selected) ?? null;

  const act = (letter: DeadLetter, action: "replay" | "discard") => {
    setBusy(true);
    setNotice(null);
    const done =
      action === "replay"
        ? api.post<Replayed>(`/api/dead-letters/${letter.id}/replay`).then((body) =>
            setNotice({ text: `Dead letter #${letter.id} replayed as execution #${body.id}.`, execution: body.id }),
          )
        : api.post<DeadLetter>(`/api/dead-letters/${letter.id}/discard`).then(() =>
            setNotice({ text: `Dead letter #${letter.id} discarded.` }),
          );
    done
      .then(() => load())
      .catch((err: unknown) => setError(errorMessage(err)))
      .finally(() => setBusy(false));
  };

  return (
    <div className="fm-list-page" data-testid="dead-letters-page">
      <div className="fm-list-head"><h1>Dead letters</h1></div>
      <p className="fm-muted">
        Runs and loop items that failed after all their retries, or waited in a queue past its timeout, are kept here when
        the queue has <code>deadLetterQueue: true</code>. Replay starts a new execution of the same workflow version with the
        original input (for a loop item: that loop runs just this item).
      </p>
      <div className="tl-filters">
        <label>State{" "}
          <select value={state} onChange={(e) => setState(e.target.value)} data-testid="filter-state">
            <option value="">any</option>
            {STATES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Kind{" "}
          <select value={kind} onChange={(e) => setKind(e.target.value)} data-testid="filter-kind">
            <option value="">any</option>
            <option value="run">run</option>
            <option value="item">item</option>
          </select>
        </label>
        <label>Workflow{" "}
          <select value={workflow} onChange={(e) => setWorkflow(e.target.value)} data-testid="filter-workflow">
            <option value="">any</option>
            {workflows.map(([id, name]) => <option key={id} value={String(id)}>{name}</option>)}
          </select>
        </label>
      </div>
      {notice ? (
        <p className="fm-banner" role="status" data-testid="dead-letter-notice">
          {notice.text}{" "}
          {notice.execution !== undefined ? <a href={`/executions/${notice.execution}/`}>Open the execution</a> : null}
        </p>
      ) : null}
      {error ? <p className="fm-banner fm-banner-error" role="alert">{error}</p> : null}
      {letters && letters.length === 0 ? <p className="fm-muted" data-testid="dead-letters-empty">No dead letters.</p> : null}
      {letters && letters.length ? (
        <table className="fm-table" data-testid="dead-letters-table">
          <thead>
            <tr><th>#</th><th>Entry</th><th>Workflow</th><th>Error</th><th>Attempts</th><th>Trace id</th><th>Kept</th><th>State</th><th /></tr>
          </thead>
          <tbody>
            {letters.map((letter) => (
              <tr key={letter.id} data-testid="dead-letter-row" data-dead-letter-id={letter.id} data-state={letter.state}
                  className={letter.id === selected ? "is-selected" : undefined}>
                <td>
                  <button type="button" className="fm-link-btn" onClick={() => setSelected(letter.id === selected ? null : letter.id)}
                          data-testid="dead-letter-inspect">#{letter.id}</button>
                </td>
                <td>{entryLabel(letter)}</td>
                <td>{letter.workflowName}</td>
                <td data-testid="dead-letter-error">{errorText(letter.error).slice(0, 120)}</td>
                <td>{letter.attempts}</td>
                <td><code>{letter.traceId}</code></td>
                <td>{new Date(letter.createdAt).toLocaleString()}</td>
                <td data-testid="dead-letter-state">
                  {letter.state === "replayed" && letter.replayedExecution !== null
                    ? <a href={`/executions/${letter.replayedExecution}/`}>replayed → #{letter.replayedExecution}</a>
                    : letter.state}
                </td>
                <td>
                  {letter.state === "open" ? (
                    <>
                      <button type="button" className="fm-small-btn" disabled={busy} onClick={() => act(letter, "replay")}
                              data-testid="dead-letter-replay">Replay</button>{" "}
                      <button type="button" className="fm-small-btn fm-danger" disabled={busy} onClick={() => act(letter, "discard")}
                              data-testid="dead-letter-discard">Discard</button>
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {current ? (
        <section data-testid="dead-letter-detail"
                 style={{ marginTop: 16, padding: "8px 16px", background: "#fff", border: "1px solid #d9dde3", borderRadius: 8 }}>
          <h2>Dead letter #{current.id}: {entryLabel(current)}</h2>
          <p>
            Workflow <strong>{current.workflowName}</strong>
            {current.execution !== null ? <> · from <a href={`/executions/${current.execution}/`}>execution #{current.execution}</a></> : null}
            {" "}· trace <code>{current.traceId}</code> · {current.attempts} attempt(s)
          </p>
          <h3>Input</h3>
          <pre data-testid="dead-letter-input">{JSON.stringify(current.input, null, 2)}</pre>
          <h3>Error</h3>
          <pre data-testid="dead-letter-error-detail">{JSON.stringify(current.error, null, 2)}</pre>
        </section>
      ) : null}
    </div>
  );
}
