// What happened in one node run (or one lane): the side panel opened by a click on the chart.
import { useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import { ScrollingPre } from "../dialogs/ScrollingPre";
import { PinIcon } from "../panels/PinIcon";
import { SourceRun } from "../panels/SourceRun";
import { timelineApi } from "./api";
import { formatDuration, formatTime, FINISHED_NODE_STATUSES, queueWaitMs, STATUS_COLOURS, toMs } from "./model";
import type { Bar, Lane, NodeRunDetail, StreamEvent } from "./types";

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard access can be refused (insecure origin, permissions): fall back on a selection.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 1200);
  };
  return (
    <button type="button" className="fm-small-btn" onClick={() => void copy()} aria-label={label} data-testid="copy-trace-id">
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

function Json({ value, testId, label }: { value: unknown; testId: string; label: string }) {
  if (value === null || value === undefined) return <p className="fm-muted">–</p>;
  return <ScrollingPre className="tl-json" testId={testId} label={label}>{JSON.stringify(value, null, 2)}</ScrollingPre>;
}

interface NodeRunPanelProps {
  executionId: number | string;
  bar: Bar;
  liveLogs: StreamEvent[];
  now: number;
  onClose: () => void;
  /** The run the bar's output was reused from has since been deleted. */
  sourceDeleted?: boolean;
}

export function NodeRunPanel({ executionId, bar, liveLogs, now, onClose, sourceDeleted }: NodeRunPanelProps) {
  const [detail, setDetail] = useState<NodeRunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Read again when the bar moves on (it finished: its output is there now).
  useEffect(() => {
    let cancelled = false;
    setError(null);
    timelineApi
      .nodeRun(executionId, bar.nodeRunId)
      .then((body) => { if (!cancelled) setDetail(body); })
      .catch((err: unknown) => { if (!cancelled) setError(errorMessage(err)); });
    return () => { cancelled = true; };
  }, [executionId, bar.nodeRunId, bar.status]);

  const run = detail?.nodeRun.id === bar.nodeRunId ? detail.nodeRun : null;
  const seen = new Set((detail?.logs ?? []).map((l) => l.seq));
  const logs = [...(detail?.logs ?? []), ...liveLogs.filter((l) => l.nodeRunId === bar.nodeRunId && !seen.has(l.seq))];
  const queued = toMs(bar.queuedAt);
  const started = toMs(bar.startedAt);
  const finished = toMs(bar.finishedAt);
  return (
    <aside className="tl-panel" data-testid="side-panel" aria-label="Node run details">
      <header className="tl-panel-head">
        <div>
          <h2 data-testid="panel-title">{bar.name}</h2>
          <span className="fm-chip">{bar.type || run?.type}</span>{" "}
          <span className="tl-status" style={{ background: STATUS_COLOURS[bar.status] }} data-testid="panel-status">{bar.status}</span>
        </div>
        <button type="button" className="fm-icon-btn" onClick={onClose} aria-label="Close details">×</button>
      </header>
      <dl className="tl-facts">
        <dt>Node</dt><dd><code>{bar.nodeId}</code></dd>
        <dt>Branch</dt><dd data-testid="panel-branch">
          {bar.branchName}
          {/* The id only when it tells more than the name: "main (main)" said nothing twice. */}
          {bar.branchId && bar.branchId !== bar.branchName ? <> <span className="fm-muted">({bar.branchId})</span></> : null}
        </dd>
        <dt>Trace id</dt>
        <dd><code data-testid="panel-trace-id">{bar.traceId}</code> <CopyButton text={bar.traceId} label="Copy trace id" /></dd>
        <dt>Attempt</dt><dd data-testid="panel-attempt">{bar.attempt}</dd>
        {bar.redrive ? (<><dt>Redrive</dt><dd data-testid="panel-redrive">{bar.redrive}</dd></>) : null}
        {bar.pinned ? (<><dt>Output</dt><dd data-testid="panel-pinned"><PinIcon /> {bar.reusedFrom
          ? <>reused from <SourceRun id={bar.reusedFrom} deleted={sourceDeleted} label="run #" testId="panel-reused-from" />: the node did not run</>
          : "pinned data: the node did not run"}</dd></>) : null}
        {bar.iteration !== null ? (<><dt>Item</dt><dd data-testid="panel-item">{bar.iteration}</dd></>) : null}
        <dt>Queued</dt><dd>{formatTime(bar.queuedAt)}</dd>
        <dt>Started</dt><dd>{formatTime(bar.startedAt)}</dd>
        <dt>Finished</dt><dd>{formatTime(bar.finishedAt)}</dd>
        <dt>Queue wait</dt>
        <dd data-testid="panel-queue-wait">{queued !== null && started === null && FINISHED_NODE_STATUSES.has(bar.status)
          ? "never started" : formatDuration(queueWaitMs(bar, now))}</dd>
        <dt>Run time</dt><dd data-testid="panel-run-time">{formatDuration(started !== null ? (finished ?? now) - started : null)}</dd>
      </dl>
      {error ? <p className="fm-banner fm-banner-error">{error}</p> : null}
      <h3>Input</h3>
      <Json value={run?.input} testId="panel-input" label={`Input of ${bar.name}`} />
      <h3>Output</h3>
      <Json value={run?.output} testId="panel-output" label={`Output of ${bar.name}`} />
      {run?.error ? (<><h3>Error</h3><Json value={run.error} testId="panel-error" label={`Error of ${bar.name}`} /></>) : null}
      <h3>Logs</h3>
      {logs.length ? (
        <ol className="tl-logs" data-testid="panel-logs">
          {logs.map((line) => (
            <li key={line.seq}><span className="fm-muted">{formatTime(line.ts)}</span> {String(line.data?.message ?? "")}</li>
          ))}
        </ol>
      ) : <p className="fm-muted">No log lines.</p>}
    </aside>
  );
}

interface LanePanelProps {
  lane: Lane;
  bars: Bar[];
  onSelectBar: (nodeRunId: string) => void;
  onClose: () => void;
}

export function LanePanel({ lane, bars, onSelectBar, onClose }: LanePanelProps) {
  const inLane = bars.filter((b) => b.lane === lane.id || b.lane.startsWith(`${lane.id}:slot:`));
  const shown = inLane.slice(0, 200);
  return (
    <aside className="tl-panel" data-testid="side-panel" aria-label="Lane details">
      <header className="tl-panel-head">
        <div>
          <h2 data-testid="panel-title">{lane.kind === "branch" ? lane.branchName ?? lane.label : lane.label}</h2>
          <span className="fm-chip">{lane.kind === "loop" ? "loop items" : lane.kind}</span>
        </div>
        <button type="button" className="fm-icon-btn" onClick={onClose} aria-label="Close details">×</button>
      </header>
      <dl className="tl-facts">
        {lane.branchId ? (<><dt>Branch id</dt><dd data-testid="panel-branch-id">{lane.branchId}</dd></>) : null}
        {lane.traceId ? (
          <><dt>Trace id</dt><dd><code data-testid="panel-trace-id">{lane.traceId}</code> <CopyButton text={lane.traceId} label="Copy trace id" /></dd></>
        ) : null}
        {lane.kind === "loop" ? (<><dt>Items</dt><dd>{lane.items ?? 0} in {lane.slots ?? 0} slots</dd></>) : null}
        <dt>Node runs</dt><dd>{inLane.length}</dd>
      </dl>
      <h3>Node runs</h3>
      <ul className="tl-run-list">
        {shown.map((bar) => (
          <li key={bar.nodeRunId}>
            <button type="button" className="fm-link-btn" onClick={() => onSelectBar(bar.nodeRunId)} data-testid="lane-run">
              {bar.name}{bar.attempt > 1 ? ` #${bar.attempt}` : ""}{bar.iteration !== null ? ` (item ${bar.iteration})` : ""}
            </button>{" "}
            <span className="tl-status" style={{ background: STATUS_COLOURS[bar.status] }}>{bar.status}</span>{" "}
            <code className="fm-muted">{bar.traceId}</code>
          </li>
        ))}
      </ul>
      {inLane.length > shown.length ? <p className="fm-muted">…and {inLane.length - shown.length} more</p> : null}
    </aside>
  );
}
