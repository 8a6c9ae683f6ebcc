// A validation message as a user reads it. The server names a node's field by its path in
// the definition ("config.url: is required"); the node's panel labels that field "URL", and
// `config.` is a word of the JSON, not of the form.
import type { NodeTypeInfo, ValidationIssue, WorkflowDefinition } from "../api/types";

const CONFIG_FIELD = /^config\.([A-Za-z_$][\w$]*)((?:\.[^:\s]+)?):/;
// jsonschema's words for a missing required key, as the server passes them on.
const MISSING_FIELD = /^config: '([A-Za-z_$][\w$]*)' is a required property$/;

/** A required config field that is missing or empty, in the server's words
 * (engine/core/definition_checks.py: jsonschema's for a missing key, its own for an empty
 * string). The editor's instant check says it so too: the problems list then shows the same
 * labelled text before and after the server's answer replaces the editor's. */
export function requiredFieldMessage(key: string, value: unknown): string {
  if (value === undefined) return `config: '${key}' is a required property`;
  return value === "" ? `config.${key}: is required (it is empty)` : `config.${key}: is required`;
}

/** "config.url: is required" → "URL: is required" (the field's title on the node's form when
 * known, its key otherwise), and so "config: 'url' is a required property"; other messages
 * as they are. */
export function readableIssueMessage(message: string, fieldTitle: (key: string) => string | undefined = () => undefined): string {
  const missing = MISSING_FIELD.exec(message);
  if (missing) return `${fieldTitle(missing[1] ?? "") || missing[1]}: is required`;
  const match = CONFIG_FIELD.exec(message);
  if (!match) return message;
  const [whole, key = "", rest = ""] = match;
  return `${rest ? key + rest : fieldTitle(key) || key}:${message.slice(whole.length)}`;
}

/** The issues of a definition with readable messages (see readableIssueMessage). */
export function readableIssues(issues: readonly ValidationIssue[], definition: WorkflowDefinition,
                               nodeTypes: Readonly<Record<string, NodeTypeInfo>>): ValidationIssue[] {
  return issues.map((issue) => {
    const type = issue.nodeId ? definition.nodes.find((n) => n.id === issue.nodeId)?.type : undefined;
    const properties = type ? nodeTypes[type]?.schema.properties : undefined;
    const message = readableIssueMessage(issue.message, (key) => {
      const title = (properties?.[key] as { title?: unknown } | undefined)?.title;
      return typeof title === "string" && title ? title : undefined;
    });
    return message === issue.message ? issue : { ...issue, message };
  });
}
