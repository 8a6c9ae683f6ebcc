// Auto-layout with elkjs: layered, left to right, loop containers laid out as nested
// graphs so their body stays inside them. Returns new positions in SPEC form (children
// relative to their loop).
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk.bundled.js";

import type { Position, WorkflowDefinition } from "../api/types";
import { LOOP_HEADER, LOOP_PADDING, NODE_HEIGHT, NODE_WIDTH } from "./geometry";

// elkjs is ~1.5 MB of JavaScript: loaded the first time someone asks for a layout, not with
// the editor (most sessions never use auto-layout).
type Elk = InstanceType<typeof import("elkjs/lib/elk.bundled.js").default>;
let elkLoading: Promise<Elk> | null = null;
function loadElk(): Promise<Elk> {
  // A failed download is forgotten, so the next click tries again.
  elkLoading ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK()).catch((err: unknown) => {
    elkLoading = null;
    throw err;
  });
  return elkLoading;
}

const LAYOUT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.layered.spacing.nodeNodeBetweenLayers": "80",
  "elk.spacing.nodeNode": "40",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
};

export async function layoutPositions(
  definition: WorkflowDefinition,
  isContainer: (type: string) => boolean,
): Promise<Record<string, Position>> {
  const children = new Map<string | undefined, string[]>();
  for (const node of definition.nodes) {
    const key = node.parentId;
    const list = children.get(key);
    if (list) list.push(node.id);
    else children.set(key, [node.id]);
  }
  const typeOf = new Map(definition.nodes.map((n) => [n.id, n.type]));
  const parentOf = new Map(definition.nodes.map((n) => [n.id, n.parentId]));

  const build = (id: string): ElkNode => {
    const body = children.get(id) ?? [];
    if (!isContainer(typeOf.get(id) ?? "")) return { id, width: NODE_WIDTH, height: NODE_HEIGHT };
    return {
      id,
      layoutOptions: {
        ...LAYOUT_OPTIONS,
        "elk.padding": `[top=${LOOP_HEADER + 24},left=${LOOP_PADDING},bottom=${LOOP_PADDING},right=${LOOP_PADDING}]`,
        "elk.nodeSize.minimum": "(320,200)",
        "elk.nodeSize.constraints": "MINIMUM_SIZE",
      },
      children: body.map(build),
      edges: edgesIn(id),
    };
  };
  const edgesIn = (container: string | undefined): ElkExtendedEdge[] =>
    definition.edges
      .filter((e) => parentOf.get(e.source) === container && parentOf.get(e.target) === container)
      .map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] }));

  const root: ElkNode = {
    id: "__root__",
    layoutOptions: LAYOUT_OPTIONS,
    children: (children.get(undefined) ?? []).map(build),
    edges: edgesIn(undefined),
  };
  const elk = await loadElk();
  const result = await elk.layout(root);
  const positions: Record<string, Position> = {};
  const collect = (node: ElkNode) => {
    for (const child of node.children ?? []) {
      positions[child.id] = { x: Math.round(child.x ?? 0), y: Math.round(child.y ?? 0) };
      collect(child);
    }
  };
  collect(result);
  return positions;
}
