// The schemas of the two forms that are not a node's config: a branch (edge `branch`) and
// the workflow's settings. Their options that a node also has (timeout, onTimeout, retry,
// the parallel policy) are taken from the node-type schemas the server validates against,
// so the form offers exactly the values the server accepts, described in its words.
import type { JsonSchema, NodeTypeInfo } from "../api/types";

/** The options every node type has (`timeout`, `onTimeout`, `retry`, `onError`, `parallel`…):
 * read off `start`, which has no options of its own to shadow them. */
export function commonProperties(nodeTypes: Record<string, NodeTypeInfo>): Record<string, JsonSchema> {
  const info = nodeTypes.start ?? Object.values(nodeTypes)[0];
  return info?.schema.properties ?? {};
}

export function branchSchema(common: Record<string, JsonSchema>, defaultName: string): JsonSchema {
  return {
    type: "object",
    properties: {
      name: { type: "string", description: "Branch name, seen by the merge and in {{branch.name}}; letters, digits and _.", default: defaultName },
      timeout: common.timeout ?? { type: "integer", minimum: 1, description: "ms before the branch times out" },
      onTimeout: common.onTimeout ?? { type: "string", enum: ["cancel", "continue", "error"], default: "error" },
      retry: common.retry ?? { type: "object", title: "Retry", properties: { maxAttempts: { type: "integer", minimum: 1 } } },
      // `route` follows a node's error handle; a branch has none, and the server refuses it.
      onError: {
        type: "string",
        enum: ["fail", "continue"],
        default: "fail",
        description: "after the branch's last attempt, fail: the join sees a failed branch; continue: the branch succeeds with {error}",
      },
    },
  };
}

export function settingsSchema(common: Record<string, JsonSchema>): JsonSchema {
  return {
    type: "object",
    properties: {
      maxConcurrency: { type: "integer", minimum: 1, description: "Most node runs of one execution in flight at once." },
      timeout: { type: "integer", minimum: 1, description: "ms before the whole execution times out." },
      queue: {
        type: "object",
        title: "Run queue",
        description: "How runs of this workflow wait for a slot.",
        properties: {
          maxConcurrentRuns: { type: "integer", minimum: 1, description: "Executions of this workflow running at once; the rest wait." },
          maxSize: { type: "integer", minimum: 1, description: "Runs beyond it are refused (HTTP 429)." },
          priority: {
            type: "string",
            enum: ["fifo", "lifo", "priority"],
            default: "fifo",
            description: "Which waiting run goes first. fifo: the oldest; lifo: the newest; priority: the highest `priority` it was started with.",
          },
          timeout: { type: "integer", minimum: 1, description: "ms a run may wait in the queue; then it ends as timed out." },
          deadLetterQueue: { type: "boolean", default: false, description: "Keep failed and timed-out runs as dead letters to replay." },
        },
      },
      // The default policy of every join and loop of the workflow (a node's own wins).
      ...(common.parallel
        ? { parallel: { ...common.parallel, title: "Parallel policy (default)", description: "The policy of every join and loop that sets none." } }
        : {}),
      signalHandlers: {
        type: "object",
        title: "Signal handlers",
        description:
          'By signal type: {"action": "pause"|"resume"|"cancel"|"custom", "cleanup"?, "rollback"?, "notify"?: [emails], "handler"?: node id}. Example: {"pause": {"action": "pause", "cleanup": true}}',
        additionalProperties: { type: "object" },
      },
      variables: {
        type: "object",
        title: "Variables",
        description: 'Available to templates as {{variables.NAME}}. Example: {"apiBase": "http://127.0.0.1:8000/demo-api"}',
        additionalProperties: true,
      },
    },
  };
}
