import { describe, expect, it } from "vitest";

import type { WorkflowDefinition } from "../src/api/types";
import { FlowConverter, indexIssues, NO_ISSUES, statusByNode, statusByNodeFromCounts } from "../src/canvas/convert";
import { absolutePosition, containerAt, LOOP_MIN_HEIGHT, LOOP_MIN_WIDTH, NODE_WIDTH, nodeSizes } from "../src/canvas/geometry";
import { NODE_TYPES } from "./fixtures";

const types = Object.fromEntries(NODE_TYPES.map((t) => [t.type, t]));

const definition: WorkflowDefinition = {
  schemaVersion: 1,
  name: "Loop",
  settings: {},
  nodes: [
    { id: "body", type: "delay", name: "Body", position: { x: 40, y: 60 }, config: { duration: 5 }, parentId: "loop" },
    { id: "start", type: "start", name: "Start", position: { x: 0, y: 0 }, config: {} },
    { id: "loop", type: "loop", name: "Loop", position: { x: 300, y: 100 }, config: {} },
    { id: "a", type: "delay", name: "A", position: { x: 700, y: 0 }, config: {} },
    { id: "b", type: "delay", name: "B", position: { x: 700, y: 200 }, config: {} },
  ],
  edges: [
    { id: "e1", source: "start", target: "loop" },
    { id: "e2", source: "loop", target: "a" },
    { id: "e3", source: "loop", target: "b", branch: { name: "slow" } },
  ],
};

describe("FlowConverter", () => {
  it("derives React Flow nodes: parents first, sub-flow parentId, loop sized by its body", () => {
    const nodes = new FlowConverter().nodes(definition, types, new Set(["a"]), {}, NO_ISSUES);
    expect(nodes.map((n) => n.id)).toEqual(["loop", "body", "start", "a", "b"]);
    const loop = nodes[0]!;
    expect(loop.type).toBe("loop");
    expect(loop.width).toBe(Math.max(LOOP_MIN_WIDTH, 40 + NODE_WIDTH + 24));
    expect(loop.height).toBe(LOOP_MIN_HEIGHT);
    expect(nodes[1]).toMatchObject({ id: "body", parentId: "loop", position: { x: 40, y: 60 }, type: "step" });
    expect(nodes.find((n) => n.id === "a")?.selected).toBe(true);
  });

  it("returns the same object for unchanged nodes so only edited nodes re-render", () => {
    const converter = new FlowConverter();
    const first = converter.nodes(definition, types, new Set(), {}, NO_ISSUES);
    const moved: WorkflowDefinition = {
      ...definition,
      nodes: definition.nodes.map((n) => (n.id === "a" ? { ...n, position: { x: 720, y: 0 } } : n)),
    };
    const second = converter.nodes(moved, types, new Set(), {}, NO_ISSUES);
    const changed = second.filter((n, i) => n !== first[i]).map((n) => n.id);
    expect(changed).toEqual(["a"]);
  });

  it("derives edges with handles and branch labels", () => {
    const edges = new FlowConverter().edges(definition, new Set(), indexIssues([{ message: "bad", edgeId: "e2" }]));
    expect(edges.map((e) => [e.id, e.sourceHandle, e.targetHandle, e.data?.branch?.name ?? null])).toEqual([
      ["e1", "out", "in", null],
      ["e2", "out", "in", "branch_a"],
      ["e3", "out", "in", "slow"],
    ]);
    expect(edges[1]!.className).toContain("fm-edge-error");
    expect(edges[1]!.data?.issues).toEqual(["bad"]);
  });
});

describe("geometry", () => {
  it("computes absolute positions and finds the loop under a point", () => {
    expect(absolutePosition(definition, "body")).toEqual({ x: 340, y: 160 });
    const isContainer = (n: { type: string }) => n.type === "loop";
    expect(containerAt(definition, { x: 320, y: 120 }, isContainer)?.id).toBe("loop");
    expect(containerAt(definition, { x: 100, y: 100 }, isContainer)).toBeNull();
    expect(containerAt(definition, { x: 320, y: 120 }, isContainer, new Set(["loop"]))).toBeNull();
    expect(nodeSizes(definition, isContainer).get("start")).toEqual({ width: NODE_WIDTH, height: 64 });
  });
});

describe("run status", () => {
  it("keeps the latest attempt per node and rolls loop items up (running beats done)", () => {
    const status = statusByNode([
      { nodeId: "a", status: "failed", attempt: 1, iteration: null },
      { nodeId: "a", status: "succeeded", attempt: 2, iteration: null },
      { nodeId: "body", status: "succeeded", attempt: 1, iteration: 0 },
      { nodeId: "body", status: "running", attempt: 1, iteration: 1 },
      { nodeId: "c", status: "failed", attempt: 1, iteration: 0 },
      { nodeId: "c", status: "succeeded", attempt: 1, iteration: 1 },
    ]);
    expect(status).toEqual({ a: "succeeded", body: "running", c: "failed" });
  });

  it("reads the per-node counts a paged execution carries (running beats failed beats done)", () => {
    const status = statusByNodeFromCounts({
      loop: { running: 1 },
      body: { succeeded: 19_000, running: 4, queued: 996 },
      check: { succeeded: 10, failed: 2 },
      done: { succeeded: 0, skipped: 1 },
    });
    expect(status).toEqual({ loop: "running", body: "running", check: "failed", done: "skipped" });
  });
});
