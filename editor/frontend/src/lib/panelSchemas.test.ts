import { describe, expect, it } from "vitest";

import type { JsonSchema, NodeTypeInfo } from "../api/types";
import { branchSchema, commonProperties, settingsSchema } from "./panelSchemas";

// The shape `GET /api/node-types` serves: every type carries the common options.
const policy: JsonSchema = { type: "object", title: "Parallel policy", properties: { onPartialFailure: { type: "string", enum: ["fail", "continue", "collect"] } } };
const common: Record<string, JsonSchema> = {
  timeout: { type: "integer", minimum: 1, maximum: 604800000 },
  onTimeout: { type: "string", enum: ["cancel", "continue", "error"], default: "error", description: "at timeout, cancel: …" },
  retry: { type: "object", title: "Retry", properties: { maxAttempts: { type: "integer", minimum: 1, maximum: 100 } } },
  onError: { type: "string", enum: ["fail", "continue", "route"], default: "fail" },
  parallel: policy,
};
const info = (type: string, properties: Record<string, JsonSchema>): NodeTypeInfo => ({
  type, title: type, category: "Flow", description: "", schema: { type: "object", properties }, defaults: {}, ports: { inputs: [], outputs: ["out"] }, container: false,
});

describe("branch and settings forms", () => {
  it("take the common options from start, not from a type that reshapes them", () => {
    const loopParallel: JsonSchema = { oneOf: [{ type: "boolean" }, policy] };
    const types = { loop: info("loop", { ...common, parallel: loopParallel }), start: info("start", common) };
    expect(commonProperties(types).parallel).toBe(policy);
    expect(commonProperties({})).toEqual({});
  });

  it("offer a branch the server's timeout options and no `route`, which a branch has no handle for", () => {
    const props = branchSchema(common, "branch_a").properties ?? {};
    expect(props.onError?.enum).toEqual(["fail", "continue"]);
    expect(props.onTimeout).toBe(common.onTimeout);
    expect(props.timeout).toBe(common.timeout);
    expect(props.retry).toBe(common.retry);
    expect(props.name?.default).toBe("branch_a");
  });

  it("offer the workflow's default parallel policy in the settings", () => {
    const parallel = settingsSchema(common).properties?.parallel;
    expect(parallel?.properties).toBe(policy.properties);
    expect(settingsSchema({}).properties?.parallel).toBeUndefined();
  });
});
