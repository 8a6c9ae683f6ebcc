import { describe, expect, it } from "vitest";

import { formatDuration, outsideLabelPlace, tickLabel, tickLabelPlace } from "./model";

// The Executions list showed a run paused at an approval for 119.6 s as "1m 60s": seconds
// were rounded after the minutes were taken, so a duration just under a whole minute read
// as 60 seconds of the minute before.
describe("formatDuration never shows 60 seconds or 60 minutes", () => {
  it.each([
    [119_600, "2m 0s"],
    [119_400, "1m 59s"],
    [59_960, "1m 0s"],
    [3_599_600, "1h 0m"],
    [7_199_999, "2h 0m"],
    [61_000, "1m 1s"],
    [59_940, "59.9 s"],
    [9_999, "10.0 s"],
    [999.7, "1.00 s"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("tickLabel never shows 60 seconds or 60 minutes", () => {
  it.each([
    [119_700, 60_000, "2 min"],
    [7_170_000, 3_600_000, "2 h"],
  ])("%d ms (step %d) → %s", (ms, step, text) => {
    expect(tickLabel(ms, step)).toBe(text);
  });
});

describe("tickLabelPlace", () => {
  it("keeps a label near the right edge inside the chart", () => {
    // The 140 ms tick of a 136 ms run, 20 px from the edge of a 1000 px chart.
    const place = tickLabelPlace(980, "140 ms", 1000);
    expect(place).toEqual({ x: 977, anchor: "end" });
  });
  it("puts other labels right of their line", () => {
    expect(tickLabelPlace(400, "60 ms", 1000)).toEqual({ x: 403, anchor: "start" });
  });
});

describe("outsideLabelPlace", () => {
  it("writes a sliver's name right of it when the lane is free there", () => {
    expect(outsideLabelPlace({ left: 300, right: 303 }, [], 30, 230, 1000)).toEqual({ x: 307, anchor: "start" });
  });
  it("goes left of the bar when the next bar or the chart's edge leaves no room on the right", () => {
    expect(outsideLabelPlace({ left: 960, right: 963 }, [], 30, 230, 1000)).toEqual({ x: 956, anchor: "end" });
    expect(outsideLabelPlace({ left: 500, right: 503 }, [{ left: 510, right: 600 }], 30, 230, 1000)).toEqual({ x: 496, anchor: "end" });
  });
  it("gives up when neither side has room", () => {
    expect(outsideLabelPlace({ left: 500, right: 503 }, [{ left: 480, right: 499 }, { left: 510, right: 600 }], 30, 230, 1000)).toBeNull();
  });
});
