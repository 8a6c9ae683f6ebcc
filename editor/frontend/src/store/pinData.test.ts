import { describe, expect, it } from "vitest";
import type { PinnedOutput, WorkflowDefinition } from "../api/types";
import { exportedWorkflow, importedPinData } from "./pinData";

const def: WorkflowDefinition = {
  schemaVersion: 1,
  name: "w",
  settings: {},
  nodes: [
    { id: "start", type: "start", name: "start", position: { x: 0, y: 0 }, config: {} },
    { id: "call", type: "http", name: "call", position: { x: 0, y: 0 }, config: {} },
  ],
  edges: [],
};
const pin = (nodeId: string, data: unknown): PinnedOutput => ({ nodeId, data, size: 1, updatedAt: "", updatedBy: null });

describe("pinData in exported files", () => {
  it("exports the pins of the definition's nodes under pinData", () => {
    const out = exportedWorkflow(def, { call: pin("call", { a: 1 }), gone: pin("gone", 2) });
    expect(out.pinData).toEqual({ call: { a: 1 } });
    expect(out.nodes).toBe(def.nodes);
    expect(exportedWorkflow(def, {}).pinData).toEqual({});
  });

  it("reads pinData back, and nothing from a file without it", () => {
    expect(importedPinData({ nodes: [], pinData: { call: null } })).toEqual({ call: null });
    expect(importedPinData({ nodes: [] })).toBeUndefined();
    expect(importedPinData([1])).toBeUndefined();
  });
});
