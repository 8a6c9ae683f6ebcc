import { describe, expect, it } from "vitest";

import type { WorkflowNode } from "../api/types";
import {
  applyEvents, barLabel, formatDuration, type LiveState, loopGroupOf, loopItemCount, loopItemStats, redrivenBadge, runDuration,
  runDurationTitle, traceTree, visibleLanes,
} from "./model";
import type { Bar, StreamEvent } from "./types";

const node = (id: string, parentId?: string): WorkflowNode => ({
  id, type: id === "loop" ? "loop" : "delay", name: id.toUpperCase(), position: { x: 0, y: 0 }, config: {},
  ...(parentId ? { parentId } : {}),
});
const NODES = [node("start"), node("a"), node("b"), node("loop"), node("work", "loop")];

let seq = 0;
function event(type: string, nodeId: string | null, extra: Partial<StreamEvent> = {}): StreamEvent {
  seq += 1;
  return {
    seq, type, ts: new Date(1_700_000_000_000 + seq * 10).toISOString(), executionId: 1, nodeId,
    nodeRunId: nodeId ? `${nodeId}-run` : null, branchId: "main", branchName: "main", traceId: "trace-abc123",
    attempt: 1, iteration: null, status: null, data: null, ...extra,
  };
}

const EMPTY: LiveState = { bars: new Map(), lanes: [], status: "queued", finishedAt: null, startedAt: null };

describe("applyEvents", () => {
  it("draws bars from stream events and never moves one backwards", () => {
    let state = applyEvents(EMPTY, [
      event("execution.started", null),
      event("node.queued", "a", { branchId: "1", branchName: "branch_a", traceId: "trace-abc123-001" }),
      event("node.started", "a", { branchId: "1", branchName: "branch_a" }),
      event("node.succeeded", "a", { branchId: "1", branchName: "branch_a" }),
    ], NODES);
    const bar = state.bars.get("a-run");
    expect(bar?.status).toBe("succeeded");
    expect(bar?.lane).toBe("branch:1");
    expect(bar?.name).toBe("A");
    expect(state.lanes.map((l) => [l.id, l.parent, l.depth])).toEqual([["branch:main", null, 0], ["branch:1", "branch:main", 1]]);
    expect(state.status).toBe("running");
    // A late "started" (older than what the API returned) does not undo "succeeded".
    state = applyEvents(state, [event("node.started", "a", { branchId: "1" })], NODES);
    expect(state.bars.get("a-run")?.status).toBe("succeeded");
  });

  it("puts loop items into the first free slot of their loop group", () => {
    const item = (i: number, type: string) =>
      event(type, "work", { nodeRunId: `work-${i}`, iteration: i, traceId: `trace-abc123-00${i + 1}` });
    const state = applyEvents(EMPTY, [item(0, "node.queued"), item(1, "node.queued"), item(0, "node.succeeded"), item(2, "node.queued")], NODES);
    expect(state.bars.get("work-0")?.lane).toBe("loop:loop:slot:0");
    expect(state.bars.get("work-1")?.lane).toBe("loop:loop:slot:1");
    expect(state.bars.get("work-2")?.lane).toBe("loop:loop:slot:0");
    expect(visibleLanes(state.lanes, new Set(["loop:loop"])).map((l) => l.id)).toEqual(["branch:main", "loop:loop"]);
    const tree = traceTree("trace-abc123", state.lanes, state.bars.values());
    expect(tree.children.map((c) => c.traceId)).toEqual(["trace-abc123-001", "trace-abc123-002", "trace-abc123-003"]);
  });

  it("gathers the items of a loop with a trace of its own under it in the trace tree", () => {
    // A loop on main numbered 004 (after a fan-out's three branches): its items are 004-NNN.
    const item = (i: number) =>
      event("node.queued", "work", { nodeRunId: `work-${i}`, iteration: i, traceId: `trace-abc123-004-00${i + 1}` });
    const state = applyEvents(EMPTY, [item(0), item(1)], NODES);
    const tree = traceTree("trace-abc123", state.lanes, state.bars.values());
    expect(tree.children.map((c) => [c.traceId, c.label])).toEqual([["trace-abc123-004", "LOOP"]]);
    expect(tree.children[0]?.children.map((c) => [c.traceId, c.label])).toEqual(
      [["trace-abc123-004-001", "item 0"], ["trace-abc123-004-002", "item 1"]]);
  });
});

describe("loopItemCount", () => {
  it("takes the loop's length from its start event, and the latest run after a redrive", () => {
    let state = applyEvents(EMPTY, [
      event("node.queued", "loop"),
      event("node.started", "loop", { data: { itemCount: 6 } }),
      event("node.queued", "work", { nodeRunId: "work-0", iteration: 0 }),
    ], NODES);
    const lane = state.lanes.find((l) => l.id === "loop:loop");
    expect(lane).toBeDefined();
    expect(state.bars.get("loop-run")?.itemCount).toBe(6);
    expect(loopItemCount([...state.bars.values()], lane!)).toBe(6);
    // No start event seen (an older engine): the lane's own count from the API, else nothing.
    expect(loopItemCount([], { ...lane!, itemCount: 4 })).toBe(4);
    expect(loopItemCount([], lane!)).toBeUndefined();
    // A redrive starts the loop node again: its newer run decides.
    state = applyEvents(state, [event("node.started", "loop", { nodeRunId: "loop-run-2", data: { itemCount: 7 } })], NODES);
    expect(loopItemCount([...state.bars.values()], lane!)).toBe(7);
  });
});

describe("loopGroupOf", () => {
  it("names nested loops by their path", () => {
    const nodes = [node("outer"), node("inner", "outer"), node("step", "inner")];
    expect(loopGroupOf("step", nodes)).toBe("outer/inner");
    expect(loopGroupOf("outer", nodes)).toBeNull();
  });
});

describe("loopItemStats", () => {
  const bar = (iteration: number, nodeId: string, status: string, startedAt: string, attempt = 1): Bar => ({
    nodeRunId: `${nodeId}-${iteration}-${startedAt}`, nodeId, name: nodeId, type: "delay", branchId: "main", branchName: "main",
    traceId: "t", queuedAt: startedAt, startedAt, finishedAt: startedAt, status: status as Bar["status"], attempt,
    iteration, lane: `loop:loop:slot:${iteration % 2}`, container: false, critical: false,
  });

  it("counts an item once, by the newest attempt of each of its nodes", () => {
    const stats = loopItemStats([
      bar(0, "check", "succeeded", "2026-01-01T00:00:00Z"),
      bar(0, "boom", "failed", "2026-01-01T00:00:01Z"),
      bar(1, "check", "succeeded", "2026-01-01T00:00:00Z"),
      // Item 0 redriven: failed again (still one failed item).
      bar(0, "boom", "failed", "2026-01-01T00:00:09Z"),
      // Item 2: a retry that succeeded clears it.
      bar(2, "check", "failed", "2026-01-01T00:00:02Z", 1),
      bar(2, "check", "succeeded", "2026-01-01T00:00:03Z", 2),
    ]).get("loop:loop");
    expect(stats?.items.size).toBe(3);
    expect(stats?.failed).toBe(1);
    expect(stats?.cancelled).toBe(0);
  });

  it("counts items cut by cancelOnFailure as cancelled, not failed", () => {
    const stats = loopItemStats([
      bar(0, "work", "succeeded", "2026-01-01T00:00:00Z"),
      bar(0, "check", "failed", "2026-01-01T00:00:01Z"),
      // Item 1 was running when item 0 failed: cut.
      bar(1, "work", "cancelled", "2026-01-01T00:00:01Z"),
      // Item 2 lost a race inside it (a cancelled node run) and went on: it succeeded.
      bar(2, "slow", "cancelled", "2026-01-01T00:00:00Z"),
      bar(2, "check", "succeeded", "2026-01-01T00:00:01Z"),
    ]).get("loop:loop");
    expect(stats).toMatchObject({ failed: 1, cancelled: 1 });
  });
});

describe("barLabel of a redrive's node runs", () => {
  it("names the redrive, so its bars read apart from the kept ones", () => {
    expect(barLabel({ name: "Call", iteration: 3, attempt: 2, redrive: 1 })).toBe("Call · item 3 · attempt 2 · redrive 1");
    expect(barLabel({ name: "Call", iteration: 4, attempt: 1, redrive: 0 })).toBe("Call · item 4");
    expect(barLabel({ name: "Call", iteration: null, attempt: 1 })).toBe("Call");
  });
});

describe("runDuration", () => {
  const monday = "2026-11-30T10:00:00.000Z";
  it("leaves out the time a redriven run sat finished before its redrive", () => {
    // Failed after 2 s on Monday, redriven a day later, ended 3 s after that.
    const idle = 24 * 3600 * 1000 - 2000;
    const d = runDuration(monday, "2026-12-01T10:00:03.000Z", idle, 0);
    expect(d).toEqual({ active: 5000, span: 24 * 3600 * 1000 + 3000, idle });
    expect(formatDuration(d!.active)).toBe("5.00 s");
    expect(runDurationTitle(d!)).toContain("24h 0m");
  });
  it("is the plain span of a run never redriven, counting to now while it runs", () => {
    expect(runDuration(monday, null, 0, Date.parse(monday) + 1500)).toEqual({ active: 1500, span: 1500, idle: 0 });
    expect(runDurationTitle({ active: 1500, span: 1500, idle: 0 })).toBeUndefined();
    expect(runDuration(null, null, 0, 0)).toBeNull();
  });
  it("names a redriven run's badge", () => {
    expect(redrivenBadge(2)).toBe("redriven ×2");
    expect(redrivenBadge(0)).toBeNull();
  });
});

describe("a pinned node run's bar", () => {
  it("says pinned, from the live stream's node.started data", () => {
    const state = applyEvents(EMPTY, [
      event("node.queued", "a"),
      event("node.started", "a", { data: { pinned: true } }),
      event("node.succeeded", "a"),
      event("node.queued", "b"),
      event("node.started", "b"),
    ], NODES);
    expect(barLabel(state.bars.get("a-run")!)).toBe("A · pinned");
    expect(barLabel(state.bars.get("b-run")!)).toBe("B");
    expect(barLabel({ name: "Call", iteration: 2, attempt: 1, pinned: true })).toBe("Call · item 2 · pinned");
  });
});

describe("a node run whose output an earlier run lent (Run to here with reuse)", () => {
  it("says from #N instead of pinned, from the live stream's node.started data", () => {
    const state = applyEvents(EMPTY, [
      event("node.queued", "a"),
      event("node.started", "a", { data: { pinned: true, reusedFrom: 41 } }),
      event("node.succeeded", "a"),
    ], NODES);
    expect(state.bars.get("a-run")!.reusedFrom).toBe(41);
    expect(barLabel(state.bars.get("a-run")!)).toBe("A · from #41");
  });
});
