// The React Flow canvas: a view of the store's SPEC §3 definition. User gestures become
// store actions (add, connect, move, re-parent, select); the store's definition flows back
// in as React Flow nodes and edges through the cached converter.
import {
  Background,
  BackgroundVariant,
  type Connection,
  type EdgeChange,
  type EdgeTypes,
  type NodeChange,
  type NodeTypes,
  type Edge,
  type Node,
  ReactFlow,
  type ReactFlowInstance,
  useReactFlow,
} from "@xyflow/react";
import { type DragEvent, useCallback, useMemo, useRef, useState } from "react";

import type { Position } from "../api/types";
import { LoopNode } from "../nodes/LoopNode";
import { StepNode } from "../nodes/StepNode";
import { usePhone } from "../lib/phone";
import { DRAG_MIME } from "../panels/Palette";
import { graphStore, useGraph } from "../store/graphStore";
import { BranchEdge } from "./BranchEdge";
import { Dialog } from "../dialogs/Dialog";
import { ConnectDialog } from "./ConnectDialog";
import { type ConnectRequest, ConnectRequestContext } from "./connectRequest";
import { MapAndControls } from "./MapAndControls";
import { type BranchFlowEdge, FlowConverter, type IssueIndex, isContainerType, type StepFlowNode } from "./convert";
import { absolutePosition, containerAt, droppedSpot, LOOP_MIN_HEIGHT, LOOP_MIN_WIDTH, NODE_HEIGHT, NODE_WIDTH } from "./geometry";

const NODE_TYPES: NodeTypes = { step: StepNode, loop: LoopNode };
const EDGE_TYPES: EdgeTypes = { branch: BranchEdge };
// One array for the life of the page: React Flow re-registers its key listeners whenever this
// prop is a new array, which an inline literal is on every render.
const MULTI_SELECTION_KEYS = ["Meta", "Control", "Shift"];
/** Pointer movement (px) within which pressing and releasing on a node is still a click. */
const CLICK_SLOP = 3;
export const GRID = 20;

interface Props {
  issues: IssueIndex;
  /** A node was added by a drop: bring it fully into view. */
  onAdded?: (id: string) => void;
}

/** Fit never shrinks the canvas below this zoom: node names (13 px) stay at least ~11 px. */
export const FIT_MIN_ZOOM = 0.85;
const FIT_OPTIONS = { padding: 0.2, maxZoom: 1, minZoom: FIT_MIN_ZOOM };
const FIRST_VIEW_MARGIN = 24;
/** The first view shows the whole graph down to this zoom: a workflow of up to about six
 * columns (every demo, in a 1024 px window) opens as an overview of every node and edge, the
 * way its run will be watched, rather than with its join and result cut off at the right edge. */
const FIRST_VIEW_MIN_ZOOM = 0.3;

/** The first view, and Shift+F later: the whole graph, centred, when it fits at
 * FIRST_VIEW_MIN_ZOOM or more. A graph too big even for that is fitted at the legible floor
 * and starts at its left (top) edge, where Start is and a reader begins, instead of centring
 * and cutting off both ends. */
export function showWholeGraph<N extends Node, E extends Edge>(instance: ReactFlowInstance<N, E>, pane: Element | null): void {
  // fitView waits until React Flow has measured the nodes; the bounds are right only then.
  void instance.fitView(FIT_OPTIONS).then(() => {
    const top = instance.getNodes().filter((n) => !n.parentId);
    if (!pane || !top.length) return;
    const bounds = instance.getNodesBounds(top);
    const { width, height } = pane.getBoundingClientRect();
    const m = FIRST_VIEW_MARGIN;
    const whole = Math.min(1, (width - 2 * m) / Math.max(bounds.width, 1), (height - 2 * m) / Math.max(bounds.height, 1));
    if (whole >= FIRST_VIEW_MIN_ZOOM) {
      const x = (width - bounds.width * whole) / 2 - bounds.x * whole;
      const y = (height - bounds.height * whole) / 2 - bounds.y * whole;
      void instance.setViewport({ x, y, zoom: whole });
      return;
    }
    const { x, y, zoom } = instance.getViewport();
    const nx = bounds.width * zoom > width - 2 * m ? m - bounds.x * zoom : x;
    const ny = bounds.height * zoom > height - 2 * m ? m - bounds.y * zoom : y;
    if (nx !== x || ny !== y) void instance.setViewport({ x: nx, y: ny, zoom });
  });
}

interface PendingMove {
  nodeId: string;
  nodeName: string;
  loopId: string;
  loopName: string;
  position: Position;
}

export function Canvas({ issues, onAdded }: Props) {
  const [pendingMove, setPendingMove] = useState<PendingMove | null>(null);
  // The connect dialog, opened by C on a node or Enter/Space on one of its handles.
  const [connectFrom, setConnectFrom] = useState<(ConnectRequest & { fromHandle: boolean }) | null>(null);
  const requestConnect = useCallback((request: ConnectRequest) => setConnectFrom({ ...request, fromHandle: true }), []);
  const definition = useGraph((s) => s.definition);
  const nodeTypes = useGraph((s) => s.nodeTypes);
  const selectedNodeIds = useGraph((s) => s.selectedNodeIds);
  const phone = usePhone();
  const selectedEdgeIds = useGraph((s) => s.selectedEdgeIds);
  const nodeStatus = useGraph((s) => s.nodeStatus);
  const nodeStatusText = useGraph((s) => s.nodeStatusText);
  const snapToGrid = useGraph((s) => s.snapToGrid);
  const converter = useRef(new FlowConverter()).current;
  const flow = useReactFlow<StepFlowNode, BranchFlowEdge>();
  const paneRef = useRef<HTMLDivElement>(null);

  const selectedNodes = useMemo(() => new Set(selectedNodeIds), [selectedNodeIds]);
  const selectedEdges = useMemo(() => new Set(selectedEdgeIds), [selectedEdgeIds]);
  const nodes = useMemo(
    () => converter.nodes(definition, nodeTypes, selectedNodes, nodeStatus, issues, nodeStatusText),
    [converter, definition, nodeTypes, selectedNodes, nodeStatus, issues, nodeStatusText],
  );
  const edges = useMemo(() => converter.edges(definition, selectedEdges, issues), [converter, definition, selectedEdges, issues]);

  const isContainer = useCallback((type: string) => isContainerType(type, graphStore.getState().nodeTypes), []);

  const onNodesChange = useCallback((changes: NodeChange<StepFlowNode>[]) => {
    const store = graphStore.getState();
    const positions: Record<string, Position> = {};
    let selection: Set<string> | null = null;
    for (const change of changes) {
      if (change.type === "position" && change.position) {
        positions[change.id] = { x: Math.round(change.position.x), y: Math.round(change.position.y) };
      } else if (change.type === "select") {
        selection ??= new Set(store.selectedNodeIds);
        if (change.selected) selection.add(change.id);
        else selection.delete(change.id);
      }
    }
    if (Object.keys(positions).length) store.moveNodes(positions);
    if (selection) {
      const nodeIds = store.definition.nodes.filter((n) => selection?.has(n.id)).map((n) => n.id);
      store.select(nodeIds, store.selectedEdgeIds);
    }
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<BranchFlowEdge>[]) => {
    const store = graphStore.getState();
    let selection: Set<string> | null = null;
    for (const change of changes) {
      if (change.type === "select") {
        selection ??= new Set(store.selectedEdgeIds);
        if (change.selected) selection.add(change.id);
        else selection.delete(change.id);
      }
    }
    if (selection) store.select(store.selectedNodeIds, store.definition.edges.filter((e) => selection?.has(e.id)).map((e) => e.id));
  }, []);

  const onConnect = useCallback((connection: Connection) => {
    const store = graphStore.getState();
    const result = store.connect(connection.source, connection.target, connection.sourceHandle);
    if (!result.ok && result.message) store.notify("error", result.message);
  }, []);

  const onNodeDragStart = useCallback(() => graphStore.getState().beginGesture(), []);

  const onNodeDragStop = useCallback(
    (_event: unknown, _node: StepFlowNode, dragged: StepFlowNode[]) => {
      const store = graphStore.getState();
      // Dropping nodes onto a loop puts them in its body; dragging them out takes them out.
      const movedIds = new Set(dragged.map((n) => n.id));
      for (const flowNode of dragged) {
        const definition = graphStore.getState().definition;
        const node = definition.nodes.find((n) => n.id === flowNode.id);
        if (!node || node.type === "start") continue;
        // A node dragged along with its loop stays in it.
        if (node.parentId !== undefined && movedIds.has(node.parentId)) continue;
        const origin = absolutePosition(definition, node.id);
        const container = isContainer(node.type);
        const probe = container ? { x: origin.x + 10, y: origin.y + 10 } : { x: origin.x + NODE_WIDTH / 2, y: origin.y + NODE_HEIGHT / 2 };
        const target = containerAt(definition, probe, (n) => isContainer(n.type), new Set([node.id]));
        const targetId = target?.id;
        if (targetId === node.parentId) continue;
        const base = targetId !== undefined ? absolutePosition(definition, targetId) : { x: 0, y: 0 };
        const position = { x: Math.max(targetId ? 10 : -1e9, origin.x - base.x), y: Math.max(targetId ? 50 : -1e9, origin.y - base.y) };
        if (target && targetId !== undefined) {
          // Into a loop changes what the node does (it runs once per item): ask first.
          setPendingMove({ nodeId: node.id, nodeName: node.name, loopId: targetId, loopName: target.name, position });
          continue;
        }
        store.setParent(node.id, targetId, position);
        store.notify("info", `Moved ${node.name} out of its loop.`);
      }
      store.endGesture();
    },
    [isContainer],
  );

  const onDragOver = useCallback((event: DragEvent) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  }, []);

  const onDrop = useCallback(
    (event: DragEvent) => {
      event.preventDefault();
      const type = event.dataTransfer.getData(DRAG_MIME) || event.dataTransfer.getData("text/plain");
      const store = graphStore.getState();
      if (!type || !store.nodeTypes[type]) return;
      const point = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const topLeft = { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 };
      const snapped = (v: number) => (graphStore.getState().snapToGrid ? Math.round(v / GRID) * GRID : Math.round(v));
      if (type === "start" && store.definition.nodes.some((n) => n.type === "start")) {
        store.notify("info", "This workflow already has its Start node.");
        return;
      }
      const container = type === "start" ? null : containerAt(store.definition, point, (n) => isContainer(n.type));
      const size = isContainer(type) ? { width: LOOP_MIN_WIDTH, height: LOOP_MIN_HEIGHT } : { width: NODE_WIDTH, height: NODE_HEIGHT };
      let id: string;
      if (container) {
        const base = absolutePosition(store.definition, container.id);
        const wanted = { x: Math.max(10, snapped(topLeft.x - base.x)), y: Math.max(50, snapped(topLeft.y - base.y)) };
        id = store.addNode(type, droppedSpot(store.definition, container.id, wanted, size, isContainer), container.id);
      } else {
        id = store.addNode(type, droppedSpot(store.definition, undefined, { x: snapped(topLeft.x), y: snapped(topLeft.y) }, size, isContainer));
      }
      onAdded?.(id);
    },
    [flow, isContainer, onAdded],
  );

  return (
    <div className="fm-canvas" data-testid="canvas" ref={paneRef} onDragOver={onDragOver} onDrop={onDrop}
         onKeyDown={(e) => {
           // C on a focused node: connect it to another node by keyboard (ConnectDialog).
           const node = e.target instanceof HTMLElement ? e.target.closest<HTMLElement>(".react-flow__node") : null;
           if (node && e.target === node && e.key.toLowerCase() === "c" && !e.ctrlKey && !e.metaKey && !e.altKey) {
             e.preventDefault();
             const nodeId = node.dataset.id;
             if (nodeId) setConnectFrom({ nodeId, handle: null, into: false, fromHandle: false });
           }
         }}>
      <ConnectRequestContext.Provider value={requestConnect}>
      <ReactFlow<StepFlowNode, BranchFlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        edgeTypes={EDGE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onNodeDragStart={onNodeDragStart}
        onNodeDragStop={onNodeDragStop}
        onPaneClick={() => graphStore.getState().select([], [])}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={MULTI_SELECTION_KEYS}
        // A hand moves a pixel or two during a click. React Flow's defaults take any movement
        // as the start of a drag and drop the click (the node is not selected); up to
        // CLICK_SLOP px it is a click, past it a drag.
        nodeClickDistance={CLICK_SLOP}
        nodeDragThreshold={CLICK_SLOP}
        // On a phone a selected node's panel is a sheet over the whole canvas: moving a node
        // there must not select it (the sheet hid the canvas at the end of every drag).
        selectNodesOnDrag={!phone}
        snapToGrid={snapToGrid}
        snapGrid={[GRID, GRID]}
        minZoom={0.1}
        maxZoom={2}
        onInit={(instance) => showWholeGraph(instance, paneRef.current)}
        fitViewOptions={FIT_OPTIONS}
        defaultEdgeOptions={{ type: "branch" }}
        proOptions={{ hideAttribution: true }}
        onlyRenderVisibleElements
        elevateNodesOnSelect={false}
      >
        <Background variant={BackgroundVariant.Dots} gap={GRID} size={1} />
        <MapAndControls paneRef={paneRef} />
      </ReactFlow>
      </ConnectRequestContext.Provider>
      {connectFrom ? <ConnectDialog {...connectFrom} onClose={() => setConnectFrom(null)} /> : null}
      {pendingMove && (
        <Dialog title={`Move “${pendingMove.nodeName}” into loop “${pendingMove.loopName}”?`} titleId="move-into-loop-title"
                testId="move-into-loop" onClose={() => setPendingMove(null)}>
          <p>Inside the loop it runs once for every item of the loop.</p>
          <div className="fm-modal-actions">
            <button type="button" className="fm-btn" data-testid="move-into-loop-cancel" autoFocus onClick={() => setPendingMove(null)}>
              Keep it outside
            </button>
            <button type="button" className="fm-btn fm-btn-primary" data-testid="move-into-loop-confirm" onClick={() => {
              const store = graphStore.getState();
              store.setParent(pendingMove.nodeId, pendingMove.loopId, pendingMove.position);
              store.notify("info", `Moved ${pendingMove.nodeName} into loop ${pendingMove.loopName}.`);
              setPendingMove(null);
            }}>
              Move into the loop
            </button>
          </div>
        </Dialog>
      )}
      {definition.nodes.length === 0 && (
        <div className="fm-empty-canvas" data-testid="empty-canvas">
          Drag a <strong>Start</strong> node from the palette to begin, then drag more nodes and connect their handles.
        </div>
      )}
    </div>
  );
}
