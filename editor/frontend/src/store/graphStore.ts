// The one store of the editor (zustand). It holds the workflow definition in SPEC §3 form —
// the canvas is a view of it, so there is no second graph format to keep in sync — plus
// selection, undo/redo history, validation results and live node statuses.
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";

import type {
  PinnedOutput,
  BranchConfig,
  Config,
  NodeRunStatus,
  NodeTypeInfo,
  Position,
  ValidationResult,
  WorkflowDefinition,
  WorkflowEdge,
  WorkflowNode,
  WorkflowSettings,
} from "../api/types";
import { checkConnection, type ConnectCheck, DEFAULT_HANDLE } from "../lib/graph";
import { copyFragment, type Fragment, rekeyFragment, withDescendants } from "./clipboard";
import { nextEdgeId, nextNodeId, uniqueName } from "./ids";
import { nodeIdProblem, renameNodeId } from "./rename";

export const HISTORY_LIMIT = 200;
/** Edits of one field at most this far apart are one undo step (a burst of typing). */
export const TYPING_BURST_MS = 1500;

/** The keys whose values differ between two objects, sorted: the field being typed into. */
function changedKeys(before: object | undefined, after: object | undefined): string[] {
  const a = (before ?? {}) as Record<string, unknown>;
  const b = (after ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/** The name and config keys a node patch changes. */
function changedFields(node: WorkflowNode, patch: { name?: string; config?: Config }): string[] {
  const fields = patch.config !== undefined ? changedKeys(node.config, patch.config).map((key) => `config.${key}`) : [];
  if (patch.name !== undefined && patch.name !== node.name) fields.push("name");
  return fields.sort();
}
export const PASTE_OFFSET = 40;

export function emptyDefinition(name = "Untitled workflow"): WorkflowDefinition {
  return { schemaVersion: 1, name, settings: {}, nodes: [], edges: [] };
}

/** Fill in what an older or hand-written definition may leave out, without changing meaning. */
export function normaliseDefinition(raw: Partial<WorkflowDefinition> | null | undefined, fallbackName = ""): WorkflowDefinition {
  const def = raw ?? {};
  return {
    schemaVersion: typeof def.schemaVersion === "number" ? def.schemaVersion : 1,
    name: typeof def.name === "string" ? def.name : fallbackName,
    settings: def.settings && typeof def.settings === "object" ? def.settings : {},
    nodes: (Array.isArray(def.nodes) ? def.nodes : []).map((n) => {
      const node: WorkflowNode = {
        id: String(n.id),
        type: String(n.type),
        name: typeof n.name === "string" ? n.name : String(n.id),
        position: { x: Number(n.position?.x ?? 0), y: Number(n.position?.y ?? 0) },
        config: n.config && typeof n.config === "object" ? n.config : {},
      };
      if (n.parentId !== undefined && n.parentId !== null) node.parentId = String(n.parentId);
      return node;
    }),
    edges: (Array.isArray(def.edges) ? def.edges : []).map((e) => {
      const edge: WorkflowEdge = { id: String(e.id), source: String(e.source), target: String(e.target) };
      if (e.sourceHandle !== undefined && e.sourceHandle !== null && e.sourceHandle !== DEFAULT_HANDLE) edge.sourceHandle = e.sourceHandle;
      if (e.branch && typeof e.branch === "object" && Object.keys(e.branch).length) edge.branch = e.branch;
      return edge;
    }),
  };
}

export function serialise(definition: WorkflowDefinition): string {
  return JSON.stringify(definition);
}

export type Toast = { kind: "error" | "info" | "success"; text: string; id: number };

export interface GraphState {
  definition: WorkflowDefinition;
  savedJson: string;
  dirty: boolean;
  nodeTypes: Record<string, NodeTypeInfo>;
  selectedNodeIds: string[];
  selectedEdgeIds: string[];
  past: WorkflowDefinition[];
  future: WorkflowDefinition[];
  /** Snapshot taken when a drag starts; committed to history only if something moved. */
  gestureStart: WorkflowDefinition | null;
  serverIssues: ValidationResult;
  nodeStatus: Record<string, NodeRunStatus>;
  /** What a node's status badge says instead of its status (a loop body's "3 of 10 failed"). */
  nodeStatusText: Record<string, string>;
  /** The workflow's pinned test data by node id (kept on the server beside the workflow). */
  pins: Record<string, PinnedOutput>;
  toast: Toast | null;
  snapToGrid: boolean;

  load(definition: WorkflowDefinition): void;
  setNodeTypes(types: NodeTypeInfo[]): void;
  /** Apply a change as one undoable step. */
  change(mutate: (definition: WorkflowDefinition) => WorkflowDefinition): void;
  /** Adds a node (selected), wired from each of `from` (source node, output handle) in the
   * same undo step: a palette click after one node, or a join after several. */
  addNode(type: string, position: Position, parentId?: string, from?: readonly { source: string; handle?: string }[]): string;
  connect(source: string, target: string, sourceHandle?: string | null): ConnectCheck & { edgeId?: string };
  updateNode(id: string, patch: { name?: string; config?: Config }): void;
  /** Gives a node a new id (references follow); returns why it cannot, or null. */
  renameNode(id: string, newId: string): string | null;
  updateEdgeBranch(id: string, branch: BranchConfig | undefined): void;
  updateSettings(settings: WorkflowSettings): void;
  setWorkflowName(name: string): void;
  beginGesture(): void;
  moveNodes(positions: Record<string, Position>): void;
  endGesture(): void;
  setParent(nodeId: string, parentId: string | undefined, position: Position): void;
  deleteElements(nodeIds: readonly string[], edgeIds: readonly string[]): void;
  deleteSelection(): void;
  duplicateSelection(): void;
  copySelection(): Fragment | null;
  paste(fragment: Fragment, at?: Position): string[];
  select(nodeIds: readonly string[], edgeIds?: readonly string[]): void;
  selectAll(): void;
  applyPositions(positions: Record<string, Position>): void;
  undo(): void;
  redo(): void;
  markSaved(definition?: WorkflowDefinition): void;
  setServerIssues(result: ValidationResult): void;
  setNodeStatus(status: Record<string, NodeRunStatus>, text?: Record<string, string>): void;
  setPins(pins: readonly PinnedOutput[]): void;
  /** One node's pin changed (`null`: unpinned). */
  setPin(nodeId: string, pin: PinnedOutput | null): void;
  notify(kind: Toast["kind"], text: string): void;
  dismissToast(): void;
  toggleSnap(): void;
}

let toastSeq = 0;

function replaceNode(definition: WorkflowDefinition, id: string, update: (node: WorkflowNode) => WorkflowNode): WorkflowDefinition {
  return { ...definition, nodes: definition.nodes.map((n) => (n.id === id ? update(n) : n)) };
}

/** Parents before children: React Flow requires it for sub-flows. */
export function orderParentsFirst(nodes: readonly WorkflowNode[]): WorkflowNode[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const placed = new Set<string>();
  const out: WorkflowNode[] = [];
  const place = (node: WorkflowNode, guard: Set<string>): void => {
    if (placed.has(node.id) || guard.has(node.id)) return;
    guard.add(node.id);
    const parent = node.parentId !== undefined ? byId.get(node.parentId) : undefined;
    if (parent) place(parent, guard);
    placed.add(node.id);
    out.push(node);
  };
  for (const node of nodes) place(node, new Set());
  return out;
}

export function createGraphStore(initial?: WorkflowDefinition): StoreApi<GraphState> {
  return createStore<GraphState>()((set, get) => {
    const pushHistory = (previous: WorkflowDefinition): Pick<GraphState, "past" | "future"> => ({
      past: [...get().past, previous].slice(-HISTORY_LIMIT),
      future: [],
    });
    // Typing into a field commits on every keystroke. Consecutive edits of the same field
    // (`coalesce` names it) within TYPING_BURST_MS of each other make one undo step, as in a
    // text editor; any other change, an undo or a redo ends the burst.
    let burst: { key: string; at: number } | null = null;
    const commit = (next: WorkflowDefinition, extra: Partial<GraphState> = {}, coalesce?: string): void => {
      const previous = get().definition;
      if (next === previous) return;
      const now = Date.now();
      const continues = coalesce !== undefined && burst !== null && burst.key === coalesce && now - burst.at <= TYPING_BURST_MS && get().past.length > 0;
      burst = coalesce !== undefined ? { key: coalesce, at: now } : null;
      set({
        ...(continues ? { future: [] } : pushHistory(previous)),
        definition: next,
        dirty: serialise(next) !== get().savedJson,
        ...extra,
      });
    };
    const start = initial ?? emptyDefinition();
    return {
      definition: start,
      savedJson: serialise(start),
      dirty: false,
      nodeTypes: {},
      selectedNodeIds: [],
      selectedEdgeIds: [],
      past: [],
      future: [],
      gestureStart: null,
      serverIssues: { errors: [], warnings: [] },
      nodeStatus: {},
      nodeStatusText: {},
      pins: {},
      toast: null,
      snapToGrid: true,

      load(definition) {
        set({
          definition,
          savedJson: serialise(definition),
          dirty: false,
          past: [],
          future: [],
          selectedNodeIds: [],
          selectedEdgeIds: [],
          gestureStart: null,
        });
      },
      setNodeTypes(types) {
        set({ nodeTypes: Object.fromEntries(types.map((t) => [t.type, t])) });
      },
      change(mutate) {
        commit(mutate(get().definition));
      },
      addNode(type, position, parentId, from = []) {
        const { definition, nodeTypes } = get();
        const info = nodeTypes[type];
        const id = nextNodeId(type, new Set(definition.nodes.map((n) => n.id)));
        const name = uniqueName(info?.title ?? type, new Set(definition.nodes.map((n) => n.name)));
        const node: WorkflowNode = {
          id,
          type,
          name,
          position: { x: Math.round(position.x), y: Math.round(position.y) },
          config: structuredClone(info?.defaults ?? {}),
        };
        if (parentId !== undefined) node.parentId = parentId;
        let next: WorkflowDefinition = { ...definition, nodes: [...definition.nodes, node] };
        for (const { source, handle: wanted } of from) {
          const handle = wanted && wanted !== DEFAULT_HANDLE ? wanted : undefined;
          if (!checkConnection(next, source, id, handle).ok) continue;
          const edge: WorkflowEdge = { id: nextEdgeId(new Set(next.edges.map((e) => e.id))), source, target: id };
          if (handle !== undefined) edge.sourceHandle = handle;
          next = { ...next, edges: [...next.edges, edge] };
        }
        commit(next, { selectedNodeIds: [id], selectedEdgeIds: [] });
        return id;
      },
      connect(source, target, sourceHandle) {
        const { definition } = get();
        const handle = sourceHandle && sourceHandle !== DEFAULT_HANDLE ? sourceHandle : undefined;
        const check = checkConnection(definition, source, target, handle);
        if (!check.ok) return check;
        const edge: WorkflowEdge = { id: nextEdgeId(new Set(definition.edges.map((e) => e.id))), source, target };
        if (handle !== undefined) edge.sourceHandle = handle;
        commit({ ...definition, edges: [...definition.edges, edge] });
        return { ok: true, edgeId: edge.id };
      },
      updateNode(id, patch) {
        const before = get().definition.nodes.find((n) => n.id === id);
        commit(
          replaceNode(get().definition, id, (node) => ({
            ...node,
            ...(patch.name !== undefined ? { name: patch.name } : {}),
            ...(patch.config !== undefined ? { config: patch.config } : {}),
          })),
          {},
          before ? `node:${id}:${changedFields(before, patch).join(",")}` : undefined,
        );
      },
      renameNode(id, newId) {
        const { definition, selectedNodeIds } = get();
        const problem = nodeIdProblem(definition, id, newId);
        if (problem !== null || id === newId) return problem;
        commit(renameNodeId(definition, id, newId), {
          selectedNodeIds: selectedNodeIds.map((s) => (s === id ? newId : s)),
        });
        // Its pin follows it on the canvas at once; the server keeps it under the pin's own
        // `nodeId` until the next save moves it there (EditorPage's save: pins are checked
        // against the saved workflow, which does not have the new id yet).
        const pin = get().pins[id];
        if (pin) {
          const pins = { ...get().pins, [newId]: pin };
          delete pins[id];
          set({ pins });
        }
        return null;
      },
      updateEdgeBranch(id, branch) {
        const definition = get().definition;
        const fields = changedKeys(definition.edges.find((e) => e.id === id)?.branch, branch);
        commit({
          ...definition,
          edges: definition.edges.map((edge) => {
            if (edge.id !== id) return edge;
            const next: WorkflowEdge = { ...edge };
            if (branch && Object.keys(branch).length) next.branch = branch;
            else delete next.branch;
            return next;
          }),
        }, {}, `edge:${id}:${fields.join(",")}`);
      },
      updateSettings(settings) {
        const fields = changedKeys(get().definition.settings, settings);
        commit({ ...get().definition, settings }, {}, `settings:${fields.join(",")}`);
      },
      setWorkflowName(name) {
        commit({ ...get().definition, name }, {}, "name");
      },
      beginGesture() {
        set({ gestureStart: get().definition });
      },
      moveNodes(positions) {
        // Called on every drag frame: only the moved nodes get new objects, nothing else re-renders.
        const definition = get().definition;
        const nodes = definition.nodes.map((node) => {
          const p = positions[node.id];
          return p && (p.x !== node.position.x || p.y !== node.position.y) ? { ...node, position: { x: p.x, y: p.y } } : node;
        });
        if (get().gestureStart === null) {
          commit({ ...definition, nodes });
        } else {
          set({ definition: { ...definition, nodes }, dirty: true });
        }
      },
      endGesture() {
        const startDef = get().gestureStart;
        if (startDef === null) return;
        const current = get().definition;
        const moved = serialise(startDef) !== serialise(current);
        set({
          gestureStart: null,
          ...(moved ? pushHistory(startDef) : {}),
          dirty: serialise(current) !== get().savedJson,
        });
      },
      setParent(nodeId, parentId, position) {
        const definition = get().definition;
        const node = definition.nodes.find((n) => n.id === nodeId);
        if (!node) return;
        const next: WorkflowNode = { ...node, position: { x: Math.round(position.x), y: Math.round(position.y) } };
        if (parentId === undefined) delete next.parentId;
        else next.parentId = parentId;
        // Edges never cross a container boundary, so moving in or out of a loop drops them.
        const edges = definition.edges.filter((e) => {
          if (e.source !== nodeId && e.target !== nodeId) return true;
          const other = definition.nodes.find((n) => n.id === (e.source === nodeId ? e.target : e.source));
          return (other?.parentId ?? undefined) === parentId;
        });
        const updated = { ...definition, nodes: definition.nodes.map((n) => (n.id === nodeId ? next : n)), edges };
        // Keep the drag that led here and the re-parenting as one undo step.
        const startDef = get().gestureStart;
        if (startDef !== null) {
          set({ definition: updated, dirty: true });
        } else {
          commit(updated);
        }
      },
      deleteElements(nodeIds, edgeIds) {
        const definition = get().definition;
        const gone = withDescendants(definition, nodeIds);
        const goneEdges = new Set(edgeIds);
        if (!gone.size && !goneEdges.size) return;
        commit(
          {
            ...definition,
            nodes: definition.nodes.filter((n) => !gone.has(n.id)),
            edges: definition.edges.filter((e) => !goneEdges.has(e.id) && !gone.has(e.source) && !gone.has(e.target)),
          },
          { selectedNodeIds: [], selectedEdgeIds: [] },
        );
      },
      deleteSelection() {
        get().deleteElements(get().selectedNodeIds, get().selectedEdgeIds);
      },
      duplicateSelection() {
        const fragment = get().copySelection();
        if (fragment) get().paste(fragment);
      },
      copySelection() {
        const { definition, selectedNodeIds } = get();
        if (!selectedNodeIds.length) return null;
        return copyFragment(definition, selectedNodeIds);
      },
      paste(fragment, at) {
        const definition = get().definition;
        let offset = { x: PASTE_OFFSET, y: PASTE_OFFSET };
        if (at) {
          const tops = fragment.nodes.filter((n) => n.parentId === undefined || !fragment.nodes.some((m) => m.id === n.parentId));
          const minX = Math.min(...tops.map((n) => n.position?.x ?? 0));
          const minY = Math.min(...tops.map((n) => n.position?.y ?? 0));
          if (Number.isFinite(minX) && Number.isFinite(minY)) offset = { x: at.x - minX, y: at.y - minY };
        }
        const { nodes, edges } = rekeyFragment(definition, fragment, offset);
        // A pasted node whose loop was not pasted lands at the top level.
        const pastedIds = new Set(nodes.map((n) => n.id));
        for (const node of nodes) {
          if (node.parentId !== undefined && !pastedIds.has(node.parentId)) delete node.parentId;
        }
        if (!nodes.length) return [];
        commit(
          { ...definition, nodes: [...definition.nodes, ...nodes], edges: [...definition.edges, ...edges] },
          { selectedNodeIds: nodes.map((n) => n.id), selectedEdgeIds: [] },
        );
        return nodes.map((n) => n.id);
      },
      select(nodeIds, edgeIds = []) {
        const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
        if (same(nodeIds, get().selectedNodeIds) && same(edgeIds, get().selectedEdgeIds)) return;
        set({ selectedNodeIds: [...nodeIds], selectedEdgeIds: [...edgeIds] });
      },
      selectAll() {
        const { definition } = get();
        set({ selectedNodeIds: definition.nodes.map((n) => n.id), selectedEdgeIds: definition.edges.map((e) => e.id) });
      },
      applyPositions(positions) {
        const definition = get().definition;
        commit({
          ...definition,
          nodes: definition.nodes.map((n) => {
            const p = positions[n.id];
            return p ? { ...n, position: { x: Math.round(p.x), y: Math.round(p.y) } } : n;
          }),
        });
      },
      undo() {
        const { past, future, definition, savedJson } = get();
        const previous = past[past.length - 1];
        if (!previous) return;
        burst = null;
        set({
          definition: previous,
          past: past.slice(0, -1),
          future: [definition, ...future],
          dirty: serialise(previous) !== savedJson,
          gestureStart: null,
        });
      },
      redo() {
        const { past, future, definition, savedJson } = get();
        const next = future[0];
        if (!next) return;
        burst = null;
        set({
          definition: next,
          past: [...past, definition],
          future: future.slice(1),
          dirty: serialise(next) !== savedJson,
          gestureStart: null,
        });
      },
      markSaved(definition) {
        const saved = definition ?? get().definition;
        set({ savedJson: serialise(saved), dirty: serialise(get().definition) !== serialise(saved) });
      },
      setServerIssues(result) {
        set({ serverIssues: result });
      },
      setNodeStatus(status, text = {}) {
        set({ nodeStatus: status, nodeStatusText: text });
      },
      setPins(pins) {
        set({ pins: Object.fromEntries(pins.map((p) => [p.nodeId, p])) });
      },
      setPin(nodeId, pin) {
        const pins = { ...get().pins };
        if (pin) pins[nodeId] = pin;
        else delete pins[nodeId];
        set({ pins });
      },
      notify(kind, text) {
        set({ toast: { kind, text, id: ++toastSeq } });
      },
      dismissToast() {
        set({ toast: null });
      },
      toggleSnap() {
        set({ snapToGrid: !get().snapToGrid });
      },
    };
  });
}

/** The editor page's store (one per page). */
export const graphStore = createGraphStore();

export function useGraph<T>(selector: (state: GraphState) => T): T {
  return useStore(graphStore, selector);
}
