import { describe, expect, it } from "vitest";

import { Latest } from "./latest";

describe("Latest", () => {
  it("keeps only the newest ticket current", () => {
    const latest = new Latest();
    const first = latest.take();
    expect(first()).toBe(true);
    const second = latest.take();
    expect(first()).toBe(false);
    expect(second()).toBe(true);
  });

  it("lets a slow first answer lose to a fast second one", async () => {
    const latest = new Latest();
    const shown: string[] = [];
    const ask = (answer: string, ms: number) => {
      const current = latest.take();
      return new Promise<string>((resolve) => setTimeout(() => resolve(answer), ms)).then((body) => {
        if (current()) shown.push(body);
      });
    };
    await Promise.all([ask("open", 30), ask("any", 1)]);
    expect(shown).toEqual(["any"]);
  });
});
