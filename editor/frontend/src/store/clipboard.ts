// Copy/paste as JSON (also between workflows): the clipboard holds a SPEC §3 fragment.
import type { WorkflowDefinition, WorkflowEdge, WorkflowNode } from "../api/types";
import { nextEdgeId, nextNodeId, uniqueName } from "./ids";

export const CLIPBOARD_KIND = "flowmaestro/fragment";

export interface Fragment {
  kind: typeof CLIPBOARD_KIND;
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
}

/** The selected nodes (with the bodies of selected loops) and the edges among them. */
export function copyFragment(definition: WorkflowDefinition, nodeIds: readonly string[]): Fragment {
  // A copied loop brings its body along, however deep.
  const chosen = withDescendants(definition, nodeIds);
  const nodes = definition.nodes.filter((n) => chosen.has(n.id));
  const edges = definition.edges.filter((e) => chosen.has(e.source) && chosen.has(e.target));
  return structuredClone({ kind: CLIPBOARD_KIND, nodes, edges });
}

export function parseFragment(text: string): Fragment | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!data || typeof data !== "object") return null;
  const record = data as Record<string, unknown>;
  // Accept our own fragments and whole SPEC §3 definitions (pasting an exported file).
  if (!Array.isArray(record.nodes)) return null;
  const nodes = record.nodes.filter(
    (n): n is WorkflowNode => !!n && typeof n === "object" && typeof (n as WorkflowNode).id === "string" && typeof (n as WorkflowNode).type === "string",
  );
  const edges = Array.isArray(record.edges)
    ? record.edges.filter(
        (e): e is WorkflowEdge => !!e && typeof e === "object" && typeof (e as WorkflowEdge).source === "string" && typeof (e as WorkflowEdge).target === "string",
      )
    : [];
  return { kind: CLIPBOARD_KIND, nodes, edges };
}

/** New ids and names for a pasted fragment; top-level nodes are offset so they don't cover the originals. */
export function rekeyFragment(
  definition: WorkflowDefinition,
  fragment: Fragment,
  offset: { x: number; y: number },
): { nodes: WorkflowNode[]; edges: WorkflowEdge[] } {
  const takenIds = new Set(definition.nodes.map((n) => n.id));
  const takenNames = new Set(definition.nodes.map((n) => n.name));
  const takenEdges = new Set(definition.edges.map((e) => e.id));
  const idMap = new Map<string, string>();
  for (const node of fragment.nodes) {
    const id = nextNodeId(node.type, takenIds);
    takenIds.add(id);
    idMap.set(node.id, id);
  }
  const nodes = fragment.nodes.map((node) => {
    const parentId = node.parentId !== undefined ? idMap.get(node.parentId) : undefined;
    const name = uniqueName(node.name || node.type, takenNames);
    takenNames.add(name);
    const copy: WorkflowNode = {
      id: idMap.get(node.id) as string,
      type: node.type,
      name,
      position: parentId
        ? { x: node.position?.x ?? 0, y: node.position?.y ?? 0 }
        : { x: (node.position?.x ?? 0) + offset.x, y: (node.position?.y ?? 0) + offset.y },
      config: structuredClone(node.config ?? {}),
    };
    if (parentId !== undefined) copy.parentId = parentId;
    return copy;
  });
  const edges = fragment.edges
    .filter((e) => idMap.has(e.source) && idMap.has(e.target))
    .map((edge) => {
      const id = nextEdgeId(takenEdges);
      takenEdges.add(id);
      const copy: WorkflowEdge = { id, source: idMap.get(edge.source) as string, target: idMap.get(edge.target) as string };
      if (edge.sourceHandle !== undefined) copy.sourceHandle = edge.sourceHandle;
      if (edge.branch !== undefined) copy.branch = structuredClone(edge.branch);
      return copy;
    });
  return { nodes, edges };
}

/** Nodes plus every descendant: a copied or deleted loop takes its body with it. */
export function withDescendants(definition: WorkflowDefinition, ids: Iterable<string>): Set<string> {
  const result = new Set(ids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const node of definition.nodes) {
      if (node.parentId !== undefined && result.has(node.parentId) && !result.has(node.id)) {
        result.add(node.id);
        grew = true;
      }
    }
  }
  return result;
}
