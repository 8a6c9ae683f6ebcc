// The canvas is a view of the SPEC §3 definition: these functions derive React Flow's
// nodes and edges from it (and nothing converts back — edits go to the store as SPEC
// changes). A per-node cache returns the same object for an unchanged node, so dragging one
// node among 200 re-renders one node.
import type { Edge as FlowEdge, Node as FlowNode } from "@xyflow/react";

import type { NodeRunStatus, NodeTypeInfo, WorkflowDefinition, WorkflowEdge, WorkflowNode } from "../api/types";
import { type BranchInfo, branchInfo, DEFAULT_HANDLE, isFanOutEdge } from "../lib/graph";
import { orderParentsFirst } from "../store/graphStore";
import { nodeSizes, type Size, TAKES_OWN_CLICK } from "./geometry";

export interface StepNodeData extends Record<string, unknown> {
  node: WorkflowNode;
  info: NodeTypeInfo | undefined;
  status: NodeRunStatus | undefined;
  /** What the status badge says instead of the status (a loop body's "3 of 10 failed"). */
  statusText?: string | undefined;
  issues: string[];
  warnings: string[];
  size: Size;
  /** A container with body nodes: its "Drop nodes here" hint is no longer needed. */
  hasBody?: boolean;
}

export interface BranchEdgeData extends Record<string, unknown> {
  edge: WorkflowEdge;
  branch: BranchInfo | undefined;
  issues: string[];
}

export type StepFlowNode = FlowNode<StepNodeData>;
export type BranchFlowEdge = FlowEdge<BranchEdgeData>;

export interface IssueIndex {
  nodeErrors: Map<string, string[]>;
  nodeWarnings: Map<string, string[]>;
  edgeErrors: Map<string, string[]>;
}

export const NO_ISSUES: IssueIndex = { nodeErrors: new Map(), nodeWarnings: new Map(), edgeErrors: new Map() };
const EMPTY: string[] = [];

export function isContainerType(type: string, nodeTypes: Record<string, NodeTypeInfo>): boolean {
  const info = nodeTypes[type];
  return info ? info.container : type === "loop";
}

interface NodeCacheEntry {
  statusText: string | undefined;
  source: WorkflowNode;
  info: NodeTypeInfo | undefined;
  selected: boolean;
  status: NodeRunStatus | undefined;
  issues: string[];
  warnings: string[];
  width: number;
  height: number;
  hasBody: boolean;
  flow: StepFlowNode;
}

interface EdgeCacheEntry {
  source: WorkflowEdge;
  selected: boolean;
  branchKey: string;
  issues: string[];
  flow: BranchFlowEdge;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((v, i) => v === b[i]));
}

export class FlowConverter {
  private nodeCache = new Map<string, NodeCacheEntry>();
  private edgeCache = new Map<string, EdgeCacheEntry>();

  nodes(
    definition: WorkflowDefinition,
    nodeTypes: Record<string, NodeTypeInfo>,
    selected: ReadonlySet<string>,
    status: Record<string, NodeRunStatus>,
    issues: IssueIndex,
    statusText: Readonly<Record<string, string>> = {},
  ): StepFlowNode[] {
    const sizes = nodeSizes(definition, (n) => isContainerType(n.type, nodeTypes));
    const seen = new Set<string>();
    const parents = new Set(definition.nodes.map((n) => n.parentId).filter((id) => id !== undefined));
    const result = orderParentsFirst(definition.nodes).map((node) => {
      seen.add(node.id);
      const info = nodeTypes[node.type];
      const isSelected = selected.has(node.id);
      const nodeStatus = status[node.id];
      const nodeStatusText = statusText[node.id];
      const nodeIssues = issues.nodeErrors.get(node.id) ?? EMPTY;
      const nodeWarnings = issues.nodeWarnings.get(node.id) ?? EMPTY;
      const size = sizes.get(node.id) as Size;
      const hasBody = parents.has(node.id);
      const cached = this.nodeCache.get(node.id);
      if (
        cached &&
        cached.source === node &&
        cached.info === info &&
        cached.selected === isSelected &&
        cached.status === nodeStatus &&
        cached.statusText === nodeStatusText &&
        sameList(cached.issues, nodeIssues) &&
        sameList(cached.warnings, nodeWarnings) &&
        cached.width === size.width &&
        cached.height === size.height &&
        cached.hasBody === hasBody
      ) {
        return cached.flow;
      }
      const container = isContainerType(node.type, nodeTypes);
      const flow: StepFlowNode = {
        id: node.id,
        type: container ? "loop" : "step",
        position: node.position,
        data: { node, info, status: nodeStatus, statusText: nodeStatusText, issues: nodeIssues, warnings: nodeWarnings, size, hasBody },
        selected: isSelected,
        width: size.width,
        height: size.height,
        // Containers sit under their body so the body stays clickable.
        zIndex: container ? -1 : 0,
        ariaLabel: `${info?.title ?? node.type} node ${node.name}`,
        ...(node.parentId !== undefined ? { parentId: node.parentId } : {}),
      };
      this.nodeCache.set(node.id, {
        source: node,
        info,
        selected: isSelected,
        status: nodeStatus,
        statusText: nodeStatusText,
        issues: nodeIssues,
        warnings: nodeWarnings,
        width: size.width,
        height: size.height,
        hasBody,
        flow,
      });
      return flow;
    });
    for (const id of this.nodeCache.keys()) if (!seen.has(id)) this.nodeCache.delete(id);
    return result;
  }

  edges(definition: WorkflowDefinition, selected: ReadonlySet<string>, issues: IssueIndex): BranchFlowEdge[] {
    const branches = branchInfo(definition.edges);
    const seen = new Set<string>();
    const result = definition.edges.map((edge) => {
      seen.add(edge.id);
      const branch = branches.get(edge.id);
      const branchKey = branch ? `${branch.index}:${branch.name}` : "";
      const isSelected = selected.has(edge.id);
      const edgeIssues = issues.edgeErrors.get(edge.id) ?? EMPTY;
      const cached = this.edgeCache.get(edge.id);
      if (cached && cached.source === edge && cached.selected === isSelected && cached.branchKey === branchKey && sameList(cached.issues, edgeIssues)) {
        return cached.flow;
      }
      const flow: BranchFlowEdge = {
        id: edge.id,
        type: "branch",
        source: edge.source,
        target: edge.target,
        sourceHandle: edge.sourceHandle ?? DEFAULT_HANDLE,
        targetHandle: "in",
        selected: isSelected,
        data: { edge, branch, issues: edgeIssues },
        ariaLabel: `Connection ${edge.source} to ${edge.target}${branch ? `, branch ${branch.name}` : ""}`,
        className: [TAKES_OWN_CLICK, edgeIssues.length ? "fm-edge-error" : "", edge.sourceHandle && !isFanOutEdge(edge) ? `fm-edge-${edge.sourceHandle}` : ""]
          .filter(Boolean)
          .join(" "),
      };
      this.edgeCache.set(edge.id, { source: edge, selected: isSelected, branchKey, issues: edgeIssues, flow });
      return flow;
    });
    for (const id of this.edgeCache.keys()) if (!seen.has(id)) this.edgeCache.delete(id);
    return result;
  }
}

/** Groups validation messages by the node or edge they name. */
export function indexIssues(
  errors: readonly { message: string; nodeId?: string | null; edgeId?: string | null }[],
  warnings: readonly { message: string; nodeId?: string | null; edgeId?: string | null }[] = [],
): IssueIndex {
  const index: IssueIndex = { nodeErrors: new Map(), nodeWarnings: new Map(), edgeErrors: new Map() };
  const add = (map: Map<string, string[]>, key: string, message: string) => {
    const list = map.get(key);
    if (list) {
      if (!list.includes(message)) list.push(message);
    } else map.set(key, [message]);
  };
  for (const issue of errors) {
    if (issue.edgeId) add(index.edgeErrors, issue.edgeId, issue.message);
    else if (issue.nodeId) add(index.nodeErrors, issue.nodeId, issue.message);
  }
  for (const issue of warnings) {
    if (issue.nodeId) add(index.nodeWarnings, issue.nodeId, issue.message);
  }
  return index;
}

/** Status per node from per-node counts (what `GET /api/executions/{id}` carries in
 * `nodeRunCountsByNode` when `nodeRuns` is only its first page): the same precedence as
 * `statusByNode`, over every node run (a retried failure counts too). */
export function statusByNodeFromCounts(
  counts: Record<string, Partial<Record<NodeRunStatus, number>>>,
): Record<string, NodeRunStatus> {
  const result: Record<string, NodeRunStatus> = {};
  for (const [nodeId, byStatus] of Object.entries(counts)) {
    let best: NodeRunStatus | null = null;
    for (const [status, n] of Object.entries(byStatus) as [NodeRunStatus, number][]) {
      if (n > 0 && (best === null || STATUS_RANK[status] > STATUS_RANK[best])) best = status;
    }
    if (best !== null) result[nodeId] = best;
  }
  return result;
}

// Precedence: something still going on wins, then failure, then success.
const STATUS_RANK: Record<NodeRunStatus, number> = {
  waiting: 10,
  running: 9,
  retrying: 8,
  queued: 7,
  pending: 6,
  failed: 5,
  partial: 5,
  timed_out: 4,
  cancelled: 3,
  succeeded: 2,
  skipped: 1,
};

/** Latest status per node from an execution's node runs; loop body items roll up. */
export function statusByNode(
  nodeRuns: readonly { nodeId: string; status: NodeRunStatus; attempt: number; iteration: number | null }[],
): Record<string, NodeRunStatus> {
  const rank = STATUS_RANK;
  const latest = new Map<string, { attempt: number; status: NodeRunStatus }>();
  for (const run of nodeRuns) {
    const key = `${run.nodeId}#${run.iteration ?? ""}`;
    const previous = latest.get(key);
    if (!previous || run.attempt >= previous.attempt) latest.set(key, { attempt: run.attempt, status: run.status });
  }
  const result: Record<string, NodeRunStatus> = {};
  for (const [key, value] of latest) {
    const nodeId = key.slice(0, key.lastIndexOf("#"));
    const current = result[nodeId];
    if (!current || rank[value.status] > rank[current]) result[nodeId] = value.status;
  }
  return result;
}

