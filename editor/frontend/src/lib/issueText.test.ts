import { describe, expect, it } from "vitest";

import { readableIssueMessage, requiredFieldMessage } from "./issueText";

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
  it("names a missing required field (jsonschema's words) by its title too", () => {
    expect(readableIssueMessage("config: 'url' is a required property", (k) => (k === "url" ? "URL" : undefined)))
      .toBe("URL: is required");
    expect(readableIssueMessage("config: 'duration' is a required property")).toBe("duration: is required");
  });
  it("leaves other messages alone", () => {
    expect(readableIssueMessage("dangling edge")).toBe("dangling edge");
    expect(readableIssueMessage("settings.maxConcurrency: too big")).toBe("settings.maxConcurrency: too big");
  });
});

describe("requiredFieldMessage", () => {
  // The editor's instant check says what the server will (engine/core/definition_checks.py),
  // so the labelled text does not change when the server's answer replaces it.
  const title = (k: string) => (k === "url" ? "URL" : undefined);
  it("says an empty field as the server does", () => {
    expect(requiredFieldMessage("url", "")).toBe("config.url: is required (it is empty)");
    expect(readableIssueMessage(requiredFieldMessage("url", ""), title)).toBe("URL: is required (it is empty)");
  });
  it("says a missing field as the server does", () => {
    expect(requiredFieldMessage("url", undefined)).toBe("config: 'url' is a required property");
    expect(readableIssueMessage(requiredFieldMessage("url", undefined), title)).toBe("URL: is required");
  });
});
