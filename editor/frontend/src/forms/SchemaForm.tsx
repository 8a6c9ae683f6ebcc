// A small generic JSON-schema form: every node type's config panel, the branch editor and
// the workflow settings are rendered from a schema, with each option under its exact name.
import { useContext, useEffect, useId, useState } from "react";

import type { JsonSchema } from "../api/types";
import {
  activeType,
  describeDefault,
  type FieldKind,
  fieldKind,
  formatAnyValue,
  getAtPath,
  initialValueFor,
  isRelevant,
  numberProblem,
  parseNumberOrTemplate,
  optionFor,
  orderedProperties,
  parseAnyInput,
  parseNumberInput,
  schemaTypes,
  setAtPath,
} from "../lib/schemaForm";
import { CodeContext, type ExpressionTestResult } from "./codeContext";
import { CodeField } from "./LazyCodeField";
import { ScrollingPre } from "../dialogs/ScrollingPre";
import { HelpText } from "./HelpText";

type Obj = Record<string, unknown>;

interface FormProps {
  schema: JsonSchema;
  value: Obj;
  onChange: (value: Obj) => void;
  /** Prefix for ids and data-testids (`field-<prefix><path>`). */
  idPrefix?: string;
  /** Keys shown after the node's own options (the common policy keys). */
  lastKeys?: readonly string[];
  /** Keys not to render here (shown elsewhere). */
  hide?: readonly string[];
}

export function SchemaForm({ schema, value, onChange, idPrefix = "", lastKeys = [], hide = [] }: FormProps) {
  const hidden = new Set(hide);
  return (
    <div className="fm-form">
      <Properties
        schema={schema}
        value={value}
        path={[]}
        idPrefix={idPrefix}
        lastKeys={lastKeys}
        // Fields that only matter for another field's value (x-show-when) are left out otherwise.
        // (A field that holds a value stays visible, so nothing set is ever hidden.)
        keep={(name, propSchema) => !hidden.has(name) && (isRelevant(propSchema, value, schema.properties ?? {}) || (value[name] !== undefined && value[name] !== ""))}
        onChange={onChange}
      />
    </div>
  );
}

/** One field per property of an object schema (the form itself, or a nested group). */
function Properties(props: {
  schema: JsonSchema;
  value: Obj;
  path: string[];
  idPrefix: string;
  lastKeys?: readonly string[];
  keep?: (name: string, schema: JsonSchema) => boolean;
  onChange: (value: Obj) => void;
}) {
  const { schema, value, path, idPrefix, lastKeys = [], keep, onChange } = props;
  return orderedProperties(schema, lastKeys)
    .filter(([name, propSchema]) => !keep || keep(name, propSchema))
    .map(([name, propSchema]) => (
      <Field
        key={name}
        name={name}
        path={[...path, name]}
        schema={propSchema}
        required={(schema.required ?? []).includes(name)}
        value={getAtPath(value, [name])}
        idPrefix={idPrefix}
        onChange={(v) => onChange(setAtPath(value, [name], v))}
      />
    ));
}

interface FieldProps {
  name: string;
  path: string[];
  schema: JsonSchema;
  value: unknown;
  required?: boolean;
  idPrefix: string;
  onChange: (value: unknown) => void;
  /** Inside a multi-type field the outer label names it; keep this one for screen readers only. */
  quietLabel?: boolean;
}

function Help({ schema, id }: { schema: JsonSchema; id: string }) {
  const def = describeDefault(schema);
  if (!schema.description && !def) return null;
  return (
    <div className="fm-help" id={id}>
      {schema.description ? <HelpText text={schema.description} /> : null}
      {def ? <span className="fm-default" data-testid="field-default">{schema.description ? " " : ""}Default: {def}</span> : null}
    </div>
  );
}

/** What a field's input element needs, whatever its kind. */
interface ControlProps {
  kind: FieldKind;
  id: string;
  testId: string;
  describedBy: string | undefined;
  name: string;
  schema: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
}

/** A field: its label, the input element of its kind, and its help (description, default). */
function Field({ name, path, schema, value, required, idPrefix, onChange, quietLabel }: FieldProps) {
  const reactId = useId();
  const dotted = path.join(".");
  const inputId = `fm-${reactId}`;
  const helpId = `${inputId}-help`;
  const testId = `field-${idPrefix}${dotted}`;
  // The widget is chosen once per field instance so a template field doesn't swap widgets mid-typing.
  const [kind] = useState(() => fieldKind(name, schema, value));
  const label = (
    <label className={quietLabel ? "fm-visually-hidden" : "fm-label"} htmlFor={inputId}>
      <code>{name}</code>
      {required && <span className="fm-required" aria-label="required">*</span>}
      {schema.title && schema.title !== name && <span className="fm-title">{schema.title}</span>}
    </label>
  );
  const describedBy = schema.description || schema.default !== undefined ? helpId : undefined;

  if (kind === "object") {
    const obj = (value && typeof value === "object" && !Array.isArray(value) ? value : {}) as Obj;
    return (
      <details className="fm-group" open={value !== undefined} data-testid={`group-${idPrefix}${dotted}`}>
        <summary>
          <code>{name}</code>
          {schema.title && schema.title !== name && <span className="fm-title">{schema.title}</span>}
          {value !== undefined && <span className="fm-set-dot" aria-label="set" />}
        </summary>
        {schema.description && <div className="fm-help"><HelpText text={schema.description} /></div>}
        <Properties schema={schema} value={obj} path={path} idPrefix={idPrefix}
                    onChange={(next) => onChange(Object.keys(next).length ? next : undefined)} />
      </details>
    );
  }
  if (kind === "multi") {
    return <MultiField name={name} path={path} schema={schema} value={value} idPrefix={idPrefix} onChange={onChange} label={label} inputId={inputId} testId={testId} />;
  }
  // A number outside the type's range is named under its field as it is typed (and on the
  // node's badge, by the pre-check), not first when saving.
  const problem = kind === "integer" || kind === "number" || kind === "numberOrTemplate" ? numberProblem(value, schema) : null;
  const problemId = `${inputId}-problem`;
  const control = <Control kind={kind} id={inputId} testId={testId} describedBy={problem ? [describedBy, problemId].filter(Boolean).join(" ") : describedBy}
                           name={name} schema={schema} value={value} onChange={onChange} />;
  const help = kind === "template" && !schema.description ? { ...schema, description: "Supports {{path}} templates." } : schema;
  // A checkbox comes before its label; every other input after it.
  return (
    <div className={kind === "boolean" ? "fm-field fm-field-check" : "fm-field"}>
      {kind === "boolean" ? control : label}
      {kind === "boolean" ? label : control}
      {problem ? <div className="fm-field-problem" id={problemId} data-testid={`${testId}-problem`}>{name}: {problem}</div> : null}
      <Help schema={help} id={helpId} />
    </div>
  );
}

function Control({ kind, id, testId, describedBy, name, schema, value, onChange }: ControlProps) {
  switch (kind) {
    case "enum":
      return (
        <select
          id={id}
          data-testid={testId}
          aria-describedby={describedBy}
          value={value === undefined ? "" : JSON.stringify(value)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : JSON.parse(e.target.value))}
        >
          <option value="">{schema.default !== undefined ? `(default: ${String(schema.default)})` : "—"}</option>
          {(schema.enum ?? []).map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
    case "boolean":
      return (
        <input
          id={id}
          type="checkbox"
          data-testid={testId}
          aria-describedby={describedBy}
          checked={value === undefined ? schema.default === true : value === true}
          onChange={(e) => onChange(e.target.checked)}
        />
      );
    case "integer":
    case "number":
      return (
        <NumberInput id={id} testId={testId} describedBy={describedBy} integer={kind === "integer"} schema={schema}
                     value={typeof value === "number" ? value : undefined} onChange={onChange} />
      );
    case "code":
    case "template":
      return (
        <CodeInput
          id={id}
          testId={testId}
          name={name}
          code={kind === "code"}
          value={typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)}
          placeholder={describeDefault(schema) ?? (kind === "template" ? "text or {{path}}" : "JavaScript expression")}
          onChange={(v) => onChange(v === "" ? undefined : v)}
        />
      );
    case "numberOrTemplate":
      return (
        <input
          id={id}
          type="text"
          inputMode="decimal"
          data-testid={testId}
          aria-describedby={describedBy}
          value={value === undefined ? "" : String(value)}
          placeholder={describeDefault(schema) ? `${describeDefault(schema)} (a number or {{template}})` : "a number or {{template}}"}
          onChange={(e) => onChange(parseNumberOrTemplate(e.target.value, !schemaTypes(schema).includes("number")))}
        />
      );
    case "keyValue":
      return <KeyValueEditor id={id} testId={testId} name={name} value={value} onChange={onChange} />;
    case "any":
      return <AnyInput id={id} testId={testId} label={name} placeholder={describeDefault(schema)} value={value} onChange={onChange} />;
    case "string":
      return (
        <input
          id={id}
          type="text"
          data-testid={testId}
          aria-describedby={describedBy}
          value={typeof value === "string" ? value : ""}
          placeholder={describeDefault(schema)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        />
      );
    case "array":
      return <StringList id={id} testId={testId} value={Array.isArray(value) ? (value as unknown[]).map(String) : []} onChange={onChange} />;
    default: // map, json
      return <JsonInput id={id} testId={testId} describedBy={describedBy} value={value} onChange={onChange} />;
  }
}

/** A code or template field with the node's completions; code also gets the syntax check,
 * the full-size editor and "Test" on the last run's input. */
function CodeInput(props: { id: string; testId: string; name: string; code: boolean; value: string; placeholder: string; onChange: (v: string) => void }) {
  const { id, testId, name, code, value, placeholder, onChange } = props;
  const context = useContext(CodeContext);
  const [result, setResult] = useState<ExpressionTestResult | null>(null);
  const [testing, setTesting] = useState(false);
  const test = context.test;
  return (
    <>
      <CodeField
        id={id}
        testId={testId}
        label={name}
        language={code ? "javascript" : "template"}
        value={value}
        placeholder={placeholder}
        onChange={onChange}
        lint={code}
        completions={context.completions}
        expandable={code}
      />
      {code && test ? (
        <div className="fm-test-row">
          <button
            type="button"
            className="fm-small-btn"
            data-testid={`${testId}-test`}
            disabled={testing || !value.trim()}
            onClick={() => {
              setTesting(true);
              test(value)
                .then(setResult)
                .catch((err: unknown) => setResult({ ok: false, error: err instanceof Error ? err.message : String(err), logs: [] }))
                .finally(() => setTesting(false));
            }}
          >
            {testing ? "Testing…" : `▶ Test on ${context.testSubject ?? "an empty input"}`}
          </button>
          {result ? (
            <div className={`fm-test-result${result.ok ? "" : " is-error"}`} data-testid={`${testId}-test-result`} role="status">
              <ScrollingPre className="fm-json" label="Test result">{result.ok ? JSON.stringify(result.value, null, 2) : result.error}</ScrollingPre>
              {result.logs.length ? <ScrollingPre className="fm-json fm-muted" label="Test logs">{result.logs.join("\n")}</ScrollingPre> : null}
            </div>
          ) : null}
        </div>
      ) : null}
    </>
  );
}

function NumberInput(props: {
  id: string;
  testId: string;
  describedBy: string | undefined;
  integer: boolean;
  schema: JsonSchema;
  value: number | undefined;
  onChange: (v: unknown) => void;
}) {
  const { id, testId, describedBy, integer, schema, value, onChange } = props;
  const [text, setText] = useState(value === undefined ? "" : String(value));
  const [invalid, setInvalid] = useState(false);
  useEffect(() => {
    // Follow outside changes (undo, another field) unless the text already means this value.
    const parsed = parseNumberInput(text, integer);
    if (!parsed.ok || parsed.value !== value) setText(value === undefined ? "" : String(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <>
    <input
      id={id}
      type="number"
      inputMode={integer ? "numeric" : "decimal"}
      step={integer ? 1 : "any"}
      min={schema.minimum}
      max={schema.maximum}
      data-testid={testId}
      aria-describedby={describedBy}
      aria-invalid={invalid || numberProblem(value, schema) !== null}
      placeholder={describeDefault(schema)}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const parsed = parseNumberInput(e.target.value, integer);
        setInvalid(!parsed.ok);
        if (parsed.ok) onChange(parsed.value);
      }}
    />
    {/* Text that is no number of this kind is not stored (the last good value stays): say so. */}
    {invalid ? <div className="fm-field-problem" data-testid={`${testId}-problem`}>{integer ? "a whole number is needed; this text is not kept" : "a number is needed; this text is not kept"}</div> : null}
    </>
  );
}

/** Text or JSON: keeps the typed text while the value it means is unchanged (no reformat mid-typing). */
function AnyInput(props: { id: string; testId: string; label: string; placeholder: string | undefined; value: unknown; onChange: (v: unknown) => void }) {
  const { id, testId, label, placeholder, value, onChange } = props;
  const [text, setText] = useState(formatAnyValue(value));
  useEffect(() => {
    if (JSON.stringify(parseAnyInput(text)) !== JSON.stringify(value)) setText(formatAnyValue(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <CodeField
      id={id}
      testId={testId}
      label={label}
      language="template"
      value={text}
      placeholder={placeholder ?? "{{path}}, text or JSON"}
      onChange={(v) => {
        setText(v);
        onChange(parseAnyInput(v));
      }}
    />
  );
}

function JsonInput(props: { id: string; testId: string; describedBy: string | undefined; value: unknown; onChange: (v: unknown) => void }) {
  const { id, testId, describedBy, value, onChange } = props;
  const pretty = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  const [text, setText] = useState(pretty(value));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    try {
      if (JSON.stringify(text.trim() ? JSON.parse(text) : undefined) === JSON.stringify(value)) return;
    } catch {
      /* the user is mid-edit; an outside change still wins below */
    }
    setText(pretty(value));
    setError(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <>
      <textarea
        id={id}
        className="fm-json"
        data-testid={testId}
        aria-describedby={describedBy}
        aria-invalid={error !== null}
        rows={Math.min(10, Math.max(2, text.split("\n").length))}
        spellCheck={false}
        value={text}
        placeholder="JSON"
        onChange={(e) => {
          setText(e.target.value);
          if (!e.target.value.trim()) {
            setError(null);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setError(null);
          } catch (err) {
            setError(err instanceof Error ? err.message : "invalid JSON");
          }
        }}
      />
      {error && (
        <div className="fm-field-error" role="alert">
          Invalid JSON: {error}
        </div>
      )}
    </>
  );
}

/** Name → value rows (HTTP headers, query parameters). Values are text or `{{templates}}`;
 * JSON (a number, a list) is kept as JSON. Rows keep their order while typing. */
function KeyValueEditor({ id, testId, name, value, onChange }: { id: string; testId: string; name: string; value: unknown; onChange: (v: unknown) => void }) {
  const toRows = (v: unknown): [string, string][] =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.entries(v as Obj).map(([k, x]) => [k, formatAnyValue(x)]) : [];
  const [rows, setRows] = useState<[string, string][]>(() => toRows(value));
  useEffect(() => {
    // Follow outside changes (undo) unless the rows already mean this value.
    if (JSON.stringify(fromRows(rows)) !== JSON.stringify(value ?? undefined)) setRows(toRows(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  const commit = (next: [string, string][]) => {
    setRows(next);
    onChange(fromRows(next));
  };
  return (
    <div className="fm-kv" data-testid={testId} id={id} role="group" aria-label={name}>
      {rows.map(([k, v], index) => (
        <div className="fm-kv-row" key={index}>
          <input type="text" aria-label={`${name} name ${index + 1}`} data-testid={`${testId}-key-${index}`} value={k} placeholder="name"
                 onChange={(e) => commit(rows.map((r, i) => (i === index ? [e.target.value, r[1]] : r)))} />
          <input type="text" aria-label={`${name} value ${index + 1}`} data-testid={`${testId}-value-${index}`} value={v} placeholder="value or {{path}}"
                 onChange={(e) => commit(rows.map((r, i) => (i === index ? [r[0], e.target.value] : r)))} />
          <button type="button" className="fm-icon-btn" aria-label={`Remove ${name} ${k || index + 1}`} onClick={() => commit(rows.filter((_, i) => i !== index))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="fm-small-btn" data-testid={`${testId}-add`} onClick={() => setRows([...rows, ["", ""]])}>
        + Add
      </button>
    </div>
  );
}

function fromRows(rows: readonly [string, string][]): Obj | undefined {
  const entries = rows.filter(([k]) => k.trim() !== "").map(([k, v]) => [k.trim(), parseAnyInput(v)] as const);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

function StringList({ id, testId, value, onChange }: { id: string; testId: string; value: string[]; onChange: (v: unknown) => void }) {
  return (
    <div className="fm-list" data-testid={testId} id={id}>
      {value.map((item, index) => (
        <div className="fm-list-row" key={index}>
          <input
            type="text"
            aria-label={`item ${index + 1}`}
            value={item}
            onChange={(e) => onChange(value.map((v, i) => (i === index ? e.target.value : v)))}
          />
          <button type="button" className="fm-icon-btn" aria-label={`Remove item ${index + 1}`} onClick={() => {
            const next = value.filter((_, i) => i !== index);
            onChange(next.length ? next : undefined);
          }}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="fm-small-btn" onClick={() => onChange([...value, ""])}>
        + Add
      </button>
    </div>
  );
}

function MultiField(props: {
  name: string;
  path: string[];
  schema: JsonSchema;
  value: unknown;
  idPrefix: string;
  onChange: (v: unknown) => void;
  label: React.ReactNode;
  inputId: string;
  testId: string;
}) {
  const { name, path, schema, value, idPrefix, onChange, label, inputId, testId } = props;
  const types = schemaTypes(schema).filter((t) => t !== "null");
  // Unset: show the default's kind (parallel: true), else the plain-text kind if there is one.
  const current =
    activeType(types, value) ??
    activeType(types, schema.default) ??
    (types.includes("string") ? "string" : undefined);
  return (
    <div className="fm-field fm-multi">
      {label}
      <select
        id={inputId}
        data-testid={`${testId}-type`}
        aria-label={`${name} kind`}
        value={current ?? ""}
        onChange={(e) => {
          const type = e.target.value;
          onChange(type === "" ? undefined : initialValueFor(type, optionFor(schema, type)));
        }}
      >
        <option value="">(not set)</option>
        {types.map((t) => (
          <option key={t} value={t}>
            {t === "object" ? "policy object" : t}
          </option>
        ))}
      </select>
      {current !== undefined && (
        <div className="fm-multi-body">
          <Field key={current} name={name} path={path} schema={optionFor(schema, current)} value={value} idPrefix={idPrefix} onChange={onChange} quietLabel />
        </div>
      )}
      {schema.description && <div className="fm-help"><HelpText text={schema.description} /></div>}
    </div>
  );
}
