import { describe, expect, it } from "vitest";

import type { WorkflowDefinition } from "../src/api/types";
import { FlowConverter, indexIssues, NO_ISSUES, statusByNode, statusByNodeFromCounts } from "../src/canvas/convert";
import { runBadges } from "../src/canvas/useRunData";
import { bodyOutcomesFromCounts, bodyOutcomesFromRuns, partialBodyBadges } from "../src/lib/runBadges";
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

describe("loop body badges", () => {
  const parents = new Map([["work", "loop"], ["check", "loop"]]);
  // Ten items; `check` failed in items 2, 5 and 7 (item 5 only after a retry that failed too).
  const runs = [
    { nodeId: "start", status: "succeeded" as const, attempt: 1, iteration: null },
    { nodeId: "loop", status: "succeeded" as const, attempt: 1, iteration: null },
    ...Array.from({ length: 10 }, (_, i) => ({ nodeId: "work", status: "succeeded" as const, attempt: 1, iteration: i })),
    ...Array.from({ length: 10 }, (_, i) => ({
      nodeId: "check", status: [2, 5, 7].includes(i) ? ("failed" as const) : ("succeeded" as const), attempt: 1, iteration: i,
    })),
    { nodeId: "check", status: "failed" as const, attempt: 2, iteration: 5 },
  ];

  it("says how many items failed when the loop succeeded, not a bare failed", () => {
    const badges = runBadges({ status: "succeeded", nodeRuns: runs as never, state: {} }, parents);
    expect(badges.status).toMatchObject({ loop: "succeeded", work: "succeeded", check: "partial" });
    expect(badges.text).toEqual({ check: "3 of 10 failed" });
  });

  it("keeps failed when the loop itself failed", () => {
    const failedLoop = runs.map((r) => (r.nodeId === "loop" ? { ...r, status: "failed" as const } : r));
    const badges = runBadges({ status: "failed", nodeRuns: failedLoop as never, state: {} }, parents);
    expect(badges.status).toMatchObject({ loop: "failed", check: "failed" });
    expect(badges.text).toEqual({});
  });

  it("counts items cut by cancelOnFailure apart from failed ones", () => {
    const outcomes = bodyOutcomesFromRuns([
      { nodeId: "work", status: "failed", attempt: 1, iteration: 0 },
      { nodeId: "work", status: "cancelled", attempt: 1, iteration: 1 },
      { nodeId: "work", status: "cancelled", attempt: 1, iteration: 2 },
      { nodeId: "work", status: "succeeded", attempt: 1, iteration: 3 },
    ]);
    const badges = partialBodyBadges({ loop: "succeeded", work: "failed" }, parents, outcomes);
    expect(badges.text).toEqual({ work: "1 of 4 failed, 2 cancelled" });
    // A nested loop: inner items 0 and 1 of outer items 0 and 1 are four items, told apart
    // by their trace ids (the item number alone made them two); a retry is the same item.
    const nested = bodyOutcomesFromRuns([
      { nodeId: "work", status: "failed", attempt: 1, iteration: 0, traceId: "trace-a-001-001" },
      { nodeId: "work", status: "succeeded", attempt: 2, iteration: 0, traceId: "trace-a-001-001" },
      { nodeId: "work", status: "succeeded", attempt: 1, iteration: 1, traceId: "trace-a-001-002" },
      { nodeId: "work", status: "failed", attempt: 1, iteration: 0, traceId: "trace-a-002-001" },
      { nodeId: "work", status: "succeeded", attempt: 1, iteration: 1, traceId: "trace-a-002-002" },
    ]);
    expect(nested.get("work")).toEqual({ total: 4, failed: 1, cancelled: 0, unit: "items" });
    const onlyCut = partialBodyBadges({ loop: "succeeded", work: "cancelled" }, parents,
                                      new Map([["work", { total: 4, failed: 0, cancelled: 2, unit: "items" as const }]]));
    expect(onlyCut).toEqual({ status: { loop: "succeeded", work: "partial" }, text: { work: "2 of 4 cancelled" } });
  });

  it("counts node runs (a retry too) when the execution carries only per-node counts", () => {
    const counts = { loop: { succeeded: 1 }, check: { succeeded: 7, failed: 4 } };
    const badges = partialBodyBadges(statusByNodeFromCounts(counts), parents, bodyOutcomesFromCounts(counts));
    expect(badges.text).toEqual({ check: "4 of 11 runs failed" });
  });

  it("passes the text to the node and re-renders a node whose text changed", () => {
    const converter = new FlowConverter();
    const first = converter.nodes(definition, types, new Set(), { loop: "succeeded", body: "partial" }, NO_ISSUES, { body: "1 of 2 failed" });
    expect(first.find((n) => n.id === "body")?.data.statusText).toBe("1 of 2 failed");
    const second = converter.nodes(definition, types, new Set(), { loop: "succeeded", body: "partial" }, NO_ISSUES, { body: "2 of 2 failed" });
    expect(second.find((n) => n.id === "body")?.data.statusText).toBe("2 of 2 failed");
  });
});
