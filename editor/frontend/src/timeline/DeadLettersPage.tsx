// `/dead-letters/`: runs and loop items that failed after their retries or waited in a
// queue past its timeout, kept because the queue has `deadLetterQueue: true` (SPEC §4.5).
// List (filtered by state, kind and workflow), inspect one (input, error, trace id),
// replay it (a new execution on the original or the latest version, with its input as is
// or edited; the page links to it), replay several at once, or discard it.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import { LargeValue } from "../dialogs/LargeValue";
import { RerunDialog } from "../dialogs/RerunDialog";
import { isTruncated } from "../lib/largeValue";
import { Latest } from "../lib/latest";
import { toggled } from "../lib/sets";

export interface DeadLetter {
  id: number;
  kind: "run" | "item";
  state: "open" | "replayed" | "discarded";
  workflow: number;
  workflowName: string;
  execution: number | null;
  /** The version the failed run was pinned to. */
  version: number | null;
  traceId: string;
  nodeId: string;
  itemIndex: number | null;
  input: unknown;
  error: unknown;
  attempts: number;
  createdAt: string;
  /** An item's whole name: "loop#3", or "outer#2/inner#0" for a loop inside a loop. */
  itemPath?: string | null;
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

interface BulkReplayed {
  results: { id: number; execution?: number; status?: number; error?: string }[];
  replayed: number;
  failed: number;
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
  if (letter.kind !== "item") return "run";
  // A loop inside a loop's body: which outer item it came from too ("outer#2/inner#0").
  const outer = letter.itemPath?.includes("/") ? ` (in ${letter.itemPath.slice(0, letter.itemPath.lastIndexOf("/"))})` : "";
  return `item ${letter.itemIndex ?? "?"} of loop ${letter.nodeId}${outer}`;
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
  const [replaying, setReplaying] = useState<DeadLetter | null>(null);
  const [checked, setChecked] = useState<Set<number>>(new Set());
  const [bulkVersion, setBulkVersion] = useState<"original" | "latest">("original");

  // Lists asked for by a filter change and by an action can cross on the way back.
  const loads = useRef(new Latest());
  const load = useCallback(() => {
    const current = loads.current.take();
    const query = new URLSearchParams();
    if (state) query.set("state", state);
    if (kind) query.set("kind", kind);
    if (workflow) query.set("workflow", workflow);
    const suffix = query.toString() ? `?${query.toString()}` : "";
    return api
      .get<DeadLetter[]>(`/api/dead-letters${suffix}`)
      .then((body) => {
        if (!current()) return;
        setLetters(body);
        setError(null);
      })
      .catch((err: unknown) => {
        if (current()) setError(errorMessage(err));
      });
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

  const discard = (letter: DeadLetter) => {
    setBusy(true);
    setNotice(null);
    api.post<DeadLetter>(`/api/dead-letters/${letter.id}/discard`)
      .then(() => setNotice({ text: `Dead letter #${letter.id} discarded.` }))
      .then(() => load())
      .catch((err: unknown) => setError(errorMessage(err)))
      .finally(() => setBusy(false));
  };

  const replayOne = async (letter: DeadLetter, body: { version: "original" | "latest"; input?: unknown }) => {
    const replayed = await api.post<Replayed>(`/api/dead-letters/${letter.id}/replay`, body);
    setReplaying(null);
    setNotice({ text: `Dead letter #${letter.id} replayed on the ${body.version} version as execution #${replayed.id}.`, execution: replayed.id });
    setChecked((prev) => new Set([...prev].filter((id) => id !== letter.id)));
    void load();
    return replayed;
  };

  const open = (letters ?? []).filter((l) => l.state === "open");
  const toggle = (id: number) => setChecked((prev) => toggled(prev, id));
  const replayChecked = () => {
    const ids = open.map((l) => l.id).filter((id) => checked.has(id));
    if (!ids.length) return;
    setBusy(true);
    setNotice(null);
    setError(null);
    api.post<BulkReplayed>("/api/dead-letters/replay", { ids, version: bulkVersion })
      .then((body) => {
        const failures = body.results.filter((r) => r.execution === undefined).map((r) => `#${r.id}: ${r.error ?? "not replayed"}`);
        setNotice({ text: `Replayed ${body.replayed} of ${ids.length} on the ${bulkVersion} version${failures.length ? `; not replayed: ${failures.join("; ")}` : ""}.` });
        setChecked(new Set());
      })
      .then(() => load())
      .catch((err: unknown) => setError(errorMessage(err)))
      .finally(() => setBusy(false));
  };

  return (
    <div className="fm-list-page" data-testid="dead-letters-page">
      <div className="fm-list-head"><h1>Dead letters</h1></div>
      <p className="fm-muted">
        Runs and loop items that failed after all their retries, or waited in a queue past its timeout, are kept here when
        the queue has <code>deadLetterQueue: true</code>. Replay starts a new execution with the original input (or one you
        edit), on the version that failed or on the latest one — after you fixed the cause (for a loop item: that loop runs
        just this item). Tick several to replay them at once.
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
      {open.length ? (
        <div className="tl-bulk" role="group" aria-label="Selected dead letters" data-testid="dead-letter-bulk">
          <span>{checked.size} selected</span>
          <label>Version{" "}
            <select value={bulkVersion} onChange={(e) => setBulkVersion(e.target.value as "original" | "latest")} data-testid="bulk-version">
              <option value="original">original (the one that failed)</option>
              <option value="latest">latest</option>
            </select>
          </label>
          <button type="button" className="fm-btn" disabled={busy || checked.size === 0} onClick={replayChecked}
                  data-testid="bulk-replay">Replay selected</button>
        </div>
      ) : null}
      {notice ? (
        <p className="fm-banner" role="status" data-testid="dead-letter-notice">
          {notice.text}{" "}
          {notice.execution !== undefined ? <a href={`/executions/${notice.execution}/`}>Open the execution</a> : null}
        </p>
      ) : null}
      {error ? <p className="fm-banner fm-banner-error" role="alert">{error}</p> : null}
      {letters && letters.length === 0 ? <p className="fm-muted" data-testid="dead-letters-empty">No dead letters.</p> : null}
      {letters && letters.length ? (
        <table className="fm-table fm-dl-table" data-testid="dead-letters-table">
          <thead>
            <tr>
              <th>
                <input type="checkbox" aria-label="Select every open dead letter" data-testid="select-all"
                       checked={open.length > 0 && open.every((l) => checked.has(l.id))}
                       onChange={(e) => setChecked(e.target.checked ? new Set(open.map((l) => l.id)) : new Set())} />
              </th>
              <th>#</th><th>Version</th><th>Entry</th><th>Workflow</th><th>Error</th><th>Attempts</th><th>Trace id</th><th>Kept</th><th>State</th><th><span className="fm-visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {letters.map((letter) => (
              <tr key={letter.id} data-testid="dead-letter-row" data-dead-letter-id={letter.id} data-state={letter.state}
                  className={letter.id === selected ? "is-selected" : undefined}>
                <td className="fm-card-check">
                  {letter.state === "open" ? (
                    <input type="checkbox" checked={checked.has(letter.id)} onChange={() => toggle(letter.id)}
                           aria-label={`Select dead letter #${letter.id}`} data-testid="dead-letter-check" />
                  ) : null}
                </td>
                <td className="fm-card-id">
                  <button type="button" className="fm-link-btn" onClick={() => setSelected(letter.id === selected ? null : letter.id)}
                          data-testid="dead-letter-inspect">#{letter.id}</button>
                </td>
                <td data-testid="dead-letter-version" data-label="Version">{letter.version !== null ? `v${letter.version}` : "–"}</td>
                <td data-label="Entry">{entryLabel(letter)}</td>
                <td className="fm-card-title">{letter.workflowName}</td>
                <td data-testid="dead-letter-error" className="fm-card-wide">{isTruncated(letter.error) ? "large error" : errorText(letter.error).slice(0, 120)}</td>
                <td data-label="Attempts">{letter.attempts}</td>
                <td data-label="Trace id"><code>{letter.traceId}</code></td>
                <td data-label="Kept">{new Date(letter.createdAt).toLocaleString()}</td>
                <td data-testid="dead-letter-state" data-label="State">
                  {letter.state === "replayed" && letter.replayedExecution !== null
                    // Replayed in its own execution: a redrive of that run ran it again.
                    ? <a href={`/executions/${letter.replayedExecution}/`}>
                        {letter.replayedExecution === letter.execution ? "redriven in" : "replayed as"} #{letter.replayedExecution}
                      </a>
                    : letter.state}
                </td>
                <td className="fm-actions-cell">
                  {letter.state === "open" ? (
                    <>
                      <button type="button" className="fm-small-btn" disabled={busy} onClick={() => setReplaying(letter)}
                              data-testid="dead-letter-replay">Replay…</button>{" "}
                      <button type="button" className="fm-small-btn fm-danger" disabled={busy} onClick={() => discard(letter)}
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
          {/* Values over the server's bound come cut: their size and a link, not the JSON. */}
          {isTruncated(current.input) ? <p data-testid="dead-letter-input"><LargeValue value={current.input} /></p>
            : <pre data-testid="dead-letter-input">{JSON.stringify(current.input, null, 2)}</pre>}
          <h3>Error</h3>
          {isTruncated(current.error) ? <p data-testid="dead-letter-error-detail"><LargeValue value={current.error} /></p>
            : <pre data-testid="dead-letter-error-detail">{JSON.stringify(current.error, null, 2)}</pre>}
        </section>
      ) : null}
      {replaying ? (
        <RerunDialog
          execution={{ id: replaying.id, workflow: replaying.workflow, version: replaying.version, input: replaying.input }}
          title={`Replay dead letter #${replaying.id} (${entryLabel(replaying)})`}
          inputMustBeObject={replaying.kind === "run"}
          start={(body) => replayOne(replaying, body)}
          onStarted={() => undefined}
          onClose={() => setReplaying(null)}
        />
      ) : null}
    </div>
  );
}
