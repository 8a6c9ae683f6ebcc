// The workflow's canvas, read-only and small, coloured by node status; a click selects the
// node's latest node run, and the selected node run's node is outlined.
import { Background, type Edge, type Node, Position as HandleSide, ReactFlow } from "@xyflow/react";
import { useMemo } from "react";

import type { WorkflowEdge, WorkflowNode } from "../api/types";
import { STATUS_COLOURS } from "./model";

interface MiniCanvasProps {
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
  statusByNode: ReadonlyMap<string, string>;
  selectedNodeId: string | null;
  onSelectNode: (nodeId: string) => void;
}

export function MiniCanvas({ nodes, edges, statusByNode, selectedNodeId, onSelectNode }: MiniCanvasProps) {
  const flowNodes = useMemo<Node[]>(() => {
    const byId = new Map(nodes.map((n) => [n.id, n]));
    // Absolute positions (a loop body's are relative to its loop): no sub-flows needed here.
    const absolute = (node: WorkflowNode): { x: number; y: number } => {
      const parent = node.parentId ? byId.get(node.parentId) : undefined;
      const base = parent ? absolute(parent) : { x: 0, y: 0 };
      return { x: base.x + (node.position?.x ?? 0), y: base.y + (node.position?.y ?? 0) };
    };
    return nodes.map((node) => {
      const status = statusByNode.get(node.id);
      return {
        id: node.id,
        position: absolute(node),
        data: { label: node.name || node.id },
        draggable: false,
        connectable: false,
        sourcePosition: HandleSide.Right,
        targetPosition: HandleSide.Left,
        selected: node.id === selectedNodeId,
        className: `tl-mini-node${node.id === selectedNodeId ? " tl-mini-selected" : ""}`,
        style: { background: status ? STATUS_COLOURS[status] : "#fff", color: status === "running" || status === "failed" ? "#fff" : "#1f2430" },
        ariaLabel: `${node.name || node.id}: ${status ?? "not run"}`,
      };
    });
  }, [nodes, statusByNode, selectedNodeId]);
  const flowEdges = useMemo<Edge[]>(
    () => edges.map((e) => ({ id: e.id, source: e.source, target: e.target, sourceHandle: null, animated: statusByNode.get(e.target) === "running" })),
    [edges, statusByNode],
  );
  return (
    <div className="tl-mini" data-testid="mini-canvas">
      <ReactFlow nodes={flowNodes} edges={flowEdges} fitView nodesDraggable={false} nodesConnectable={false}
                 elementsSelectable={false} zoomOnScroll={false} panOnDrag proOptions={{ hideAttribution: true }}
                 onNodeClick={(_, node) => onSelectNode(node.id)}>
        <Background gap={20} size={1} />
      </ReactFlow>
    </div>
  );
}
