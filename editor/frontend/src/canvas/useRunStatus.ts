// Live node badges while an execution runs: poll GET /api/executions/{id} every 500 ms
// until it reaches a final state (the websocket stream can replace this later).
import { useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import { executionsApi } from "../api/endpoints";
import { type ExecutionStatus, TERMINAL_EXECUTION_STATUSES } from "../api/types";
import { graphStore } from "../store/graphStore";
import { statusByNode, statusByNodeFromCounts } from "./convert";

export const POLL_INTERVAL_MS = 500;

export function useRunStatus(executionId: string | null): ExecutionStatus | null {
  const [status, setStatus] = useState<ExecutionStatus | null>(null);
  useEffect(() => {
    if (executionId === null) return;
    let stopped = false;
    let timer: number | undefined;
    setStatus("queued");
    const poll = async () => {
      try {
        const execution = await executionsApi.get(executionId);
        if (stopped) return;
        setStatus(execution.status);
        // Beyond the server's bound `nodeRuns` is only a page: the per-node counts cover all.
        graphStore.getState().setNodeStatus(
          execution.nodeRunCountsByNode
            ? statusByNodeFromCounts(execution.nodeRunCountsByNode)
            : statusByNode(execution.nodeRuns ?? []),
        );
        if (TERMINAL_EXECUTION_STATUSES.includes(execution.status)) return;
      } catch (err) {
        if (stopped) return;
        graphStore.getState().notify("error", `Could not read the execution: ${errorMessage(err)}`);
      }
      timer = window.setTimeout(() => void poll(), POLL_INTERVAL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [executionId]);
  return status;
}
