// Shapes of the timeline API and the live stream (SPEC §8). Field names are exactly the JSON's.
import type { ExecutionStatus, NodeRun, NodeRunStatus, WorkflowEdge, WorkflowNode, WorkflowSettings } from "../api/types";

export interface Bar {
  nodeRunId: string;
  nodeId: string;
  name: string;
  type: string;
  branchId: string;
  branchName: string;
  traceId: string;
  lane: string;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  status: NodeRunStatus;
  attempt: number;
  iteration: number | null;
  container: boolean;
  critical: boolean;
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
}

export interface ExecutionHead {
  id: number;
  workflow: number;
  workflowName: string;
  version: number;
  status: ExecutionStatus;
  priority: number;
  input: unknown;
  output: unknown;
  error: unknown;
  traceId: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Timeline {
  execution: ExecutionHead;
  definition: { nodes: WorkflowNode[]; edges: WorkflowEdge[]; settings: WorkflowSettings };
  lastSeq: number;
  generatedAt: string;
  bars: Bar[];
  lanes: Lane[];
  summary: TimelineSummary;
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

/** `ws/executions/`: a status change of one of the user's executions. */
export interface ExecutionStatusMessage {
  type: "execution.status";
  execution: ExecutionRow;
}

export interface ExecutionRow {
  id: number;
  status: ExecutionStatus;
  workflow: number;
  workflowName: string;
  traceId: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
