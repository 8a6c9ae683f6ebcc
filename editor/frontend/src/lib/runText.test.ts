import { describe, expect, it } from "vitest";

import { errorText } from "./runText";

describe("errorText", () => {
  it("reads a node failure that ended the run as its message and the node", () => {
    const error = { nodeId: "loop", error: { message: "arrayPath resolved to nothing" } };
    expect(errorText(error)).toBe("arrayPath resolved to nothing (at node loop)");
    expect(errorText(error, (id) => (id === "loop" ? "Parallel Loop" : undefined))).toBe(
      "arrayPath resolved to nothing (at Parallel Loop, node loop)",
    );
  });

  it("says where the run's input is when a template on {{input.…}} found nothing", () => {
    const error = { nodeId: "loop", error: { message: "arrayPath '{{input.items}}' resolved to nothing (null), not an array" } };
    expect(errorText(error, () => "Loop")).toBe(
      "arrayPath '{{input.items}}' resolved to nothing (null), not an array — {{input}} is what the node before this one " +
        "passed on; the run's input is {{start}} in every node (at Loop, node loop)",
    );
    // Other templates, and other kinds of result, are left as they were.
    expect(errorText({ message: "arrayPath '{{users.body}}' resolved to nothing (null), not an array" })).not.toContain("{{start}}");
    expect(errorText({ message: "arrayPath '{{input.items}}' resolved to a number, not an array" })).not.toContain("{{start}}");
  });

  it("keeps text, a plain message, and falls back to JSON without one", () => {
    expect(errorText("boom")).toBe("boom");
    expect(errorText({ message: "boom" })).toBe("boom");
    expect(errorText({ message: "boom", nodeId: "x" })).toBe("boom (at node x)");
    expect(errorText({ code: 3 })).toBe('{"code":3}');
    expect(errorText(null)).toBe("");
  });
});
