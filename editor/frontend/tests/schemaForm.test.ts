import { describe, expect, it } from "vitest";

import { describeErrorBody, readCookie } from "../src/api/client";
import { activeType, describeDefault, fieldKind, getAtPath, initialValueFor, isRelevant, optionFor, orderedProperties, parseNumberInput, parseNumberOrTemplate, schemaTypes, setAtPath } from "../src/lib/schemaForm";

describe("schema form helpers", () => {
  it("picks a widget per schema", () => {
    expect(fieldKind("mode", { type: "string", enum: ["all", "quorum"] }, undefined)).toBe("enum");
    expect(fieldKind("failFast", { type: "boolean" }, undefined)).toBe("boolean");
    expect(fieldKind("maxConcurrency", { type: "integer" }, undefined)).toBe("integer");
    expect(fieldKind("minSuccessRate", { type: "number" }, undefined)).toBe("number");
    expect(fieldKind("expression", { type: "string" }, undefined)).toBe("code");
    expect(fieldKind("arrayPath", { type: "string", description: "template giving the array" }, undefined)).toBe("template");
    expect(fieldKind("itemVariable", { type: "string" }, undefined)).toBe("string");
    expect(fieldKind("itemVariable", { type: "string" }, "{{x}}")).toBe("template");
    expect(fieldKind("retry", { type: "object", properties: { maxAttempts: { type: "integer" } } }, undefined)).toBe("object");
    expect(fieldKind("headers", { type: "object", additionalProperties: { type: "string" } }, undefined)).toBe("keyValue");
    expect(fieldKind("signalHandlers", { type: "object", additionalProperties: { type: "object" } }, undefined)).toBe("map");
    expect(fieldKind("duration", { type: ["integer", "number", "string"] }, undefined)).toBe("numberOrTemplate");
    expect(fieldKind("notify", { type: "array", items: { type: "string" } }, undefined)).toBe("array");
    expect(fieldKind("jitter", { type: ["boolean", "number"] }, undefined)).toBe("multi");
    expect(fieldKind("parallel", { oneOf: [{ type: "boolean" }, { type: "object", properties: {} }] }, undefined)).toBe("multi");
    expect(fieldKind("body", {}, undefined)).toBe("json");
  });

  it("handles oneOf / type lists", () => {
    const parallel = { oneOf: [{ type: "boolean" }, { type: "object", properties: { failFast: { type: "boolean" } } }], default: true };
    expect(schemaTypes(parallel)).toEqual(["boolean", "object"]);
    expect(activeType(["boolean", "object"], { failFast: true })).toBe("object");
    expect(activeType(["integer", "string"], 2.5)).toBeUndefined();
    expect(activeType(["number", "string"], 2)).toBe("number");
    expect(optionFor(parallel, "object").properties).toHaveProperty("failFast");
    expect(optionFor(parallel, "boolean").default).toBe(true);
    expect(initialValueFor("object", {})).toEqual({});
    expect(initialValueFor("integer", { minimum: 1 })).toBe(1);
  });

  it("sets nested values immutably and prunes emptied objects", () => {
    const config = { mode: "all", parallel: { failFast: true } };
    const next = setAtPath(config, ["parallel", "cancelOnFailure"], true);
    expect(next).toEqual({ mode: "all", parallel: { failFast: true, cancelOnFailure: true } });
    expect(config.parallel).toEqual({ failFast: true });
    expect(setAtPath(config, ["parallel", "failFast"], undefined)).toEqual({ mode: "all" });
    expect(getAtPath(next, ["parallel", "cancelOnFailure"])).toBe(true);
  });

  it("parses number inputs: empty unsets, junk is refused, integers are enforced", () => {
    expect(parseNumberInput("", true)).toEqual({ ok: true, value: undefined });
    expect(parseNumberInput("12", true)).toEqual({ ok: true, value: 12 });
    expect(parseNumberInput("1.5", true)).toEqual({ ok: false });
    expect(parseNumberInput("0.8", false)).toEqual({ ok: true, value: 0.8 });
    expect(parseNumberInput("abc", false)).toEqual({ ok: false });
  });

  it("orders required fields first and common policy keys last", () => {
    const order = orderedProperties(
      { properties: { timeout: {}, itemVariable: {}, arrayPath: {}, retry: {} }, required: ["arrayPath"] },
      ["timeout", "retry"],
    ).map(([k]) => k);
    expect(order).toEqual(["arrayPath", "itemVariable", "timeout", "retry"]);
  });
});

describe("api client helpers", () => {
  it("reads the CSRF cookie", () => {
    expect(readCookie("csrftoken", "a=1; csrftoken=abc%3D; b=2")).toBe("abc=");
    expect(readCookie("csrftoken", "a=1")).toBeNull();
  });

  it("turns DRF error bodies into a sentence", () => {
    expect(describeErrorBody(400, { detail: "Invalid workflow definition.", errors: [{ message: "cycle", nodeId: "a" }] })).toEqual({
      detail: "Invalid workflow definition.",
      errors: [{ message: "cycle", nodeId: "a" }],
    });
    expect(describeErrorBody(400, { name: ["This field is required."] }).detail).toBe("name: This field is required.");
    expect(describeErrorBody(502, null).detail).toBe("Request failed (502)");
  });
});

describe("operation-dependent fields and plain hints", () => {
  it("shows a field only for the operations it names (unset counts as the default)", () => {
    const siblings = { operation: { type: "string", default: "passthrough" } };
    const path = { type: "string", "x-show-when": { operation: ["pick"] } };
    expect(isRelevant(path, {}, siblings)).toBe(false);
    expect(isRelevant(path, { operation: "pick" }, siblings)).toBe(true);
    expect(isRelevant({ type: "string" }, {}, siblings)).toBe(true);
  });

  it("has no empty default and reads numbers or templates", () => {
    expect(describeDefault({ default: "" })).toBeUndefined();
    expect(describeDefault({ default: {} })).toBeUndefined();
    expect(describeDefault({ default: 1000 })).toBe("1000");
    expect(parseNumberOrTemplate("250", true)).toBe(250);
    expect(parseNumberOrTemplate("{{input.ms}}", true)).toBe("{{input.ms}}");
    expect(parseNumberOrTemplate("", true)).toBeUndefined();
  });
});
