import { describe, expect, it } from "vitest";

import { NODE_SUMMARIES } from "./summaries";

const summary = (type: string, config: Record<string, unknown>): string | undefined => NODE_SUMMARIES[type]?.(config);

describe("node summaries on the canvas", () => {
  it("show a loop's rate limit and queue, not only its concurrency", () => {
    const text = summary("loop", {
      arrayPath: "{{start.items}}", parallel: true, maxConcurrency: 3, rateLimit: 5, queue: { maxSize: 100 },
    });
    expect(text).toBe("forEach {{start.items}} · parallel ×3 · 5/s · queued");
  });

  it("leave limits that are not set out", () => {
    expect(summary("loop", { arrayPath: "{{users.body}}", parallel: true })).toBe("forEach {{users.body}} · parallel");
  });

  it("show an approval's message, the option the panel sets", () => {
    expect(summary("approval", { message: "Ship order {{start.id}}?" })).toBe("Ship order {{start.id}}?");
    expect(summary("approval", {})).toBe("waits for resume");
  });
});
