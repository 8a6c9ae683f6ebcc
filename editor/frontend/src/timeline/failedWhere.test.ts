import { describe, expect, it } from "vitest";

import { failedWhere } from "./model";
import type { Bar } from "./types";

const bar = (nodeId: string, status: string, extra: Partial<Bar> = {}): Bar => ({
  nodeRunId: `${nodeId}-${extra.attempt ?? 1}-${extra.iteration ?? ""}`, nodeId, name: nodeId.toUpperCase(), type: "http",
  branchId: "1", branchName: "branch_a", traceId: "trace-aaaaaa-001", queuedAt: "2026-01-01T00:00:00Z",
  startedAt: "2026-01-01T00:00:00.010Z", finishedAt: "2026-01-01T00:00:00.020Z", status: status as Bar["status"],
  attempt: 1, iteration: null, lane: "1", container: false, critical: false, ...extra,
});

describe("failedWhere", () => {
  it("lists the failed node runs, not the join that summed them up nor a loop container", () => {
    const bars = [bar("a", "succeeded"), bar("b", "failed"), bar("join", "failed", { startedAt: null }), bar("loop", "failed", { container: true })];
    expect(failedWhere(bars, new Set(["join"])).map((b) => b.nodeId)).toEqual(["b"]);
  });
  it("keeps a join that ran and failed by itself (a custom merge's code threw)", () => {
    expect(failedWhere([bar("join", "failed")], new Set(["join"])).map((b) => b.nodeId)).toEqual(["join"]);
  });
  it("leaves out a node whose last attempt succeeded, and keeps one that timed out", () => {
    const bars = [bar("a", "failed"), bar("a", "succeeded", { attempt: 2 }), bar("t", "timed_out")];
    expect(failedWhere(bars, new Set()).map((b) => b.nodeId)).toEqual(["t"]);
  });
  it("tells loop items apart", () => {
    const bars = [bar("w", "failed", { iteration: 0 }), bar("w", "succeeded", { iteration: 1 }), bar("w", "failed", { iteration: 2 })];
    expect(failedWhere(bars, new Set()).map((b) => b.iteration)).toEqual([0, 2]);
  });
});
