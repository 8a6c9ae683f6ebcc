import { describe, expect, it } from "vitest";

import { issuesSummary, plural } from "./plural";

// The editor's footer read "1 error(s), 0 warning(s)" for one missing field.
describe("issuesSummary", () => {
  it.each([
    [1, 0, "1 error"],
    [2, 1, "2 errors, 1 warning"],
    [0, 3, "3 warnings"],
    [0, 0, "No problems found"],
  ])("%d errors, %d warnings → %s", (errors, warnings, text) => {
    expect(issuesSummary(errors, warnings)).toBe(text);
  });
  it("counts in words", () => {
    expect(plural(1, "item")).toBe("1 item");
    expect(plural(0, "item")).toBe("0 items");
  });
});
