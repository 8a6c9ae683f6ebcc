// What a node's expressions and templates can name (SPEC §4.2, §5), for completion in the
// code editor: `input`, `variables.*`, `parallel.*`, `branch.*`, `execution.*`, the loop
// item variable of an enclosing loop, the names of branches arriving at the node, and the
// ids of upstream nodes (their outputs).
import type { WorkflowDefinition } from "../api/types";
import { branchInfo } from "./graph";

export interface NameCompletion {
  label: string;
  detail: string;
  /** Members offered after `label.` */
  members?: string[];
}

function keysOf(value: unknown): string[] {
  return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value as object) : [];
}

/** Every node that can run before `nodeId`: edge ancestors, and those of each enclosing loop. */
export function upstreamNodes(definition: WorkflowDefinition, nodeId: string): string[] {
  const preds = new Map<string, string[]>();
  for (const e of definition.edges) preds.set(e.target, [...(preds.get(e.target) ?? []), e.source]);
  const parentOf = new Map(definition.nodes.map((n) => [n.id, n.parentId]));
  const seen = new Set<string>();
  const stack = [nodeId];
  while (stack.length) {
    const id = stack.pop() as string;
    const parent = parentOf.get(id);
    for (const p of [...(preds.get(id) ?? []), ...(parent ? [parent] : [])]) {
      if (!seen.has(p) && p !== nodeId) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  // An enclosing loop's output is not there yet while its body runs.
  const enclosing = new Set<string>();
  for (let p = parentOf.get(nodeId); p; p = parentOf.get(p)) enclosing.add(p);
  return definition.nodes.map((n) => n.id).filter((id) => seen.has(id) && !enclosing.has(id));
}

export function completionNames(definition: WorkflowDefinition, nodeId: string, lastInput?: unknown): NameCompletion[] {
  const names: NameCompletion[] = [
    { label: "input", detail: "this node's input", members: keysOf(lastInput) },
    { label: "variables", detail: "workflow variables", members: keysOf(definition.settings?.variables) },
    { label: "branch", detail: "this branch", members: ["id", "name"] },
    { label: "execution", detail: "the run", members: ["id", "traceId"] },
    { label: "trace", detail: "this node run's trace", members: ["id"] },
    { label: "signal", detail: "data of the last resume signal" },
  ];
  // Loop bodies: the item variable and `parallel` of each enclosing loop.
  let parent = definition.nodes.find((n) => n.id === nodeId)?.parentId;
  let inLoop = false;
  while (parent) {
    const loop = definition.nodes.find((n) => n.id === parent);
    if (!loop) break;
    inLoop = true;
    const item = typeof loop.config.itemVariable === "string" && loop.config.itemVariable ? loop.config.itemVariable : "item";
    names.push({ label: item, detail: `the item of loop ${loop.name}` });
    parent = loop.parentId;
  }
  names.push({ label: "parallel", detail: inLoop ? "this loop item" : "set inside a loop", members: ["index", "total", "batchId"] });
  // Branch names arriving here (a merge reads each branch's result by name).
  const info = branchInfo(definition.edges);
  const upstream = new Set(upstreamNodes(definition, nodeId));
  for (const edge of definition.edges) {
    const branch = info.get(edge.id);
    if (branch && (upstream.has(edge.target) || edge.target === nodeId)) names.push({ label: branch.name, detail: `branch from ${edge.source}` });
  }
  for (const id of upstream) {
    const node = definition.nodes.find((n) => n.id === id);
    if (node) names.push({ label: id, detail: `output of ${node.name}` });
  }
  const seen = new Set<string>();
  return names.filter((n) => (seen.has(n.label) ? false : (seen.add(n.label), true)));
}
