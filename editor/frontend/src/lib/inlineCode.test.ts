import { describe, expect, it } from "vitest";

import { inlineCodeParts } from "./inlineCode";

describe("inlineCodeParts", () => {
  it("splits a node type's description at its code spans", () => {
    expect(inlineCodeParts("Waits `duration` milliseconds; e.g. `{{input.waitMs}}`.")).toEqual([
      { code: false, text: "Waits " },
      { code: true, text: "duration" },
      { code: false, text: " milliseconds; e.g. " },
      { code: true, text: "{{input.waitMs}}" },
      { code: false, text: "." },
    ]);
  });
  it("keeps text without code, and an unpaired backtick, as it is", () => {
    expect(inlineCodeParts("plain")).toEqual([{ code: false, text: "plain" }]);
    expect(inlineCodeParts("a ` b")).toEqual([{ code: false, text: "a ` b" }]);
    expect(inlineCodeParts("")).toEqual([]);
  });
});
