// Where the timeline's mini canvas draws each node. The mini canvas is one flat React Flow
// (no sub-flows: nothing is dragged there), so a loop body node, whose SPEC §3 position is
// relative to its loop, is drawn at its loop's absolute position plus its own, however deep
// the loops nest; and a loop is drawn as big as the editor draws it, so its body sits inside.
import type { WorkflowDefinition, WorkflowNode } from "../api/types";
import { NODE_HEIGHT, NODE_WIDTH, nodeSizes } from "../canvas/geometry";

export interface MiniBox {
  x: number;
  y: number;
  width: number;
  height: number;
  container: boolean;
  /** How many loops the node sits in: deeper nodes are drawn above the loops around them. */
  depth: number;
}

// The timeline has no node-type list at hand; `loop` is the only container type (SPEC §3).
export const isMiniContainer = (node: WorkflowNode): boolean => node.type === "loop";

/** Absolute box of every node, keyed by node id. */
export function miniCanvasBoxes(nodes: readonly WorkflowNode[]): Map<string, MiniBox> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const definition: WorkflowDefinition = { schemaVersion: 1, name: "", settings: {}, nodes: [...nodes], edges: [] };
  const sizes = nodeSizes(definition, isMiniContainer);
  const boxes = new Map<string, MiniBox>();
  const resolving = new Set<string>();

  const boxOf = (node: WorkflowNode): MiniBox => {
    const known = boxes.get(node.id);
    if (known) return known;
    // A parent id that names no node (or a parent cycle, which validation refuses anyway)
    // leaves the node where its own position says rather than recursing forever.
    const parent = node.parentId !== undefined && !resolving.has(node.parentId) ? byId.get(node.parentId) : undefined;
    resolving.add(node.id);
    const base = parent ? boxOf(parent) : undefined;
    resolving.delete(node.id);
    const size = sizes.get(node.id) ?? { width: NODE_WIDTH, height: NODE_HEIGHT };
    const box: MiniBox = {
      x: (base?.x ?? 0) + (node.position?.x ?? 0),
      y: (base?.y ?? 0) + (node.position?.y ?? 0),
      width: size.width,
      height: size.height,
      container: isMiniContainer(node),
      depth: base ? base.depth + 1 : 0,
    };
    boxes.set(node.id, box);
    return box;
  };
  for (const node of nodes) boxOf(node);
  return boxes;
}
