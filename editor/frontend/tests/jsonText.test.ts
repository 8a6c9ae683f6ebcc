import { describe, expect, it } from "vitest";

import { parseJsonText } from "../src/lib/jsonText";

describe("parseJsonText (the JSON boxes of the dialogs)", () => {
  it("reads JSON and gives the box's empty value for blank text", () => {
    expect(parseJsonText('{"n": 5}', "The input", {})).toEqual({ ok: true, value: { n: 5 } });
    expect(parseJsonText("  \n", "The input", {})).toEqual({ ok: true, value: {} });
    expect(parseJsonText("", "The data", undefined)).toEqual({ ok: true, value: undefined });
    expect(parseJsonText("[1, 2]", "The data", undefined)).toEqual({ ok: true, value: [1, 2] });
  });

  it("names the box in the message when the text is not JSON", () => {
    const result = parseJsonText("{n: 5}", "The resume data", {});
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^The resume data is not valid JSON: /);
  });
});
