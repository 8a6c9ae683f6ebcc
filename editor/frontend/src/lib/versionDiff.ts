// What changed between a saved version and the editor's draft, node by node (by id), for the
// Versions dialog's "Compare": before restoring, a user sees what the restore would undo.
import type { WorkflowDefinition, WorkflowNode } from "../api/types";

export interface KeyChange {
  /** A config key, or "name" / "type" / "inside" (the loop it sits in) for the node itself. */
  key: string;
  before: unknown;
  after: unknown;
}

export interface NodeChange {
  id: string;
  name: string;
  changes: KeyChange[];
}

export interface DefinitionDiff {
  added: WorkflowNode[];
  removed: WorkflowNode[];
  changed: NodeChange[];
  edgesAdded: number;
  edgesRemoved: number;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Nodes added, removed and changed (config keys old → new; a move on the canvas is no change)
 * going from `before` (the version) to `after` (the draft); connections by their ends. */
export function diffDefinitions(before: WorkflowDefinition, after: WorkflowDefinition): DefinitionDiff {
  const old = new Map(before.nodes.map((n) => [n.id, n]));
  const now = new Map(after.nodes.map((n) => [n.id, n]));
  const changed: NodeChange[] = [];
  for (const node of after.nodes) {
    const was = old.get(node.id);
    if (!was) continue;
    const changes: KeyChange[] = [];
    if (was.name !== node.name) changes.push({ key: "name", before: was.name, after: node.name });
    if (was.type !== node.type) changes.push({ key: "type", before: was.type, after: node.type });
    if ((was.parentId ?? null) !== (node.parentId ?? null)) changes.push({ key: "inside", before: was.parentId ?? null, after: node.parentId ?? null });
    const keys = [...new Set([...Object.keys(was.config ?? {}), ...Object.keys(node.config ?? {})])].sort();
    for (const key of keys) {
      const a = was.config?.[key];
      const b = node.config?.[key];
      if (!same(a, b)) changes.push({ key, before: a, after: b });
    }
    if (changes.length) changed.push({ id: node.id, name: node.name || node.id, changes });
  }
  // An edge is the same connection when it joins the same ends by the same handle (ids differ
  // after a re-draw), so a redrawn edge is not "removed and added".
  const edgeKey = (e: WorkflowDefinition["edges"][number]) => `${e.source}|${e.sourceHandle ?? "out"}|${e.target}`;
  const oldEdges = new Set(before.edges.map(edgeKey));
  const newEdges = new Set(after.edges.map(edgeKey));
  return {
    added: after.nodes.filter((n) => !old.has(n.id)),
    removed: before.nodes.filter((n) => !now.has(n.id)),
    changed,
    edgesAdded: [...newEdges].filter((k) => !oldEdges.has(k)).length,
    edgesRemoved: [...oldEdges].filter((k) => !newEdges.has(k)).length,
  };
}

/** A value as one short line in the comparison: unset, text in quotes, JSON otherwise, long cut. */
export function shortValue(value: unknown, max = 60): string {
  if (value === undefined || value === null) return "(unset)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function isEmptyDiff(diff: DefinitionDiff): boolean {
  return !diff.added.length && !diff.removed.length && !diff.changed.length && !diff.edgesAdded && !diff.edgesRemoved;
}
