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

  it("keeps text, a plain message, and falls back to JSON without one", () => {
    expect(errorText("boom")).toBe("boom");
    expect(errorText({ message: "boom" })).toBe("boom");
    expect(errorText({ message: "boom", nodeId: "x" })).toBe("boom (at node x)");
    expect(errorText({ code: 3 })).toBe('{"code":3}');
    expect(errorText(null)).toBe("");
  });
});
