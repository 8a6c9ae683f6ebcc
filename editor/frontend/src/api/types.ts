// Shapes of the HTTP API (SPEC §7) and of the workflow definition (SPEC §3), written once
// and used by every page. Field names are exactly the JSON's.

export interface Position {
  x: number;
  y: number;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Config = Record<string, unknown>;

export interface RetryPolicy {
  maxAttempts?: number;
  backoff?: "fixed" | "exponential";
  initialDelay?: number;
  maxDelay?: number;
  jitter?: boolean | number;
}

export interface BranchConfig {
  name?: string;
  timeout?: number;
  onTimeout?: "cancel" | "continue" | "error";
  retry?: RetryPolicy;
  onError?: "fail" | "continue" | "route";
}

export interface WorkflowNode {
  id: string;
  type: string;
  name: string;
  position: Position;
  config: Config;
  parentId?: string;
}

export interface WorkflowEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string;
  branch?: BranchConfig;
}

export interface QueueSettings {
  maxConcurrentRuns?: number;
  maxSize?: number;
  priority?: "fifo" | "lifo" | "priority";
  timeout?: number;
  deadLetterQueue?: boolean;
}

export interface SignalHandler {
  action: string;
  cleanup?: boolean;
  rollback?: boolean;
  notify?: string[];
  handler?: string;
}

export interface WorkflowSettings {
  maxConcurrency?: number;
  timeout?: number;
  variables?: Record<string, unknown>;
  queue?: QueueSettings;
  signalHandlers?: Record<string, SignalHandler>;
  [key: string]: unknown;
}

export interface WorkflowDefinition {
  schemaVersion: number;
  name: string;
  settings: WorkflowSettings;
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
}

export interface Workflow {
  id: number | string;
  name: string;
  description: string;
  definition: WorkflowDefinition;
  version: number;
  createdAt: string;
  updatedAt: string;
  /** In `GET /api/workflows` only: the latest execution, null when it never ran. */
  lastRun?: { id: number; status: ExecutionStatus; createdAt: string } | null;
}

/** A row of `GET /api/workflows`: past the answer's size budget a definition is a marker
 * (`workflowsApi.get` answers the workflow whole). */
export type WorkflowListItem = Omit<Workflow, "definition"> & { definition: WorkflowDefinition | TruncatedValue };

/** What a list carries instead of a value past its size bound; `url` answers it whole. */
export interface TruncatedValue {
  truncated: true;
  size: number;
  url: string;
}

export interface WorkflowVersion {
  id?: number | string;
  number?: number;
  version?: number;
  /** In the version list, older versions past the answer's size budget carry a marker. */
  definition?: WorkflowDefinition | TruncatedValue;
  createdAt: string;
  createdBy?: string | null;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  additionalProperties?: boolean | JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  format?: string;
  // Hints a node type may add for the editor: "expression" (JavaScript), "template" ({{…}}), "textarea".
  "x-editor"?: string;
  [key: string]: unknown;
}

export interface NodeTypeInfo {
  type: string;
  title: string;
  category: string;
  description: string;
  schema: JsonSchema;
  defaults: Config;
  ports: { inputs: string[]; outputs: string[] };
  container: boolean;
  /** Its output may be pinned as test data (http, transform). */
  pinnable?: boolean;
}

/** A node's pinned test data (GET /api/workflows/{id}/pins): a run from the editor's Run
 * button outputs `data` for this node instead of running it. */
export interface PinnedOutput {
  nodeId: string;
  data: unknown;
  size: number;
  updatedAt: string;
  updatedBy: string | null;
}

export type ExecutionStatus = "queued" | "running" | "paused" | "succeeded" | "failed" | "cancelled" | "timed_out";
export type NodeRunStatus =
  | "pending"
  | "queued"
  | "running"
  | "retrying"
  | "succeeded"
  | "failed"
  | "skipped"
  | "cancelled"
  | "timed_out"
  // Display only (the canvas): a node of a paused run, or an approval waiting for a decision.
  | "waiting"
  // Display only (the canvas): a loop body node that failed in some items of a loop that succeeded.
  | "partial";

export interface NodeRun {
  id: number | string;
  nodeId: string;
  name: string;
  type: string;
  status: NodeRunStatus;
  attempt: number;
  iteration: number | null;
  branchId: string;
  branchName: string;
  traceId: string;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  input: unknown;
  output: unknown;
  error: unknown;
  /** Its output is the node's pinned test data: the node did not run. */
  pinned?: boolean;
  /** Its output was reused from that earlier run ("Run to here" with reuse): it did not run. */
  reusedFrom?: number | null;
  /** That run has since been deleted (by hand or by retention): shown without a link. */
  reusedFromDeleted?: boolean;
}

/** An execution without its node runs, as the server writes it (engine/serializers.py
 * `ExecutionSummarySerializer`): a row of GET /api/executions, the timeline's `execution`.
 * The one type of an execution in the front end: `Execution` adds the node runs, and the
 * timeline's types pick from it (tests/engine/test_wire_shapes.py compares the fields). */
export interface ExecutionSummary {
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
  /** What a redrive without a selection re-runs, counted by the engine when the run last
   * ended: top-level node runs (a failed branch) and loop items that did not succeed. */
  failedNodes: number;
  failedItems: number;
  /** How many times the run was redriven, and when the latest redrive was asked for. */
  redrives: number;
  redrivenAt: string | null;
  /** Time the run sat finished between an attempt's end and the next redrive (ms, summed):
   * no part of its duration, which is (finishedAt ?? now) − startedAt − idleMs. */
  idleMs: number;
  /** The approval a paused run waits at; null while it runs or when a `pause` signal paused it. */
  waitingApproval: { nodeId: string; name: string } | null;
}

/** GET /api/executions/{id}: the summary with its node runs. */
export interface Execution extends ExecutionSummary {
  nodeRuns: NodeRun[];
  /** Run-scoped engine state; `awaiting` names the approval a paused run waits on. */
  state?: Record<string, unknown> | null;
  /** Set when `nodeRuns` is only the first page (see GET /api/executions/{id}/node-runs). */
  nodeRunsNext?: string | null;
  /** Node runs per status, over the whole execution. */
  nodeRunCounts?: Partial<Record<NodeRunStatus, number>>;
  /** Per node, node runs per status; set when `nodeRuns` is only the first page. */
  nodeRunCountsByNode?: Record<string, Partial<Record<NodeRunStatus, number>>> | null;
  /** Started with pinned test data (an editor test run): "Re-run from here" uses the pins as they are now. */
  testRun?: boolean;
}

export interface ValidationIssue {
  message: string;
  nodeId?: string | null;
  edgeId?: string | null;
  path?: string | null;
  code?: string;
  /** The editor's pre-check marks warnings; absent means an error (the server lists them apart). */
  severity?: "error" | "warning";
}

export interface ValidationResult {
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
}

export const TERMINAL_EXECUTION_STATUSES: readonly ExecutionStatus[] = ["succeeded", "failed", "cancelled", "timed_out"];
