// The live execution timeline (`/executions/{id}/`): header with status, trace id, elapsed
// time, counts, achieved concurrency and critical path; signal buttons; the Gantt chart;
// the trace tree; the read-only mini canvas; and the side panel of the selected bar or lane.
//
// Data flow: the timeline API gives bars, lanes and the summary up to `lastSeq`; the
// websocket stream (from `lastSeq`) moves bars forward at once, and a throttled re-read of
// the API settles lanes, the critical path and the summary. Events newer than a re-read
// are applied again on top of it, so the chart never steps back.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { errorMessage } from "../api/client";
import { timelineApi } from "./api";
import { Gantt, type Selection } from "./Gantt";
import { MiniCanvas } from "./MiniCanvas";
import {
  applyEvents,
  barLabel,
  concurrencyNotes,
  concurrencyText,
  countByStatus,
  failedWhere,
  FINISHED_EXECUTION_STATUSES,
  formatDuration,
  runDurationTitle,
  formatTime,
  type LiveState,
  STATUS_COLOURS,
  toMs,
  traceTree,
  type TraceNode,
  visibleLanes,
} from "./model";
import { LargeValue } from "../dialogs/LargeValue";
import { RerunDialog } from "../dialogs/RerunDialog";
import { ScrollingPre } from "../dialogs/ScrollingPre";
import { isTruncated, shortJson } from "../lib/largeValue";
import { CopyButton, LanePanel, NodeRunPanel } from "./SidePanel";
import { SourceRun } from "../panels/SourceRun";
import { CustomSignals } from "./CustomSignals";
import { RedriveControls } from "./RedriveDialog";
import { SignalBar } from "./SignalBar";
import { earlierSignals, isSignalEvent, mergeSignals, SIGNAL_EVENT_TYPES } from "./signals";
import type { Bar, StreamEvent, Timeline } from "./types";
import { ExecutionStream, type StreamState } from "./stream";
import { plural } from "../lib/plural";
import { bodyOutcomesFromRuns, partialBodyBadges } from "../lib/runBadges";
import type { NodeRunStatus } from "../api/types";

const REFRESH_MIN_MS = 600;
const KEPT_EVENTS = 5000;
const FOLD_ABOVE_SLOTS = 6;

export function TimelinePage({ executionId }: { executionId: string }) {
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [live, setLive] = useState<LiveState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [streamState, setStreamState] = useState<StreamState>("connecting");
  const [selection, setSelection] = useState<Selection>(null);
  const [folded, setFolded] = useState<Set<string>>(new Set());
  const [showCritical, setShowCritical] = useState(true);
  const [rerunOpen, setRerunOpen] = useState(false);
  const [now, setNow] = useState(Date.now());
  const [logs, setLogs] = useState<StreamEvent[]>([]);
  const [signals, setSignals] = useState<StreamEvent[]>([]);
  const recent = useRef<StreamEvent[]>([]);
  const pending = useRef<StreamEvent[]>([]);
  const timelineRef = useRef<Timeline | null>(null);
  const refreshTimer = useRef<number | undefined>(undefined);
  const lastRefresh = useRef(0);
  const seenLoops = useRef(new Set<string>());

  const settle = useCallback((body: Timeline) => {
    timelineRef.current = body;
    setTimeline(body);
    const base: LiveState = {
      bars: new Map(body.bars.map((b) => [b.nodeRunId, b])),
      lanes: body.lanes,
      status: body.execution.status,
      finishedAt: body.execution.finishedAt,
      startedAt: body.execution.startedAt ?? body.summary.startedAt,
      paused: body.summary.paused ?? [],
    };
    const newer = recent.current.filter((e) => e.seq > body.lastSeq);
    setLive(applyEvents(base, newer, body.definition.nodes));
    // Big loops start folded (a density strip and counts); the user decides after that.
    const fresh = body.lanes.filter((l) => l.kind === "loop" && !seenLoops.current.has(l.id));
    if (fresh.length) {
      for (const lane of fresh) seenLoops.current.add(lane.id);
      setFolded((prev) => {
        const next = new Set(prev);
        for (const lane of fresh) if ((lane.slots ?? 0) > FOLD_ABOVE_SLOTS) next.add(lane.id);
        return next;
      });
    }
  }, []);

  const refresh = useCallback(() => {
    lastRefresh.current = Date.now();
    timelineApi.get(executionId).then(settle).catch((err: unknown) => setError(errorMessage(err)));
  }, [executionId, settle]);

  const scheduleRefresh = useCallback(() => {
    if (refreshTimer.current !== undefined) return;
    const bars = timelineRef.current?.bars.length ?? 0;
    // Bigger runs are re-read less often: the stream keeps the chart live in between.
    const interval = Math.max(REFRESH_MIN_MS, bars * 0.5);
    const wait = Math.max(0, lastRefresh.current + interval - Date.now());
    refreshTimer.current = window.setTimeout(() => {
      refreshTimer.current = undefined;
      refresh();
    }, wait);
  }, [refresh]);

  // First read, then the stream from its lastSeq.
  useEffect(() => {
    let stream: ExecutionStream | null = null;
    let flushTimer: number | undefined;
    let stopped = false;
    const flush = () => {
      flushTimer = undefined;
      const batch = pending.current;
      pending.current = [];
      const nodes = timelineRef.current?.definition.nodes ?? [];
      setLive((state) => (state ? applyEvents(state, batch, nodes) : state));
      const newLogs = batch.filter((e) => e.type === "log");
      if (newLogs.length) setLogs((prev) => [...prev, ...newLogs].slice(-KEPT_EVENTS));
      const newSignals = batch.filter(isSignalEvent);
      if (newSignals.length) setSignals((prev) => mergeSignals(prev, newSignals));
      if (batch.some((e) => e.type !== "log")) scheduleRefresh();
    };
    timelineApi
      .get(executionId)
      .then((body) => {
        if (stopped) return;
        settle(body);
        lastRefresh.current = Date.now();
        // The stream starts after lastSeq: the signals before it (and the pause of a run that
        // already waits at an approval) come from the stored events.
        earlierSignals((beforeSeq, limit) => timelineApi.eventsOfTypes(executionId, SIGNAL_EVENT_TYPES, beforeSeq, limit),
                       body.lastSeq)
          .then((found) => {
            if (!stopped && found.length) setSignals((prev) => mergeSignals(found, prev));
          })
          .catch((err: unknown) => setError(errorMessage(err)));
        stream = new ExecutionStream(
          executionId,
          body.lastSeq,
          (event) => {
            recent.current.push(event);
            if (recent.current.length > KEPT_EVENTS) recent.current.splice(0, recent.current.length - KEPT_EVENTS);
            pending.current.push(event);
            // Batch a burst of events into one render.
            if (flushTimer === undefined) flushTimer = window.setTimeout(flush, 30);
          },
          (state, detail) => {
            setStreamState(state);
            if (state === "closed" && detail) setError(detail);
          },
        );
      })
      .catch((err: unknown) => setError(errorMessage(err)));
    return () => {
      stopped = true;
      stream?.close();
      window.clearTimeout(flushTimer);
      window.clearTimeout(refreshTimer.current);
    };
  }, [executionId, settle, scheduleRefresh]);

  const running = live !== null && !FINISHED_EXECUTION_STATUSES.has(live.status);
  // The "now" line and the elapsed time move while the run is going.
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => setNow(Date.now()), 100);
    return () => window.clearInterval(timer);
  }, [running]);

  // Escape closes the details panel (an open dialog takes its Escape first and stops it).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape" && !event.defaultPrevented) setSelection(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const bars = useMemo(() => (live ? [...live.bars.values()] : []), [live]);
  const barsById = live?.bars;
  const shownLanes = useMemo(() => (live ? visibleLanes(live.lanes, folded) : []), [live, folded]);
  const critical = useMemo(() => new Set(timeline?.summary.criticalPath ?? []), [timeline]);
  const chartBars = useMemo(() => bars.map((b) => (b.critical === critical.has(b.nodeRunId) ? b : { ...b, critical: critical.has(b.nodeRunId) })), [bars, critical]);

  const definitionNodes = timeline?.definition.nodes;
  const { statusByNode, statusText } = useMemo(() => {
    const status: Record<string, NodeRunStatus> = {};
    const latest = new Map<string, Bar>();
    for (const bar of bars) {
      const previous = latest.get(bar.nodeId);
      if (!previous || (toMs(previous.queuedAt) ?? 0) <= (toMs(bar.queuedAt) ?? 0)) latest.set(bar.nodeId, bar);
    }
    for (const [nodeId, bar] of latest) status[nodeId] = bar.status;
    // A body node of a loop that succeeded, failed in some items: "partial", with how many
    // (its latest item's colour said failed, or succeeded, whichever item ended last).
    const parents = new Map<string, string>();
    for (const node of definitionNodes ?? []) if (node.parentId) parents.set(node.id, node.parentId);
    const badges = partialBodyBadges(status, parents, bodyOutcomesFromRuns(bars));
    return { statusByNode: new Map<string, string>(Object.entries(badges.status)), statusText: badges.text };
  }, [bars, definitionNodes]);

  if (error && !timeline) return <div className="fm-page"><p className="fm-banner fm-banner-error" role="alert">{error}</p></div>;
  if (!timeline || !live) return <div className="fm-page"><p className="fm-muted">Loading the timeline…</p></div>;

  const execution = timeline.execution;
  const origin = toMs(live.startedAt) ?? Math.min(...bars.map((b) => toMs(b.queuedAt) ?? now), now);
  const finishedAt = toMs(live.finishedAt);
  const wallEnd = finishedAt ?? (running ? now : Math.max(origin, ...bars.map((b) => toMs(b.finishedAt) ?? origin)));
  const chartEnd = Math.max(wallEnd, ...bars.map((b) => toMs(b.finishedAt) ?? origin));
  // While the run is paused, a loop whose items wait for the resume is not running: the
  // count read "1 running" beside a "paused" badge. Count it as paused, as the user sees it.
  const counts = live.status === "paused" ? pausedCounts(bars) : countByStatus(bars);
  const concurrency = concurrencyText(bars, toMs(live.startedAt), wallEnd, now);
  const workflowCap = Number(timeline.definition.settings?.maxConcurrency ?? 32) || 32;
  const queueLimit = Number((timeline.definition.settings?.queue as { maxConcurrentRuns?: number } | undefined)?.maxConcurrentRuns) || 0;
  const notes = concurrencyNotes(timeline.definition.nodes, timeline.definition.settings, live.lanes, bars, now,
                                 timeline.definition.edges, execution)
    .filter((n) => n.peak < n.limit || n.reason !== "reached its limit");
  const paused = (live.paused ?? []).map((p) => ({ from: toMs(p.from) ?? origin, to: toMs(p.to) }));
  const spanMs = wallEnd - origin;
  // The time it sat finished between an attempt's end and a redrive (the server sums it).
  const idleMs = Math.min(Math.max(0, spanMs), Math.max(0, execution.idleMs ?? 0));
  const pausedMs = paused.reduce((sum, p) => sum + ((p.to ?? (running ? now : wallEnd)) - p.from), 0);
  const selectedBar = selection?.kind === "bar" ? barsById?.get(selection.id) ?? null : null;
  const selectedLane = selection?.kind === "lane" ? live.lanes.find((l) => l.id === selection.id) ?? null : null;

  const selectNode = (nodeId: string) => {
    const latest = bars.filter((b) => b.nodeId === nodeId).sort((a, b) => (toMs(b.queuedAt) ?? 0) - (toMs(a.queuedAt) ?? 0))[0];
    if (latest) setSelection({ kind: "bar", id: latest.nodeRunId });
  };
  const toggleFold = (laneId: string) =>
    setFolded((prev) => {
      const next = new Set(prev);
      if (next.has(laneId)) next.delete(laneId);
      else next.add(laneId);
      return next;
    });

  return (
    <div className="tl-page" data-testid="timeline-page">
      <header className="tl-header">
        <div className="tl-title">
          <h1><a href={`/workflows/${execution.workflow}/`}>{execution.workflowName}</a> <span className="fm-muted">· run #{execution.id}</span></h1>
          <span className="tl-status tl-status-big" style={{ background: STATUS_COLOURS[live.status] }} data-testid="execution-status">{live.status}</span>
          <code data-testid="execution-trace-id">{execution.traceId}</code>
          <CopyButton text={execution.traceId} label="Copy execution trace id" />
          {/* "live" means the run is still going and the page follows it; a finished run is not live. */}
          {running ? (
            <span className={`tl-stream tl-stream-${streamState}`} data-testid="stream-state" title="Live stream">{streamState === "live" ? "● live" : streamState}</span>
          ) : null}
          <span className="fm-muted">v{execution.version}</span>
          {timeline.runUntil ? (
            <span className="fm-chip" data-testid="run-until" title="Run to here: only this node and the nodes before it ran; the rest was skipped.">
              run to {timeline.definition.nodes.find((n) => n.id === timeline.runUntil)?.name || timeline.runUntil}
            </span>
          ) : null}
          {timeline.reusedFrom && timeline.reused?.length ? (
            <span className="fm-chip" data-testid="reused-chip"
                  title={`Outputs reused, not run again: ${timeline.reused.map((id) => timeline.definition.nodes.find((n) => n.id === id)?.name || id).join(", ")}`}>
              reused {plural(timeline.reused.length, "node")} from <SourceRun id={timeline.reusedFrom} deleted={timeline.reusedFromDeleted} />
            </span>
          ) : null}
          <button type="button" className="fm-btn" onClick={() => setRerunOpen(true)} data-testid="rerun">Re-run…</button>
        </div>
        <RunIo input={execution.input} output={execution.output} error={execution.error} status={live.status}
               nodes={timeline.definition.nodes} />
        {live.status === "failed" || live.status === "timed_out" ? (
          <FailedHere bars={failedWhere(bars, joinNodes(timeline.definition.edges))} onSelect={setSelection} />
        ) : null}
        <dl className="tl-stats">
          <div><dt>Elapsed</dt><dd data-testid="elapsed" title={idleMs > 0 ? runDurationTitle({ active: spanMs - idleMs, span: spanMs, idle: idleMs }) : undefined}>
            {formatDuration(toMs(live.startedAt) !== null ? spanMs - idleMs : null)}</dd></div>
          <div><dt>Node runs</dt><dd data-testid="counts">{Object.entries(counts).map(([s, n]) => (
            <span key={s} className="tl-count" style={{ borderColor: STATUS_COLOURS[s] }}>{n} {s}</span>
          ))}</dd></div>
          {/* A redriven run sat finished until its redrive: that time is left out of Elapsed, and said here. */}
          {idleMs > 0 ? <div><dt>Idle before redrive</dt><dd data-testid="idle-time">{formatDuration(idleMs)}</dd></div> : null}
          {pausedMs > 0 ? <div><dt>Paused</dt><dd data-testid="paused-time">{formatDuration(pausedMs)}</dd></div> : null}
          <div><dt>Achieved concurrency</dt><dd data-testid="achieved-concurrency" title={concurrency.title}>{concurrency.text}</dd></div>
          <div><dt>Peak</dt><dd data-testid="peak">{timeline.summary.peakConcurrency} <span className="tl-note">of {workflowCap}</span></dd></div>
          <div><dt>Critical path</dt><dd>
            {/* "4 node runs · 16.7 ms" beside 136 ms elapsed, with a bare checkbox, said neither what
                the path is nor what ticking does. */}
            <label className="tl-toggle" data-testid="critical-path"
                   title={"Outline the critical path: the chain of node runs that held the run up, back from the one that finished last. "
                          + "The time is their own run time; the rest of the elapsed time they waited (for a slot, a rate limit, a retry, a decision)."}>
              <input type="checkbox" checked={showCritical} onChange={(e) => setShowCritical(e.target.checked)} data-testid="toggle-critical" />
              {timeline.summary.criticalPath.length} node runs · {formatDuration(timeline.summary.criticalPathRunTimeMs)}
              {/* "704 ms" beside 23 s elapsed read as a wrong sum: the paused time is left out, so say it. */}
              {pausedMs > 0 ? <span data-testid="critical-path-paused"> of work, paused {formatDuration(pausedMs)}</span> : null}</label>
          </dd></div>
        </dl>
        {notes.length ? (
          <ul className="tl-notes" aria-label="Concurrency" data-testid="concurrency-notes">
            {notes.map((n) => (
              <li key={n.laneId ?? n.label} data-testid="concurrency-note">
                <strong>{n.label}</strong>: {n.text ?? `${n.peak} of ${n.limit} at once — ${n.reason}`}
              </li>
            ))}
          </ul>
        ) : null}
        <SignalBar executionId={executionId} status={live.status} onSent={refresh} signals={signals} nodes={timeline.definition.nodes} />
        <CustomSignals executionId={executionId} status={live.status} onSent={refresh}
                       handlers={timeline.definition.settings?.signalHandlers} />
        {/* A redrive turns a finished run live again: start over with a fresh timeline and stream. */}
        {/* The server's count is the ended run's: the page re-reads it when the stream says the run ended. */}
        <RedriveControls executionId={executionId} status={live.status} bars={bars} selected={selectedBar}
                         counts={timeline.execution.status === live.status ? timeline.execution : undefined}
                         offer={timeline.execution.status === live.status ? timeline.redriveOffer : undefined}
                         redrives={timeline.redrives} runVersion={execution.version}
                         onDone={() => window.location.reload()} />
        {error ? <p className="fm-banner fm-banner-error" role="alert">{error}</p> : null}
      </header>
      <div className="tl-body">
        <section className="tl-main">
          {live.status === "queued" && bars.length === 0 ? (
            // A run with no time yet has no axis to draw (its labels fell on top of each other);
            // what a reader wants is why it has not started.
            <p className="tl-queued-note" data-testid="queued-note">
              Queued since {formatTime(execution.createdAt)}: not started yet
              {queueLimit ? <>. This workflow runs at most {plural(queueLimit, "run")} at once (<code>queue.maxConcurrentRuns</code>):
                it starts when a place is free.</> : "."}
              {timeline.notStartedBecause ? (
                <> <strong data-testid="not-started-because">{timeline.notStartedBecause}</strong></>
              ) : null}
            </p>
          ) : (
            <Gantt lanes={shownLanes} bars={chartBars} origin={origin} end={chartEnd} now={now} live={running}
                   folded={folded} showCritical={showCritical} selection={selection} onSelect={setSelection} onToggleFold={toggleFold}
                   paused={paused} />
          )}
          <div className="tl-lower">
            <section className="tl-traces" aria-label="Trace tree">
              <h2>Traces</h2>
              <TraceTreeView node={traceTree(execution.traceId, live.lanes, bars)} onSelect={setSelection} />
            </section>
            <section className="tl-canvas" aria-label="Workflow">
              <h2>Workflow</h2>
              {/* Remounted when the side panel opens or closes, so that it fits its new width. */}
              <MiniCanvas key={selection ? "beside-panel" : "full-width"} nodes={timeline.definition.nodes} edges={timeline.definition.edges} statusByNode={statusByNode} statusText={statusText}
                          selectedNodeId={selectedBar?.nodeId ?? null} onSelectNode={selectNode} />
            </section>
          </div>
        </section>
        {selectedBar ? (
          <NodeRunPanel executionId={executionId} bar={selectedBar} liveLogs={logs} now={now} onClose={() => setSelection(null)}
                        sourceDeleted={timeline.reusedFromDeleted} />
        ) : selectedLane ? (
          <LanePanel lane={selectedLane} bars={bars} onSelectBar={(id) => setSelection({ kind: "bar", id })} onClose={() => setSelection(null)} />
        ) : null}
      </div>
      {rerunOpen ? <RerunDialog execution={execution} onClose={() => setRerunOpen(false)} /> : null}
    </div>
  );
}

/** The run's input, and its result or error, as the first thing under the title. */
interface RunIoProps {
  input: unknown;
  output: unknown;
  error: unknown;
  status: string;
  nodes: readonly { id: string; name?: string }[];
}

/** `{message}` or `{nodeId, error: {message}}` (a node's failure ended the run) as one line. */
function errorLine(error: unknown, nodes: RunIoProps["nodes"]): string | null {
  if (!error || typeof error !== "object") return typeof error === "string" ? error : null;
  const record = error as Record<string, unknown>;
  const inner = record.error && typeof record.error === "object" ? (record.error as Record<string, unknown>) : null;
  const message = typeof record.message === "string" ? record.message : typeof inner?.message === "string" ? inner.message : null;
  const nodeId = typeof record.nodeId === "string" ? record.nodeId : null;
  const node = nodeId ? nodes.find((n) => n.id === nodeId)?.name || nodeId : null;
  if (message === null) return node ? `at ${node}` : null;
  return node ? `${message} (at ${node})` : message;
}

/** Whether an error holds more than `{message}` or `{nodeId, error: {message}}`. */
function saysMoreThanItsMessage(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const record = error as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.every((k) => k === "message")) return false;
  if (keys.every((k) => k === "nodeId" || k === "error") && record.error && typeof record.error === "object") {
    return !Object.keys(record.error).every((k) => k === "message");
  }
  return true;
}

function RunIo({ input, output, error, status, nodes }: RunIoProps) {
  const message = isTruncated(error) ? null : errorLine(error, nodes);
  // A value the server cut (over its bound) is its size and links, never megabytes of JSON.
  const shown = (label: string, value: unknown, testId: string, className?: string) =>
    isTruncated(value) ? (
      <div className={`tl-io-large${className ? ` ${className}` : ""}`} data-testid={testId}>
        {label} <LargeValue value={value} testId={`${testId}-large`} />
      </div>
    ) : (
      // The error opens by itself when its JSON says more than the line above it (a join's
      // branchErrors, a loop's errors): a bare {message} shown again as JSON was noise.
      <details className={className} data-testid={testId} open={(testId === "run-error" && saysMoreThanItsMessage(value)) || undefined}>
        <summary>
          {label}
          {testId === "run-error" ? (message ? <>: <span className="tl-error-text">{message}</span></> : null) : <> <code>{shortJson(value)}</code></>}
        </summary>
        <ScrollingPre label={`Run ${label.toLowerCase()}`}>{JSON.stringify(value, null, 2)}</ScrollingPre>
      </details>
    );
  return (
    <div className="tl-io" data-testid="run-io">
      {shown("Input", input ?? {}, "run-input")}
      {error ? (
        shown("Error", error, "run-error", "tl-io-error")
      ) : output !== null && output !== undefined ? (
        shown("Result", output, "run-output")
      ) : (
        <span className="fm-muted" data-testid="run-output-pending">{FINISHED_EXECUTION_STATUSES.has(status) ? "No result." : "No result yet."}</span>
      )}
    </div>
  );
}

/** Nodes with several incoming edges: joins, whose failure may only sum up their branches'. */
function joinNodes(edges: readonly { target: string }[]): Set<string> {
  const seen = new Set<string>();
  const joins = new Set<string>();
  for (const e of edges) {
    if (seen.has(e.target)) joins.add(e.target);
    seen.add(e.target);
  }
  return joins;
}

const FAILED_SHOWN = 5;

/** "Failed: Charge card (branch_b)": which node runs failed, each a button that opens its
 * details (error, input, trace id). A join's error counts them ("1 of 2 branches failed")
 * and its branchErrors name only node ids, so the failure had to be hunted on the chart. */
function FailedHere({ bars, onSelect }: { bars: readonly Bar[]; onSelect: (s: Selection) => void }) {
  if (!bars.length) return null;
  return (
    <p className="tl-failed-here" data-testid="failed-here">
      <span className="tl-error-text">Failed:</span>{" "}
      {bars.slice(0, FAILED_SHOWN).map((bar, index) => (
        <span key={bar.nodeRunId}>
          {index ? ", " : null}
          <button type="button" className="fm-link-btn" data-testid="failed-here-node" onClick={() => onSelect({ kind: "bar", id: bar.nodeRunId })}>
            {barLabel(bar)}
          </button>
          {bar.branchName && bar.branchName !== "main" && bar.iteration === null ? <span className="fm-muted"> ({bar.branchName})</span> : null}
          {bar.status === "timed_out" ? <span className="fm-muted"> timed out</span> : null}
        </span>
      ))}
      {bars.length > FAILED_SHOWN ? <span className="fm-muted"> and {bars.length - FAILED_SHOWN} more</span> : null}
    </p>
  );
}

function TraceTreeView({ node, onSelect }: { node: TraceNode; onSelect: (s: Selection) => void }) {
  const select = () => {
    if (node.laneId) onSelect({ kind: "lane", id: node.laneId });
    else if (node.nodeRunId) onSelect({ kind: "bar", id: node.nodeRunId });
  };
  return (
    <ul className="tl-tree">
      <li>
        <button type="button" className="fm-link-btn" onClick={select} data-testid="trace-node" data-trace-id={node.traceId}>
          <code>{node.traceId}</code>
        </button>{" "}
        <span className="fm-muted">{node.label}</span>
        {node.children.length ? node.children.map((child) => <TraceTreeView key={child.traceId} node={child} onSelect={onSelect} />) : null}
        {node.more ? <div className="fm-muted tl-tree-more">…and {node.more} more</div> : null}
      </li>
    </ul>
  );
}

/** Node-run counts of a paused run: a container still "running" (its items wait for the
 * resume) counts as paused, and an approval still "running" as waiting (for a decision, as
 * the canvas says); both read "1 running" beside the paused badge. */
function pausedCounts(bars: readonly Bar[]): Record<string, number> {
  const heldAs = (b: Bar): string | null =>
    b.status !== "running" ? null : b.container ? "paused" : b.type === "approval" ? "waiting" : null;
  const counts = countByStatus(bars.filter((b) => heldAs(b) === null));
  for (const b of bars) {
    const as = heldAs(b);
    if (as) counts[as] = (counts[as] ?? 0) + 1;
  }
  return counts;
}
