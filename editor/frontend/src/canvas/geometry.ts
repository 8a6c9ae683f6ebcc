// Sizes and coordinates on the canvas. Node boxes have a fixed size so that loop containers
// can be sized from their body (SPEC §3 has no width/height) and layout can plan without
// measuring the DOM. Child positions are relative to their loop, as in React Flow sub-flows.
import type { Position, WorkflowDefinition, WorkflowNode } from "../api/types";

/**
 * Class for the parts of nodes and edges a person clicks. With Shift held, React Flow starts a
 * box selection on any pointer-down (in the capture phase, even over a node), and the first
 * pointer move of even a fraction of a pixel clears the selection: a Shift+click with the
 * slightest hand movement then lost everything selected before. Elements with this class
 * (React Flow's `nokey`) take their own clicks; box selection starts on empty canvas and on a
 * loop's empty body. Put it on inner elements only: on a node's wrapper it would also stop
 * the wrapper's keyboard handling (Enter/arrows on a focused node).
 */
export const TAKES_OWN_CLICK = "nokey";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;
export const LOOP_HEADER = 48;
export const LOOP_PADDING = 24;
export const LOOP_MIN_WIDTH = 320;
export const LOOP_MIN_HEIGHT = 200;

export interface Size {
  width: number;
  height: number;
}

export function childrenOf(definition: WorkflowDefinition, parentId: string): WorkflowNode[] {
  return definition.nodes.filter((n) => n.parentId === parentId);
}

/** Box of every node; containers grow to hold their body (computed bottom-up, memoised per call). */
export function nodeSizes(definition: WorkflowDefinition, isContainer: (node: WorkflowNode) => boolean): Map<string, Size> {
  const sizes = new Map<string, Size>();
  const byParent = new Map<string, WorkflowNode[]>();
  for (const node of definition.nodes) {
    if (node.parentId === undefined) continue;
    const list = byParent.get(node.parentId);
    if (list) list.push(node);
    else byParent.set(node.parentId, [node]);
  }
  const visiting = new Set<string>();
  const sizeOf = (node: WorkflowNode): Size => {
    const known = sizes.get(node.id);
    if (known) return known;
    if (!isContainer(node) || visiting.has(node.id)) {
      const size = { width: NODE_WIDTH, height: NODE_HEIGHT };
      sizes.set(node.id, size);
      return size;
    }
    visiting.add(node.id);
    let width = LOOP_MIN_WIDTH;
    let height = LOOP_MIN_HEIGHT;
    for (const child of byParent.get(node.id) ?? []) {
      const childSize = sizeOf(child);
      width = Math.max(width, child.position.x + childSize.width + LOOP_PADDING);
      height = Math.max(height, child.position.y + childSize.height + LOOP_PADDING);
    }
    visiting.delete(node.id);
    const size = { width: Math.round(width), height: Math.round(height) };
    sizes.set(node.id, size);
    return size;
  };
  for (const node of definition.nodes) sizeOf(node);
  return sizes;
}

/** Canvas (absolute) position of a node: its position plus its ancestors'. */
export function absolutePosition(definition: WorkflowDefinition, nodeId: string): Position {
  const byId = new Map(definition.nodes.map((n) => [n.id, n]));
  let node = byId.get(nodeId);
  let x = 0;
  let y = 0;
  const seen = new Set<string>();
  while (node && !seen.has(node.id)) {
    seen.add(node.id);
    x += node.position.x;
    y += node.position.y;
    node = node.parentId !== undefined ? byId.get(node.parentId) : undefined;
  }
  return { x, y };
}

/** The innermost container under a canvas point, skipping `exclude` and their descendants. */
export function containerAt(
  definition: WorkflowDefinition,
  point: Position,
  isContainer: (node: WorkflowNode) => boolean,
  exclude: ReadonlySet<string> = new Set(),
): WorkflowNode | null {
  const sizes = nodeSizes(definition, isContainer);
  const excluded = (node: WorkflowNode): boolean => {
    const byId = new Map(definition.nodes.map((n) => [n.id, n]));
    let current: WorkflowNode | undefined = node;
    while (current) {
      if (exclude.has(current.id)) return true;
      current = current.parentId !== undefined ? byId.get(current.parentId) : undefined;
    }
    return false;
  };
  let best: { node: WorkflowNode; depth: number } | null = null;
  for (const node of definition.nodes) {
    if (!isContainer(node) || excluded(node)) continue;
    const origin = absolutePosition(definition, node.id);
    const size = sizes.get(node.id) ?? { width: LOOP_MIN_WIDTH, height: LOOP_MIN_HEIGHT };
    const inside = point.x >= origin.x && point.x <= origin.x + size.width && point.y >= origin.y && point.y <= origin.y + size.height;
    if (!inside) continue;
    let depth = 0;
    for (let p = node.parentId; p !== undefined; p = definition.nodes.find((n) => n.id === p)?.parentId) depth++;
    if (!best || depth > best.depth) best = { node, depth };
  }
  return best?.node ?? null;
}

/** One node's box (a container holds its body). `isContainerType` tells containers by type. */
export function nodeSize(definition: WorkflowDefinition, nodeId: string, isContainerType: (type: string) => boolean): Size {
  return nodeSizes(definition, (n) => isContainerType(n.type)).get(nodeId) ?? { width: NODE_WIDTH, height: NODE_HEIGHT };
}

const GAP = 24;

/** The nearest position to `wanted` (same parent) where a box of `size` overlaps no other
 * node: first straight below, then in the next column, so a new node never lands on top.
 * `downward`: only below the wanted spot, never above — the branches of a fan-out built
 * by clicks then stack top to bottom in the order they were added, which is their edge
 * order (branch_a, branch_b, …) and the order of their lanes on the timeline. */
export function freeSpot(
  definition: WorkflowDefinition,
  parentId: string | undefined,
  wanted: Position,
  size: Size,
  isContainerType: (type: string) => boolean,
  downward = false,
): Position {
  const sizes = nodeSizes(definition, (n) => isContainerType(n.type));
  const siblings = definition.nodes.filter((n) => n.parentId === parentId);
  const overlaps = (p: Position) =>
    siblings.some((n) => {
      const s = sizes.get(n.id) ?? { width: NODE_WIDTH, height: NODE_HEIGHT };
      return p.x < n.position.x + s.width + GAP && n.position.x < p.x + size.width + GAP && p.y < n.position.y + s.height + GAP && n.position.y < p.y + size.height + GAP;
    });
  const x0 = Math.round(wanted.x);
  const y0 = Math.round(wanted.y);
  for (let column = 0; column < 20; column++) {
    for (let row = 0; row < 30; row++) {
      // Rows alternate below and above the wanted spot, nearest first.
      const offset = downward ? row * (NODE_HEIGHT + GAP) : row === 0 ? 0 : (row % 2 === 1 ? 1 : -1) * Math.ceil(row / 2) * (NODE_HEIGHT + GAP);
      const candidate = { x: x0 + column * (size.width + GAP * 2), y: Math.max(parentId ? LOOP_HEADER : -1e9, y0 + offset) };
      if (!overlaps(candidate)) return candidate;
    }
  }
  return { x: x0, y: y0 };
}

/** Where a node dropped from the palette goes: where it was dropped, unless that box lies on
 * another node (dropped onto Start, it covered it), then the nearest free spot. A drop near,
 * but not on, another node stays where the user put it. */
export function droppedSpot(
  definition: WorkflowDefinition,
  parentId: string | undefined,
  wanted: Position,
  size: Size,
  isContainerType: (type: string) => boolean,
): Position {
  const sizes = nodeSizes(definition, (n) => isContainerType(n.type));
  const covers = definition.nodes.some((n) => {
    if (n.parentId !== parentId) return false;
    const s = sizes.get(n.id) ?? { width: NODE_WIDTH, height: NODE_HEIGHT };
    return wanted.x < n.position.x + s.width && n.position.x < wanted.x + size.width && wanted.y < n.position.y + s.height && n.position.y < wanted.y + size.height;
  });
  return covers ? freeSpot(definition, parentId, wanted, size, isContainerType) : wanted;
}
