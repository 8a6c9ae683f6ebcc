// Typed calls for the workflow API (SPEC §7). Trailing slashes are optional server-side.
import { api } from "./client";
import type {
  Execution,
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
  get: (id: string | number) => api.get<Execution>(`/api/executions/${id}`),
};
