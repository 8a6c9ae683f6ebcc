import type { NodeTypeInfo } from "../src/api/types";

const common = {
  timeout: { type: "integer", minimum: 1 },
  onError: { type: "string", enum: ["fail", "continue", "route"], default: "fail" },
  retry: { type: "object", properties: { maxAttempts: { type: "integer", minimum: 1 } } },
};

function nodeType(type: string, extra: Partial<NodeTypeInfo> = {}): NodeTypeInfo {
  return {
    type,
    title: type[0]?.toUpperCase() + type.slice(1),
    category: "Core",
    description: "",
    schema: { type: "object", properties: { ...common } },
    defaults: {},
    ports: { inputs: type === "start" ? [] : ["in"], outputs: ["out"] },
    container: false,
    ...extra,
  };
}

export const NODE_TYPES: NodeTypeInfo[] = [
  nodeType("start"),
  nodeType("delay", {
    defaults: { duration: 1000 },
    schema: { type: "object", properties: { duration: { type: ["integer", "number", "string"], default: 1000 }, ...common }, required: ["duration"] },
  }),
  nodeType("merge", { defaults: { mode: "all", output: "object" } }),
  nodeType("condition", { ports: { inputs: ["in"], outputs: ["out", "true", "false"] } }),
  nodeType("loop", { container: true, defaults: { loopType: "forEach", parallel: true } }),
];
