// Typed calls for the workflow API (SPEC §7). Trailing slashes are optional server-side.
import { api } from "./client";
import type {
  Execution,
  NodeRun,
  NodeRunPage,
  NodeTypeInfo,
  ValidationResult,
  Workflow,
  WorkflowDefinition,
  WorkflowVersion,
} from "./types";

/** DRF may paginate; accept both a bare list and `{results: [...]}`. */
export function unwrapList<T>(body: T[] | { results: T[] }): T[] {
  return Array.isArray(body) ? body : body.results;
}

export const workflowsApi = {
  list: async () => unwrapList(await api.get<Workflow[] | { results: Workflow[] }>("/api/workflows")),
  get: (id: string | number) => api.get<Workflow>(`/api/workflows/${id}`),
  create: (body: { name: string; description?: string; definition: WorkflowDefinition }) =>
    api.post<Workflow>("/api/workflows", body),
  update: (id: string | number, body: Partial<Pick<Workflow, "name" | "description" | "definition">>) =>
    api.patch<Workflow>(`/api/workflows/${id}`, body),
  remove: (id: string | number) => api.delete(`/api/workflows/${id}`),
  versions: async (id: string | number) =>
    unwrapList(await api.get<WorkflowVersion[] | { results: WorkflowVersion[] }>(`/api/workflows/${id}/versions`)),
  validate: (id: string | number, definition?: WorkflowDefinition) =>
    api.post<ValidationResult>(`/api/workflows/${id}/validate`, definition ? { definition } : {}),
  run: (id: string | number, input: unknown, priority?: number) =>
    api.post<{ id: number | string; status: string; traceId: string }>(`/api/workflows/${id}/run`, {
      input,
      ...(priority === undefined ? {} : { priority }),
    }),
};

export const nodeTypesApi = {
  list: async () => unwrapList(await api.get<NodeTypeInfo[] | { results: NodeTypeInfo[] }>("/api/node-types")),
};

export const executionsApi = {
  /** The execution; `nodeRuns` is whole up to the server's bound (1,000 by default), else
   * the first page with `nodeRunsNext` set (read the rest with `nodeRuns` / `allNodeRuns`). */
  get: (id: string | number) => api.get<Execution>(`/api/executions/${id}`),
  /** One page of node runs (`url`: a `next` from the previous page). */
  nodeRuns: (id: string | number, filters: { nodeId?: string; status?: string; limit?: number } = {}, url?: string) => {
    if (url) return api.get<NodeRunPage>(url);
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value !== undefined && value !== "") query.set(key, String(value));
    const suffix = query.toString();
    return api.get<NodeRunPage>(`/api/executions/${id}/node-runs${suffix ? `?${suffix}` : ""}`);
  },
  /** Every node run matching `filters`, page after page (at most `max`). */
  allNodeRuns: async (id: string | number, filters: { nodeId?: string; status?: string } = {}, max = 100_000) => {
    const out: NodeRun[] = [];
    let page = await executionsApi.nodeRuns(id, filters);
    out.push(...page.results);
    while (page.next && out.length < max) {
      page = await executionsApi.nodeRuns(id, filters, page.next);
      out.push(...page.results);
    }
    return out.slice(0, max);
  },
};
