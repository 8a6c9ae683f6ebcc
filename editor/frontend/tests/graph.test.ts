import { describe, expect, it } from "vitest";

import type { WorkflowDefinition } from "../src/api/types";
import { branchInfo, checkConnection, cycleIfConnected, defaultBranchName, findCycle, outputHandles, precheck } from "../src/lib/graph";
import { NODE_TYPES } from "./fixtures";

const types = Object.fromEntries(NODE_TYPES.map((t) => [t.type, t]));

function def(nodes: [string, string, string?][], edges: [string, string, string?][]): WorkflowDefinition {
  return {
    schemaVersion: 1,
    name: "t",
    settings: {},
    nodes: nodes.map(([id, type, parentId]) => ({ id, type, name: id, position: { x: 0, y: 0 }, config: type === "delay" ? { duration: 1 } : {}, ...(parentId ? { parentId } : {}) })),
    edges: edges.map(([source, target, sourceHandle], i) => ({ id: `e${i + 1}`, source, target, ...(sourceHandle ? { sourceHandle } : {}) })),
  };
}

describe("branch naming", () => {
  it("names branches like the engine: branch_a … branch_z, branch_aa", () => {
    expect(defaultBranchName(0)).toBe("branch_a");
    expect(defaultBranchName(2)).toBe("branch_c");
    expect(defaultBranchName(25)).toBe("branch_z");
    expect(defaultBranchName(26)).toBe("branch_aa");
    expect(defaultBranchName(27)).toBe("branch_ab");
  });

  it("labels only the edges of a fan-out, in edge order, with custom names kept", () => {
    const d = def(
      [["s", "start"], ["a", "delay"], ["b", "delay"], ["c", "delay"], ["m", "merge"]],
      [["s", "a"], ["s", "b"], ["s", "c"], ["a", "m"], ["b", "m"], ["c", "m"]],
    );
    d.edges[1] = { ...d.edges[1]!, branch: { name: "fast" } };
    const info = branchInfo(d.edges);
    expect([...info.entries()].map(([id, b]) => [id, b.name, b.custom])).toEqual([
      ["e1", "branch_a", false],
      ["e2", "fast", true],
      ["e3", "branch_c", false],
    ]);
  });

  it("does not count condition handles and error routes as a fan-out", () => {
    const d = def([["s", "start"], ["c", "condition"], ["y", "delay"], ["n", "delay"]], [["s", "c"], ["c", "y", "true"], ["c", "n", "false"]]);
    expect(branchInfo(d.edges).size).toBe(0);
  });
});

describe("cycles", () => {
  const chain = def([["s", "start"], ["a", "delay"], ["b", "delay"]], [["s", "a"], ["a", "b"]]);

  it("finds the cycle a new edge would close, as a path", () => {
    expect(cycleIfConnected(chain.edges, "b", "a")).toEqual(["a", "b", "a"]);
    expect(cycleIfConnected(chain.edges, "b", "s")).toEqual(["s", "a", "b", "s"]);
    expect(cycleIfConnected(chain.edges, "s", "b")).toBeNull();
  });

  it("refuses a cycle at connect time with a message naming the path", () => {
    const check = checkConnection(chain, "b", "a", undefined);
    expect(check.ok).toBe(false);
    expect(check.message).toMatch(/cycle \(a → b → a\)/);
  });

  it("finds an existing cycle in a whole graph", () => {
    const cyclic = def([["a", "delay"], ["b", "delay"], ["c", "delay"]], [["a", "b"], ["b", "c"], ["c", "a"]]);
    expect(findCycle(["a", "b", "c"], cyclic.edges)).toEqual(["a", "b", "c", "a"]);
    expect(findCycle(["s", "a", "b"], chain.edges)).toBeNull();
  });

  it("refuses self loops, duplicates, edges into start and across a loop boundary", () => {
    const d = def([["s", "start"], ["l", "loop"], ["x", "delay", "l"], ["y", "delay"]], [["s", "y"]]);
    expect(checkConnection(d, "y", "y", undefined).ok).toBe(false);
    expect(checkConnection(d, "s", "y", undefined).message).toMatch(/already connected/);
    expect(checkConnection(d, "y", "s", undefined).message).toMatch(/Start/);
    expect(checkConnection(d, "y", "x", undefined).message).toMatch(/loop boundary/);
    expect(checkConnection(d, "s", "l", undefined).ok).toBe(true);
  });
});

describe("handles and pre-check", () => {
  it("shows true/false on condition and an error handle under onError=route", () => {
    const d = def([["c", "condition"], ["a", "delay"]], []);
    expect(outputHandles(d.nodes[0]!, types.condition)).toEqual(["true", "false"]);
    expect(outputHandles({ ...d.nodes[1]!, config: { onError: "route" } }, types.delay)).toEqual(["out", "error"]);
  });

  it("flags what the server would refuse, naming the node or edge", () => {
    const d = def([["a", "delay"], ["b", "delay"], ["l", "loop"], ["x", "delay", "l"]], [["a", "b"], ["b", "a"], ["a", "x"]]);
    d.nodes[0]!.config = {};
    const messages = precheck(d, types).map((i) => `${i.nodeId ?? i.edgeId ?? "-"}: ${i.message}`);
    // In the server's words (the problems list labels both alike; lib/issueText.ts).
    expect(messages).toContain("a: config: 'duration' is a required property");
    expect(messages).toContain("-: a workflow needs exactly one top-level start node; found 0");
    expect(messages).toContain("e3: edges must stay inside one container");
    expect(messages.some((m) => m.includes("cycle: a → b → a"))).toBe(true);
  });
});
