import { describe, expect, it } from "vitest";

import type { ExecutionStatus } from "../api/types";
import { offeredRedrive, redriveFailed, redriveVersions } from "./RedriveDialog";

const status = (s: string) => s as ExecutionStatus;

describe("redriveFailed (the timeline's and the Executions row's one button)", () => {
  it("names what a run that succeeded left out: a branch, loop items, or both", () => {
    expect(redriveFailed(status("succeeded"), { failedNodes: 1, failedItems: 0 }))
      .toEqual({ button: "Redrive failed (1 node)", label: "the 1 failed node" });
    expect(redriveFailed(status("succeeded"), { failedNodes: 0, failedItems: 2 }))
      .toEqual({ button: "Redrive failed (2 items)", label: "the 2 failed items" });
    expect(redriveFailed(status("succeeded"), { failedNodes: 2, failedItems: 1 }))
      .toEqual({ button: "Redrive failed (2 nodes, 1 item)", label: "the 2 failed nodes and 1 failed item" });
  });

  it("offers nothing for a run that succeeded whole, or one that has not ended", () => {
    expect(redriveFailed(status("succeeded"), { failedNodes: 0, failedItems: 0 })).toBeNull();
    expect(redriveFailed(status("succeeded"))).toBeNull();
    expect(redriveFailed(status("running"), { failedNodes: 1 })).toBeNull();
    expect(redriveFailed(status("paused"), { failedItems: 3 })).toBeNull();
  });

  it("always offers it for a run that failed, was cancelled or timed out, counted when known", () => {
    expect(redriveFailed(status("failed"), { failedNodes: 0, failedItems: 3 })?.button).toBe("Redrive failed (3 items)");
    expect(redriveFailed(status("cancelled"), { failedNodes: 2 })?.button).toBe("Redrive failed (2 nodes)");
    // A run that timed out in its queue ran nothing: the redrive runs it from the start.
    expect(redriveFailed(status("timed_out"), { failedNodes: 0, failedItems: 0 }))
      .toEqual({ button: "Redrive failed", label: "what did not succeed" });
    expect(redriveFailed(status("failed"))?.button).toBe("Redrive failed");
  });
});

describe("redriveVersions (which version each attempt ran)", () => {
  const r = (number: number, fromVersion: number | null, version: number | null) =>
    ({ number, sinceSeq: 0, at: null, fromVersion, version });
  it("names the redrives that moved the run to another version", () => {
    expect(redriveVersions([r(1, 1, 1), r(2, 1, 3)])).toBe("began on v1; redrive 2 on v3");
    expect(redriveVersions([r(1, 1, 2), r(2, 2, 2), r(3, 2, 4)])).toBe("began on v1; redrive 1 on v2, redrive 3 on v4");
  });
  it("says nothing when every attempt ran one version, or for redrives recorded without versions", () => {
    expect(redriveVersions([r(1, 2, 2), r(2, 2, 2)])).toBeNull();
    expect(redriveVersions([r(1, null, null)])).toBeNull();
    expect(redriveVersions([])).toBeNull();
  });
});

describe("offeredRedrive (failed items already replayed as other executions)", () => {
  const item = (itemIndex: number, execution: number) => ({ kind: "item" as const, nodeId: "loop", itemIndex, execution });
  it("counts only what can be redriven and says what is left out", () => {
    const offer = { replayed: [item(1, 12), item(4, 13)], reason: "2 items were replayed as #12 and #13", failedNodes: 0, failedItems: 1 };
    expect(offeredRedrive(status("failed"), offer)).toEqual({
      button: "Redrive failed (1 item)", label: "the 1 failed item", disabled: false,
      note: "2 items were replayed as #12 and #13 and are left out." });
  });
  it("is disabled, with the reason, when every failed item (or the run) was replayed", () => {
    const offer = { replayed: [item(1, 12)], reason: "1 item was replayed as #12", failedNodes: 0, failedItems: 0 };
    expect(offeredRedrive(status("failed"), offer))
      .toMatchObject({ button: "Redrive failed", disabled: true, note: "Nothing left to redrive: 1 item was replayed as #12." });
    const run = { replayed: [{ kind: "run" as const, nodeId: null, itemIndex: null, execution: 9 }], reason: "the run was replayed as #9", failedNodes: 1, failedItems: 2 };
    expect(offeredRedrive(status("failed"), run)?.disabled).toBe(true);
  });
  it("leaves the button to the counts when nothing was replayed", () => {
    expect(offeredRedrive(status("failed"), null)).toBeNull();
    expect(offeredRedrive(status("running"), { replayed: [item(1, 12)], reason: "", failedNodes: 0, failedItems: 1 })).toBeNull();
  });
});
