// `/executions/`: the user's executions, updated live from `ws/executions/` (status,
// workflow, trace id, started, duration), filtered by status, workflow and trace id.
import { useEffect, useMemo, useState } from "react";

import { api, errorMessage } from "../api/client";
import { TERMINAL_EXECUTION_STATUSES } from "../api/types";
import { timelineApi } from "./api";
import { formatDuration, STATUS_COLOURS, toMs } from "./model";
import { ExecutionListStream, type StreamState } from "./stream";
import type { ExecutionRow } from "./types";

const REDRIVABLE = new Set<string>(["failed", "cancelled", "timed_out"]);

const STATUSES = ["queued", "running", "paused", "succeeded", "failed", "cancelled", "timed_out"];

function initialFilters(): { workflow: string; status: string; trace: string } {
  const query = new URLSearchParams(window.location.search);
  return { workflow: query.get("workflow") ?? "", status: query.get("status") ?? "", trace: query.get("trace") ?? "" };
}

export function ExecutionListPage() {
  const [rows, setRows] = useState<Map<number, ExecutionRow>>(new Map());
  const [filters, setFilters] = useState(initialFilters);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [streamState, setStreamState] = useState<StreamState>("connecting");
  const [now, setNow] = useState(Date.now());

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
      (state) => setStreamState(state),
    );
    return () => stream.close();
  }, []);

  useEffect(() => {
    setLoading(true);
    timelineApi
      .list({ workflow: filters.workflow })
      .then((list) => {
        setRows((prev) => {
          const next = new Map(prev);
          for (const row of list) {
            const live = next.get(row.id);
            next.set(row.id, live && TERMINAL_EXECUTION_STATUSES.includes(live.status) ? { ...row, ...live } : row);
          }
          return next;
        });
        setError(null);
      })
      .catch((err: unknown) => setError(errorMessage(err)))
      .finally(() => setLoading(false));
  }, [filters.workflow]);

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
    .filter((r) => !filters.trace || r.traceId.includes(filters.trace.trim()))
    .sort((a, b) => (toMs(b.createdAt) ?? 0) - (toMs(a.createdAt) ?? 0) || b.id - a.id);

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
      {error ? <p className="fm-banner fm-banner-error" role="alert">{error}</p> : null}
      <table className="fm-table" data-testid="executions-table">
        <thead>
          <tr><th>Run</th><th>Status</th><th>Workflow</th><th>Trace id</th><th>Started</th><th>Duration</th><th>Actions</th></tr>
        </thead>
        <tbody>
          {shown.map((row) => {
            const started = toMs(row.startedAt);
            const finished = toMs(row.finishedAt);
            return (
              <tr key={row.id} data-testid="execution-row" data-execution-id={row.id} data-status={row.status}>
                <td><a href={`/executions/${row.id}/`}>#{row.id}</a></td>
                <td><span className="tl-status" style={{ background: STATUS_COLOURS[row.status] }} data-testid="row-status">{row.status}</span></td>
                <td>{row.workflowName}</td>
                <td><code>{row.traceId}</code></td>
                <td>{started !== null ? new Date(started).toLocaleString() : <span className="fm-muted">not yet</span>}</td>
                <td data-testid="row-duration">{started !== null ? formatDuration((finished ?? now) - started) : "–"}</td>
                <td>
                  {REDRIVABLE.has(row.status) ? (
                    // Re-runs only what failed, in this same execution (its timeline offers the version choice).
                    <button type="button" className="fm-small-btn" data-testid="row-redrive"
                            onClick={() => api.post(`/api/executions/${row.id}/redrive`, {}).catch((err) => setError(errorMessage(err)))}>
                      Redrive failed
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!loading && shown.length === 0 ? <p className="fm-muted" data-testid="executions-empty">No executions match. Run a workflow from the editor.</p> : null}
    </div>
  );
}
