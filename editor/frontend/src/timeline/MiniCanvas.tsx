// The workflow's canvas, read-only and small, coloured by node status; a click selects the
// node's latest node run, and the selected node run's node is outlined. Loops are drawn as
// boxes around their body (see miniLayout.ts).
import { Background, type Edge, type Node, Position as HandleSide, ReactFlow, type ReactFlowInstance } from "@xyflow/react";
import { useEffect, useMemo, useRef } from "react";

import type { WorkflowEdge, WorkflowNode } from "../api/types";
import { type MiniBox, miniCanvasBoxes } from "./miniLayout";
import { STATUS_COLOURS } from "./model";

const NO_TEXT: Readonly<Record<string, string>> = {};

interface MiniCanvasProps {
  nodes: WorkflowNode[];
  edges: WorkflowEdge[];
  statusByNode: ReadonlyMap<string, string>;
  /** What a node's status reads as instead (a loop body's "3 of 10 failed"). */
  statusText?: Readonly<Record<string, string>>;
  selectedNodeId: string | null;
  onSelectNode: (nodeId: string) => void;
}

// Fitted, never magnified past the editor's own size: React Flow's fit zooms a small graph
// up to 2×, and a run of two or three nodes filled the box with one or two giant boxes.
const FIT = { maxZoom: 1 } as const;

export function MiniCanvas({ nodes, edges, statusByNode, statusText = NO_TEXT, selectedNodeId, onSelectNode }: MiniCanvasProps) {
  const flowNodes = useMemo<Node[]>(() => {
    const boxes = miniCanvasBoxes(nodes);
    return nodes.map((node) => {
      const status = statusByNode.get(node.id);
      const box = boxes.get(node.id) as MiniBox;
      const colour = status ? STATUS_COLOURS[status] : undefined;
      const selected = node.id === selectedNodeId;
      return {
        id: node.id,
        position: { x: box.x, y: box.y },
        width: box.width,
        height: box.height,
        // A loop lies under its body (and an inner loop above the outer one), so every
        // body node stays visible and clickable.
        zIndex: box.container ? box.depth - 100 : box.depth,
        data: { label: node.name || node.id },
        draggable: false,
        connectable: false,
        sourcePosition: HandleSide.Right,
        targetPosition: HandleSide.Left,
        selected,
        className: ["tl-mini-node", box.container ? "tl-mini-loop" : "", selected ? "tl-mini-selected" : ""].filter(Boolean).join(" "),
        // A loop is only outlined in its status colour: a filled box would hide its body's colours.
        style: box.container
          ? { borderColor: colour ?? "#adb5bd", background: colour ? `${colour}1f` : "rgba(248, 249, 251, .8)" }
          : { background: colour ?? "#fff", color: status === "running" || status === "failed" ? "#fff" : "#1f2430" },
        ariaLabel: `${node.name || node.id}: ${statusText[node.id] ?? status ?? "not run"}`,
      };
    });
  }, [nodes, statusByNode, statusText, selectedNodeId]);
  const flowEdges = useMemo<Edge[]>(
    () => edges.map((e) => ({ id: e.id, source: e.source, target: e.target, sourceHandle: null, animated: statusByNode.get(e.target) === "running" })),
    [edges, statusByNode],
  );
  // Fitted again whenever the canvas changes size: opening a node run's details beside the
  // timeline narrows it, and a graph fitted to the wider canvas lost its ends over the edges.
  const pane = useRef<HTMLDivElement>(null);
  const flow = useRef<ReactFlowInstance | null>(null);
  useEffect(() => {
    const element = pane.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    let width = element.clientWidth;
    let height = element.clientHeight;
    const observer = new ResizeObserver(() => {
      if (element.clientWidth === width && element.clientHeight === height) return;
      width = element.clientWidth;
      height = element.clientHeight;
      // After React Flow's own observer has taken the new size (it fits to the size it knows).
      window.requestAnimationFrame(() => void flow.current?.fitView(FIT));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return (
    <div className="tl-mini" data-testid="mini-canvas" ref={pane}>
      <ReactFlow nodes={flowNodes} edges={flowEdges} fitView fitViewOptions={FIT} onInit={(instance) => { flow.current = instance; }}
                 // React Flow's default floor (0.5) kept a narrowed canvas from fitting a wide graph.
                 minZoom={0.05} nodesDraggable={false} nodesConnectable={false}
                 elementsSelectable={false} zoomOnScroll={false} panOnDrag proOptions={{ hideAttribution: true }}
                 onNodeClick={(_, node) => onSelectNode(node.id)}>
        <Background gap={20} size={1} />
      </ReactFlow>
    </div>
  );
}
