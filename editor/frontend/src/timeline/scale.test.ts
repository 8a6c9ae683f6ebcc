import { describe, expect, it } from "vitest";

import type { WorkflowEdge, WorkflowNode } from "../api/types";
import {
  applyEvents,
  fanOuts,
  barLabel,
  concurrencyNotes,
  concurrencyText,
  formatDuration,
  type LiveState,
  queueWaitMs,
  stripStatus,
  tickLabel,
  tickStep,
  toMs,
} from "./model";
import type { Bar, Lane, StreamEvent } from "./types";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const iso = (ms: number) => {
  const whole = Math.floor(ms);
  const micro = Math.round((ms - whole) * 1000);
  return new Date(whole).toISOString().replace("Z", `${String(micro).padStart(3, "0")}+00:00`);
};

describe("time at every scale", () => {
  it("keeps the server's microseconds", () => {
    expect(toMs("2026-01-01T00:00:00.001250+00:00")).toBeCloseTo(T0 + 1.25, 6);
    expect(toMs("2026-01-01T00:00:00.001+00:00")).toBe(T0 + 1);
    expect(toMs("2026-01-01T00:00:00Z")).toBe(T0);
  });

  it("formats durations from microseconds to hours", () => {
    expect(formatDuration(0.25)).toBe("250 µs");
    expect(formatDuration(7.034)).toBe("7.03 ms");
    expect(formatDuration(42.3)).toBe("42.3 ms");
    expect(formatDuration(420)).toBe("420 ms");
    expect(formatDuration(4200)).toBe("4.20 s");
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe("2h 5m");
  });

  it("picks an axis step that gives a handful of ticks for any span", () => {
    for (const span of [0.05, 0.7, 7, 70, 700, 7000, 70_000, 700_000, 7_000_000, 20_000_000]) {
      const step = tickStep(span, 900);
      const ticks = span / step;
      expect(ticks, `span ${span}`).toBeGreaterThanOrEqual(2);
      expect(ticks, `span ${span}`).toBeLessThanOrEqual(12);
    }
    expect(tickLabel(0, 1)).toBe("0");
    expect(tickLabel(0.02, 0.01)).toBe("20 µs");
    expect(tickLabel(2, 1)).toBe("2 ms");
    expect(tickLabel(1.5, 0.5)).toBe("1.5 ms");
    expect(tickLabel(1500, 500)).toBe("1.5 s");
    expect(tickLabel(120_000, 60_000)).toBe("2 min");
    expect(tickLabel(3 * 3_600_000, 3_600_000)).toBe("3 h");
  });
});

const bar = (id: string, extra: Partial<Bar>): Bar => ({
  nodeRunId: id, nodeId: "work", name: "Work", type: "delay", branchId: "main", branchName: "main", traceId: "t",
  lane: "branch:main", queuedAt: iso(T0), startedAt: iso(T0), finishedAt: iso(T0 + 1), status: "succeeded", attempt: 1,
  iteration: null, container: false, critical: false, ...extra,
});

describe("what the header and bars say", () => {
  it("does not report a fractional concurrency for runs whose nodes ran one at a time", () => {
    const chain = [bar("a", { startedAt: iso(T0), finishedAt: iso(T0 + 3) }), bar("b", { startedAt: iso(T0 + 3.5), finishedAt: iso(T0 + 6) })];
    expect(concurrencyText(chain, T0, T0 + 7, T0 + 7).text).toBe("one at a time");
    const pair = [bar("a", { startedAt: iso(T0), finishedAt: iso(T0 + 5) }), bar("b", { startedAt: iso(T0), finishedAt: iso(T0 + 5) })];
    expect(concurrencyText(pair, T0, T0 + 7, T0 + 7).text).toBe("up to 2 at once");
    expect(concurrencyText(pair, T0, T0 + 5, T0 + 5).text).toBe("up to 2 at once");
    const long = pair.map((b) => ({ ...b, finishedAt: iso(T0 + 1000) }));
    expect(concurrencyText(long, T0, T0 + 1000, T0 + 1000).text).toBe("2.00×");
  });

  it("labels loop items with their number", () => {
    expect(barLabel({ name: "Work", iteration: 3, attempt: 1 })).toBe("Work · item 3");
    expect(barLabel({ name: "Call", iteration: null, attempt: 2 })).toBe("Call · attempt 2");
  });

  it("gives no queue wait to a node run that never started", () => {
    expect(queueWaitMs({ queuedAt: iso(T0), startedAt: null, status: "skipped" }, T0 + 9820)).toBeNull();
    expect(queueWaitMs({ queuedAt: iso(T0), startedAt: null, status: "queued" }, T0 + 50)).toBe(50);
    expect(queueWaitMs({ queuedAt: iso(T0), startedAt: iso(T0 + 2), status: "succeeded" }, T0 + 50)).toBe(2);
  });

  it("colours a folded strip by its items' worst status", () => {
    expect(stripStatus({ succeeded: 4, failed: 1 })).toBe("failed");
    expect(stripStatus({ succeeded: 4, running: 1 })).toBe("running");
    expect(stripStatus({ succeeded: 4 })).toBe("succeeded");
  });

  it("says why a loop stayed below its concurrency limit", () => {
    const loop = (config: Record<string, unknown>): WorkflowNode => ({ id: "loop", type: "loop", name: "Fan", position: { x: 0, y: 0 }, config });
    const lanes: Lane[] = [{ id: "loop:loop", kind: "loop", label: "Fan", parent: "branch:main", depth: 1, barCount: 0, nodeId: "loop" }];
    // Six items, two at a time.
    const items = [0, 1, 2, 3, 4, 5].map((i) => bar(`w${i}`, {
      lane: `loop:loop:slot:${i % 2}`, iteration: i, startedAt: iso(T0 + Math.floor(i / 2) * 10), finishedAt: iso(T0 + Math.floor(i / 2) * 10 + 9),
    }));
    expect(concurrencyNotes([loop({ maxConcurrency: 10, rateLimit: 5 })], {}, lanes, items, T0)[0]).toMatchObject(
      { peak: 2, limit: 10, reason: "held by the rate limit (5 items/s)" });
    expect(concurrencyNotes([loop({ maxConcurrency: 10, batchSize: 2 })], {}, lanes, items, T0)[0]?.reason).toBe("batches of 2");
    expect(concurrencyNotes([loop({ maxConcurrency: 2 })], {}, lanes, items, T0)[0]?.reason).toBe("reached its limit");
    expect(concurrencyNotes([loop({ maxConcurrency: 10 })], { maxConcurrency: 2 }, lanes, items, T0)[0]?.reason)
      .toBe("held at the workflow's maxConcurrency (2)");
    expect(concurrencyNotes([loop({ maxConcurrency: 10 })], {}, lanes, items.slice(0, 2), T0)[0]?.reason).toBe("only 2 items");
  });
});

describe("why a fan-out, the run or the run queue stayed below its limit", () => {
  const node = (id: string, name = id, type = "delay"): WorkflowNode => ({ id, type, name, position: { x: 0, y: 0 }, config: {} });
  const edge = (source: string, target: string): WorkflowEdge => ({ id: `${source}-${target}`, source, target });
  // start → a, b, c, d → merge "Collect" → tail → x, y → merge "Again"
  const nodes = [node("start", "Start", "start"), ...["a", "b", "c", "d"].map((id) => node(id)), node("j", "Collect", "merge"),
                 node("tail"), node("x"), node("y"), node("j2", "Again", "merge")];
  const edges = [...["a", "b", "c", "d"].flatMap((id) => [edge("start", id), edge(id, "j")]), edge("j", "tail"),
                 edge("tail", "x"), edge("tail", "y"), edge("x", "j2"), edge("y", "j2")];
  const run = (id: string, from: number, to: number, extra: Partial<Bar> = {}) =>
    bar(`${id}-run`, { nodeId: id, queuedAt: iso(from), startedAt: iso(from), finishedAt: iso(to), ...extra });

  it("finds each fan-out's branches and its join, two fan-outs in a row apart", () => {
    const found = fanOuts(nodes, edges);
    expect(found.map((f) => [f.nodeId, f.joinId, f.branches, [...f.members].sort()])).toEqual([
      ["start", "j", 4, ["a", "b", "c", "d"]],
      ["tail", "j2", 2, ["x", "y"]],
    ]);
    // Routing handles of a condition are not branches.
    const routed = fanOuts([node("if", "If", "condition"), node("t"), node("f")],
                           [{ ...edge("if", "t"), sourceHandle: "true" }, { ...edge("if", "f"), sourceHandle: "false" }]);
    expect(routed).toEqual([]);
  });

  it("says a fan-out was held by the workflow's maxConcurrency", () => {
    // Four branches, two at a time: the workflow allows two node runs in flight.
    const bars = [run("a", T0, T0 + 100), run("b", T0, T0 + 100), run("c", T0 + 100, T0 + 200), run("d", T0 + 100, T0 + 200)];
    const notes = concurrencyNotes(nodes, { maxConcurrency: 2 }, [], bars, T0 + 300, edges);
    expect(notes.find((n) => n.laneId === "fanout:start")).toMatchObject(
      { label: "Collect", peak: 2, limit: 2, reason: "held at the workflow's maxConcurrency (2)" });
    expect(notes.find((n) => n.label === "This run")).toMatchObject({ peak: 2, limit: 2 });
    // The second fan-out never ran: no note for it.
    expect(notes.find((n) => n.laneId === "fanout:tail")).toBeUndefined();
  });

  it("says when a fan-out had too few branches, or waited for workers", () => {
    const all = [run("a", T0, T0 + 100), run("b", T0, T0 + 100), run("c", T0, T0 + 100), run("d", T0, T0 + 100),
                 run("x", T0 + 200, T0 + 300), run("y", T0 + 200, T0 + 300)];
    const notes = concurrencyNotes(nodes, {}, [], all, T0 + 400, edges);
    expect(notes.find((n) => n.laneId === "fanout:start")).toMatchObject({ peak: 4, limit: 32, reason: "only 4 branches" });
    expect(notes.find((n) => n.laneId === "fanout:tail")).toMatchObject({ label: "Again", peak: 2, reason: "only 2 branches" });
    expect(notes.find((n) => n.label === "This run")).toBeUndefined();
    const queued = [run("a", T0, T0 + 100), run("b", T0, T0 + 100),
                    run("c", T0 + 100, T0 + 200, { queuedAt: iso(T0) }), run("d", T0 + 100, T0 + 200, { queuedAt: iso(T0) })];
    expect(concurrencyNotes(nodes, {}, [], queued, T0 + 300, edges).find((n) => n.laneId === "fanout:start")?.reason)
      .toBe("branches waited in the queue for a worker");
  });

  it("says when the run waited in the workflow's run queue", () => {
    const notes = concurrencyNotes(nodes, { queue: { maxConcurrentRuns: 1 } }, [], [], T0, edges,
                                   { createdAt: iso(T0), startedAt: iso(T0 + 2000) });
    expect(notes[0]).toMatchObject({ label: "Run queue" });
    expect(notes[0]?.text).toBe("waited 2.00 s — the workflow runs at most 1 at a time (queue.maxConcurrentRuns)");
    expect(concurrencyNotes(nodes, { queue: { maxConcurrentRuns: 1 } }, [], [], T0, edges,
                            { createdAt: iso(T0), startedAt: iso(T0 + 3) })).toEqual([]);
  });
});

describe("paused time", () => {
  it("opens an interval on pause and closes it on resume", () => {
    const ev = (seq: number, type: string, ts: number): StreamEvent => ({
      seq, type, ts: iso(ts), executionId: 1, nodeId: null, nodeRunId: null, branchId: null, branchName: null, traceId: null,
      attempt: null, iteration: null, status: null, data: null,
    });
    const start: LiveState = { bars: new Map(), lanes: [], status: "running", finishedAt: null, startedAt: iso(T0) };
    let state = applyEvents(start, [ev(1, "execution.paused", T0 + 100)], []);
    expect(state.status).toBe("paused");
    expect(state.paused).toEqual([{ from: iso(T0 + 100), to: null }]);
    state = applyEvents(state, [ev(2, "execution.resumed", T0 + 900)], []);
    expect(state.paused).toEqual([{ from: iso(T0 + 100), to: iso(T0 + 900) }]);
    expect(state.status).toBe("running");
  });
});
