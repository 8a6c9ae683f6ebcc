import * as acorn from "acorn";
import { describe, expect, it } from "vitest";

import { lintWith, problemText } from "../src/lib/jsLint";

describe("lintWith (expressions as the sandbox reads them)", () => {
  it("accepts expressions, a trailing semicolon and function bodies", () => {
    expect(lintWith(acorn, "input.count * 2")).toBeNull();
    expect(lintWith(acorn, "input.count * 2;")).toBeNull();
    expect(lintWith(acorn, "{a: input.x, b: 2}")).toBeNull();
    expect(lintWith(acorn, "const x = input.n;\nreturn {x};")).toBeNull();
    expect(lintWith(acorn, "")).toBeNull();
  });

  it("reports a broken return with its line and column", () => {
    const problem = lintWith(acorn, "const a = 1;\nreturn {a: 1;}");
    expect(problem).not.toBeNull();
    expect(problem?.line).toBe(2);
    expect(problem?.message).toMatch(/^SyntaxError: Unexpected token/);
    expect(problemText(problem!)).toMatch(/\(line 2, column \d+\)$/);
  });

  it("never runs the code", () => {
    (globalThis as Record<string, unknown>).__ran = false;
    expect(lintWith(acorn, "globalThis.__ran = true")).toBeNull();
    expect((globalThis as Record<string, unknown>).__ran).toBe(false);
  });
});
