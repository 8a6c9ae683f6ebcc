import { describe, expect, it } from "vitest";

import type { WorkflowDefinition } from "../src/api/types";
import { completionNames, upstreamNodes } from "../src/lib/completions";

const node = (id: string, type: string, extra: Record<string, unknown> = {}) => ({ id, type, name: id.toUpperCase(), position: { x: 0, y: 0 }, config: {}, ...extra });

const DEF: WorkflowDefinition = {
  schemaVersion: 1,
  name: "t",
  settings: { variables: { apiBase: "x", limit: 3 } },
  nodes: [
    node("start", "start"),
    node("a", "http"),
    node("b", "http"),
    node("m", "merge"),
    node("loop", "loop", { config: { itemVariable: "user" } }),
    node("work", "transform", { parentId: "loop" }),
    node("later", "log"),
  ],
  edges: [
    { id: "e1", source: "start", target: "a" },
    { id: "e2", source: "start", target: "b", branch: { name: "fast" } },
    { id: "e3", source: "a", target: "m" },
    { id: "e4", source: "b", target: "m" },
    { id: "e5", source: "m", target: "loop" },
    { id: "e6", source: "loop", target: "later" },
  ],
};

describe("completionNames", () => {
  it("offers upstream ids, arriving branch names, variables and the loop item", () => {
    const labels = completionNames(DEF, "work", { id: 1 }).map((n) => n.label);
    expect(labels).toEqual(expect.arrayContaining(["input", "variables", "parallel", "branch", "user", "start", "a", "b", "m", "branch_a", "fast"]));
    expect(labels).not.toContain("loop"); // its output does not exist inside its body
    expect(labels).not.toContain("later");
    const variables = completionNames(DEF, "work").find((n) => n.label === "variables");
    expect(variables?.members).toEqual(["apiBase", "limit"]);
    expect(completionNames(DEF, "work", { id: 1 }).find((n) => n.label === "input")?.members).toEqual(["id"]);
  });

  it("upstream of a node after the loop includes the loop but not its body", () => {
    expect(upstreamNodes(DEF, "later").sort()).toEqual(["a", "b", "loop", "m", "start"]);
  });
});
