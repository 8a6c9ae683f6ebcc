// Renaming a node id. Ids are what templates read node outputs by (`{{users.body}}`, SPEC
// §4.2), so the seed's examples need ids like `users`, not the generated `transform_2`.
// A rename carries every reference along: edges, loop bodies (`parentId`), `compensate`,
// signal handlers and `{{id…}}` templates. JavaScript expressions are left alone on purpose:
// rewriting code by pattern could change a property or string of the same spelling.
import type { WorkflowDefinition, WorkflowNode } from "../api/types";

/** Names templates resolve before node ids (engine/core/graph.py BUILTIN_ROOTS). */
export const RESERVED_NODE_IDS: ReadonlySet<string> = new Set(["input", "variables", "parallel", "branch", "execution", "trace", "signal", "item"]);

/** A template path's first segment must be a plain name, so an id has to be one too. */
const NODE_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `candidate` cannot become the id of node `currentId`, or null when it can. */
export function nodeIdProblem(definition: WorkflowDefinition, currentId: string, candidate: string): string | null {
  if (candidate === currentId) return null;
  if (!candidate) return "The id cannot be empty.";
  if (!NODE_ID.test(candidate)) return "Use letters, digits and _ only, not starting with a digit (templates read it as {{id}}).";
  if (RESERVED_NODE_IDS.has(candidate)) return `“${candidate}” is a built-in template name; pick another id.`;
  if (definition.nodes.some((n) => n.id === candidate)) return `Another node already has the id “${candidate}”.`;
  return null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Rewrites `{{old…}}` template references in any JSON value; other text is kept as is. */
export function renameTemplateRefs(value: unknown, oldId: string, newId: string): unknown {
  if (typeof value === "string") {
    if (!value.includes("{{")) return value;
    // The id must be the whole first path segment: `{{users.body}}`, `{{users[0]}}`, `{{ users }}`.
    const pattern = new RegExp(`(\\{\\{\\s*)${escapeRegExp(oldId)}(?=\\s*(?:[.[]|\\}\\}))`, "g");
    return value.replace(pattern, `$1${newId}`);
  }
  if (Array.isArray(value)) {
    const next = value.map((v) => renameTemplateRefs(v, oldId, newId));
    return next.every((v, i) => v === value[i]) ? value : next;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    const next = entries.map(([k, v]) => [k, renameTemplateRefs(v, oldId, newId)] as const);
    return next.every(([, v], i) => v === entries[i]?.[1]) ? value : Object.fromEntries(next);
  }
  return value;
}

/** The definition with node `oldId` renamed to `newId` everywhere it is referenced. */
export function renameNodeId(definition: WorkflowDefinition, oldId: string, newId: string): WorkflowDefinition {
  if (oldId === newId || !definition.nodes.some((n) => n.id === oldId)) return definition;
  const nodes = definition.nodes.map((node) => {
    let next: WorkflowNode = node;
    if (node.id === oldId) next = { ...next, id: newId };
    if (node.parentId === oldId) next = { ...next, parentId: newId };
    let config = renameTemplateRefs(node.config, oldId, newId) as WorkflowNode["config"];
    if (config.compensate === oldId) config = { ...config, compensate: newId };
    if (config !== node.config) next = { ...next, config };
    return next;
  });
  const edges = definition.edges.map((edge) =>
    edge.source === oldId || edge.target === oldId
      ? { ...edge, source: edge.source === oldId ? newId : edge.source, target: edge.target === oldId ? newId : edge.target }
      : edge,
  );
  let settings = renameTemplateRefs(definition.settings, oldId, newId) as WorkflowDefinition["settings"];
  const handlers = settings.signalHandlers;
  if (handlers && typeof handlers === "object") {
    const renamed = Object.fromEntries(
      Object.entries(handlers).map(([name, handler]) => [
        name,
        handler && typeof handler === "object" && handler.handler === oldId ? { ...handler, handler: newId } : handler,
      ]),
    );
    settings = { ...settings, signalHandlers: renamed as typeof handlers };
  }
  return { ...definition, nodes, edges, settings };
}
