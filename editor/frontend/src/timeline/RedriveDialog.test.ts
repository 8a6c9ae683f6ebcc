import { describe, expect, it } from "vitest";

import { partialFailures } from "./RedriveDialog";
import type { Bar } from "./types";

const bar = (nodeId: string, status: string, lane: string, iteration: number | null = null, attempt = 1): Bar => ({
  nodeRunId: `${nodeId}-${iteration}-${attempt}`, nodeId, name: nodeId, type: "transform", branchId: "main", branchName: "main",
  traceId: "t", queuedAt: `2026-01-01T00:00:0${attempt}Z`, startedAt: `2026-01-01T00:00:0${attempt}Z`, finishedAt: null,
  status: status as Bar["status"], attempt, iteration, lane, container: false, critical: false,
});

describe("partialFailures", () => {
  it("names the failed items of a run that succeeded", () => {
    const bars = [
      bar("double", "succeeded", "loop:loop:slot:0", 0),
      bar("double", "failed", "loop:loop:slot:1", 1),
      bar("double", "failed", "loop:loop:slot:0", 2),
      bar("o", "succeeded", "branch:main"),
    ];
    expect(partialFailures(bars)).toEqual({ button: "Redrive failed (2 items)", label: "the 2 failed items" });
    // The server's count wins (the bars may be only the first of a big run's).
    expect(partialFailures(bars, 1)?.button).toBe("Redrive failed (1 item)");
  });

  it("offers nothing when everything succeeded in the end, and counts a failed branch apart", () => {
    expect(partialFailures([bar("double", "failed", "loop:loop:slot:0", 0), bar("double", "succeeded", "loop:loop:slot:0", 0, 2)])).toBeNull();
    expect(partialFailures([bar("b", "failed", "branch:2"), bar("c", "cancelled", "branch:3")], 0)?.button).toBe("Redrive failed (1 node run)");
  });
});
