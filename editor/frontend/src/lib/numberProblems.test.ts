import { describe, expect, it } from "vitest";

import type { JsonSchema, NodeTypeInfo } from "../api/types";
import { precheck } from "./graph";
import { numberProblem, numberProblems } from "./schemaForm";

// The loop's number options as GET /api/node-types serves them (engine/nodes/loop.py).
const loopSchema: JsonSchema = {
  type: "object",
  properties: {
    arrayPath: { type: "string" },
    maxConcurrency: { type: "integer", minimum: 1, maximum: 10000, default: 10 },
    rateLimit: { type: "number", minimum: 0.001, maximum: 100000 },
    delayMs: { type: ["integer", "string"], minimum: 0, maximum: 1000 },
    retry: { type: "object", properties: { maxAttempts: { type: "integer", minimum: 1, maximum: 100 } } },
  },
  required: ["arrayPath"],
};
const loop: NodeTypeInfo = {
  type: "loop", title: "Loop", category: "Flow", description: "", schema: loopSchema, defaults: {}, ports: { inputs: ["in"], outputs: ["out"] }, container: true,
};
const start: NodeTypeInfo = { ...loop, type: "start", schema: { type: "object", properties: {} }, ports: { inputs: [], outputs: ["out"] }, container: false };

describe("numbers checked against the node type's schema while typing", () => {
  it("names a number out of range as the server does, and a huge one by its size", () => {
    const props = loopSchema.properties ?? {};
    expect(numberProblem(-5, props.rateLimit as JsonSchema)).toBe("-5 is out of range: allowed 0.001 to 100000");
    expect(numberProblem(12345678901234567890, props.maxConcurrency as JsonSchema)).toBe("a 20-digit number is out of range: allowed 1 to 10000");
    expect(numberProblem(2.5, props.maxConcurrency as JsonSchema)).toBe("2.5 is not a whole number");
    expect(numberProblem(0.5, props.rateLimit as JsonSchema)).toBeNull();
    expect(numberProblem(10, props.maxConcurrency as JsonSchema)).toBeNull();
    // A template in a number-or-template field is the run's to check.
    expect(numberProblem("{{input.ms}}", props.delayMs as JsonSchema)).toBeNull();
    expect(numberProblem(5000, props.delayMs as JsonSchema)).toBe("5000 is out of range: allowed 0 to 1000");
    expect(numberProblem(3, { type: "integer", minimum: 5 })).toBe("3 is less than the minimum of 5");
  });

  it("finds them in nested option groups, by dotted path", () => {
    expect(numberProblems({ arrayPath: "x", retry: { maxAttempts: 0 } }, loopSchema)).toEqual([
      { path: "retry.maxAttempts", message: "0 is out of range: allowed 1 to 100" },
    ]);
  });

  it("puts them on the node in the pre-check, before any save", () => {
    const definition = {
      nodes: [
        { id: "start", type: "start", name: "Start", config: {}, position: { x: 0, y: 0 } },
        { id: "loop", type: "loop", name: "Loop", config: { arrayPath: "{{start.items}}", maxConcurrency: 12345678901234567890, rateLimit: -5 }, position: { x: 200, y: 0 } },
      ],
      edges: [{ id: "e1", source: "start", target: "loop" }],
    };
    const issues = precheck(definition as never, { loop, start });
    expect(issues.filter((i) => i.nodeId === "loop").map((i) => i.message)).toEqual([
      "maxConcurrency: a 20-digit number is out of range: allowed 1 to 10000",
      "rateLimit: -5 is out of range: allowed 0.001 to 100000",
    ]);
  });
});
