import { beforeEach, describe, expect, it } from "vitest";

import { parseFragment } from "../src/store/clipboard";
import { createGraphStore, emptyDefinition, normaliseDefinition, orderParentsFirst } from "../src/store/graphStore";
import { NODE_TYPES } from "./fixtures";

function newStore() {
  const store = createGraphStore(emptyDefinition("Test"));
  store.getState().setNodeTypes(NODE_TYPES);
  return store;
}

describe("graph store", () => {
  let store: ReturnType<typeof newStore>;
  beforeEach(() => {
    store = newStore();
  });

  it("adds nodes with readable ids, names and the type's defaults", () => {
    const s = store.getState();
    expect(s.addNode("start", { x: 0, y: 0 })).toBe("start");
    expect(s.addNode("delay", { x: 10.4, y: 20.6 })).toBe("delay");
    expect(s.addNode("delay", { x: 0, y: 0 })).toBe("delay_2");
    const nodes = store.getState().definition.nodes;
    expect(nodes[1]).toEqual({ id: "delay", type: "delay", name: "Delay", position: { x: 10, y: 21 }, config: { duration: 1000 } });
    expect(nodes[2]!.name).toBe("Delay 2");
    expect(store.getState().selectedNodeIds).toEqual(["delay_2"]);
    expect(store.getState().dirty).toBe(true);
  });

  it("connects nodes in SPEC form and refuses a cycle without changing the graph", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.addNode("delay", { x: 0, y: 0 });
    s.addNode("delay", { x: 0, y: 0 });
    expect(s.connect("start", "delay", "out")).toMatchObject({ ok: true, edgeId: "e1" });
    expect(s.connect("delay", "delay_2", null)).toMatchObject({ ok: true, edgeId: "e2" });
    const refused = s.connect("delay_2", "delay", "out");
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/cycle/);
    expect(store.getState().definition.edges).toEqual([
      { id: "e1", source: "start", target: "delay" },
      { id: "e2", source: "delay", target: "delay_2" },
    ]);
  });

  it("undoes and redoes every step, and a drag is one step", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.addNode("delay", { x: 100, y: 0 });
    s.beginGesture();
    for (let i = 1; i <= 10; i++) s.moveNodes({ delay: { x: 100 + i * 10, y: i } });
    s.endGesture();
    expect(store.getState().definition.nodes[1]!.position).toEqual({ x: 200, y: 10 });
    s.undo();
    expect(store.getState().definition.nodes[1]!.position).toEqual({ x: 100, y: 0 });
    s.undo();
    expect(store.getState().definition.nodes.map((n) => n.id)).toEqual(["start"]);
    s.redo();
    s.redo();
    expect(store.getState().definition.nodes[1]!.position).toEqual({ x: 200, y: 10 });
    // A click without movement adds no history step.
    const steps = store.getState().past.length;
    s.beginGesture();
    s.endGesture();
    expect(store.getState().past.length).toBe(steps);
  });

  it("knows when the canvas matches what was saved", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.markSaved();
    expect(store.getState().dirty).toBe(false);
    s.addNode("delay", { x: 0, y: 0 });
    expect(store.getState().dirty).toBe(true);
    s.undo();
    expect(store.getState().dirty).toBe(false);
  });

  it("copies and pastes a selection with fresh ids, keeping inner edges and loop bodies", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.addNode("loop", { x: 200, y: 0 });
    s.addNode("delay", { x: 40, y: 60 }, "loop");
    s.addNode("delay", { x: 240, y: 60 }, "loop");
    s.connect("delay", "delay_2");
    s.connect("start", "loop");
    s.select(["loop"]);
    const fragment = s.copySelection();
    expect(fragment?.nodes.map((n) => n.id)).toEqual(["loop", "delay", "delay_2"]);
    expect(fragment?.edges.map((e) => e.id)).toEqual(["e1"]);
    // Through the clipboard text, as between two workflows.
    const parsed = parseFragment(JSON.stringify(fragment));
    expect(parsed).not.toBeNull();
    const pasted = s.paste(parsed!);
    expect(pasted).toEqual(["loop_2", "delay_3", "delay_4"]);
    const def = store.getState().definition;
    const loop2 = def.nodes.find((n) => n.id === "loop_2")!;
    expect(loop2.position).toEqual({ x: 240, y: 40 });
    expect(loop2.name).toBe("Loop 2");
    expect(def.nodes.find((n) => n.id === "delay_3")!).toMatchObject({ parentId: "loop_2", position: { x: 40, y: 60 } });
    expect(def.edges.at(-1)).toEqual({ id: "e3", source: "delay_3", target: "delay_4" });
    s.undo();
    expect(store.getState().definition.nodes).toHaveLength(4);
  });

  it("deletes a loop with its body and every edge touching them", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.addNode("loop", { x: 200, y: 0 });
    s.addNode("delay", { x: 40, y: 60 }, "loop");
    s.connect("start", "loop");
    s.select(["loop"]);
    s.deleteSelection();
    expect(store.getState().definition.nodes.map((n) => n.id)).toEqual(["start"]);
    expect(store.getState().definition.edges).toEqual([]);
  });

  it("moves a node into a loop and drops the edges that would cross its boundary", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.addNode("loop", { x: 200, y: 0 });
    s.addNode("delay", { x: 600, y: 0 });
    s.connect("start", "delay");
    s.setParent("delay", "loop", { x: 30, y: 60 });
    const def = store.getState().definition;
    expect(def.nodes[2]).toMatchObject({ parentId: "loop", position: { x: 30, y: 60 } });
    expect(def.edges).toEqual([]);
    s.setParent("delay", undefined, { x: 500, y: 0 });
    expect("parentId" in store.getState().definition.nodes[2]!).toBe(false);
  });

  it("edits branch settings on an edge and removes an emptied branch", () => {
    const s = store.getState();
    s.addNode("start", { x: 0, y: 0 });
    s.addNode("delay", { x: 0, y: 0 });
    s.connect("start", "delay");
    s.updateEdgeBranch("e1", { name: "fast", timeout: 500 });
    expect(store.getState().definition.edges[0]).toEqual({ id: "e1", source: "start", target: "delay", branch: { name: "fast", timeout: 500 } });
    s.updateEdgeBranch("e1", {});
    expect(store.getState().definition.edges[0]).toEqual({ id: "e1", source: "start", target: "delay" });
  });
});

describe("definition helpers", () => {
  it("normalises a loaded definition without changing its meaning", () => {
    const def = normaliseDefinition(
      {
        nodes: [{ id: "a", type: "start", name: "A", position: { x: 1, y: 2 }, config: {} }],
        edges: [{ id: "e1", source: "a", target: "b", sourceHandle: "out", branch: {} }],
      } as never,
      "Fallback",
    );
    expect(def).toEqual({
      schemaVersion: 1,
      name: "Fallback",
      settings: {},
      nodes: [{ id: "a", type: "start", name: "A", position: { x: 1, y: 2 }, config: {} }],
      edges: [{ id: "e1", source: "a", target: "b" }],
    });
  });

  it("orders parents before children for React Flow sub-flows", () => {
    const ordered = orderParentsFirst([
      { id: "child", type: "delay", name: "c", position: { x: 0, y: 0 }, config: {}, parentId: "inner" },
      { id: "inner", type: "loop", name: "i", position: { x: 0, y: 0 }, config: {}, parentId: "outer" },
      { id: "outer", type: "loop", name: "o", position: { x: 0, y: 0 }, config: {} },
    ]);
    expect(ordered.map((n) => n.id)).toEqual(["outer", "inner", "child"]);
  });
});
