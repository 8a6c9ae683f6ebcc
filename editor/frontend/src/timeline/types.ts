// Shapes of the timeline API and the live stream (SPEC §8). Field names are exactly the JSON's.
// Only what is the timeline's own lives here; execution, node run and definition shapes come
// from api/types.ts and are narrowed or extended, never declared again.
import type { ExecutionSummary, NodeRun, WorkflowDefinition } from "../api/types";

/** One bar of the timeline: a node run attempt (the node run's own fields keep their API names and types). */
export interface Bar
  extends Pick<
    NodeRun,
    "nodeId" | "name" | "type" | "branchId" | "branchName" | "traceId" | "queuedAt" | "startedAt" | "finishedAt" | "status" | "attempt" | "iteration"
  > {
  nodeRunId: string;
  lane: string;
  container: boolean;
  critical: boolean;
  /** 0 for the execution's first attempt; n for node runs of its n-th redrive. */
  redrive?: number;
  /** A loop node's bar: how many items it has (its `node.started` event's `data.itemCount`). */
  itemCount?: number;
  /** Its output is pinned test data: the node did not run (`node.started`'s `data.pinned`). */
  pinned?: boolean;
  /** Its pinned output is that earlier run's (`node.started`'s `data.reusedFrom`). */
  reusedFrom?: number | null;
}

export type LaneKind = "branch" | "loop" | "slot";

export interface Lane {
  id: string;
  kind: LaneKind;
  label: string;
  parent: string | null;
  depth: number;
  barCount: number;
  branchId?: string;
  branchName?: string | null;
  traceId?: string;
  nodeId?: string;
  items?: number;
  /** A loop lane: how many items its loop has in all (known from its start). */
  itemCount?: number;
  slots?: number;
  counts?: Record<string, number>;
}

export interface TimelineSummary {
  wallTimeMs: number;
  runTimeMs: number;
  achievedConcurrency: number;
  peakConcurrency: number;
  criticalPath: string[];
  criticalPathRunTimeMs: number;
  counts: Record<string, number>;
  nodeRuns: number;
  startedAt: string | null;
  finishedAt: string | null;
  /** When the run stood paused (`to` null while it still is). */
  paused?: { from: string; to: string | null }[];
}

export interface Timeline {
  /** Without its node runs: they come as bars. */
  execution: ExecutionSummary;
  definition: Pick<WorkflowDefinition, "nodes" | "edges" | "settings">;
  lastSeq: number;
  generatedAt: string;
  bars: Bar[];
  lanes: Lane[];
  summary: TimelineSummary;
  /** Set when only the first node runs are drawn (the server's bar bound); the summary's
   * counts and `nodeRuns` still cover the whole execution. */
  truncated?: { bars: number; nodeRuns: number; detail: string };
  /** A queued run that nothing will start, and why (queue mode with no live Celery worker). */
  notStartedBecause?: string | null;
  /** The run's redrives, oldest first. */
  redrives?: Redrive[];
  /** "Run to here": the id of the node this run stops at (null: a whole run). */
  runUntil?: string | null;
  /** "Run to here" with reuse: the run whose outputs the `reused` nodes took (null: none). */
  reusedFrom?: number | null;
  /** That run has since been deleted (by hand or by retention): no page to link to. */
  reusedFromDeleted?: boolean;
  reused?: string[];
  /** Set for an ended run some of whose failed work was replayed from its dead letters as
   * other executions: what "Redrive failed" may still offer (engine.services.redrive_offer). */
  redriveOffer?: RedriveOffer | null;
}

/** Failed loop items (or the run) replayed as other executions, left out of "Redrive failed";
 * `failedNodes`/`failedItems` count what is left (both 0: nothing is). */
export interface RedriveOffer {
  replayed: { kind: "item" | "run"; nodeId: string | null; itemIndex: number | null; execution: number | null }[];
  reason: string;
  failedNodes: number;
  failedItems: number;
}

/** One redrive: `version` is the one it ran, `fromVersion` the run's version before it (both
 * null for redrives recorded before the server kept them). */
export interface Redrive {
  number: number;
  sinceSeq: number;
  at: string | null;
  version?: number | null;
  fromVersion?: number | null;
  by?: string | null;
}

/** One event of `ws/executions/{id}/` (and of `GET /api/executions/{id}/events`). */
export interface StreamEvent {
  seq: number;
  type: string;
  ts: string;
  executionId: number;
  nodeId: string | null;
  nodeRunId: string | null;
  branchId: string | null;
  branchName: string | null;
  traceId: string | null;
  attempt: number | null;
  iteration: number | null;
  status: string | null;
  data: Record<string, unknown> | null;
}

export interface NodeRunDetail {
  nodeRun: NodeRun;
  scope: string;
  logs: StreamEvent[];
}

/** The execution of a `ws/executions/` message: the fields engine/wire.py sends. */
export type LiveExecution = Pick<ExecutionSummary, "id" | "status" | "workflow" | "workflowName" | "traceId" | "createdAt" | "startedAt" | "finishedAt" | "failedNodes" | "failedItems" | "redrives" | "redrivenAt" | "idleMs" | "waitingApproval">;

/** `ws/executions/`: a status change of one of the user's executions. */
export interface ExecutionStatusMessage {
  type: "execution.status";
  execution: LiveExecution;
}

/** A row of the Executions page: listed (`GET /api/executions`, a whole `ExecutionSummary`),
 * or so far only told by the stream. */
export type ExecutionRow = LiveExecution & Partial<ExecutionSummary>;
