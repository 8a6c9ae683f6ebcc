import { describe, expect, it } from "vitest";

import { importName } from "./importName";

describe("the name of an imported workflow", () => {
  it("is its own when free", () => {
    expect(importName("Orders", ["Billing"])).toBe("Orders");
  });
  it("says (imported), then (imported 2), … when taken", () => {
    expect(importName("Orders", ["Orders"])).toBe("Orders (imported)");
    expect(importName("Orders", ["orders ", "Orders (imported)"])).toBe("Orders (imported 2)");
    expect(importName("Orders", ["Orders", "Orders (imported)", "Orders (imported 2)"])).toBe("Orders (imported 3)");
  });
});
