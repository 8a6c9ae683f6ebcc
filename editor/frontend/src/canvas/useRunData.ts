// Run data on the canvas (like n8n): the workflow's runs, one of them chosen (the latest by
// default), polled until it finishes; every node shows its status in that run. A paused
// run's unfinished nodes, and an approval waiting for a decision, show "waiting" rather
// than "running".
import { useCallback, useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import { executionsApi } from "../api/endpoints";
import { type Execution, type ExecutionSummary, type NodeRunStatus, TERMINAL_EXECUTION_STATUSES } from "../api/types";
import { graphStore } from "../store/graphStore";
import { statusByNode, statusByNodeFromCounts } from "./convert";

export const POLL_INTERVAL_MS = 500;

/** Node badges for one execution: `statusByNode`, with "waiting" for a paused run. */
export function displayStatus(
  execution: Pick<Execution, "status" | "nodeRuns" | "state" | "nodeRunCountsByNode">,
): Record<string, NodeRunStatus> {
  // Beyond the server's bound `nodeRuns` is only a first page: the per-node counts cover all.
  const status = execution.nodeRunCountsByNode
    ? statusByNodeFromCounts(execution.nodeRunCountsByNode)
    : statusByNode(execution.nodeRuns ?? []);
  if (execution.status !== "paused") return status;
  const awaiting = (execution.state as { awaiting?: { nodeId?: unknown } } | null | undefined)?.awaiting;
  for (const [nodeId, s] of Object.entries(status)) {
    if (s === "running" || s === "queued" || s === "pending" || s === "retrying") status[nodeId] = "waiting";
  }
  if (awaiting && typeof awaiting.nodeId === "string") status[awaiting.nodeId] = "waiting";
  return status;
}

export interface RunData {
  /** Newest first. */
  executions: ExecutionSummary[];
  /** The run whose data the canvas shows (null: none yet). */
  execution: Execution | null;
  selectedId: string | null;
  select(id: string | null): void;
  /** Re-read the list (after starting a run) and show `id` (or the newest). */
  refresh(id?: string | null): void;
  hidden: boolean;
  setHidden(hidden: boolean): void;
}

export function useRunData(workflowId: string): RunData {
  const [executions, setExecutions] = useState<ExecutionSummary[]>([]);
  const [pinned, setPinned] = useState<string | null>(null);
  const [execution, setExecution] = useState<Execution | null>(null);
  const [listVersion, setListVersion] = useState(0);
  const [hidden, setHidden] = useState(false);

  useEffect(() => {
    if (!workflowId) return; // a new workflow, not saved yet, has no runs
    let stopped = false;
    executionsApi
      .listForWorkflow(workflowId)
      .then((list) => {
        if (!stopped) setExecutions(list);
      })
      .catch(() => undefined); // the canvas works without run data
    return () => {
      stopped = true;
    };
  }, [workflowId, listVersion]);

  const selectedId = pinned ?? (executions[0] ? String(executions[0].id) : null);

  useEffect(() => {
    if (selectedId === null) {
      setExecution(null);
      return;
    }
    let stopped = false;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const fresh = await executionsApi.get(selectedId);
        if (stopped) return;
        setExecution(fresh);
        // Keep the list's row (the picker's label) in step with the run.
        setExecutions((list) => list.map((e) => (String(e.id) === selectedId ? { ...e, status: fresh.status, error: fresh.error, output: fresh.output } : e)));
        if (TERMINAL_EXECUTION_STATUSES.includes(fresh.status)) return;
      } catch (err) {
        if (stopped) return;
        graphStore.getState().notify("error", `Could not read execution ${selectedId}: ${errorMessage(err)}`);
      }
      timer = window.setTimeout(() => void poll(), POLL_INTERVAL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [selectedId, listVersion]);

  useEffect(() => {
    graphStore.getState().setNodeStatus(execution && !hidden && String(execution.id) === selectedId ? displayStatus(execution) : {});
  }, [execution, hidden, selectedId]);

  const select = useCallback((id: string | null) => {
    setPinned(id);
    setHidden(false);
  }, []);
  const refresh = useCallback((id?: string | null) => {
    if (id !== undefined) setPinned(id);
    setHidden(false);
    setListVersion((v) => v + 1);
  }, []);

  return { executions, execution: execution && String(execution.id) === selectedId ? execution : null, selectedId, select, refresh, hidden, setHidden };
}
