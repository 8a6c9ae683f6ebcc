import { describe, expect, it } from "vitest";

import { earlierSignals, mergeSignals } from "./signals";
import type { StreamEvent } from "./types";

function event(seq: number, type: string): StreamEvent {
  return {
    seq, type, ts: new Date(1_700_000_000_000 + seq).toISOString(), executionId: 1, nodeId: type === "execution.paused" ? "sign_off" : null,
    nodeRunId: null, branchId: "main", branchName: "main", traceId: "trace-abc123", attempt: null, iteration: null,
    status: null, data: null,
  };
}

/** A stored event log: a pause at seq 3, then `tail` node events; returns the log and a recording page reader. */
function store(tail: number) {
  const log = [event(1, "execution.started"), event(2, "node.started"), event(3, "execution.paused")];
  for (let i = 0; i < tail; i++) log.push(event(4 + i, "node.succeeded"));
  const calls: [number, number][] = [];
  const fetchPage = async (afterSeq: number, limit: number) => {
    calls.push([afterSeq, limit]);
    return log.filter((e) => e.seq > afterSeq).slice(0, limit);
  };
  return { lastSeq: log.length, calls, fetchPage };
}

describe("earlierSignals", () => {
  it("finds the pause of a run that was already waiting when the page opened", async () => {
    const { lastSeq, calls, fetchPage } = store(2);
    const found = await earlierSignals(fetchPage, lastSeq, { needPause: true });
    expect(found.map((e) => [e.seq, e.type])).toEqual([[3, "execution.paused"]]);
    expect(calls).toEqual([[0, 5]]);
  });

  it("reads back page by page, newest first, until it has the pause", async () => {
    const { lastSeq, calls, fetchPage } = store(25);
    const found = await earlierSignals(fetchPage, lastSeq, { needPause: true, pageSize: 10 });
    expect(found.map((e) => e.seq)).toEqual([3]);
    expect(calls).toEqual([[18, 10], [8, 10], [0, 8]]);
  });

  it("reads one page only when nothing waits, and gives up after maxPages", async () => {
    const once = store(25);
    expect(await earlierSignals(once.fetchPage, once.lastSeq, { needPause: false, pageSize: 10 })).toEqual([]);
    expect(once.calls).toHaveLength(1);
    const bounded = store(25);
    expect(await earlierSignals(bounded.fetchPage, bounded.lastSeq, { needPause: true, pageSize: 10, maxPages: 2 })).toEqual([]);
    expect(bounded.calls).toHaveLength(2);
  });
});

describe("mergeSignals", () => {
  it("keeps seq order without repeats when the stream and the history overlap", () => {
    const merged = mergeSignals([event(3, "execution.paused"), event(5, "signal")], [event(5, "signal"), event(6, "execution.resumed")]);
    expect(merged.map((e) => e.seq)).toEqual([3, 5, 6]);
    expect(mergeSignals([event(1, "signal"), event(2, "signal"), event(3, "signal")], [], 2).map((e) => e.seq)).toEqual([2, 3]);
  });
});
