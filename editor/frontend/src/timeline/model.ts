// The live timeline model: bars and lanes from the timeline API, moved forward by stream
// events between two reads of the API. Pure functions, so that the page only wires them.
//
// Lane ids are the server's (engine/timeline.py): `branch:<branchId>` for top-level node
// runs, `loop:<loop path>` for a loop's group and `loop:<loop path>:slot:<n>` for one
// concurrent slot of it. A bar first seen on the stream is placed by the same rules (its
// slot by first-free), and the next read of the API settles it.

import type { ExecutionStatus, NodeRunStatus, WorkflowEdge, WorkflowNode } from "../api/types";
import type { Bar, Lane, StreamEvent } from "./types";

export const FINISHED_NODE_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "skipped", "cancelled", "timed_out"]);
export const FINISHED_EXECUTION_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

export const STATUS_COLOURS: Record<string, string> = {
  pending: "#ced4da",
  queued: "#adb5bd",
  running: "#339af0",
  retrying: "#ff922b",
  succeeded: "#40c057",
  failed: "#fa5252",
  skipped: "#dee2e6",
  cancelled: "#868e96",
  timed_out: "#f59f00",
  // A loop body node that failed in some items of a loop that succeeded.
  partial: "#ffd43b",
  paused: "#fab005",
  // An approval of a paused run, waiting for a decision (the counts' word; its bar stays "running").
  waiting: "#fab005",
};

/** Later states never go back to earlier ones (an event older than the rows it follows). */
export function statusRank(status: string): number {
  if (FINISHED_NODE_STATUSES.has(status)) return 2;
  return status === "running" ? 1 : 0;
}

/** Milliseconds since the epoch, keeping the server's microseconds as a fraction (Date.parse
 * drops them, and a 7 ms run is made of sub-millisecond steps). */
export function toMs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const value = Date.parse(iso);
  if (Number.isNaN(value)) return null;
  const fraction = /T[\d:]+\.\d{3}(\d+)/.exec(iso);
  return fraction?.[1] ? value + Number(`0.${fraction[1]}`) : value;
}

/** A duration from microseconds to hours, with the precision that matters at its size. Each
 * unit ends where its rounded text would reach the next one, and minutes and seconds come
 * from one rounded total: 119.6 s is "2m 0s", never "1m 60s". */
/** How long a run took, as its user means it. A redriven run sat finished between an
 * attempt's end and the redrive (`idleMs`, summed by the server): a run that failed on
 * Monday and was redriven on Tuesday did not take a day. `active` is the span from its
 * start to its end (or `now`) less that idle time; `span` is the whole span, for a title.
 * Null before it starts. */
export function runDuration(startedAt: string | null | undefined, finishedAt: string | null | undefined,
                            idleMs: number | null | undefined, now: number): { active: number; span: number; idle: number } | null {
  const start = toMs(startedAt ?? null);
  if (start === null) return null;
  const span = Math.max(0, (toMs(finishedAt ?? null) ?? now) - start);
  const idle = Math.min(span, Math.max(0, idleMs ?? 0));
  return { active: span - idle, span, idle };
}

/** The title of a redriven run's duration: what it leaves out, and the whole span. */
export function runDurationTitle(duration: { active: number; span: number; idle: number }): string | undefined {
  if (duration.idle <= 0) return undefined;
  return `Active time of its attempts: ${formatDuration(duration.active)}. From the first start to the last end: `
    + `${formatDuration(duration.span)}, of which ${formatDuration(duration.idle)} it sat finished before a redrive.`;
}

/** A moment in a few characters: the time of day when it is today, else the date and time. */
export function shortWhen(iso: string, now: number): string {
  const at = new Date(iso);
  const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return at.toDateString() === new Date(now).toDateString() ? time
    : `${at.toLocaleDateString(undefined, { month: "short", day: "numeric" })}, ${time}`;
}

/** "redriven ×2": the badge of a run that was redriven, or null. */
export function redrivenBadge(redrives: number | null | undefined): string | null {
  return redrives && redrives > 0 ? `redriven ×${redrives}` : null;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 0.9995) return `${Math.round(ms * 1000)} µs`;
  if (ms < 9.995) return `${ms.toFixed(2)} ms`;
  if (ms < 99.95) return `${ms.toFixed(1)} ms`;
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 9_995) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  const minutes = Math.round(ms / 60_000);
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

const LONG_STEPS = [1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
  3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];

/** The axis step (ms) that puts a tick every ~`minPx` pixels: 1-2-5 steps from 1 µs to 1 s,
 * then seconds, minutes and hours people count in. */
export function tickStep(spanMs: number, widthPx: number, minPx = 90): number {
  const wanted = spanMs / Math.max(2, widthPx / minPx);
  if (wanted < 1000) {
    const power = 10 ** Math.floor(Math.log10(Math.max(wanted, 0.001)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= wanted) ?? 1000;
    return Math.max(step, 0.001);
  }
  return LONG_STEPS.find((s) => s >= wanted) ?? Math.ceil(wanted / 86_400_000) * 86_400_000;
}

/** Where an axis label goes: right of its line, or left of it (anchored at its end) when it
 * would run past the chart's right edge at `width` px — "140 ms" was cut to "14" there.
 * 11 px text: under 7 px a character. */
export function tickLabelPlace(at: number, label: string, width: number): { x: number; anchor: "start" | "end" } {
  return at + 3 + label.length * 7 > width ? { x: at - 3, anchor: "end" } : { x: at + 3, anchor: "start" };
}

/** Where a bar's name goes when it does not fit inside the bar: right of the bar when its
 * lane is free up to the next bar (or the chart's edge), else left of it, else nowhere. A
 * failed 2 ms node or a main-lane Start/Merge is a sliver, and its name is what a user looks
 * for (Temporal and Jaeger write such names beside the bar). `others` are the lane's other
 * bars, each from its queue start to its run end, and the names already written beside
 * them, in px; `labelPx` is the text's width. */
export function outsideLabelPlace(
  bar: { left: number; right: number },
  others: readonly { left: number; right: number }[],
  labelPx: number,
  chartLeft: number,
  chartRight: number,
): { x: number; anchor: "start" | "end" } | null {
  const gap = 4;
  let next = chartRight;
  let previous = chartLeft;
  // Sides by centre: two slivers 1 px apart overlap once each is drawn 3 px wide, and
  // still one is left of the other (then neither has room towards the other).
  const centre = (bar.left + bar.right) / 2;
  for (const o of others) {
    if ((o.left + o.right) / 2 >= centre) next = Math.min(next, o.left);
    else previous = Math.max(previous, o.right);
  }
  if (next - bar.right >= labelPx + 2 * gap) return { x: bar.right + gap, anchor: "start" };
  if (bar.left - previous >= labelPx + 2 * gap) return { x: bar.left - gap, anchor: "end" };
  return null;
}

/** An axis label for `ms` after the run's start, for ticks `step` apart. */
export function tickLabel(ms: number, step: number): string {
  if (Math.abs(ms) < step / 1e6) return "0";
  if (step < 1) return ms < 1 ? `${Math.round(ms * 1000)} µs` : `${+ms.toFixed(3)} ms`;
  if (ms < 1000) return `${+ms.toFixed(step < 10 ? 1 : 0)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(step < 1000 ? 3 : 2)} s`;
  // From one rounded total, as in formatDuration: never "1m 60s" or "1h 60m".
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return seconds % 60 ? `${Math.floor(seconds / 60)}m ${seconds % 60}s` : `${seconds / 60} min`;
  const minutes = Math.round(ms / 60_000);
  return minutes % 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${minutes / 60} h`;
}

export function formatTime(iso: string | null | undefined): string {
  const ms = toMs(iso);
  if (ms === null) return "–";
  const date = new Date(ms);
  return `${date.toLocaleTimeString(undefined, { hour12: false })}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

/** `loop` for a node inside the loop `loop`; `outer/inner` when loops nest; null at top level. */
export function loopGroupOf(nodeId: string, nodes: readonly WorkflowNode[]): string | null {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const path: string[] = [];
  let parent = byId.get(nodeId)?.parentId;
  while (parent) {
    path.unshift(parent);
    parent = byId.get(parent)?.parentId;
  }
  return path.length ? path.join("/") : null;
}

function parentBranch(branchId: string): string | null {
  if (branchId === "main") return null;
  const parts = branchId.split(".");
  return parts.length > 1 ? parts.slice(0, -1).join(".") : "main";
}

/** Adds the lane (and its parents) a new bar needs; returns the lane id and the lane list. */
export function placeBar(
  lanes: Lane[],
  bars: ReadonlyMap<string, Bar>,
  event: StreamEvent,
  nodes: readonly WorkflowNode[],
): { lane: string; lanes: Lane[] } {
  const known = new Set(lanes.map((l) => l.id));
  const added: Lane[] = [];
  const ensureBranch = (branchId: string, name: string | null): string => {
    const id = `branch:${branchId}`;
    if (known.has(id)) return id;
    const parent = parentBranch(branchId);
    const parentLane = parent === null ? null : ensureBranch(parent, parent === "main" ? "main" : null);
    const depth = parentLane === null ? 0 : branchId.split(".").length;
    added.push({ id, kind: "branch", label: name ?? branchId, parent: parentLane, depth, barCount: 0, branchId, branchName: name });
    known.add(id);
    return id;
  };
  const group = event.nodeId ? loopGroupOf(event.nodeId, nodes) : null;
  if (group === null || event.iteration === null) {
    const lane = ensureBranch(event.branchId ?? "main", event.branchName);
    return { lane, lanes: added.length ? mergeLanes(lanes, added) : lanes };
  }
  const groupLane = `loop:${group}`;
  if (!known.has(groupLane)) {
    const loopNode = group.split("/").pop() ?? group;
    const parent = ensureBranch(event.branchId ?? "main", event.branchName);
    const parentDepth = [...lanes, ...added].find((l) => l.id === parent)?.depth ?? 0;
    added.push({ id: groupLane, kind: "loop", label: nodes.find((n) => n.id === loopNode)?.name ?? loopNode, parent,
                 depth: parentDepth + 1, barCount: 0, nodeId: loopNode, items: 0, slots: 0, counts: {},
                 // The loop's trace: its items' without their own number (engine.core.branches).
                 ...(event.traceId ? { traceId: event.traceId.replace(/-\d{3}$/, "") } : {}) });
    known.add(groupLane);
  }
  // First slot with nothing unfinished from another item.
  const busy = new Set<string>();
  for (const bar of bars.values()) {
    if (bar.lane.startsWith(`${groupLane}:slot:`) && !FINISHED_NODE_STATUSES.has(bar.status) && bar.iteration !== event.iteration) {
      busy.add(bar.lane);
    }
    if (bar.lane.startsWith(`${groupLane}:slot:`) && bar.iteration === event.iteration) {
      return { lane: bar.lane, lanes: added.length ? mergeLanes(lanes, added) : lanes };
    }
  }
  let slot = 0;
  while (busy.has(`${groupLane}:slot:${slot}`)) slot += 1;
  const slotLane = `${groupLane}:slot:${slot}`;
  if (!known.has(slotLane)) {
    const groupDepth = [...lanes, ...added].find((l) => l.id === groupLane)?.depth ?? 1;
    added.push({ id: slotLane, kind: "slot", label: `slot ${slot + 1}`, parent: groupLane, depth: groupDepth + 1, barCount: 0 });
  }
  return { lane: slotLane, lanes: mergeLanes(lanes, added) };
}

/** Inserts new lanes after their parent's last descendant, keeping the tree order. */
function mergeLanes(lanes: Lane[], added: Lane[]): Lane[] {
  const out = [...lanes];
  for (const lane of added) {
    let at = out.length;
    const parentIndex = out.findIndex((l) => l.id === lane.parent);
    if (parentIndex >= 0) {
      at = parentIndex + 1;
      while (at < out.length && (out[at]?.depth ?? 0) > (out[parentIndex]?.depth ?? 0)) at += 1;
    }
    out.splice(at, 0, lane);
  }
  return out;
}

export interface PausedInterval {
  from: string;
  /** null while the run is still paused. */
  to: string | null;
}

export interface LiveState {
  bars: Map<string, Bar>;
  lanes: Lane[];
  status: ExecutionStatus;
  finishedAt: string | null;
  startedAt: string | null;
  /** When the run stood paused (shaded on the chart). */
  paused?: PausedInterval[];
}

/** Moves the state forward by a batch of stream events (seq order). */
export function applyEvents(state: LiveState, events: readonly StreamEvent[], nodes: readonly WorkflowNode[]): LiveState {
  let { lanes, status, finishedAt, startedAt } = state;
  let paused = state.paused ?? [];
  const bars = new Map(state.bars);
  const nameOf = (nodeId: string) => nodes.find((n) => n.id === nodeId)?.name ?? nodeId;
  const typeOf = (nodeId: string) => nodes.find((n) => n.id === nodeId)?.type ?? "";
  for (const event of events) {
    if (event.type.startsWith("execution.")) {
      const next = event.type.slice("execution.".length);
      const open = paused.length > 0 && paused[paused.length - 1]?.to === null;
      if (next === "paused" && !open && !paused.some((p) => p.from === event.ts)) paused = [...paused, { from: event.ts, to: null }];
      if ((next === "resumed" || FINISHED_EXECUTION_STATUSES.has(next)) && open) {
        paused = paused.map((p, i) => (i === paused.length - 1 ? { ...p, to: event.ts } : p));
      }
      if (next === "started") {
        status = "running";
        startedAt = startedAt ?? event.ts;
      } else if (next === "resumed") status = "running";
      else if (next === "queued" || next === "paused" || FINISHED_EXECUTION_STATUSES.has(next)) {
        if (!FINISHED_EXECUTION_STATUSES.has(status)) status = next as ExecutionStatus;
        if (FINISHED_EXECUTION_STATUSES.has(next)) finishedAt = finishedAt ?? event.ts;
      }
      continue;
    }
    if (!event.type.startsWith("node.") || !event.nodeRunId || !event.nodeId) continue;
    const kind = event.type.slice("node.".length);
    let bar = bars.get(event.nodeRunId);
    if (bar === undefined) {
      const placed = placeBar(lanes, bars, event, nodes);
      lanes = placed.lanes;
      bar = {
        nodeRunId: event.nodeRunId, nodeId: event.nodeId, name: nameOf(event.nodeId), type: typeOf(event.nodeId),
        branchId: event.branchId ?? "main", branchName: event.branchName ?? "main", traceId: event.traceId ?? "",
        lane: placed.lane, queuedAt: event.ts, startedAt: null, finishedAt: null, status: "queued",
        attempt: event.attempt ?? 1, iteration: event.iteration, container: typeOf(event.nodeId) === "loop", critical: false,
      };
    }
    const next = (kind === "started" ? "running" : kind) as NodeRunStatus;
    if (statusRank(next) < statusRank(bar.status)) continue;
    const updated: Bar = { ...bar, status: next };
    if (kind === "started") updated.startedAt = bar.startedAt ?? event.ts;
    const itemCount = event.data?.itemCount;
    if (kind === "started" && typeof itemCount === "number") updated.itemCount = itemCount;
    if (kind === "started" && event.data?.pinned === true) updated.pinned = true;
    if (kind === "started" && typeof event.data?.reusedFrom === "number") updated.reusedFrom = event.data.reusedFrom;
    if (FINISHED_NODE_STATUSES.has(kind)) updated.finishedAt = bar.finishedAt ?? event.ts;
    bars.set(updated.nodeRunId, updated);
  }
  return { bars, lanes, status, finishedAt, startedAt, paused };
}

export interface TraceNode {
  traceId: string;
  label: string;
  laneId: string | null;
  nodeRunId: string | null;
  children: TraceNode[];
  more: number;
}

const TRACE_ITEMS_SHOWN = 12;

/** `trace-abc123` → `-001` (branches) → …, loop items under their loop, as in the seed. */
export function traceTree(executionTrace: string, lanes: readonly Lane[], bars: Iterable<Bar>): TraceNode {
  const root: TraceNode = { traceId: executionTrace, label: "main", laneId: "branch:main", nodeRunId: null, children: [], more: 0 };
  const byTrace = new Map<string, TraceNode>([[executionTrace, root]]);
  const attach = (node: TraceNode) => {
    byTrace.set(node.traceId, node);
    let parentTrace = node.traceId.replace(/-\d{3}$/, "");
    while (parentTrace !== executionTrace && !byTrace.has(parentTrace) && /-\d{3}$/.test(parentTrace)) {
      parentTrace = parentTrace.replace(/-\d{3}$/, "");
    }
    const parent = byTrace.get(parentTrace) ?? root;
    if (parent.children.length >= TRACE_ITEMS_SHOWN && node.laneId === null) parent.more += 1;
    else parent.children.push(node);
  };
  const branchLanes = lanes.filter((l) => l.kind === "branch" && l.id !== "branch:main" && l.traceId);
  for (const lane of [...branchLanes].sort((a, b) => (a.traceId ?? "").localeCompare(b.traceId ?? ""))) {
    attach({ traceId: lane.traceId ?? "", label: lane.branchName ?? lane.label, laneId: lane.id, nodeRunId: null, children: [], more: 0 });
  }
  const items = new Map<string, Bar>();
  for (const bar of bars) {
    if (bar.iteration !== null && !items.has(bar.traceId)) items.set(bar.traceId, bar);
  }
  // A loop beside other children of its branch has a trace of its own, its items under it:
  // it becomes a node of the tree, so that they gather under their loop.
  const loopLanes = lanes.filter((l) => l.kind === "loop" && l.traceId && !byTrace.has(l.traceId) && !items.has(l.traceId));
  for (const lane of [...loopLanes].sort((a, b) => (a.traceId ?? "").localeCompare(b.traceId ?? ""))) {
    attach({ traceId: lane.traceId ?? "", label: lane.label, laneId: lane.id, nodeRunId: null, children: [], more: 0 });
  }
  for (const [traceId, bar] of [...items.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (byTrace.has(traceId)) continue;
    attach({ traceId, label: `item ${bar.iteration ?? 0}`, laneId: null, nodeRunId: bar.nodeRunId, children: [], more: 0 });
  }
  return root;
}

/** Lanes on screen: a folded loop group hides its slots (and anything under them). */
export function visibleLanes(lanes: readonly Lane[], folded: ReadonlySet<string>): Lane[] {
  const hidden = new Set<string>();
  const out: Lane[] = [];
  for (const lane of lanes) {
    if (lane.parent !== null && (hidden.has(lane.parent) || folded.has(lane.parent))) {
      hidden.add(lane.id);
      continue;
    }
    out.push(lane);
  }
  return out;
}

export function countByStatus(bars: Iterable<Bar>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const bar of bars) counts[bar.status] = (counts[bar.status] ?? 0) + 1;
  return counts;
}

/** Sum of run times / wall time, over bars as they stand now (containers excluded). */
export function achievedConcurrency(bars: Iterable<Bar>, wallStart: number | null, wallEnd: number): number {
  if (wallStart === null || wallEnd <= wallStart) return 0;
  let run = 0;
  for (const bar of bars) {
    const start = toMs(bar.startedAt);
    if (bar.container || start === null) continue;
    run += Math.max(0, (toMs(bar.finishedAt) ?? wallEnd) - start);
  }
  return run / (wallEnd - wallStart);
}

/** The most spans open at once, from their [time, +1] starts and [time, -1] ends. */
function peakOf(points: [number, number][]): number {
  // Ends before starts at the same instant: back-to-back runs are not concurrent.
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, delta] of points) {
    running += delta;
    peak = Math.max(peak, running);
  }
  return peak;
}

/** Most node runs running at one moment (containers excluded), as the bars stand now. */
export function peakRunning(bars: Iterable<Bar>, now: number): number {
  const points: [number, number][] = [];
  for (const bar of bars) {
    const start = toMs(bar.startedAt);
    if (bar.container || start === null) continue;
    points.push([start, 1], [Math.max(start, toMs(bar.finishedAt) ?? now), -1]);
  }
  return peakOf(points);
}

/** What the header says about concurrency. "0.86×" for a run whose nodes ran one at a time
 * (or that lasted a few milliseconds) is noise: such runs say so in words instead. */
export function concurrencyText(bars: readonly Bar[], wallStart: number | null, wallEnd: number, now: number): { text: string; title: string } {
  const peak = peakRunning(bars, now);
  const wall = wallStart === null ? 0 : wallEnd - wallStart;
  if (peak <= 1) return { text: peak === 0 ? "–" : "one at a time", title: "No two node runs overlapped." };
  const value = achievedConcurrency(bars, wallStart, wallEnd);
  if (wall < 20) return { text: `up to ${peak} at once`, title: "The run was too short for an average to mean much." };
  return { text: `${value.toFixed(2)}×`, title: "Sum of node run times / wall time" };
}

interface LoopConfig {
  parallel?: boolean;
  maxConcurrency?: number;
  rateLimit?: number;
  batchSize?: number;
}

export interface ConcurrencyNote {
  laneId: string | null;
  label: string;
  peak: number;
  limit: number;
  reason: string;
  /** Said instead of "peak of limit at once — reason" (the run queue counts runs, not node runs). */
  text?: string;
}

/** Items of one loop in flight at once: per item, from its first start to its last finish. */
function loopPeak(groupLane: string, bars: readonly Bar[], now: number): number {
  const spans = new Map<number, [number, number]>();
  for (const bar of bars) {
    if (!bar.lane.startsWith(`${groupLane}:slot:`) || bar.iteration === null) continue;
    const start = toMs(bar.startedAt);
    if (start === null) continue;
    const end = toMs(bar.finishedAt) ?? now;
    const span = spans.get(bar.iteration);
    spans.set(bar.iteration, span ? [Math.min(span[0], start), Math.max(span[1], end)] : [start, end]);
  }
  const points: [number, number][] = [];
  for (const [start, end] of spans.values()) points.push([start, 1], [end, -1]);
  return peakOf(points);
}

/** Handles that route rather than fan out (engine.core.rules.ROUTING_HANDLES). */
const ROUTING_HANDLES: ReadonlySet<string> = new Set(["true", "false", "error"]);

export interface FanOut {
  /** The node whose outgoing edges start the branches. */
  nodeId: string;
  /** The node where they meet again, when there is one. */
  joinId: string | null;
  branches: number;
  /** Every top-level node inside one of its branches (nested fan-outs included). */
  members: Set<string>;
}

/** The fan-outs of the top-level graph and the nodes of each, as the engine numbers branches
 * (engine.core.branches): a node with several non-routing outgoing edges starts one branch
 * per edge; a node with one predecessor stays in its branch; a join goes back to the branch
 * its inputs share. Two fan-outs one after the other are two sections, not one. */
export function fanOuts(nodes: readonly WorkflowNode[], edges: readonly WorkflowEdge[]): FanOut[] {
  const top = new Set(nodes.filter((n) => !n.parentId).map((n) => n.id));
  const inner = edges.filter((e) => top.has(e.source) && top.has(e.target));
  const incoming = new Map<string, WorkflowEdge[]>();
  const outgoing = new Map<string, WorkflowEdge[]>();
  for (const e of inner) {
    incoming.set(e.target, [...(incoming.get(e.target) ?? []), e]);
    outgoing.set(e.source, [...(outgoing.get(e.source) ?? []), e]);
  }
  // Kahn's order: every node after its predecessors (a cycle, refused on run, stops it).
  const remaining = new Map([...top].map((id) => [id, (incoming.get(id) ?? []).length]));
  const order = [...top].filter((id) => remaining.get(id) === 0);
  for (const id of order) {  // grows while it is walked
    for (const e of outgoing.get(id) ?? []) {
      const left = (remaining.get(e.target) ?? 0) - 1;
      remaining.set(e.target, left);
      if (left === 0) order.push(e.target);
    }
  }
  // A branch path as the fan-outs that made it: ["split#0", "inner#1"].
  const nodePath = new Map<string, string[]>();
  const edgePath = new Map<string, string[]>();
  const found = new Map<string, FanOut>();
  for (const id of order) {
    const paths = (incoming.get(id) ?? []).map((e) => edgePath.get(e.id)).filter((p): p is string[] => !!p);
    let here: string[] = paths[0] ?? [];
    for (const p of paths.slice(1)) {
      let depth = 0;
      while (depth < here.length && depth < p.length && here[depth] === p[depth]) depth += 1;
      here = here.slice(0, depth);
    }
    nodePath.set(id, here);
    const out = outgoing.get(id) ?? [];
    const fanning = out.filter((e) => !ROUTING_HANDLES.has(e.sourceHandle ?? ""));
    for (const e of out) edgePath.set(e.id, here);
    if (fanning.length > 1) {
      fanning.forEach((e, i) => edgePath.set(e.id, [...here, `${id}#${i}`]));
      found.set(id, { nodeId: id, joinId: null, branches: fanning.length, members: new Set() });
    }
  }
  for (const [id, path] of nodePath) {
    for (const step of path) found.get(step.slice(0, step.lastIndexOf("#")))?.members.add(id);
    // A join: its inputs come from deeper branches of one fan-out than the join itself.
    const below = (incoming.get(id) ?? []).map((e) => edgePath.get(e.id)?.[path.length]).filter((s): s is string => !!s);
    const first = below[0];
    const origin = below.length > 1 && first ? first.slice(0, first.lastIndexOf("#")) : null;
    const fan = origin ? found.get(origin) : undefined;
    if (fan && fan.joinId === null) fan.joinId = id;
  }
  return [...found.values()];
}

/** Why each parallel container stayed below its concurrency limit, when it did: each loop
 * (too few items, the rate limit, batches, the workflow's cap, a queue), each fan-out (too
 * few branches, the workflow's cap, shared with the rest of the run, a worker), the run as
 * a whole (the workflow's `maxConcurrency`) and the run queue (`queue.maxConcurrentRuns`). */
export function concurrencyNotes(
  nodes: readonly WorkflowNode[],
  settings: Record<string, unknown> | undefined,
  lanes: readonly Lane[],
  bars: readonly Bar[],
  now: number,
  edges: readonly WorkflowEdge[] = [],
  run?: { createdAt?: string | null; startedAt?: string | null },
): ConcurrencyNote[] {
  const notes: ConcurrencyNote[] = [];
  const workflowCap = Number(settings?.maxConcurrency ?? 32) || 32;
  const name = (id: string) => {
    const node = nodes.find((n) => n.id === id);
    return node?.name || id;
  };
  // The queue of runs: this one waited for others of the workflow to finish.
  const queue = (settings?.queue ?? {}) as { maxConcurrentRuns?: number };
  const queued = toMs(run?.createdAt);
  const started = toMs(run?.startedAt);
  if (queue.maxConcurrentRuns && queued !== null && started !== null && started - queued >= 50) {
    notes.push({
      laneId: null, label: "Run queue", peak: queue.maxConcurrentRuns, limit: queue.maxConcurrentRuns,
      reason: `this run waited ${formatDuration(started - queued)} for a free place (queue.maxConcurrentRuns ${queue.maxConcurrentRuns})`,
      text: `waited ${formatDuration(started - queued)} — the workflow runs at most ${queue.maxConcurrentRuns} at a time (queue.maxConcurrentRuns)`,
    });
  }
  const runPeak = peakRunning(bars, now);
  const waited = (of: readonly Bar[]) => of.some((b) => (queueWaitMs(b, now) ?? 0) >= 5);
  // The run as a whole: the workflow's cap holds for all its node runs together.
  if (runPeak >= workflowCap) {
    notes.push({ laneId: null, label: "This run", peak: runPeak, limit: workflowCap,
                 reason: `held at the workflow's maxConcurrency (${workflowCap})` });
  }
  for (const fan of fanOuts(nodes, edges)) {
    const own = bars.filter((b) => b.lane.startsWith("branch:") && fan.members.has(b.nodeId));
    if (!own.length) continue;
    const peak = peakRunning(own, now);
    let reason: string;
    if (peak >= workflowCap) reason = `held at the workflow's maxConcurrency (${workflowCap})`;
    else if (fan.branches <= peak) reason = `only ${fan.branches} branches`;
    else if (runPeak >= workflowCap) reason = `held by the workflow's maxConcurrency (${workflowCap}), shared with the rest of the run`;
    else if (waited(own)) reason = "branches waited in the queue for a worker";
    else reason = "its branches were not ready at the same time";
    const label = fan.joinId ? name(fan.joinId) : `${name(fan.nodeId)} (fan-out)`;
    notes.push({ laneId: `fanout:${fan.nodeId}`, label, peak, limit: workflowCap, reason });
  }
  for (const lane of lanes) {
    if (lane.kind !== "loop" || !lane.nodeId) continue;
    const node = nodes.find((n) => n.id === lane.nodeId);
    if (!node) continue;
    const config = (node.config ?? {}) as LoopConfig;
    const own = config.parallel === false ? 1 : Number(config.maxConcurrency ?? 10) || 10;
    const limit = Math.min(own, workflowCap);
    const peak = loopPeak(lane.id, bars, now);
    const items = new Set(bars.filter((b) => b.lane.startsWith(`${lane.id}:slot:`)).map((b) => b.iteration)).size;
    let reason: string;
    if (peak >= limit) reason = limit < own ? `held at the workflow's maxConcurrency (${workflowCap})` : "reached its limit";
    else if (items <= peak) reason = `only ${items} item${items === 1 ? "" : "s"}`;
    else if (config.rateLimit) reason = `held by the rate limit (${config.rateLimit} items/s)`;
    else if (config.batchSize && config.batchSize < limit) reason = `batches of ${config.batchSize}`;
    else if (limit < own) reason = `held by the workflow's maxConcurrency (${workflowCap})`;
    else reason = "items waited in the queue for a worker";
    notes.push({ laneId: lane.id, label: node.name || node.id, peak, limit, reason });
  }
  return notes;
}

/** `Work · item 3`: loop items carry their number; retries their attempt; node runs of a
 * redrive its number (`· redrive 1`), so the redriven bars read apart from the kept ones. */
export function barLabel(bar: Pick<Bar, "name" | "iteration" | "attempt" | "redrive" | "pinned" | "reusedFrom">): string {
  const item = bar.iteration !== null && bar.iteration !== undefined ? ` · item ${bar.iteration}` : "";
  const redrive = bar.redrive ? ` · redrive ${bar.redrive}` : "";
  // A pinned node did not run: its bar (a sliver) says so, not only the side panel; an
  // output reused from an earlier run names that run instead.
  const pin = bar.pinned ? (bar.reusedFrom ? ` · from #${bar.reusedFrom}` : " · pinned") : "";
  return `${bar.name}${item}${bar.attempt > 1 ? ` · attempt ${bar.attempt}` : ""}${redrive}${pin}`;
}

/** A node run that finished without ever starting (skipped, cancelled in the queue) had no
 * queue wait worth the name; one still waiting has a growing one. */
export function queueWaitMs(bar: Pick<Bar, "queuedAt" | "startedAt" | "status">, now: number): number | null {
  const queued = toMs(bar.queuedAt);
  const started = toMs(bar.startedAt);
  if (queued === null) return null;
  if (started !== null) return Math.max(0, started - queued);
  return FINISHED_NODE_STATUSES.has(bar.status) ? null : Math.max(0, now - queued);
}

/** The status colour of a folded loop's strip at one moment: failures first, then what is
 * still running, then what finished. */
const STRIP_PRIORITY = ["failed", "timed_out", "cancelled", "retrying", "running", "succeeded", "skipped"];
export function stripStatus(counts: Readonly<Record<string, number>>): string {
  return STRIP_PRIORITY.find((s) => (counts[s] ?? 0) > 0) ?? "running";
}

export interface LoopItemStats {
  /** Item indexes seen so far. */
  items: Set<number>;
  /** Items whose latest attempt of some body node failed or timed out. */
  failed: number;
  /** Items cut by `cancelOnFailure` (or a cancel): none of their node runs failed and the
   * last of them to end was cancelled. A loser of a race inside an item ends before the
   * node after it, so an item that went on past it is not counted. */
  cancelled: number;
}

function barTime(bar: Bar): number {
  const at = bar.startedAt ?? bar.queuedAt;
  return at ? Date.parse(at) : 0;
}

/** How many items the loop of a lane has, from the latest run of its loop node in each
 * scope (`iteration` tells the runs of a nested loop apart: one per outer item); undefined
 * while no start event has said. */
export function loopItemCount(bars: readonly Bar[], lane: Lane): number | undefined {
  const latest = new Map<string, Bar>();
  for (const bar of bars) {
    if (!bar.container || bar.nodeId !== lane.nodeId || bar.itemCount === undefined) continue;
    const key = String(bar.iteration ?? "");
    const seen = latest.get(key);
    if (!seen || barTime(bar) >= barTime(seen)) latest.set(key, bar);
  }
  if (latest.size === 0) return lane.itemCount;
  let total = 0;
  for (const bar of latest.values()) total += bar.itemCount ?? 0;
  return total;
}

/** Per loop group (the lane id before `:slot:`), its items and how many of them failed.
 * An item counts once, by the newest attempt of each of its body nodes: a retry that
 * succeeded, or a redrive that fixed it, clears it, and an item that failed again in a
 * redrive is still one failed item, not two. */
export function loopItemStats(bars: readonly Bar[]): Map<string, LoopItemStats> {
  const latest = new Map<string, Bar>();
  const stats = new Map<string, LoopItemStats>();
  for (const bar of bars) {
    const cut = bar.lane.indexOf(":slot:");
    if (cut < 0) continue;
    const group = bar.lane.slice(0, cut);
    const entry = stats.get(group) ?? { items: new Set<number>(), failed: 0, cancelled: 0 };
    stats.set(group, entry);
    if (bar.iteration === null || bar.iteration === undefined) continue;
    entry.items.add(bar.iteration);
    const key = `${group}|${bar.iteration}|${bar.nodeId}`;
    const seen = latest.get(key);
    if (!seen || barTime(bar) > barTime(seen) || (barTime(bar) === barTime(seen) && (bar.attempt ?? 0) >= (seen.attempt ?? 0))) {
      latest.set(key, bar);
    }
  }
  const failedItems = new Set<string>();
  const lastEnded = new Map<string, Bar>();
  for (const [key, bar] of latest) {
    const item = key.slice(0, key.lastIndexOf("|"));
    if (bar.status === "failed" || bar.status === "timed_out") failedItems.add(item);
    const last = lastEnded.get(item);
    if (!last || (toMs(bar.finishedAt) ?? Infinity) >= (toMs(last.finishedAt) ?? Infinity)) lastEnded.set(item, bar);
  }
  for (const item of failedItems) {
    const entry = stats.get(item.slice(0, item.lastIndexOf("|")));
    if (entry) entry.failed += 1;
  }
  for (const [item, bar] of lastEnded) {
    if (failedItems.has(item) || bar.status !== "cancelled") continue;
    const entry = stats.get(item.slice(0, item.lastIndexOf("|")));
    if (entry) entry.cancelled += 1;
  }
  return stats;
}

/** The node runs where a failed run actually failed, in start order: each node run whose
 * last attempt failed or timed out, leaving out loop containers and a join (`joins`: nodes
 * with several incoming edges) that failed without running — the verdict that summed the
 * branches up. A join's error ("1 of 2 branches failed") says how many, not which; this says
 * which, so the page can point at them. */
export function failedWhere(bars: readonly Bar[], joins: ReadonlySet<string>): Bar[] {
  const last = new Map<string, Bar>();
  for (const bar of bars) {
    if (bar.container) continue;
    const key = `${bar.nodeId}|${bar.traceId}|${bar.iteration ?? ""}`;
    const seen = last.get(key);
    if (!seen || bar.attempt >= seen.attempt) last.set(key, bar);
  }
  return [...last.values()]
    .filter((b) => (b.status === "failed" || b.status === "timed_out") && !(joins.has(b.nodeId) && b.startedAt === null))
    .sort((a, b) => (toMs(a.startedAt ?? a.queuedAt) ?? 0) - (toMs(b.startedAt ?? b.queuedAt) ?? 0));
}
