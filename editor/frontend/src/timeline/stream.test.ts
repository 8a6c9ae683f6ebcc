import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ExecutionListStream, ExecutionStream } from "./stream";

/** A stand-in for the browser's WebSocket: the test plays the server's part. */
class FakeSocket {
  static opened: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
  }

  close(): void {}

  /** Accepted, then refused with `code` and its error message (what the consumers do). */
  refuse(code: number, detail: string): void {
    this.onopen?.();
    this.onmessage?.({ data: JSON.stringify({ type: "error", code, detail }) });
    this.onclose?.({ code });
  }
}

beforeEach(() => {
  FakeSocket.opened = [];
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("window", { location: { protocol: "http:", host: "localhost:8000" }, setTimeout, clearTimeout });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("a stream the server refuses as busy (4429: too many open for this user)", () => {
  it("says why and tries again only after the longest back-off, not every 250 ms", () => {
    const states: [string, string | undefined][] = [];
    const stream = new ExecutionListStream(() => {}, (state, detail) => states.push([state, detail]));
    FakeSocket.opened[0]!.refuse(4429, "Too many live streams open for this user");
    expect(states.at(-1)).toEqual(["reconnecting", "Too many live streams open for this user"]);
    vi.advanceTimersByTime(4999);
    expect(FakeSocket.opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.opened).toHaveLength(2);
    stream.close();
  });

  it("still stops for good on a missing execution", () => {
    const states: [string, string | undefined][] = [];
    const stream = new ExecutionStream(7, 0, () => {}, (state, detail) => states.push([state, detail]));
    expect(FakeSocket.opened[0]!.url).toBe("ws://localhost:8000/ws/executions/7/?afterSeq=0");
    FakeSocket.opened[0]!.refuse(4404, "No such execution.");
    expect(states.at(-1)).toEqual(["closed", "No such execution."]);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.opened).toHaveLength(1);
    stream.close();
  });
});
