import { describe, expect, it } from "vitest";

import { readableIssueMessage } from "./issueText";

describe("readableIssueMessage", () => {
  it("names a config field by its form title", () => {
    expect(readableIssueMessage("config.url: is required (it is empty)", (k) => (k === "url" ? "URL" : undefined)))
      .toBe("URL: is required (it is empty)");
  });
  it("falls back to the key without the config. prefix", () => {
    expect(readableIssueMessage("config.maxConcurrency: -1 is out of range: allowed 1 to 10000"))
      .toBe("maxConcurrency: -1 is out of range: allowed 1 to 10000");
  });
  it("keeps a nested path (the title names only the top field)", () => {
    expect(readableIssueMessage("config.headers.x: must be text", () => "Headers")).toBe("headers.x: must be text");
  });
  it("leaves other messages alone", () => {
    expect(readableIssueMessage("dangling edge")).toBe("dangling edge");
    expect(readableIssueMessage("settings.maxConcurrency: too big")).toBe("settings.maxConcurrency: too big");
  });
});
