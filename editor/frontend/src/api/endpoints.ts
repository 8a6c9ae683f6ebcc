// Typed calls for the workflow API (SPEC §7). Trailing slashes are optional server-side.
import { api } from "./client";
import type {
  Execution,
  ExecutionSummary,
  NodeRun,
  NodeTypeInfo,
  PinnedOutput,
  ValidationResult,
  Workflow,
  WorkflowDefinition,
  WorkflowListItem,
  WorkflowVersion,
} from "./types";

/** DRF may paginate; accept both a bare list and `{results: [...]}`. */
export function unwrapList<T>(body: T[] | { results: T[] }): T[] {
  return Array.isArray(body) ? body : body.results;
}

export const workflowsApi = {
  list: async () => unwrapList(await api.get<WorkflowListItem[] | { results: WorkflowListItem[] }>("/api/workflows")),
  get: (id: string | number) => api.get<Workflow>(`/api/workflows/${id}`),
  // `pinData` (an imported file's pinned test data): the workflow's pins become these, in the
  // same transaction as the save; a pin refused (400 naming its node, 409 over the count)
  // refuses the save too.
  create: (body: { name: string; description?: string; definition: WorkflowDefinition; draft?: boolean; pinData?: Record<string, unknown> }) =>
    api.post<Workflow>("/api/workflows", body),
  update: (
    id: string | number,
    body: Partial<Pick<Workflow, "name" | "description" | "definition">> & { draft?: boolean; pinData?: Record<string, unknown> },
  ) =>
    api.patch<Workflow>(`/api/workflows/${id}`, body),
  remove: (id: string | number) => api.delete(`/api/workflows/${id}`),
  versions: async (id: string | number) =>
    unwrapList(await api.get<WorkflowVersion[] | { results: WorkflowVersion[] }>(`/api/workflows/${id}/versions`)),
  version: (id: string | number, number: number) => api.get<WorkflowVersion>(`/api/workflows/${id}/versions/${number}`),
  validate: (id: string | number, definition?: WorkflowDefinition) =>
    api.post<ValidationResult>(`/api/workflows/${id}/validate`, definition ? { definition } : {}),
  testExpression: (id: string | number, body: { code: string; input?: unknown; execution?: number | string | null; nodeId?: string | null; bindings?: Record<string, unknown> }) =>
    api.post<{ ok: boolean; value?: unknown; error?: string; kind?: string; logs: string[] }>(`/api/workflows/${id}/test-expression`, body),
  /** What a run to `runUntil` reusing run `reuseFrom` would reuse, asked before it runs (on
   * the canvas's `definition`: the run saves it first). */
  reusePreview: (id: string | number, body: { runUntil: string; reuseFrom: number; input: unknown; usePinnedData: boolean; definition: WorkflowDefinition }) =>
    api.post<{ reused: string[]; reusedFrom: number; reuseNote: string | null }>(`/api/workflows/${id}/reuse-preview`, body),
  run: (id: string | number, input: unknown, priority?: number, usePinnedData?: boolean, runUntil?: string, reuseFrom?: number) =>
    api.post<{ id: number | string; status: string; traceId: string; reused?: string[]; reusedFrom?: number; reuseNote?: string }>(
      `/api/workflows/${id}/run`, {
      input,
      ...(priority === undefined ? {} : { priority }),
      ...(usePinnedData ? { usePinnedData: true } : {}),
      // "Run to here": only this node and the nodes it needs run.
      ...(runUntil ? { runUntil } : {}),
      // ...and those before it whose outputs that run has (and that did not change) are not run again.
      ...(runUntil && reuseFrom !== undefined ? { reuseFrom } : {}),
    }),
};

/** Pinned test data of a workflow's nodes (kept beside the workflow, not in its definition). */
export const pinsApi = {
  list: (workflowId: string | number) => api.get<PinnedOutput[]>(`/api/workflows/${workflowId}/pins`),
  put: (workflowId: string | number, nodeId: string, data: unknown) =>
    api.put<PinnedOutput>(`/api/workflows/${workflowId}/pins/${encodeURIComponent(nodeId)}`, { data }),
  remove: (workflowId: string | number, nodeId: string) =>
    api.delete(`/api/workflows/${workflowId}/pins/${encodeURIComponent(nodeId)}`),
};

export const nodeTypesApi = {
  list: async () => unwrapList(await api.get<NodeTypeInfo[] | { results: NodeTypeInfo[] }>("/api/node-types")),
};

export type RerunVersion = "original" | "latest";

export const executionsApi = {
  /** The execution; `nodeRuns` is whole up to the server's bound (1,000 by default), else
   * the first page with `nodeRunsNext` set and `nodeRunCountsByNode` (read a node's runs
   * with `nodeRuns`). */
  get: (id: string | number) => api.get<Execution>(`/api/executions/${id}`),
  /** The newest runs of a workflow first (the server caps the list). */
  listForWorkflow: async (workflowId: string | number) =>
    unwrapList(await api.get<ExecutionSummary[] | { results: ExecutionSummary[] }>(`/api/executions?workflow=${workflowId}`)),
  /** One node's runs (every attempt and loop item), when the execution carried only a first page. */
  nodeRuns: async (id: string | number, nodeId: string): Promise<NodeRun[]> => {
    const out: NodeRun[] = [];
    let url: string | null = `/api/executions/${id}/node-runs?nodeId=${encodeURIComponent(nodeId)}`;
    // A bound: a loop over thousands of items is summarised, not listed in full.
    for (let page = 0; url && page < 10; page++) {
      const body: NodeRun[] | { results: NodeRun[]; next?: string | null; nodeRunsNext?: string | null } = await api.get(url);
      if (Array.isArray(body)) return [...out, ...body];
      out.push(...body.results);
      const next: string | null | undefined = body.next ?? body.nodeRunsNext;
      url = next ? (next.startsWith("/") || next.startsWith("http") ? next : `/api/executions/${id}/node-runs?nodeId=${encodeURIComponent(nodeId)}&cursor=${encodeURIComponent(next)}`) : null;
    }
    return out;
  },
  retry: (id: string | number, body: { version: RerunVersion; input?: unknown }) =>
    api.post<Execution>(`/api/executions/${id}/retry`, body),
  /** A new attempt of the same execution re-running only `nodes` / loop `items` and what
   * follows them; everything else keeps its recorded result. */
  redrive: (id: string | number, body: { version: RerunVersion; nodes?: string[]; items?: Record<string, number[]>; usePinnedData?: boolean }) =>
    api.post<Execution>(`/api/executions/${id}/redrive`, body),
};
