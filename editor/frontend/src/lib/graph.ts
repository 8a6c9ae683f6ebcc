// Pure graph rules the canvas applies while the user draws: branch naming (SPEC §4.2),
// cycle detection at connect time, and a fast client-side pre-check that mirrors the
// server's validation (the server stays the authority; see engine/core/graph.py).
import type { BranchConfig, NodeTypeInfo, ValidationIssue, WorkflowDefinition, WorkflowEdge, WorkflowNode } from "../api/types";
import { requiredFieldMessage } from "./issueText";
import { numberProblems } from "./schemaForm";

/** Handles that route instead of fanning out (condition true/false, the error port). */
export const ROUTING_HANDLES: ReadonlySet<string> = new Set(["true", "false", "error"]);
export const DEFAULT_HANDLE = "out";
export const BRANCH_NAME_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** branch_a … branch_z, branch_aa, branch_ab … (same as the engine). */
export function defaultBranchName(index: number): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let n = index;
  let name = "";
  for (;;) {
    name = letters[n % 26] + name;
    n = Math.floor(n / 26) - 1;
    if (n < 0) return `branch_${name}`;
  }
}

export function isFanOutEdge(edge: WorkflowEdge): boolean {
  return edge.sourceHandle === undefined || !ROUTING_HANDLES.has(edge.sourceHandle);
}

export interface BranchInfo {
  /** 0-based position among the source's fan-out edges, in edge order. */
  index: number;
  name: string;
  custom: boolean;
}

/** For every edge that starts a branch: its index and (default or custom) name. */
export function branchInfo(edges: readonly WorkflowEdge[]): Map<string, BranchInfo> {
  const bySource = new Map<string, WorkflowEdge[]>();
  for (const edge of edges) {
    if (!isFanOutEdge(edge)) continue;
    const list = bySource.get(edge.source);
    if (list) list.push(edge);
    else bySource.set(edge.source, [edge]);
  }
  const result = new Map<string, BranchInfo>();
  for (const list of bySource.values()) {
    if (list.length < 2) continue;
    list.forEach((edge, index) => {
      const custom = Boolean(edge.branch?.name);
      result.set(edge.id, { index, name: custom ? (edge.branch?.name as string) : defaultBranchName(index), custom });
    });
  }
  return result;
}

function successorsOf(edges: readonly WorkflowEdge[]): Map<string, string[]> {
  const successors = new Map<string, string[]>();
  for (const edge of edges) {
    const list = successors.get(edge.source);
    if (list) list.push(edge.target);
    else successors.set(edge.source, [edge.target]);
  }
  return successors;
}

/** A path from `from` to `to` along edges (inclusive), or null. Iterative BFS: 200+ nodes. */
export function findPath(edges: readonly WorkflowEdge[], from: string, to: string): string[] | null {
  const successors = successorsOf(edges);
  const previous = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length) {
    const current = queue.shift() as string;
    if (current === to) {
      const path: string[] = [];
      let step: string | null | undefined = current;
      while (step != null) {
        path.unshift(step);
        step = previous.get(step);
      }
      return path;
    }
    for (const next of successors.get(current) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, current);
        queue.push(next);
      }
    }
  }
  return null;
}

/** If source → target would close a cycle, the cycle's node ids (target … source, target). */
export function cycleIfConnected(edges: readonly WorkflowEdge[], source: string, target: string): string[] | null {
  if (source === target) return [source, source];
  const path = findPath(edges, target, source);
  return path ? [...path, target] : null;
}

/** Any cycle in the graph, as a closed path of node ids, or null (DFS with colours). */
export function findCycle(nodeIds: readonly string[], edges: readonly WorkflowEdge[]): string[] | null {
  const successors = successorsOf(edges);
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  for (const root of nodeIds) {
    if (state.has(root)) continue;
    const stack: { id: string; next: number }[] = [{ id: root, next: 0 }];
    state.set(root, 1);
    while (stack.length) {
      const frame = stack[stack.length - 1] as { id: string; next: number };
      const children = successors.get(frame.id) ?? [];
      if (frame.next >= children.length) {
        state.set(frame.id, 2);
        stack.pop();
        continue;
      }
      const child = children[frame.next++] as string;
      const childState = state.get(child);
      if (childState === 1) {
        const start = stack.findIndex((f) => f.id === child);
        return [...stack.slice(start).map((f) => f.id), child];
      }
      if (childState === undefined) {
        state.set(child, 1);
        stack.push({ id: child, next: 0 });
      }
    }
  }
  return null;
}

export function nodeLabel(nodes: readonly WorkflowNode[], id: string): string {
  return nodes.find((n) => n.id === id)?.name || id;
}

/** Output handles a node shows: the type's named ports (or `out`), plus `error` under onError=route. */
export function outputHandles(node: WorkflowNode, info: NodeTypeInfo | undefined): string[] {
  const declared = info?.ports.outputs ?? [DEFAULT_HANDLE];
  const named = declared.filter((h) => h !== DEFAULT_HANDLE && h !== "error");
  const handles = named.length ? named : [DEFAULT_HANDLE];
  if (node.config.onError === "route") handles.push("error");
  return handles;
}

export function hasInputHandle(info: NodeTypeInfo | undefined, type: string): boolean {
  if (info) return info.ports.inputs.length > 0;
  return type !== "start";
}

export interface ConnectCheck {
  ok: boolean;
  message?: string;
}

/** Why a new edge may not be drawn, in words the user sees at connect time. */
export function checkConnection(
  definition: WorkflowDefinition,
  source: string,
  target: string,
  sourceHandle: string | undefined,
): ConnectCheck {
  const sourceNode = definition.nodes.find((n) => n.id === source);
  const targetNode = definition.nodes.find((n) => n.id === target);
  if (!sourceNode || !targetNode) return { ok: false, message: "Both ends of a connection must be nodes." };
  if (source === target) return { ok: false, message: `A node cannot connect to itself (${sourceNode.name}).` };
  if (targetNode.type === "start") return { ok: false, message: "Nothing may connect into a Start node." };
  if ((sourceNode.parentId ?? null) !== (targetNode.parentId ?? null)) {
    return { ok: false, message: "Connections cannot cross a loop boundary: connect nodes inside the same loop." };
  }
  const handle = sourceHandle && sourceHandle !== DEFAULT_HANDLE ? sourceHandle : undefined;
  if (definition.edges.some((e) => e.source === source && e.target === target && (e.sourceHandle ?? undefined) === handle)) {
    return { ok: false, message: `${sourceNode.name} is already connected to ${targetNode.name}.` };
  }
  const cycle = cycleIfConnected(definition.edges, source, target);
  if (cycle) {
    const names = cycle.map((id) => nodeLabel(definition.nodes, id));
    return { ok: false, message: `Refused: this connection would create a cycle (${names.join(" → ")}).` };
  }
  return { ok: true };
}

/** Whether nodes of `type` hold a body: the type's `container` flag (the loop), as the server decides. */
function isContainer(type: string, nodeTypes: Record<string, NodeTypeInfo>): boolean {
  const info = nodeTypes[type];
  return info ? info.container : type === "loop";
}

const MAX_NODE_ID_LENGTH = 100;
/** Loops nest inside loops at most this deep, as on the server (engine.core.rules.MAX_NESTING). */
const MAX_NESTING = 32;
const MAX_NODE_NAME_LENGTH = 200;
const MAX_BRANCH_NAME_LENGTH = 200;

/** The first node too deep on each chain of parents; each node's depth is worked out once, so
 * a long chain stays linear. A chain that runs into a cycle has no depth (the server names it). */
function nestingIssues(nodes: WorkflowNode[], byId: Map<string, WorkflowNode>): ValidationIssue[] {
  const depth = new Map<string, number>();
  for (const node of nodes) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let current: WorkflowNode | undefined = node;
    while (current && !depth.has(current.id) && !onPath.has(current.id)) {
      path.push(current.id);
      onPath.add(current.id);
      current = current.parentId !== undefined ? byId.get(current.parentId) : undefined;
    }
    let below = -1;
    if (current && onPath.has(current.id)) below = Number.NEGATIVE_INFINITY;
    else if (current) below = depth.get(current.id) ?? -1;
    path.reverse().forEach((id, index) => depth.set(id, below + 1 + index));
  }
  return nodes
    .filter((n) => depth.get(n.id) === MAX_NESTING + 1)
    .map((n) => ({ message: `loops nest at most ${MAX_NESTING} deep`, nodeId: n.id }));
}

/** Fast client-side pre-check of the rules the server enforces (SPEC §3 validation); the
 * shared cases in tests/validation_cases.json hold both sides to the same answers. */
export function precheck(definition: WorkflowDefinition, nodeTypes: Record<string, NodeTypeInfo>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const byId = new Map<string, WorkflowNode>();
  for (const node of definition.nodes) {
    if (byId.has(node.id)) issues.push({ message: `duplicate node id ${node.id}`, nodeId: node.id });
    byId.set(node.id, node);
    // The widths of the server's node-run columns (engine.core.rules): past them every run fails.
    if (node.id.length > MAX_NODE_ID_LENGTH) {
      issues.push({ message: `a node id is at most ${MAX_NODE_ID_LENGTH} characters`, nodeId: node.id });
    }
    // Runs name loop items "loop#3/inner#0" (engine.core.rules.NODE_ID_SEPARATORS).
    if (/[/#]/.test(node.id)) issues.push({ message: "a node id cannot hold / or #", nodeId: node.id });
    if (typeof node.name === "string" && node.name.length > MAX_NODE_NAME_LENGTH) {
      issues.push({ message: `a node name is at most ${MAX_NODE_NAME_LENGTH} characters`, nodeId: node.id });
    }
    if (Object.keys(nodeTypes).length && !nodeTypes[node.type]) {
      issues.push({ message: `unknown node type ${node.type}`, nodeId: node.id });
    }
    const info = nodeTypes[node.type];
    for (const key of info?.schema.required ?? []) {
      const value = node.config[key];
      if (value === undefined || value === "" || value === null) {
        issues.push({ message: requiredFieldMessage(key, value), nodeId: node.id });
      }
    }
    // Numbers against the type's range while typing (a 20-digit maxConcurrency, a negative
    // rateLimit), as the server words it; without this they surfaced only on save.
    if (info) {
      for (const { path, message } of numberProblems(node.config, info.schema)) {
        issues.push({ message: `${path}: ${message}`, nodeId: node.id });
      }
    }
  }
  for (const node of definition.nodes) {
    if (node.parentId !== undefined) {
      const parent = byId.get(node.parentId);
      if (!parent) issues.push({ message: `parent ${node.parentId} is not a node`, nodeId: node.id });
      else if (!isContainer(parent.type, nodeTypes)) issues.push({ message: "parent is not a loop", nodeId: node.id });
      if (node.type === "start") issues.push({ message: "a start node cannot sit inside a loop", nodeId: node.id });
    }
  }
  issues.push(...nestingIssues(definition.nodes, byId));
  const starts = definition.nodes.filter((n) => n.type === "start" && n.parentId === undefined);
  if (definition.nodes.length && starts.length !== 1) {
    issues.push({ message: `a workflow needs exactly one top-level start node; found ${starts.length}` });
  }
  const edgeIds = new Set<string>();
  for (const edge of definition.edges) {
    if (edgeIds.has(edge.id)) issues.push({ message: `duplicate edge id ${edge.id}`, edgeId: edge.id });
    edgeIds.add(edge.id);
    const source = byId.get(edge.source);
    const target = byId.get(edge.target);
    if (!source || !target) {
      issues.push({ message: "dangling edge", edgeId: edge.id });
      continue;
    }
    if ((source.parentId ?? null) !== (target.parentId ?? null)) {
      issues.push({ message: "edges must stay inside one container", edgeId: edge.id });
    }
    if (edge.branch?.name !== undefined && !BRANCH_NAME_PATTERN.test(edge.branch.name)) {
      issues.push({ message: "branch name must be an identifier (letters, digits, _)", edgeId: edge.id });
    } else if (edge.branch?.name !== undefined && edge.branch.name.length > MAX_BRANCH_NAME_LENGTH) {
      issues.push({ message: `a branch name is at most ${MAX_BRANCH_NAME_LENGTH} characters`, edgeId: edge.id });
    }
    if (target.type === "start") {
      issues.push({ message: "nothing may connect into a start node", edgeId: edge.id });
    }
    // A warning, as on the server (the edge is simply never taken): the server's rules win.
    if (edge.sourceHandle === "error" && source.config.onError !== "route") {
      issues.push({ message: "edge leaves the error handle but onError is not 'route'", edgeId: edge.id, severity: "warning" });
    }
  }
  const cycle = findCycle(
    definition.nodes.map((n) => n.id),
    definition.edges,
  );
  if (cycle) issues.push({ message: `cycle: ${cycle.join(" → ")}`, nodeId: cycle[0] ?? null });
  return issues;
}

export function branchOf(edge: WorkflowEdge): BranchConfig {
  return edge.branch ?? {};
}
