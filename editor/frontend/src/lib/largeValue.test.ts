import { describe, expect, it } from "vitest";

import { downloadUrl, isTruncated, shortJson, sizeText } from "./largeValue";

describe("large values", () => {
  it("recognises the server's marker and nothing else", () => {
    expect(isTruncated({ truncated: true, size: 7_000_000, url: "/api/executions/3/input" })).toBe(true);
    expect(isTruncated({ truncated: true, size: 12 })).toBe(true);
    expect(isTruncated({ truncated: "yes", size: 12 })).toBe(false);
    expect(isTruncated({ truncated: true })).toBe(false);
    expect(isTruncated([true])).toBe(false);
    expect(isTruncated(null)).toBe(false);
  });

  it("says sizes as a person would", () => {
    expect(sizeText(8_816_731)).toBe("8.8 MB");
    expect(sizeText(68_888_890)).toBe("69 MB");
    expect(sizeText(540_000)).toBe("540 KB");
    expect(sizeText(900)).toBe("900 bytes");
  });

  it("offers a download only where the server answers one", () => {
    expect(downloadUrl("/api/executions/3/input")).toBe("/api/executions/3/input?download=1");
    expect(downloadUrl("/api/executions/3/timeline?nodeRun=ab")).toBeNull();
  });

  it("summarises a marker by its size and a value by its JSON", () => {
    expect(shortJson({ truncated: true, size: 2_500_000, url: "/api/executions/1/output" })).toBe("large value (2.5 MB)");
    expect(shortJson({ a: "x".repeat(100) }, 20)).toBe('{"a":"xxxxxxxxxxx…');
  });
});
