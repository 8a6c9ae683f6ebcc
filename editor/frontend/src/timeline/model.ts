// The live timeline model: bars and lanes from the timeline API, moved forward by stream
// events between two reads of the API. Pure functions, so that the page only wires them.
//
// Lane ids are the server's (engine/timeline.py): `branch:<branchId>` for top-level node
// runs, `loop:<loop path>` for a loop's group and `loop:<loop path>:slot:<n>` for one
// concurrent slot of it. A bar first seen on the stream is placed by the same rules (its
// slot by first-free), and the next read of the API settles it.

import type { ExecutionStatus, NodeRunStatus, WorkflowNode } from "../api/types";
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
  paused: "#fab005",
};

/** Later states never go back to earlier ones (an event older than the rows it follows). */
export function statusRank(status: string): number {
  if (FINISHED_NODE_STATUSES.has(status)) return 2;
  return status === "running" ? 1 : 0;
}

export function toMs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const value = Date.parse(iso);
  return Number.isNaN(value) ? null : value;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return minutes < 60 ? `${minutes}m ${seconds}s` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
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
                 depth: parentDepth + 1, barCount: 0, nodeId: loopNode, items: 0, slots: 0, counts: {} });
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

export interface LiveState {
  bars: Map<string, Bar>;
  lanes: Lane[];
  status: ExecutionStatus;
  finishedAt: string | null;
  startedAt: string | null;
}

/** Moves the state forward by a batch of stream events (seq order). */
export function applyEvents(state: LiveState, events: readonly StreamEvent[], nodes: readonly WorkflowNode[]): LiveState {
  let { lanes, status, finishedAt, startedAt } = state;
  const bars = new Map(state.bars);
  const nameOf = (nodeId: string) => nodes.find((n) => n.id === nodeId)?.name ?? nodeId;
  const typeOf = (nodeId: string) => nodes.find((n) => n.id === nodeId)?.type ?? "";
  for (const event of events) {
    if (event.type.startsWith("execution.")) {
      const next = event.type.slice("execution.".length);
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
    if (FINISHED_NODE_STATUSES.has(kind)) updated.finishedAt = bar.finishedAt ?? event.ts;
    bars.set(updated.nodeRunId, updated);
  }
  return { bars, lanes, status, finishedAt, startedAt };
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
