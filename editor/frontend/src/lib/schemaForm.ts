// Helpers of the generic JSON-schema form: which widget a field gets and how edits land in
// the config. Kept free of React so they are unit-tested; a new node type's schema needs
// no front-end change.
import type { JsonSchema } from "../api/types";

export type FieldKind = "enum" | "boolean" | "integer" | "number" | "string" | "code" | "template" | "object" | "map" | "keyValue" | "numberOrTemplate" | "array" | "multi" | "json" | "any";

const EXPRESSION_FORMATS = new Set(["javascript", "js", "expression", "code"]);
const TEMPLATE_FORMATS = new Set(["template", "textarea", "multiline"]);

/** The JSON types a schema admits, from `type` (string or list) or `oneOf`/`anyOf`. */
export function schemaTypes(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (typeof schema.type === "string") return [schema.type];
  const options = schema.oneOf ?? schema.anyOf;
  if (options) {
    const types: string[] = [];
    for (const option of options) for (const t of schemaTypes(option)) if (!types.includes(t)) types.push(t);
    return types;
  }
  if (schema.enum) return ["enum"];
  if (schema.properties) return ["object"];
  return [];
}

/** The sub-schema to render when a multi-type field holds a value of `type`. */
export function optionFor(schema: JsonSchema, type: string): JsonSchema {
  const options = schema.oneOf ?? schema.anyOf;
  if (options) {
    const match = options.find((o) => schemaTypes(o).includes(type));
    if (match) return { ...(valueType(schema.default) === type ? { default: schema.default } : {}), ...match, type };
  }
  // The outer field already shows the description; the chosen kind only needs its own rules.
  const { oneOf: _o, anyOf: _a, description: _d, ...rest } = schema;
  void _o;
  void _a;
  void _d;
  return { ...rest, type };
}

export function isExpressionField(name: string, schema: JsonSchema): boolean {
  const hint = schema["x-editor"];
  return name === "expression" || hint === "expression" || (typeof schema.format === "string" && EXPRESSION_FORMATS.has(schema.format));
}

/** Strings that hold `{{…}}` templates (SPEC §4.2): said by the schema, or by their text. */
export function isTemplateField(name: string, schema: JsonSchema, value: unknown): boolean {
  if (schema["x-editor"] === "template") return true;
  if (typeof schema.format === "string" && TEMPLATE_FORMATS.has(schema.format)) return true;
  const description = `${schema.description ?? ""} ${schema.title ?? ""}`.toLowerCase();
  if (/\btemplates?\b/.test(description)) return true;
  if (typeof value === "string" && value.includes("{{")) return true;
  return ["message", "url", "arrayPath", "body", "value"].includes(name);
}

export function valueType(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

export function fieldKind(name: string, schema: JsonSchema, value: unknown): FieldKind {
  if (schema.enum) return "enum";
  const types = schemaTypes(schema).filter((t) => t !== "null");
  // A number that may also be a `{{template}}` (a delay's duration): one text box, no type menu.
  if (types.includes("string") && types.length > 1 && types.every((t) => t === "string" || t === "integer" || t === "number")) return "numberOrTemplate";
  if (types.length > 1) return "multi";
  // An untyped value that is (or defaults to) text — the output node's `{{results}}` — is
  // typed as a template first; JSON is still accepted (see parseAnyInput).
  if (!types.length && (typeof value === "string" || (value === undefined && typeof schema.default === "string"))) return "any";
  const type = types[0];
  switch (type) {
    case "boolean":
      return "boolean";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "string":
      if (isExpressionField(name, schema)) return "code";
      if (isTemplateField(name, schema, value)) return "template";
      return "string";
    case "object":
      if (schema.properties && Object.keys(schema.properties).length) return "object";
      // Name → plain value maps (HTTP headers, query parameters): a key-value editor; maps of
      // objects (signal handlers) stay JSON.
      return isPlainValueMap(schema) ? "keyValue" : "map";
    case "array": {
      const itemTypes = schema.items ? schemaTypes(schema.items) : [];
      return itemTypes.length === 1 && itemTypes[0] === "string" ? "array" : "json";
    }
    default:
      return "json";
  }
}

/** For a multi-type field: which type the current value is (number covers integer). */
export function activeType(types: readonly string[], value: unknown): string | undefined {
  const actual = valueType(value);
  if (actual === undefined) return undefined;
  if (types.includes(actual)) return actual;
  if (actual === "integer" && types.includes("number")) return "number";
  return undefined;
}

export function initialValueFor(type: string, schema: JsonSchema): unknown {
  if (schema.default !== undefined && valueType(schema.default) === type) return structuredClone(schema.default);
  switch (type) {
    case "boolean":
      return true;
    case "integer":
    case "number":
      return schema.minimum ?? 0;
    case "object":
      return {};
    case "array":
      return [];
    default:
      return "";
  }
}

/**
 * The text of an untyped ("any JSON") field: JSON when it is an object, array, number,
 * boolean or null, else the text itself — so `{{results}}` needs no quotes, and a whole
 * `{{path}}` keeps its JSON type on the server (SPEC §4.2).
 */
export function parseAnyInput(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (typeof parsed !== "string") return parsed;
  } catch {
    /* not JSON: plain text or a template */
  }
  return text;
}

/** How an untyped field shows its value: text as is, anything else as JSON. */
export function formatAnyValue(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** Parses a number input; empty means "unset", junk means "keep what was there". */
export function parseNumberInput(text: string, integer: boolean): { ok: true; value: number | undefined } | { ok: false } {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, value: undefined };
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return { ok: false };
  if (integer && !Number.isInteger(value)) return { ok: false };
  return { ok: true, value };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

/**
 * A copy of `root` with `value` at `path`. `undefined` removes the key, and an object
 * left empty by that is removed too, so clearing `retry.maxAttempts` leaves no `retry: {}`.
 */
export function setAtPath(root: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return root;
  const copy: Record<string, unknown> = { ...root };
  if (!rest.length) {
    if (value === undefined) delete copy[head];
    else copy[head] = value;
    return copy;
  }
  const child = isPlainObject(copy[head]) ? (copy[head] as Record<string, unknown>) : {};
  const next = setAtPath(child, rest, value);
  if (Object.keys(next).length === 0) delete copy[head];
  else copy[head] = next;
  return copy;
}

export function getAtPath(root: unknown, path: readonly string[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (!isPlainObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** Properties in display order: required first, then the schema's own order. Common keys last. */
export function orderedProperties(schema: JsonSchema, lastKeys: readonly string[] = []): [string, JsonSchema][] {
  const entries = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const last = new Set(lastKeys);
  const rank = (key: string) => (required.has(key) ? 0 : last.has(key) ? 2 : 1);
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => rank(a.entry[0]) - rank(b.entry[0]) || a.index - b.index)
    .map((x) => x.entry);
}

function isPlainValueMap(schema: JsonSchema): boolean {
  const extra = schema.additionalProperties;
  if (extra === true || extra === undefined) return true;
  if (extra === false) return false;
  const types = schemaTypes(extra);
  return types.length > 0 && types.every((t) => t === "string" || t === "number" || t === "integer" || t === "boolean");
}

/** A short text of a default for placeholders and help; none for an empty default ("", {}, []). */
export function describeDefault(schema: JsonSchema): string | undefined {
  const d = schema.default;
  if (d === undefined || d === null || d === "") return undefined;
  if (typeof d === "object" && Object.keys(d as object).length === 0) return undefined;
  return typeof d === "string" ? d : JSON.stringify(d);
}

/** `"x-show-when": {"operation": ["pick"]}`: a field that only matters for some values of
 * another (a transform's `path` only for pick). Unset keys count as their default. */
export function isRelevant(schema: JsonSchema, config: Record<string, unknown>, siblings: Record<string, JsonSchema>): boolean {
  const when = schema["x-show-when"];
  if (!when || typeof when !== "object") return true;
  return Object.entries(when as Record<string, unknown[]>).every(([key, allowed]) => {
    const current = config[key] !== undefined ? config[key] : siblings[key]?.default;
    return Array.isArray(allowed) ? allowed.includes(current) : allowed === current;
  });
}

/** "1000" → 1000; anything else (a `{{template}}`) stays text; "" → unset. */
export function parseNumberOrTemplate(text: string, integer: boolean): unknown {
  const t = text.trim();
  if (!t) return undefined;
  if (/^-?\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return integer && !Number.isInteger(n) ? t : n;
  }
  return text;
}

/** How a number is named in a problem: as written when short, by its size when it is too long
 * to read (a 20-digit number prints as 1.2345678901234567e+19 in JavaScript). */
function shownNumber(value: number): string {
  const text = String(value);
  if (text.length <= 12 && !/e/i.test(text)) return text;
  return Math.abs(value) >= 1 ? `a ${Math.floor(Math.log10(Math.abs(value))) + 1}-digit number` : text;
}

/** What is wrong with a number against its schema (integer, minimum, maximum), worded like the
 * server's check (engine/core/rules.py `_plain`), or null. Non-numbers are left alone: a
 * `{{template}}` in a number-or-template field is checked when it runs. */
export function numberProblem(value: unknown, schema: JsonSchema): string | null {
  if (typeof value !== "number") return null;
  const types = schemaTypes(schema);
  if (!types.includes("integer") && !types.includes("number")) return null;
  if (!Number.isFinite(value)) return "is not a number";
  if (types.includes("integer") && !types.includes("number") && !Number.isInteger(value)) {
    return `${shownNumber(value)} is not a whole number`;
  }
  const low = schema.minimum;
  const high = schema.maximum;
  const out = (low !== undefined && value < low) || (high !== undefined && value > high);
  if (!out) return null;
  if (low !== undefined && high !== undefined) return `${shownNumber(value)} is out of range: allowed ${low} to ${high}`;
  return low !== undefined ? `${shownNumber(value)} is less than the minimum of ${low}` : `${shownNumber(value)} is more than the maximum of ${high}`;
}

/** Every number in a config that breaks its schema, by dotted path (nested option groups
 * included), so the problem shows on the node while the user types, before the server is asked. */
export function numberProblems(config: Record<string, unknown>, schema: JsonSchema, prefix = ""): { path: string; message: string }[] {
  const found: { path: string; message: string }[] = [];
  for (const [name, propSchema] of Object.entries(schema.properties ?? {})) {
    const value = config[name];
    const path = `${prefix}${name}`;
    const problem = numberProblem(value, propSchema);
    if (problem) found.push({ path, message: problem });
    else if (isPlainObject(value) && propSchema.properties) found.push(...numberProblems(value, propSchema, `${path}.`));
  }
  return found;
}
