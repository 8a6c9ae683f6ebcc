// Calls of the execution pages, on the editor's shared API client.
import { api } from "../api/client";
import type { Execution } from "../api/types";
import type { ExecutionRow, NodeRunDetail, StreamEvent, Timeline } from "./types";

/** Rows per page of `GET /api/executions` (its default and most). */
export const EXECUTION_PAGE = 200;

export const timelineApi = {
  get: (executionId: number | string) => api.get<Timeline>(`/api/executions/${executionId}/timeline`),
  nodeRun: (executionId: number | string, nodeRunId: string) =>
    api.get<NodeRunDetail>(`/api/executions/${executionId}/timeline?nodeRun=${encodeURIComponent(nodeRunId)}`),
  /** The last `limit` events of `types` before `beforeSeq`, in seq order (read through an index). */
  eventsOfTypes: (executionId: number | string, types: readonly string[], beforeSeq: number, limit: number) =>
    api.get<StreamEvent[]>(
      `/api/executions/${executionId}/events?type=${encodeURIComponent(types.join(","))}&beforeSeq=${beforeSeq}&limit=${limit}`),
  signal: (executionId: number | string, body: { type: string; reason?: string; data?: unknown }) =>
    api.post<{ status: string }>(`/api/executions/${executionId}/signal`, body),
  /** Re-run as a new execution: on the run's own version or the workflow's latest, with its input or `input`. */
  retry: (executionId: number | string, body: { version?: "original" | "latest"; input?: unknown } = {}) =>
    api.post<Execution>(`/api/executions/${executionId}/retry`, body),
  /** A page of executions, newest first; `before`: only those older than that execution. */
  list: (filters: { workflow?: string; status?: string; trace?: string; before?: number }) => {
    const query = new URLSearchParams();
    if (filters.workflow) query.set("workflow", filters.workflow);
    if (filters.status) query.set("status", filters.status);
    if (filters.trace) query.set("trace", filters.trace);
    if (filters.before) query.set("before", String(filters.before));
    const suffix = query.toString() ? `?${query.toString()}` : "";
    return api.get<ExecutionRow[]>(`/api/executions${suffix}`);
  },
};
