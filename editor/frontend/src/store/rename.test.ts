import { describe, expect, it } from "vitest";

import type { WorkflowDefinition } from "../api/types";
import { formatAnyValue, parseAnyInput } from "../lib/schemaForm";
import { createGraphStore } from "./graphStore";
import { nodeIdProblem, renameNodeId, renameTemplateRefs } from "./rename";

function seedLoop(): WorkflowDefinition {
  return {
    schemaVersion: 1,
    name: "Parallel Loop",
    settings: { signalHandlers: { refresh: { action: "custom", handler: "transform" } } },
    nodes: [
      { id: "start", type: "start", name: "Start", position: { x: 0, y: 0 }, config: {} },
      { id: "transform", type: "transform", name: "Get User List", position: { x: 250, y: 0 }, config: { operation: "custom" } },
      { id: "loop", type: "loop", name: "Parallel Loop", position: { x: 500, y: 0 }, config: { arrayPath: "{{transform}}", itemVariable: "user" } },
      { id: "log", type: "log", name: "Note", parentId: "loop", position: { x: 40, y: 60 }, config: { message: "{{ transform[0].name }} of {{transform.length}}; {{transformer}} {{input.transform}}", compensate: "transform" } },
    ],
    edges: [
      { id: "e1", source: "start", target: "transform" },
      { id: "e2", source: "transform", target: "loop" },
    ],
  };
}

describe("renaming a node id", () => {
  it("carries edges, templates, compensate and signal handlers along", () => {
    const renamed = renameNodeId(seedLoop(), "transform", "users");
    expect(renamed.nodes.map((n) => n.id)).toEqual(["start", "users", "loop", "log"]);
    expect(renamed.edges).toEqual([
      { id: "e1", source: "start", target: "users" },
      { id: "e2", source: "users", target: "loop" },
    ]);
    expect(renamed.nodes[2]?.config.arrayPath).toBe("{{users}}");
    // Only whole first segments change: `transformer` and `input.transform` are other names.
    expect(renamed.nodes[3]?.config.message).toBe("{{ users[0].name }} of {{users.length}}; {{transformer}} {{input.transform}}");
    expect(renamed.nodes[3]?.config.compensate).toBe("users");
    expect(renamed.settings.signalHandlers?.refresh?.handler).toBe("users");
  });

  it("moves a loop's body along with the loop's new id", () => {
    const renamed = renameNodeId(seedLoop(), "loop", "parallel_loop");
    expect(renamed.nodes.find((n) => n.id === "log")?.parentId).toBe("parallel_loop");
  });

  it("refuses ids templates could not read or that clash", () => {
    const def = seedLoop();
    expect(nodeIdProblem(def, "transform", "users")).toBeNull();
    expect(nodeIdProblem(def, "transform", "transform")).toBeNull();
    expect(nodeIdProblem(def, "transform", "")).toMatch(/empty/);
    expect(nodeIdProblem(def, "transform", "2users")).toMatch(/letters/);
    expect(nodeIdProblem(def, "transform", "user list")).toMatch(/letters/);
    expect(nodeIdProblem(def, "transform", "input")).toMatch(/built-in/);
    expect(nodeIdProblem(def, "transform", "loop")).toMatch(/already/);
  });

  it("is one undoable step in the store, and the selection follows", () => {
    const store = createGraphStore(seedLoop());
    store.getState().select(["transform"]);
    expect(store.getState().renameNode("transform", "loop")).toMatch(/already/);
    expect(store.getState().definition.nodes[1]?.id).toBe("transform");
    expect(store.getState().renameNode("transform", "users")).toBeNull();
    expect(store.getState().selectedNodeIds).toEqual(["users"]);
    expect(store.getState().dirty).toBe(true);
    store.getState().undo();
    expect(store.getState().definition.nodes[1]?.id).toBe("transform");
    expect(store.getState().definition.nodes[2]?.config.arrayPath).toBe("{{transform}}");
  });

  it("leaves values without references untouched (same objects)", () => {
    const config = { values: { a: 1, b: ["x", "{{other}}"] } };
    expect(renameTemplateRefs(config, "transform", "users")).toBe(config);
  });
});

describe("untyped (any JSON) fields", () => {
  it("take a template as text and structured values as JSON", () => {
    expect(parseAnyInput("{{results}}")).toBe("{{results}}");
    expect(parseAnyInput("Hello {{user.name}}")).toBe("Hello {{user.name}}");
    expect(parseAnyInput('{"id": "{{user.id}}"}')).toEqual({ id: "{{user.id}}" });
    expect(parseAnyInput("[1, 2]")).toEqual([1, 2]);
    expect(parseAnyInput("12")).toBe(12);
    expect(parseAnyInput("  ")).toBeUndefined();
    expect(formatAnyValue("{{input}}")).toBe("{{input}}");
    expect(formatAnyValue({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});
