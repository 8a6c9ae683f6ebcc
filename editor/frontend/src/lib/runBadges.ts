// Loop body badges (the editor's canvas and the timeline's mini canvas): a body node that
// failed in some items of a loop that succeeded says how many, not a bare "failed".
import type { NodeRunStatus } from "../api/types";

/** How a loop body node ended over its items: by the latest attempt in each item (`unit`
 * "items", from `nodeRuns`), or over every node run ("runs", from the per-node counts,
 * where a retried failure counts too). Cancelled: cut by `cancelOnFailure`, not failed. */
export interface BodyOutcome {
  total: number;
  failed: number;
  cancelled: number;
  unit: "items" | "runs";
}

const FAILED_STATUSES: ReadonlySet<string> = new Set(["failed", "timed_out"]);

export function bodyOutcomesFromRuns(
  nodeRuns: readonly { nodeId: string; status: NodeRunStatus; attempt: number; iteration: number | null; traceId?: string | null }[],
): Map<string, BodyOutcome> {
  const latest = new Map<string, { nodeId: string; attempt: number; status: NodeRunStatus }>();
  for (const run of nodeRuns) {
    if (run.iteration === null || run.iteration === undefined) continue;
    // One entry per item. The item number alone repeats in a nested loop (inner item 0 of
    // every outer item), which counted those as one; the trace id names the item's whole
    // path (`trace-…-002-001`) and is the same for every attempt in it.
    const key = run.traceId ? `${run.nodeId}|${run.traceId}` : `${run.nodeId}#${run.iteration}`;
    const previous = latest.get(key);
    if (!previous || run.attempt >= previous.attempt) latest.set(key, run);
  }
  const out = new Map<string, BodyOutcome>();
  for (const run of latest.values()) {
    const entry = out.get(run.nodeId) ?? { total: 0, failed: 0, cancelled: 0, unit: "items" as const };
    entry.total += 1;
    if (FAILED_STATUSES.has(run.status)) entry.failed += 1;
    else if (run.status === "cancelled") entry.cancelled += 1;
    out.set(run.nodeId, entry);
  }
  return out;
}

export function bodyOutcomesFromCounts(
  counts: Record<string, Partial<Record<NodeRunStatus, number>>>,
): Map<string, BodyOutcome> {
  const out = new Map<string, BodyOutcome>();
  for (const [nodeId, byStatus] of Object.entries(counts)) {
    const total = Object.values(byStatus).reduce((sum, n) => sum + (n ?? 0), 0);
    out.set(nodeId, {
      total,
      failed: (byStatus.failed ?? 0) + (byStatus.timed_out ?? 0),
      cancelled: byStatus.cancelled ?? 0,
      unit: "runs",
    });
  }
  return out;
}

/** "3 of 10 failed", "3 of 10 failed, 2 cancelled", "2 of 10 cancelled" ("runs" when the
 * count is of node runs, not of items). */
export function outcomeText(outcome: BodyOutcome): string {
  const of = `of ${outcome.total}${outcome.unit === "runs" ? " runs" : ""}`;
  if (!outcome.failed) return `${outcome.cancelled} ${of} cancelled`;
  return `${outcome.failed} ${of} failed${outcome.cancelled ? `, ${outcome.cancelled} cancelled` : ""}`;
}

/** A loop body node that failed (or was cut) in some items while its loop succeeded
 * (`onPartialFailure` "continue" or "collect" let it): a bare "failed" badge said the
 * opposite of what happened to the loop. Such a node is "partial" and its badge says how
 * many — the loop's own badge still says "succeeded". A body node of a loop that failed,
 * or is still running, keeps its status. Returns new maps; `status` is not changed. */
export function partialBodyBadges(
  status: Readonly<Record<string, NodeRunStatus>>,
  parents: ReadonlyMap<string, string>,
  outcomes: ReadonlyMap<string, BodyOutcome>,
): { status: Record<string, NodeRunStatus>; text: Record<string, string> } {
  const out: Record<string, NodeRunStatus> = { ...status };
  const text: Record<string, string> = {};
  for (const [nodeId, parent] of parents) {
    // A loop that succeeded has ended, and so has every node run of its items.
    if (status[parent] !== "succeeded" || status[nodeId] === undefined) continue;
    const outcome = outcomes.get(nodeId);
    if (!outcome || outcome.failed + outcome.cancelled === 0) continue;
    out[nodeId] = "partial";
    text[nodeId] = outcomeText(outcome);
  }
  return { status: out, text };
}
