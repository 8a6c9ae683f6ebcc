// Run data on the canvas (like n8n): the workflow's runs, one of them chosen (the latest by
// default), polled until it finishes; every node shows its status in that run. A paused
// run's unfinished nodes, and an approval waiting for a decision, show "waiting" rather
// than "running". A loop body node that failed in some items of a loop that succeeded says
// how many ("3 of 10 failed"), not a bare "failed".
import { useCallback, useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import { executionsApi } from "../api/endpoints";
import { type Execution, type ExecutionSummary, type NodeRunStatus, TERMINAL_EXECUTION_STATUSES } from "../api/types";
import { graphStore, useGraph } from "../store/graphStore";
import { bodyOutcomesFromCounts, bodyOutcomesFromRuns, partialBodyBadges } from "../lib/runBadges";
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

/** The badges of one execution: `displayStatus`, with a loop body node whose loop succeeded
 * while it failed in some items as "partial" and its text ("3 of 10 failed"). `parents`:
 * each body node's loop. */
export function runBadges(
  execution: Pick<Execution, "status" | "nodeRuns" | "state" | "nodeRunCountsByNode">,
  parents: ReadonlyMap<string, string>,
): { status: Record<string, NodeRunStatus>; text: Record<string, string> } {
  const status = displayStatus(execution);
  if (parents.size === 0) return { status, text: {} };
  const outcomes = execution.nodeRunCountsByNode
    ? bodyOutcomesFromCounts(execution.nodeRunCountsByNode)
    : bodyOutcomesFromRuns(execution.nodeRuns ?? []);
  return partialBodyBadges(status, parents, outcomes);
}

/** "body>loop,…": a string, so that the run's badges are worked out again only when a
 * node moves in or out of a loop, not on every edit. */
function parentKey(nodes: readonly { id: string; parentId?: string | undefined }[]): string {
  return nodes.filter((n) => n.parentId).map((n) => `${n.id}>${n.parentId}`).join(",");
}

function parentMap(key: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of key ? key.split(",") : []) {
    const cut = pair.indexOf(">");
    map.set(pair.slice(0, cut), pair.slice(cut + 1));
  }
  return map;
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
  const parents = useGraph((s) => parentKey(s.definition.nodes));

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
    const shown = execution && !hidden && String(execution.id) === selectedId;
    const badges = shown ? runBadges(execution, parentMap(parents)) : { status: {}, text: {} };
    graphStore.getState().setNodeStatus(badges.status, badges.text);
  }, [execution, hidden, selectedId, parents]);

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
