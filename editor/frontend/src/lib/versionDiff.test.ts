import { describe, expect, it } from "vitest";

import type { WorkflowDefinition } from "../api/types";
import { diffDefinitions, isEmptyDiff, shortValue } from "./versionDiff";

const node = (id: string, config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  id, type: "http", name: id, position: { x: 0, y: 0 }, config, ...extra,
});

describe("comparing a version with the draft", () => {
  const version: WorkflowDefinition = {
    nodes: [node("start"), node("fetch", { url: "https://a.example", method: "GET" }), node("old")],
    edges: [{ id: "e1", source: "start", target: "fetch" }, { id: "e2", source: "fetch", target: "old" }],
  } as WorkflowDefinition;

  it("lists added, removed and changed nodes by id, with each changed key old → new", () => {
    const draft = {
      nodes: [node("start"), { ...node("fetch", { url: "https://b.example", method: "GET", timeout: 500 }), position: { x: 300, y: 9 } }, node("new")],
      edges: [{ id: "e1", source: "start", target: "fetch" }, { id: "e9", source: "fetch", target: "new" }],
    } as WorkflowDefinition;
    const diff = diffDefinitions(version, draft);
    expect(diff.added.map((n) => n.id)).toEqual(["new"]);
    expect(diff.removed.map((n) => n.id)).toEqual(["old"]);
    // A move is no change; unset keys read as undefined.
    expect(diff.changed).toEqual([{ id: "fetch", name: "fetch", changes: [
      { key: "timeout", before: undefined, after: 500 },
      { key: "url", before: "https://a.example", after: "https://b.example" },
    ] }]);
    expect([diff.edgesAdded, diff.edgesRemoved]).toEqual([1, 1]);
  });

  it("finds nothing between a version and itself, and shows values briefly", () => {
    expect(isEmptyDiff(diffDefinitions(version, structuredClone(version)))).toBe(true);
    expect(shortValue(undefined)).toBe("(unset)");
    expect(shortValue("x".repeat(100)).length).toBe(60);
    expect(shortValue(10)).toBe("10");
  });
});
