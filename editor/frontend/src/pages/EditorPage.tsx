// The canvas editor page (/workflows/{id}/): palette, canvas, side panel, toolbar, and the
// save / run / version / import-export flows around the one graph store.
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { ApiError, errorMessage } from "../api/client";
import { executionsApi, nodeTypesApi, pinsApi, workflowsApi } from "../api/endpoints";
import type { ExecutionSummary, NodeTypeInfo, ValidationIssue, Workflow, WorkflowDefinition, WorkflowNode } from "../api/types";
import { Canvas, FIT_MIN_ZOOM, showWholeGraph } from "../canvas/Canvas";
import { isContainerType } from "../canvas/convert";
import { EDITOR_NOTICE_KEY } from "../lib/importName";
import { issuesSummary, plural } from "../lib/plural";
import { absolutePosition, freeSpot, LOOP_HEADER, LOOP_MIN_HEIGHT, LOOP_MIN_WIDTH, LOOP_PADDING, NODE_HEIGHT, NODE_WIDTH, nodeSize } from "../canvas/geometry";
import { layoutPositions } from "../canvas/layout";
import { hasInputHandle, outputHandles } from "../lib/graph";
import { useRunData } from "../canvas/useRunData";
import { useShortcuts } from "../canvas/useShortcuts";
import { useValidation } from "../canvas/useValidation";
import { RerunDialog } from "../dialogs/RerunDialog";
import { CodeField } from "../forms/LazyCodeField";
import { ApprovalDialog, type WaitingApprovalInfo, waitingApprovalOf } from "../panels/ApprovalDialog";
import { EdgePanel } from "../panels/EdgePanel";
import { HelpOverlay } from "../panels/HelpOverlay";
import { NodePanel } from "../panels/NodePanel";
import { Palette } from "../panels/Palette";
import { RunBar } from "../panels/RunBar";
import { RunDialog } from "../panels/RunDialog";
import { SettingsPanel } from "../panels/SettingsPanel";
import { Toast } from "../panels/Toast";
import { VersionsDialog } from "../panels/VersionsDialog";
import { graphStore, normaliseDefinition, useGraph } from "../store/graphStore";
import { exportedWorkflow, importedPinData, type PinData } from "../store/pinData";
import { starterDefinition } from "./WorkflowListPage";
import { ToolbarMore } from "./ToolbarMore";

type Dialog = "run" | "versions" | "help" | "rerun" | "approve" | null;

export function EditorPage({ workflowId, newName = "Untitled workflow" }: { workflowId: string; newName?: string }) {
  return (
    <ReactFlowProvider>
      <Editor initialId={workflowId} newName={newName} />
    </ReactFlowProvider>
  );
}

function Editor({ initialId, newName }: { initialId: string; newName: string }) {
  // "" until a new workflow's first save creates it (then the URL becomes /workflows/{id}/).
  const [workflowId, setWorkflowId] = useState(initialId);
  const workflowIdRef = useRef(initialId);
  /** The pinned data (`pinData`) of a file imported since the last save, sent with the next. */
  const importedPins = useRef<PinData | undefined>(undefined);
  const [workflow, setWorkflow] = useState<Workflow | null>(null);
  const [nodeTypeList, setNodeTypeList] = useState<NodeTypeInfo[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  // "Run to here": the node the Run dialog's run stops at (null: ▶ Run, a whole run).
  const [runUntil, setRunUntil] = useState<string | null>(null);
  const runTo = useCallback((nodeId: string) => {
    setRunUntil(nodeId);
    setDialog("run");
  }, []);
  const [sidePanel, setSidePanel] = useState<"selection" | "settings">("selection");
  const [saving, setSaving] = useState(false);
  const [running, setRunning] = useState(false);
  const [layingOut, setLayingOut] = useState(false);
  // The phone layout's palette drawer (editor.css, under 600 px); a wider window always shows it.
  const [paletteOpen, setPaletteOpen] = useState(false);
  const paletteOpenRef = useRef(false);
  paletteOpenRef.current = paletteOpen;
  const paletteToggle = useRef<HTMLButtonElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const flow = useReactFlow();
  const dialogRef = useRef<Dialog>(null);
  dialogRef.current = dialog;

  const definition = useGraph((s) => s.definition);
  const dirty = useGraph((s) => s.dirty);
  const canUndo = useGraph((s) => s.past.length > 0);
  const canRedo = useGraph((s) => s.future.length > 0);
  const snapToGrid = useGraph((s) => s.snapToGrid);
  const selectedNodeIds = useGraph((s) => s.selectedNodeIds);
  const selectedEdgeIds = useGraph((s) => s.selectedEdgeIds);
  const validation = useValidation(workflow ? workflowId : "");
  const runData = useRunData(workflowId);

  useEffect(() => {
    const unsaved: Workflow = { id: "", name: newName, description: "", definition: starterDefinition(newName), version: 0, createdAt: "", updatedAt: "" };
    Promise.all([initialId ? workflowsApi.get(initialId) : Promise.resolve(unsaved), nodeTypesApi.list()])
      .then(([wf, types]) => {
        graphStore.getState().setNodeTypes(types);
        // The workflow's name is the one name (the list's, the API's): the title shows it even
        // where an older stored definition still carries another.
        graphStore.getState().load({ ...normaliseDefinition(wf.definition, wf.name), name: wf.name });
        setNodeTypeList(types);
        setWorkflow(wf);
        document.title = `${wf.name} · FlowMaestro`;
        showLeftNotice(String(wf.id));
      })
      .catch((err: unknown) => setLoadError(errorMessage(err)));
  }, [initialId, newName]);

  // The workflow's pinned test data (badges on the canvas, the node panel, the Run dialog).
  useEffect(() => {
    graphStore.getState().setPins([]);
    if (!workflowId) return;
    let stopped = false;
    pinsApi
      .list(workflowId)
      .then((pins) => !stopped && graphStore.getState().setPins(pins))
      .catch(() => undefined); // no pins shown: runs still work, without them
    return () => {
      stopped = true;
    };
  }, [workflowId]);
  const pins = useGraph((s) => s.pins);
  const nodeTypesByName = useGraph((s) => s.nodeTypes);
  // Pins the run uses: of nodes still on the canvas, of a type that can be pinned.
  const pinnedCount = useMemo(
    () => definition.nodes.filter((n) => n.id in pins && nodeTypesByName[n.type]?.pinnable).length,
    [definition.nodes, pins, nodeTypesByName],
  );

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (graphStore.getState().dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, []);

  /** Pins of nodes renamed since the last save (the store keys them by the canvas's id, the
   * server by the id they were pinned under) move to the new id now that the saved workflow
   * has it; then the store holds what the server holds (an undone rename included). */
  const movePinsOfRenamedNodes = useCallback(
    async (id: string | number, saved: WorkflowDefinition): Promise<string | null> => {
      const store = graphStore.getState();
      const ids = new Set(saved.nodes.map((n) => n.id));
      const moved = Object.entries(store.pins).filter(([key, pin]) => key !== pin.nodeId);
      if (!moved.length) return null;
      let failure: string | null = null;
      try {
        for (const [key, pin] of moved) {
          if (!ids.has(key)) continue;
          // Writing a pin also drops the pins of nodes the saved workflow lacks (the old
          // id's among them, editor/pins.py), so the pin moves in one request.
          await pinsApi.put(id, key, pin.data);
        }
      } catch (err) {
        failure = `a pin did not follow its renamed node: ${errorMessage(err)}`;
      }
      store.setPins(await pinsApi.list(id).catch(() => []));
      return failure;
    },
    [],
  );

  const save = useCallback(async (): Promise<boolean> => {
    const store = graphStore.getState();
    const toSave = store.definition;
    // The pinned data of a file imported since the last save goes with this save: the
    // server sets it with the workflow, or refuses both.
    const pinData = importedPins.current;
    setSaving(true);
    try {
      // A draft: saved even with problems (they stay listed below); running is what is refused.
      const body = { name: toSave.name || "Untitled workflow", definition: toSave, draft: true, ...(pinData ? { pinData } : {}) };
      const currentId = workflowIdRef.current;
      const saved = currentId ? await workflowsApi.update(currentId, body) : await workflowsApi.create(body);
      if (pinData) {
        importedPins.current = undefined;
        store.setPins(await pinsApi.list(saved.id).catch(() => []));
      }
      store.markSaved(toSave);
      setWorkflow(saved);
      document.title = `${saved.name} · FlowMaestro`;
      if (!currentId) {
        workflowIdRef.current = String(saved.id);
        setWorkflowId(String(saved.id));
        window.history.replaceState(null, "", `/workflows/${saved.id}/`);
      }
      const pinFailure = await movePinsOfRenamedNodes(saved.id, toSave);
      const problems = (await workflowsApi.validate(saved.id).catch(() => null))?.errors.length ?? 0;
      if (pinFailure) store.notify("error", `Saved as version ${saved.version}, but ${pinFailure}`);
      else if (problems) store.notify("info", `Saved as version ${saved.version}, a draft with ${plural(problems, "problem")}: fix ${problems === 1 ? "it" : "them"} before running it.`);
      else store.notify("success", `Saved as version ${saved.version}.`);
      return true;
    } catch (err) {
      if (pinData && err instanceof ApiError && (err.detail.startsWith("pinData") || JSON.stringify(err.body ?? null).includes('"pinData"'))) {
        // Refused for the file's pins: nothing was saved. They are dropped, so that the
        // next save keeps the workflow (without them) rather than failing the same way.
        importedPins.current = undefined;
        store.notify("error", `Not saved: the imported file's pinned data was refused (${errorMessage(err)}). It is dropped: save again to keep the workflow without it.`);
        return false;
      }
      if (err instanceof ApiError && err.errors.length) store.setServerIssues({ errors: err.errors as ValidationIssue[], warnings: [] });
      store.notify("error", `Not saved: ${errorMessage(err)}`);
      return false;
    } finally {
      setSaving(false);
    }
  }, [workflowId, movePinsOfRenamedNodes]);

  const autoLayout = useCallback(async () => {
    const store = graphStore.getState();
    setLayingOut(true);
    try {
      const positions = await layoutPositions(store.definition, (type) => isContainerType(type, store.nodeTypes));
      store.applyPositions(positions);
      window.setTimeout(() => void flow.fitView({ padding: 0.2, duration: 200, maxZoom: 1, minZoom: FIT_MIN_ZOOM }), 50);
    } catch (err) {
      store.notify("error", `Auto-layout failed: ${errorMessage(err)}`);
    } finally {
      setLayingOut(false);
    }
  }, [flow]);

  const run = useCallback(
    async (input: unknown, priority: number | undefined, usePinnedData = false, runUntil?: string, reuseFrom?: number) => {
      const store = graphStore.getState();
      setRunning(true);
      try {
        // A run is pinned to a saved version: save what is on the canvas first.
        if ((store.dirty || !workflowIdRef.current) && !(await save())) return;
        // Runs from the editor use the pinned test data, as in n8n (the dialog can leave it out).
        const started = await workflowsApi.run(workflowIdRef.current, input, priority, usePinnedData, runUntil, reuseFrom);
        runData.refresh(String(started.id));
        setDialog(null);
        const stop = runUntil ? graphStore.getState().definition.nodes.find((n) => n.id === runUntil)?.name || runUntil : null;
        // What the server reused (or why nothing): the dialog only offered it.
        const reused = started.reused === undefined ? ""
          : started.reused.length ? `, reusing ${plural(started.reused.length, "node")} from #${started.reusedFrom}`
          : `; nothing reused (${started.reuseNote ?? "no node could be"})`;
        store.notify("success", `Execution ${started.id} started${stop ? `, up to ${stop}` : ""}${reused} (trace ${started.traceId}).`);
      } catch (err) {
        if (err instanceof ApiError && err.errors.length) store.setServerIssues({ errors: err.errors as ValidationIssue[], warnings: [] });
        const nameOf = (id: string) => graphStore.getState().definition.nodes.find((n) => n.id === id)?.name;
        store.notify("error", `Run refused: ${err instanceof ApiError ? err.userMessage(nameOf) : errorMessage(err)}`);
      } finally {
        setRunning(false);
      }
    },
    [save, workflowId, runData],
  );

  // The Run dialog's preview of "Run to here" with reuse: asked on the canvas as it is (the
  // run saves it first), so an edit made since the last save counts as a change.
  const reuseSource = runUntil ? lastFinishedRun(runData.executions) : undefined;
  const previewReuse = useCallback(
    async (input: unknown, usePinnedData: boolean) => {
      const id = workflowIdRef.current;
      if (!id || !runUntil || reuseSource === undefined) return { reused: [], note: null };
      const definition = graphStore.getState().definition;
      const answer = await workflowsApi.reusePreview(id, { runUntil, reuseFrom: reuseSource, input, usePinnedData, definition });
      const nameOf = (nodeId: string) => definition.nodes.find((n) => n.id === nodeId)?.name || nodeId;
      return { reused: answer.reused.map(nameOf), note: answer.reuseNote };
    },
    [runUntil, reuseSource],
  );

  // "Re-run from here" in a node's run data: what is on the canvas is saved first (the
  // redrive runs the latest version, so a fix made to this node is what runs), then this
  // node and what follows it run again in the shown execution, upstream results kept.
  const rerunFrom = useCallback(
    async (nodeId: string) => {
      const store = graphStore.getState();
      const shown = runData.execution;
      if (!shown) return;
      if (store.dirty && !(await save())) return;
      const name = store.definition.nodes.find((n) => n.id === nodeId)?.name || nodeId;
      try {
        // A test run re-run from here uses the pins as they are now (n8n: a manual run uses
        // the current pins): one unpinned since then runs. Other redrives keep the run's copy.
        const redriven = await executionsApi.redrive(shown.id, {
          version: "latest", nodes: [nodeId], ...(shown.testRun ? { usePinnedData: true } : {}),
        });
        runData.refresh(String(shown.id));
        store.notify("success", `Re-running ${name} and what follows it in execution ${shown.id} (v${redriven.version}).`);
      } catch (err) {
        const nameOf = (id: string) => graphStore.getState().definition.nodes.find((n) => n.id === id)?.name;
        store.notify("error", `Not re-run: ${err instanceof ApiError ? err.userMessage(nameOf) : errorMessage(err)}`);
      }
    },
    [save, runData],
  );

  const restore = useCallback(
    async (restored: WorkflowDefinition, number: number) => {
      const store = graphStore.getState();
      store.change(() => normaliseDefinition(restored, store.definition.name));
      setDialog(null);
      if (await save()) store.notify("success", `Restored version ${number} (saved as a new version).`);
    },
    [save],
  );

  const exportJson = useCallback(() => {
    const store = graphStore.getState();
    const def = store.definition;
    // The file carries the pins too (`pinData`, as n8n's export does): an import of it
    // pins the same nodes.
    const blob = new Blob([JSON.stringify(exportedWorkflow(def, store.pins), null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${(def.name || "workflow").replace(/[^A-Za-z0-9_-]+/g, "-")}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  }, []);

  const importJson = useCallback(async (file: File) => {
    const store = graphStore.getState();
    try {
      const contents = JSON.parse(await file.text()) as Partial<WorkflowDefinition> & { definition?: Partial<WorkflowDefinition> };
      let parsed = contents;
      // A workflow as the API returns it ({name, definition: {...}}) imports as its definition.
      if (parsed && !Array.isArray(parsed.nodes) && parsed.definition && Array.isArray(parsed.definition.nodes)) parsed = parsed.definition;
      if (!parsed || !Array.isArray(parsed.nodes)) throw new Error("the file is not a workflow definition (no nodes list)");
      // Its pinned data waits for the save (pins belong to saved nodes); a file without
      // any leaves the workflow's pins as they are.
      const pinData = importedPinData(contents) ?? importedPinData(parsed);
      importedPins.current = pinData;
      // Anything parseable goes onto the canvas, problems and all (a cycle, a missing field):
      // the problems bar lists them so they can be fixed here. The workflow keeps its name
      // unless the person asks for the file's.
      const current = store.definition.name;
      const fileName = typeof parsed.name === "string" && parsed.name && parsed.name !== current ? parsed.name : null;
      const keptName = fileName !== null && window.confirm(`The file's workflow is named “${fileName}”. Rename this workflow to it?\n\nCancel keeps “${current}”.`) ? fileName : current;
      store.change(() => ({ ...normaliseDefinition(parsed, keptName), name: keptName }));
      const other = fileName === null ? "" : keptName === fileName ? ` (renamed to “${fileName}”)` : ` (kept the name “${current}”; the file's is “${fileName}”)`;
      const pinned = pinData && typeof pinData === "object" ? Object.keys(pinData).length : 0;
      store.notify("info", `Imported ${parsed.nodes.length} nodes${pinned ? ` and the pinned data of ${plural(pinned, "node")}` : ""} from ${file.name}${other}. Save to keep them.`);
      window.setTimeout(() => void flow.fitView({ padding: 0.2, maxZoom: 1, minZoom: FIT_MIN_ZOOM }), 50);
    } catch (err) {
      store.notify("error", `Import failed: ${errorMessage(err)}`);
    }
  }, [flow]);

  /** Palette click / Enter: right of the selected node and connected to it; with several
   * nodes selected (the ends of parallel branches), right of them all and connected from
   * each — a Merge joins them in one click; else in the middle of the view. Never on top of
   * another node; then scrolled fully into view. */
  const addAtCenter = useCallback(
    (type: string) => {
      const store = graphStore.getState();
      if (type === "start" && store.definition.nodes.some((n) => n.type === "start")) {
        store.notify("info", "This workflow already has its Start node.");
        return;
      }
      const selected = store.selectedNodeIds.length === 1 ? store.definition.nodes.find((n) => n.id === store.selectedNodeIds[0]) : undefined;
      const container = isContainerType(type, store.nodeTypes);
      const isContainer = (t: string) => isContainerType(t, store.nodeTypes);
      // Several selected nodes in one container (or all at the top level): the new node joins
      // them. Nodes selected inside a loop together with the loop itself are not a join.
      const several = store.selectedNodeIds.length > 1
        ? store.definition.nodes.filter((n) => store.selectedNodeIds.includes(n.id)).sort((a, b) => a.position.y - b.position.y)
        : [];
      const joined = several.length > 1 && several.every((n) => n.parentId === several[0]?.parentId) ? several : [];
      let parentId: string | undefined;
      let wanted: { x: number; y: number };
      // A selected Loop with nothing inside takes the node as its body's first node: that is
      // what a click (or Enter) on the palette means there, and the only way besides a drag.
      const emptyLoop = selected && isContainerType(selected.type, store.nodeTypes)
        && !store.definition.nodes.some((n) => n.parentId === selected.id) ? selected : undefined;
      if (emptyLoop) {
        parentId = emptyLoop.id;
        wanted = { x: LOOP_PADDING, y: LOOP_HEADER + LOOP_PADDING / 2 };
      } else if (selected) {
        parentId = selected.parentId;
        const size = nodeSize(store.definition, selected.id, isContainer);
        wanted = { x: selected.position.x + size.width + 80, y: selected.position.y };
      } else if (joined.length) {
        parentId = joined[0]?.parentId;
        const right = Math.max(...joined.map((n) => n.position.x + nodeSize(store.definition, n.id, isContainer).width));
        const middle = joined.reduce((sum, n) => sum + n.position.y + nodeSize(store.definition, n.id, isContainer).height / 2, 0) / joined.length;
        wanted = { x: right + 80, y: middle - NODE_HEIGHT / 2 };
      } else {
        const el = document.querySelector(".fm-canvas");
        const rect = el?.getBoundingClientRect();
        const point = rect ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 }) : { x: 0, y: 0 };
        wanted = { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 };
      }
      const size = container ? { width: LOOP_MIN_WIDTH, height: LOOP_MIN_HEIGHT } : { width: NODE_WIDTH, height: NODE_HEIGHT };
      // After one selected node: a further branch goes below the ones already there.
      const position = freeSpot(store.definition, parentId, wanted, size, isContainer, Boolean(selected && !emptyLoop));
      const sources = (emptyLoop ? [] : selected ? [selected] : joined).flatMap((n) => {
        const handles = outputHandles(n, store.nodeTypes[n.type]);
        return handles.length ? [{ source: n.id, handle: handles[0] }] : [];
      });
      const id = store.addNode(type, position, parentId, hasInputHandle(store.nodeTypes[type], type) ? sources : []);
      if (joined.length > 1) {
        const wired = graphStore.getState().definition.edges.filter((e) => e.target === id).length;
        const name = graphStore.getState().definition.nodes.find((n) => n.id === id)?.name ?? id;
        if (wired) store.notify("info", `${name} joins the ${wired} selected nodes.`);
      }
      revealNode(id);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [flow],
  );

  /** Pan (never zoom out below legible) so that the whole node is on screen. */
  const revealNode = useCallback(
    (id: string) => {
      window.setTimeout(() => {
        // From the definition, not the DOM: the canvas renders only nodes already in view.
        const store = graphStore.getState();
        if (!store.definition.nodes.some((n) => n.id === id)) return;
        const pane = document.querySelector(".fm-canvas");
        if (!pane) return;
        const origin = absolutePosition(store.definition, id);
        const size = nodeSize(store.definition, id, (t) => isContainerType(t, store.nodeTypes));
        const topLeft = flow.flowToScreenPosition(origin);
        const bottomRight = flow.flowToScreenPosition({ x: origin.x + size.width, y: origin.y + size.height });
        const box = { left: topLeft.x, top: topLeft.y, right: bottomRight.x, bottom: bottomRight.y };
        const view = pane.getBoundingClientRect();
        const margin = 24;
        const inside = box.left >= view.left + margin && box.right <= view.right - margin && box.top >= view.top + margin && box.bottom <= view.bottom - margin;
        if (inside) return;
        const { x, y, zoom } = flow.getViewport();
        let dx = 0;
        let dy = 0;
        if (box.right > view.right - margin) dx = view.right - margin - box.right;
        if (box.left + dx < view.left + margin) dx = view.left + margin - box.left;
        if (box.bottom > view.bottom - margin) dy = view.bottom - margin - box.bottom;
        if (box.top + dy < view.top + margin) dy = view.top + margin - box.top;
        void flow.setViewport({ x: x + dx, y: y + dy, zoom }, { duration: 150 });
      }, 60);
    },
    [flow],
  );

  const shortcutActions = useMemo(
    () => ({
      save: () => void save(),
      layout: () => void autoLayout(),
      // As the first view: the whole graph when it is legible-ish (it zoomed no further out
      // than 0.85, so in a 1024 px window the fan-out demo's ends stayed cut after "Fit view").
      fitView: () => showWholeGraph(flow, document.querySelector(".fm-canvas")),
      toggleHelp: () => setDialog((d) => (d === "help" ? null : "help")),
      closeDialogs: () => {
        const open = dialogRef.current !== null || paletteOpenRef.current;
        setDialog(null);
        setPaletteOpen(false);
        return open;
      },
      pastePosition: (pointer: { x: number; y: number } | null) => {
        if (pointer) return flow.screenToFlowPosition(pointer);
        const rect = document.querySelector(".fm-canvas")?.getBoundingClientRect();
        return rect ? flow.screenToFlowPosition({ x: rect.left + rect.width / 3, y: rect.top + rect.height / 3 }) : { x: 0, y: 0 };
      },
    }),
    [save, autoLayout, flow],
  );
  useShortcuts(shortcutActions);

  useEffect(() => {
    if (selectedNodeIds.length || selectedEdgeIds.length) setSidePanel("selection");
  }, [selectedNodeIds, selectedEdgeIds]);

  if (loadError) {
    return (
      <div className="fm-page" role="alert" data-testid="editor-load-error">
        <h1>Could not open this workflow</h1>
        <p>{loadError}</p>
        <a href="/workflows/">Back to workflows</a>
      </div>
    );
  }
  if (!workflow) return <div className="fm-page fm-muted" data-testid="editor-loading">Loading the editor…</div>;

  const selectedNode = selectedNodeIds.length === 1 ? definition.nodes.find((n) => n.id === selectedNodeIds[0]) : undefined;
  const selectedEdge = !selectedNodeIds.length && selectedEdgeIds.length === 1 ? definition.edges.find((e) => e.id === selectedEdgeIds[0]) : undefined;

  return (
    <div className="fm-editor" data-testid="editor">
      <header className="fm-toolbar" role="toolbar" aria-label="Editor toolbar">
        <a href="/workflows/" className="fm-back" aria-label="Back to workflows">
          ←
        </a>
        <input
          className="fm-title-input"
          aria-label="Workflow name"
          data-testid="workflow-title"
          value={definition.name}
          onChange={(e) => graphStore.getState().setWorkflowName(e.target.value)}
        />
        <span className={`fm-save-state${dirty ? " is-dirty" : ""}`} data-testid="save-state" aria-live="polite">
          {/* On a phone the short words (editor.css): the long ones pushed Save and Run off. */}
          <span className="fm-save-long">{saving ? "Saving…" : !workflowId ? "Not saved yet" : dirty ? "● Unsaved changes" : `Saved · v${workflow.version}`}</span>
          <span className="fm-save-short">{saving ? "Saving…" : !workflowId ? "New" : dirty ? "● Unsaved" : `v${workflow.version}`}</span>
        </span>
        <span className="fm-spacer" />
        <button type="button" className="fm-btn fm-tb-narrowest" data-testid="undo" disabled={!canUndo} onClick={() => graphStore.getState().undo()} title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" className="fm-btn fm-tb-narrowest" data-testid="redo" disabled={!canRedo} onClick={() => graphStore.getState().redo()} title="Redo (Ctrl+Shift+Z)">
          Redo
        </button>
        <button type="button" className="fm-btn fm-tb-narrow" data-testid="auto-layout" disabled={layingOut} onClick={() => void autoLayout()} title="Auto-layout (Shift+L)">
          Auto-layout
        </button>
        <button
          type="button"
          className={`fm-btn fm-tb-narrow${snapToGrid ? " is-on" : ""}`}
          aria-pressed={snapToGrid}
          data-testid="snap-toggle"
          onClick={() => graphStore.getState().toggleSnap()}
          title="Snap to grid (G)"
        >
          Snap
        </button>
        <button type="button" className="fm-btn fm-tb-narrow" data-testid="open-settings" aria-pressed={sidePanel === "settings"} onClick={() => setSidePanel((p) => (p === "settings" ? "selection" : "settings"))}>
          Settings
        </button>
        <button type="button" className="fm-btn fm-tb-extra" data-testid="open-versions" onClick={() => setDialog("versions")}>
          Versions
        </button>
        <button type="button" className="fm-btn fm-tb-extra" data-testid="import" onClick={() => fileInput.current?.click()}>
          Import
        </button>
        <input
          ref={fileInput}
          type="file"
          accept="application/json,.json"
          hidden
          data-testid="import-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) void importJson(file);
            e.target.value = "";
          }}
        />
        <button type="button" className="fm-btn fm-tb-extra" data-testid="export" onClick={exportJson}>
          Export
        </button>
        <button type="button" className="fm-btn fm-tb-extra" data-testid="open-help" onClick={() => setDialog("help")} aria-label="Keyboard shortcuts">
          ?
        </button>
        <ToolbarMore
          // "More ▾" in a window, "⋯" on a phone (as the run bar's menu) where room is short.
          label={<><span className="fm-more-word">More ▾</span><span className="fm-more-dots" aria-hidden="true">⋯</span><span className="fm-more-dots fm-visually-hidden">More</span></>}
          items={[
            { label: "Undo", testId: "undo", onSelect: () => graphStore.getState().undo(), narrow: "narrowest", disabled: !canUndo },
            { label: "Redo", testId: "redo", onSelect: () => graphStore.getState().redo(), narrow: "narrowest", disabled: !canRedo },
            { label: "Auto-layout", testId: "auto-layout", onSelect: () => void autoLayout(), narrow: "narrow", disabled: layingOut },
            { label: snapToGrid ? "Snap to grid: on" : "Snap to grid: off", testId: "snap-toggle", onSelect: () => graphStore.getState().toggleSnap(), narrow: "narrow" },
            { label: "Workflow settings", testId: "settings", onSelect: () => setSidePanel((p) => (p === "settings" ? "selection" : "settings")), narrow: "narrow" },
            { label: "Versions…", testId: "versions", onSelect: () => setDialog("versions") },
            { label: "Import…", testId: "import", onSelect: () => fileInput.current?.click() },
            { label: "Export", testId: "export", onSelect: exportJson },
            { label: "Keyboard shortcuts", testId: "help", onSelect: () => setDialog("help") },
          ]}
        />
        <button type="button" className="fm-btn fm-btn-primary" data-testid="save" disabled={saving} onClick={() => void save()} title="Save (Ctrl+S)">
          Save
        </button>
        <button type="button" className="fm-btn fm-btn-run" data-testid="run" onClick={() => {
          setRunUntil(null);
          setDialog("run");
        }}>
          ▶ Run
        </button>
      </header>
      <RunBar
        executions={runData.executions}
        execution={runData.execution}
        selectedId={runData.selectedId}
        hidden={runData.hidden}
        onSelect={runData.select}
        onHide={runData.setHidden}
        onApprove={() => setDialog("approve")}
        onRerun={() => setDialog("rerun")}
        nodeName={(id) => definition.nodes.find((n) => n.id === id)?.name}
      />
      <div className="fm-editor-body">
        {/* Phone layout only (editor.css): the palette is a drawer this button opens. */}
        <button ref={paletteToggle} type="button" className="fm-btn fm-btn-primary fm-palette-toggle" data-testid="open-palette" aria-expanded={paletteOpen}
                aria-controls="fm-palette" onClick={() => setPaletteOpen(true)}>
          + Add node
        </button>
        {paletteOpen ? <div className="fm-sheet-backdrop" data-testid="palette-backdrop" onClick={() => setPaletteOpen(false)} /> : null}
        <Palette
          nodeTypes={nodeTypeList}
          // The drawer closes on an added node, which the canvas then shows (a no-op in a wider window).
          onAdd={(type) => {
            addAtCenter(type);
            setPaletteOpen(false);
          }}
          unavailable={definition.nodes.some((n) => n.type === "start") ? { start: "This workflow already has its Start node" } : {}}
          open={paletteOpen}
          onClose={() => {
            setPaletteOpen(false);
            // Back to the button that opened it (the focused close button disappears).
            paletteToggle.current?.focus();
          }}
        />
        <Canvas issues={validation.index} onAdded={revealNode} />
        {/* On a phone the panel is a sheet over the canvas, shown while it has something to
            show (a selection, the settings): `is-active`, and its close button. */}
        <aside className={`fm-side${sidePanel === "settings" || selectedNode || selectedEdge ? " is-active" : ""}`} aria-label="Properties"
               data-testid="properties-panel">
          <div className="fm-sheet-head fm-side-head">
            <strong>{sidePanel === "settings" ? "Workflow settings" : selectedNode ? "Node settings" : "Connection settings"}</strong>
            <button
              type="button"
              className="fm-btn"
              data-testid="close-side-panel"
              onClick={() => {
                setSidePanel("selection");
                graphStore.getState().select([], []);
                // The keyboard goes on from the node whose sheet closed (else from nowhere).
                if (selectedNode) document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(selectedNode.id)}"]`)?.focus();
              }}
            >
              Close ✕
            </button>
          </div>
          {sidePanel === "settings" ? (
            <SettingsPanel workflowId={workflowId} />
          ) : selectedNode ? (
            <NodePanel node={selectedNode} execution={runData.hidden ? null : runData.execution} workflowId={workflowId} onRerunFrom={rerunFrom} onRunTo={runTo} />
          ) : selectedEdge ? (
            <EdgePanel edge={selectedEdge} />
          ) : (
            <div className="fm-panel-body fm-muted" data-testid="empty-panel">
              <p>Select a node to edit its configuration, or a connection to edit its branch.</p>
              <p>{selectedNodeIds.length > 1 ? `${selectedNodeIds.length} nodes selected.` : ""}</p>
              <button type="button" className="fm-btn" onClick={() => setSidePanel("settings")}>
                Workflow settings
              </button>
            </div>
          )}
        </aside>
      </div>
      <footer className={`fm-issues${validation.errors.length ? " has-errors" : ""}`} data-testid="issues" aria-live="polite">
        {validation.errors.length === 0 && validation.warnings.length === 0 ? (
          <span className="fm-ok">✓ No problems found</span>
        ) : (
          <details>
            <summary data-testid="issues-summary">
              {issuesSummary(validation.errors.length, validation.warnings.length)}
            </summary>
            <ul>
              {[...validation.errors.map((i) => ({ ...i, level: "error" })), ...validation.warnings.map((i) => ({ ...i, level: "warning" }))].map((issue, index) => (
                <li key={index} className={`fm-issue-${issue.level}`}>
                  {/* The whole line is the button (people click the message, not only the id),
                      and it brings the node into view: it may be far off screen. */}
                  <button
                    type="button"
                    className="fm-issue-btn"
                    onClick={() => {
                      graphStore.getState().select(issue.nodeId ? [issue.nodeId] : [], issue.edgeId ? [issue.edgeId] : []);
                      if (issue.nodeId) revealNode(issue.nodeId);
                    }}
                  >
                    <span className="fm-issue-where">{issueWhere(definition, issue)}</span>: {issue.message}
                  </button>
                </li>
              ))}
            </ul>
          </details>
        )}
      </footer>
      {dialog === "run" && <RunDialog busy={running} onRun={(input, priority, pins, reuseFrom) => run(input, priority, pins, runUntil ?? undefined, reuseFrom)}
                                      reuseRun={reuseSource}
                                      previewReuse={previewReuse}
                                      onClose={() => setDialog(null)} initialInput={runData.executions[0]?.input}
                                      until={runUntil ? definition.nodes.find((n) => n.id === runUntil)?.name || runUntil : undefined}
                                      pinnedCount={pinnedCount}
                                      problems={validation.errors.map((issue) => {
                                        const where = issueWhere(definition, issue);
                                        return where === "workflow" ? issue.message : `${where}: ${issue.message}`;
                                      })} />}
      {dialog === "rerun" && runData.execution && (
        <RerunDialog
          execution={runData.execution}
          latestVersion={workflow.version}
          // After an edit the latest version is the likely choice; unchanged, they are the same.
          initialVersion={runData.execution.version === workflow.version ? "original" : "latest"}
          renderInput={(value, onChange) => (
            <CodeField id="rerun-input" testId="rerun-input" label="Re-run input JSON" language="javascript" value={value} onChange={onChange} minHeight="120px" />
          )}
          onClose={() => setDialog(null)}
          onStarted={(started) => {
            setDialog(null);
            runData.refresh(String(started.id));
            graphStore.getState().notify("success", `Execution ${started.id} started (v${started.version}).`);
          }}
        />
      )}
      {dialog === "approve" && runData.execution && waitingApprovalOf(runData.execution) && (
        <ApprovalDialog
          executionId={runData.execution.id}
          approval={withNodeName(waitingApprovalOf(runData.execution)!, definition.nodes)}
          onClose={() => setDialog(null)}
          onDone={(_execution, approved) => {
            graphStore.getState().notify("success", approved ? "Approved: the run goes on." : "Rejected: the run goes on with approved: false.");
            runData.refresh(runData.selectedId);
          }}
        />
      )}
      {dialog === "versions" && workflowId && <VersionsDialog workflowId={workflowId} currentVersion={workflow.version} draft={definition} onRestore={restore} onClose={() => setDialog(null)} />}
      {dialog === "help" && <HelpOverlay onClose={() => setDialog(null)} />}
      <Toast />
    </div>
  );
}

function withNodeName(approval: WaitingApprovalInfo, nodes: readonly WorkflowNode[]): WaitingApprovalInfo {
  return { ...approval, name: nodes.find((n) => n.id === approval.nodeId)?.name ?? approval.name };
}

/** Where a problem is, in the words of the canvas: the node's name ("HTTP Request", as on
 * its box), a connection as "Start → Merge", else the workflow. The list named nodes by id
 * ("http_2"), which the canvas shows only in the node's panel. */
function issueWhere(definition: WorkflowDefinition, issue: { nodeId?: string | null; edgeId?: string | null }): string {
  const name = (id: string) => {
    const node = definition.nodes.find((n) => n.id === id);
    return node?.name || id;
  };
  if (issue.nodeId) return name(issue.nodeId);
  if (issue.edgeId) {
    const edge = definition.edges.find((e) => e.id === issue.edgeId);
    return edge ? `${name(edge.source)} → ${name(edge.target)}` : issue.edgeId;
  }
  return "workflow";
}

/** The run "Run to here" may reuse outputs of: the workflow's newest run, once it has ended
 * (a run still going has no outputs to lend yet; the server refuses it). */
function lastFinishedRun(executions: readonly ExecutionSummary[]): number | undefined {
  const last = executions[0];
  return last && !["queued", "running", "paused"].includes(last.status) ? last.id : undefined;
}

/** A message the list page left for this workflow (an import renamed because its name was
 * taken), shown once as a toast. */
function showLeftNotice(workflowId: string): void {
  try {
    const raw = window.sessionStorage.getItem(EDITOR_NOTICE_KEY);
    if (!raw) return;
    window.sessionStorage.removeItem(EDITOR_NOTICE_KEY);
    const left = JSON.parse(raw) as { workflowId?: string; notice?: string };
    if (left.workflowId === workflowId && left.notice) graphStore.getState().notify("success", left.notice);
  } catch {
    // No storage or a stale value: nothing to say.
  }
}
