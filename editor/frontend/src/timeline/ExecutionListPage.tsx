// `/executions/`: the user's executions, updated live from `ws/executions/` (status,
// workflow, version, trace id, started, duration), filtered by status, workflow and any
// trace id (the execution's, a branch's `trace-…-003` or a loop item's: the server finds
// its execution). Per row: re-run (version and input), redrive what failed (the same button
// as the run's timeline, also for a run that succeeded without a branch or some loop items)
// and, for a run waiting at an approval, approve or reject; ticked rows: cancel or re-run them all.
import { useEffect, useMemo, useState } from "react";

import { api, errorMessage } from "../api/client";
import { type Execution, TERMINAL_EXECUTION_STATUSES } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
import { RerunDialog } from "../dialogs/RerunDialog";
import { toggled } from "../lib/sets";
import { ApprovalDialog, type WaitingApprovalInfo, waitingApprovalOf } from "../panels/ApprovalDialog";
import { EXECUTION_PAGE, timelineApi } from "./api";
import { formatDuration, redrivenBadge, runDuration, runDurationTitle, shortWhen, STATUS_COLOURS, toMs } from "./model";
import { RedriveDialog, redriveFailed } from "./RedriveDialog";
import { ExecutionListStream, type StreamState } from "./stream";
import type { ExecutionRow } from "./types";

const STATUSES = ["queued", "running", "paused", "succeeded", "failed", "cancelled", "timed_out"];

function initialFilters(): { workflow: string; status: string; trace: string } {
  const query = new URLSearchParams(window.location.search);
  return { workflow: query.get("workflow") ?? "", status: query.get("status") ?? "", trace: query.get("trace") ?? "" };
}

/**
 * Rows from a list request merged into what the stream has already told. The answer may be
 * older than the stream's news (a quick run can finish between the query and its answer),
 * so a row the stream already saw finish keeps its finished state.
 */
function mergeListed(prev: Map<number, ExecutionRow>, list: ExecutionRow[]): Map<number, ExecutionRow> {
  const next = new Map(prev);
  for (const row of list) {
    const live = next.get(row.id);
    next.set(row.id, live && TERMINAL_EXECUTION_STATUSES.includes(live.status) ? { ...row, ...live } : row);
  }
  return next;
}

export function ExecutionListPage() {
  const [rows, setRows] = useState<Map<number, ExecutionRow>>(new Map());
  const [filters, setFilters] = useState(initialFilters);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [streamState, setStreamState] = useState<StreamState>("connecting");
  const [opened, setOpened] = useState(0); // times the stream has opened
  // Whether runs older than those loaded may exist ("Show older runs").
  const [older, setOlder] = useState<"unknown" | "more" | "none" | "loading">("unknown");
  const [now, setNow] = useState(Date.now());
  const [traceMatches, setTraceMatches] = useState<Set<number> | null>(null);
  const [checked, setChecked] = useState<Set<number>>(new Set());
  const [bulkVersion, setBulkVersion] = useState<"original" | "latest">("original");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [rerun, setRerun] = useState<ExecutionRow | null>(null);
  const [deciding, setDeciding] = useState<{ id: number; approval: WaitingApprovalInfo } | null>(null);
  const [resuming, setResuming] = useState<number | null>(null);
  // "Redrive failed (…)" asks the version first, as on the timeline.
  const [redriving, setRedriving] = useState<ExecutionRow | null>(null);
  const redrive = (row: ExecutionRow, body: { version?: "original" | "latest"; leaveOutReplayed?: boolean } = {}) => {
    // The stream never moves a finished row back to running, so the row is reopened before
    // the request: the stream's news of the redriven run (running, then its end) applies as
    // it comes. The answer (queued again) may arrive after a quick run's end, so it never
    // reopens a row the stream already finished; a refused redrive puts the row back.
    setRows((prev) => new Map(prev).set(row.id, { ...row, status: "queued" }));
    void api.post<Partial<ExecutionRow>>(`/api/executions/${row.id}/redrive`, body)
      .then((summary) => setRows((prev) => {
        const now = prev.get(row.id);
        if (now && TERMINAL_EXECUTION_STATUSES.includes(now.status)) return prev;
        // The stream's status, if it said one since, is the newer.
        return new Map(prev).set(row.id, { ...row, ...now, ...summary, status: now?.status ?? summary.status ?? "queued" });
      }))
      .catch((err: unknown) => {
        setRows((prev) => new Map(prev).set(row.id, row));
        setError(errorMessage(err));
      });
  };
  const resume = async (id: number) => {
    try {
      await timelineApi.signal(id, { type: "resume", reason: "resumed from the executions list" });
      setNotice(`Run #${id} resumed.`);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setResuming(null);
    }
  };

  // The stream first, then the list: a change between the two is then never lost.
  useEffect(() => {
    const stream = new ExecutionListStream(
      ({ execution }) =>
        setRows((prev) => {
          const next = new Map(prev);
          const old = next.get(execution.id);
          // A late message never moves a finished execution back to running.
          if (old && TERMINAL_EXECUTION_STATUSES.includes(old.status) && !TERMINAL_EXECUTION_STATUSES.includes(execution.status)) return prev;
          next.set(execution.id, { ...old, ...execution });
          return next;
        }),
      (state) => {
        setStreamState(state);
        if (state === "live") setOpened((n) => n + 1);
      },
    );
    return () => stream.close();
  }, []);

  // Another workflow filtered on: whether it has older runs is known from its first answer.
  useEffect(() => setOlder("unknown"), [filters.workflow]);

  // Loaded at once, and again each time the stream opens: the server opens it only once it
  // has subscribed and noted what it will compare against, so a run that ended before
  // that (while the first answer was on its way, or while the socket was reconnecting) is
  // in the second answer. The first answer alone left such a row "running".
  useEffect(() => {
    setLoading(true);
    let stopped = false; // an answer for the workflow filtered on before arrives late: dropped
    timelineApi
      .list({ workflow: filters.workflow })
      .then((list) => {
        if (stopped) return;
        setRows((prev) => mergeListed(prev, list));
        // A full page may have older runs behind it. Only the first answer decides: a
        // reload when the stream reopens must not hide a "Show older" already offered.
        setOlder((prev) => (prev === "unknown" ? (list.length >= EXECUTION_PAGE ? "more" : "none") : prev));
        setError(null);
      })
      .catch((err: unknown) => !stopped && setError(errorMessage(err)))
      .finally(() => !stopped && setLoading(false));
    return () => {
      stopped = true;
    };
  }, [filters.workflow, opened]);

  // "Show older runs": the page after the oldest row loaded (of the workflow filtered on).
  const showOlder = () => {
    const loaded = [...rows.values()].filter((r) => !filters.workflow || String(r.workflow) === filters.workflow);
    if (loaded.length === 0) return;
    const oldest = loaded.reduce((a, b) => ((toMs(a.createdAt) ?? 0) - (toMs(b.createdAt) ?? 0) || a.id - b.id) <= 0 ? a : b);
    setOlder("loading");
    timelineApi
      .list({ workflow: filters.workflow, before: oldest.id })
      .then((list) => {
        setRows((prev) => mergeListed(prev, list));
        setOlder(list.length >= EXECUTION_PAGE ? "more" : "none");
      })
      .catch((err: unknown) => {
        setOlder("more");
        setError(errorMessage(err));
      });
  };

  // A trace id is looked up on the server: a branch's or loop item's trace id belongs to an
  // execution whose own trace id is only its start.
  useEffect(() => {
    const trace = filters.trace.trim();
    if (!trace) {
      setTraceMatches(null);
      return;
    }
    let stopped = false; // the answer for a trace id typed before this one is dropped
    const timer = window.setTimeout(() => {
      timelineApi.list({ trace })
        .then((found) => {
          if (stopped) return;
          setTraceMatches(new Set(found.map((r) => r.id)));
          setRows((prev) => {
            const next = new Map(prev);
            for (const row of found) if (!next.has(row.id)) next.set(row.id, row);
            return next;
          });
        })
        .catch((err: unknown) => !stopped && setError(errorMessage(err)));
    }, 200);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [filters.trace]);

  const anyRunning = [...rows.values()].some((r) => !TERMINAL_EXECUTION_STATUSES.includes(r.status));
  useEffect(() => {
    if (!anyRunning) return;
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [anyRunning]);

  const setFilter = (key: "workflow" | "status" | "trace", value: string) => {
    setFilters((prev) => {
      const next = { ...prev, [key]: value };
      const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
      window.history.replaceState(null, "", `${window.location.pathname}${query.toString() ? `?${query.toString()}` : ""}`);
      return next;
    });
  };

  const workflows = useMemo(() => {
    const names = new Map<number, string>();
    for (const row of rows.values()) names.set(row.workflow, row.workflowName);
    return [...names.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  }, [rows]);

  const shown = [...rows.values()]
    .filter((r) => !filters.workflow || String(r.workflow) === filters.workflow)
    .filter((r) => !filters.status || r.status === filters.status)
    .filter((r) => !filters.trace.trim() || r.traceId.includes(filters.trace.trim()) || (traceMatches?.has(r.id) ?? false))
    .sort((a, b) => (toMs(b.createdAt) ?? 0) - (toMs(a.createdAt) ?? 0) || b.id - a.id);

  const selected = shown.filter((r) => checked.has(r.id));
  const cancellable = selected.filter((r) => !TERMINAL_EXECUTION_STATUSES.includes(r.status));
  const toggle = (id: number) => setChecked((prev) => toggled(prev, id));

  /** Runs `action` on each selected row and says how many worked (and why the others did not). */
  const bulk = async (label: string, targets: ExecutionRow[], action: (row: ExecutionRow) => Promise<unknown>) => {
    setBusy(true);
    setNotice(null);
    const results = await Promise.allSettled(targets.map(action));
    const failures = results.flatMap((r, i) => (r.status === "rejected" ? [`#${targets[i]?.id}: ${errorMessage(r.reason)}`] : []));
    setNotice(`${label} ${targets.length - failures.length} of ${targets.length}${failures.length ? `; not done: ${failures.join("; ")}` : ""}.`);
    setChecked(new Set());
    setBusy(false);
    const list = await timelineApi.list({ workflow: filters.workflow }).catch(() => null);
    if (list) setRows((prev) => mergeListed(prev, list));
  };

  const openApproval = async (row: ExecutionRow) => {
    try {
      const execution = await api.get<Execution & { state?: unknown }>(`/api/executions/${row.id}`);
      const approval = waitingApprovalOf(execution);
      if (approval) setDeciding({ id: row.id, approval });
      // Paused by hand (a pause signal): nothing to decide, only to resume.
      else if (execution.status === "paused") setResuming(row.id);
      else setNotice(`Run #${row.id} is ${execution.status} now.`);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <div className="fm-list-page" data-testid="executions-page">
      <div className="fm-list-head">
        <h1>Executions</h1>
        <span className={`tl-stream tl-stream-${streamState}`} data-testid="stream-state">{streamState === "live" ? "● live" : streamState}</span>
      </div>
      <div className="tl-filters">
        <label>Status{" "}
          <select value={filters.status} onChange={(e) => setFilter("status", e.target.value)} data-testid="filter-status">
            <option value="">any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Workflow{" "}
          <select value={filters.workflow} onChange={(e) => setFilter("workflow", e.target.value)} data-testid="filter-workflow">
            <option value="">any</option>
            {workflows.map(([id, name]) => <option key={id} value={String(id)}>{name}</option>)}
            {filters.workflow && !workflows.some(([id]) => String(id) === filters.workflow)
              ? <option value={filters.workflow}>workflow {filters.workflow}</option> : null}
          </select>
        </label>
        <label>Trace id{" "}
          <input type="search" value={filters.trace} placeholder="trace-…" onChange={(e) => setFilter("trace", e.target.value)} data-testid="filter-trace" />
        </label>
      </div>
      <div className="tl-bulk" role="group" aria-label="Selected executions" data-testid="execution-bulk">
        <span>{selected.length} selected</span>
        <button type="button" className="fm-btn fm-btn-danger" disabled={busy || cancellable.length === 0} data-testid="bulk-cancel"
                onClick={() => void bulk("Cancelled", cancellable, (row) => timelineApi.signal(row.id, { type: "cancel", reason: "cancelled from the list" }))}>
          Cancel{cancellable.length ? ` ${cancellable.length}` : ""}
        </button>
        <label>Version{" "}
          <select value={bulkVersion} onChange={(e) => setBulkVersion(e.target.value as "original" | "latest")} data-testid="bulk-version">
            <option value="original">each run's own</option>
            <option value="latest">latest</option>
          </select>
        </label>
        <button type="button" className="fm-btn" disabled={busy || selected.length === 0} data-testid="bulk-rerun"
                onClick={() => void bulk("Re-ran", selected, (row) => timelineApi.retry(row.id, { version: bulkVersion }))}>
          Re-run{selected.length ? ` ${selected.length}` : ""}
        </button>
      </div>
      {notice ? <p className="fm-banner" role="status" data-testid="executions-notice">{notice}</p> : null}
      {error ? <p className="fm-banner fm-banner-error" role="alert">{error}</p> : null}
      <table className="fm-table fm-exec-table" data-testid="executions-table">
        <thead>
          <tr>
            <th>
              <input type="checkbox" aria-label="Select every execution shown" data-testid="select-all"
                     checked={shown.length > 0 && shown.every((r) => checked.has(r.id))}
                     onChange={(e) => setChecked(e.target.checked ? new Set(shown.map((r) => r.id)) : new Set())} />
            </th>
            <th>Run</th><th>Status</th><th>Workflow</th><th>Version</th><th>Trace id</th><th>Started</th><th>Duration</th>
            <th><span className="fm-visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => {
            const started = toMs(row.startedAt);
            // Active time: a redriven run's idle days before its redrive are left out (the title has the whole span).
            const duration = runDuration(row.startedAt, row.finishedAt, row.idleMs, now);
            const redriven = redrivenBadge(row.redrives);
            const failed = redriveFailed(row.status, row);
            return (
              <tr key={row.id} data-testid="execution-row" data-execution-id={row.id} data-status={row.status}>
                <td className="fm-card-check">
                  <input type="checkbox" checked={checked.has(row.id)} onChange={() => toggle(row.id)}
                         aria-label={`Select run #${row.id}`} data-testid="execution-check" />
                </td>
                <td className="fm-card-id"><a href={`/executions/${row.id}/`}>#{row.id}</a></td>
                <td><span className="tl-status fm-status-word" style={{ background: STATUS_COLOURS[row.status] }} data-testid="row-status"
                          title={row.waitingApproval ? `Paused at the approval “${row.waitingApproval.name}”` : undefined}>
                  {/* The editor's run bar and the run page say so too: a run that waits for
                      someone reads differently from one paused by hand. */}
                  {row.status === "paused" && row.waitingApproval ? "waiting for approval" : row.status}
                </span>
                {/* A redriven run is the same execution again: say so, or it reads like any other run. */}
                {redriven ? (
                  <> <span className="fm-redriven" data-testid="row-redriven"
                           title={row.redrivenAt ? `Latest redrive: ${new Date(row.redrivenAt).toLocaleString()}` : undefined}>
                    {redriven}{row.redrivenAt ? ` · ${shortWhen(row.redrivenAt, now)}` : null}
                  </span></>
                ) : null}</td>
                <td className="fm-card-title">{row.workflowName}</td>
                <td data-testid="row-version" data-label="Version">{row.version !== undefined ? `v${row.version}` : "–"}</td>
                <td data-label="Trace id"><code className="fm-nowrap">{row.traceId}</code></td>
                <td data-label="Started">
                  {/* Date and time each on one line: the cell broke "6:15:13 PM" before "PM",
                      and the trace id after "trace-". */}
                  {started !== null ? (
                    <>
                      <span className="fm-nowrap">{new Date(started).toLocaleDateString()},</span>{" "}
                      <span className="fm-nowrap">{new Date(started).toLocaleTimeString()}</span>
                    </>
                  ) : <span className="fm-muted">not yet</span>}
                </td>
                <td data-testid="row-duration" data-label="Duration" title={duration ? runDurationTitle(duration) : undefined}>
                  {duration ? formatDuration(duration.active) : "–"}
                </td>
                <td className="fm-actions">
                  {row.status === "paused" ? (
                    // Waiting at an approval: the button opens its decision; paused by hand:
                    // it offers to resume (openApproval asks the run itself, in case the
                    // row is older than its last change).
                    <button type="button" className="fm-small-btn" onClick={() => void openApproval(row)} data-testid="row-approve"
                            title={row.waitingApproval ? `Approve or reject “${row.waitingApproval.name}”` : "Resume the run paused by hand"}>
                      {row.waitingApproval ? "Approve…" : "Resume…"}
                    </button>
                  ) : null}
                  {failed ? (
                    // What the engine counted when the run ended: the timeline's button too.
                    <button type="button" className="fm-small-btn" data-testid="row-redrive" onClick={() => setRedriving(row)}>
                      {failed.button}
                    </button>
                  ) : null}
                  <button type="button" className="fm-small-btn" onClick={() => setRerun(row)} data-testid="row-rerun">Re-run…</button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {older === "more" || older === "loading" ? (
        <p>
          <button type="button" className="fm-small-btn" onClick={showOlder} disabled={older === "loading"}
                  data-testid="show-older">{older === "loading" ? "Loading…" : "Show older runs"}</button>
        </p>
      ) : null}
      {!loading && shown.length === 0 ? <p className="fm-muted" data-testid="executions-empty">No executions match. Run a workflow from the editor.</p> : null}
      {rerun ? <RerunDialog execution={rerun} onClose={() => setRerun(null)} /> : null}
      {redriving ? (
        <RedriveDialog label={`${redriveFailed(redriving.status, redriving)?.label ?? "what did not succeed"} of run #${redriving.id}`}
                       busy={false} runVersion={redriving.version} onClose={() => setRedriving(null)}
                       onConfirm={(version) => {
                         setRedriving(null);
                         // As the run page's button: failed items whose dead letters were replayed as
                         // other runs are left out, never run a second time (the list has no offer to
                         // read, so without this a row's button met the server's 409).
                         redrive(redriving, { version, leaveOutReplayed: true });
                       }} />
      ) : null}
      {resuming !== null ? (
        <Dialog title={`Resume run #${resuming}?`} titleId="resume-title" testId="resume-dialog" onClose={() => setResuming(null)}>
          <p>It was paused by hand (a pause signal), not at an approval. Its running work carries on where it stopped.</p>
          <div className="fm-modal-actions">
            <button type="button" className="fm-btn" onClick={() => setResuming(null)}>Cancel</button>
            <button type="button" className="fm-btn fm-btn-primary" data-testid="resume-confirm" onClick={() => void resume(resuming)}>Resume</button>
          </div>
        </Dialog>
      ) : null}
      {deciding ? (
        <ApprovalDialog executionId={deciding.id} approval={deciding.approval} onClose={() => setDeciding(null)}
                        onDone={(_execution, approved) => setNotice(`Run #${deciding.id} ${approved ? "approved" : "rejected"}.`)} />
      ) : null}
    </div>
  );
}
