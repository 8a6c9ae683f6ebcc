import { describe, expect, it } from "vitest";

import { earlierSignals, mergeSignals, SIGNAL_EVENT_TYPES, signalLogLines } from "./signals";
import type { StreamEvent } from "./types";

function event(seq: number, type: string): StreamEvent {
  return {
    seq, type, ts: new Date(1_700_000_000_000 + seq).toISOString(), executionId: 1, nodeId: type === "execution.paused" ? "sign_off" : null,
    nodeRunId: null, branchId: "main", branchName: "main", traceId: "trace-abc123", attempt: null, iteration: null,
    status: null, data: null,
  };
}

/** A stored event log: a pause at seq 3, then `tail` node events; returns the log and a recording reader of the API's typed page. */
function store(tail: number) {
  const log = [event(1, "execution.started"), event(2, "node.started"), event(3, "execution.paused")];
  for (let i = 0; i < tail; i++) log.push(event(4 + i, "node.succeeded"));
  const calls: [number, number][] = [];
  const fetchSignals = async (beforeSeq: number, limit: number) => {
    calls.push([beforeSeq, limit]);
    return log.filter((e) => e.seq < beforeSeq && (SIGNAL_EVENT_TYPES as readonly string[]).includes(e.type)).slice(-limit);
  };
  return { lastSeq: log.length, calls, fetchSignals };
}

describe("earlierSignals", () => {
  it("finds the pause of a run that was already waiting when the page opened, in one request", async () => {
    const { lastSeq, calls, fetchSignals } = store(2);
    const found = await earlierSignals(fetchSignals, lastSeq);
    expect(found.map((e) => [e.seq, e.type])).toEqual([[3, "execution.paused"]]);
    expect(calls).toEqual([[6, 200]]);
  });

  it("finds it however many events came after it", async () => {
    const { lastSeq, calls, fetchSignals } = store(25_000);
    expect((await earlierSignals(fetchSignals, lastSeq)).map((e) => e.seq)).toEqual([3]);
    expect(calls).toHaveLength(1);
  });

  it("asks for nothing when there is nothing before", async () => {
    const { calls, fetchSignals } = store(0);
    expect(await earlierSignals(fetchSignals, 0)).toEqual([]);
    expect(calls).toEqual([]);
  });
});

describe("mergeSignals", () => {
  it("keeps seq order without repeats when the stream and the history overlap", () => {
    const merged = mergeSignals([event(3, "execution.paused"), event(5, "signal")], [event(5, "signal"), event(6, "execution.resumed")]);
    expect(merged.map((e) => e.seq)).toEqual([3, 5, 6]);
    expect(mergeSignals([event(1, "signal"), event(2, "signal"), event(3, "signal")], [], 2).map((e) => e.seq)).toEqual([2, 3]);
  });
});

describe("signalLogLines", () => {
  const withData = (seq: number, type: string, data: Record<string, unknown>): StreamEvent => ({ ...event(seq, type), nodeId: null, data });
  it("shows a pause and the pause it caused as one line, and an approval's pause on its own", () => {
    const lines = signalLogLines([
      withData(3, "signal", { type: "pause", reason: "paused from the timeline" }),
      withData(4, "execution.paused", { reason: "paused from the timeline" }),
      withData(7, "signal", { type: "resume", data: {} }),
      withData(8, "execution.resumed", {}),
      withData(9, "execution.paused", { reason: "Awaiting approval", approval: true }),
      withData(12, "signal", { type: "cancel", reason: "no longer needed" }),
    ]);
    expect(lines.map((l) => [l.seq, l.text])).toEqual([
      [3, "paused — paused from the timeline"],
      [7, "resumed"],
      [9, "paused — Awaiting approval"],
      [12, "cancel — no longer needed"],
    ]);
  });
});
