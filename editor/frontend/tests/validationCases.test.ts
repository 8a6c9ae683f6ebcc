// The shared validation cases (tests/validation_cases.json at the repository root) against
// the editor's pre-check. pytest runs the same file against the server
// (tests/engine/core/test_validation_cases.py), so the two sides agree by construction:
// each case lists the problems (severity, node/edge id) a definition has.
import { describe, expect, it } from "vitest";

import type { NodeTypeInfo, WorkflowDefinition } from "../src/api/types";
import { precheck } from "../src/lib/graph";
import casesJson from "../../../tests/validation_cases.json";
import { NODE_TYPES } from "./fixtures";

interface Case {
  name: string;
  definition: WorkflowDefinition;
  problems: { severity: "error" | "warning"; nodeId?: string; edgeId?: string }[];
}

const cases = casesJson as unknown as Case[];

// The fixtures' types, plus the two the cases use with a required setting (as the server describes them).
function withRequired(type: string, field: string): NodeTypeInfo {
  const base = NODE_TYPES.find((t) => t.type === "start")!;
  return {
    ...base, type, ports: { inputs: ["in"], outputs: ["out"] },
    schema: { ...base.schema, properties: { ...base.schema.properties, [field]: { type: "string" } }, required: [field] },
  };
}
const types: Record<string, NodeTypeInfo> = {
  ...Object.fromEntries(NODE_TYPES.map((t) => [t.type, t])),
  log: withRequired("log", "message"),
  http: withRequired("http", "url"),
};

const key = (p: { severity?: string; nodeId?: string | null; edgeId?: string | null }) =>
  `${p.severity ?? "error"}|${p.nodeId ?? ""}|${p.edgeId ?? ""}`;

describe("shared validation cases", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const found = precheck(c.definition, types).map(key).sort();
    expect(found).toEqual(c.problems.map(key).sort());
  });
});

describe("client and server problems together", () => {
  it("shows one problem once, in the server's words, and keeps the editor's other findings", async () => {
    const { mergeIssues } = await import("../src/canvas/useValidation");
    const server = {
      errors: [{ message: "config: 'duration' is a required property", nodeId: "w" }],
      warnings: [{ message: "edge leaves the error handle but the node's onError is not 'route'", edgeId: "e2" }],
    };
    const client = [
      { message: "config.duration: is required", nodeId: "w" },
      { message: "edge leaves the error handle but onError is not 'route'", edgeId: "e2", severity: "warning" as const },
      { message: "nothing may connect into a start node", edgeId: "e3" },
      { message: "a workflow needs exactly one top-level start node; found 2" },
    ];
    const merged = mergeIssues(server, client);
    expect(merged.errors.map((i) => i.message)).toEqual([
      "config: 'duration' is a required property",
      "nothing may connect into a start node",
      "a workflow needs exactly one top-level start node; found 2",
    ]);
    expect(merged.warnings.map((i) => i.message)).toEqual(["edge leaves the error handle but the node's onError is not 'route'"]);
  });

  it("files the editor's own warnings under warnings before the server answers", async () => {
    const { mergeIssues } = await import("../src/canvas/useValidation");
    const merged = mergeIssues({ errors: [], warnings: [] },
                               [{ message: "edge leaves the error handle but onError is not 'route'", edgeId: "e2", severity: "warning" }]);
    expect(merged.errors).toEqual([]);
    expect(merged.warnings.map((i) => i.edgeId)).toEqual(["e2"]);
  });
});
