// Pinned test data in exported and imported workflow files. The export is the definition
// plus `pinData` ({node id: pinned output}, n8n's key for it); importing a file with that
// key pins those nodes, checked by the server as the pins API checks them, with the
// workflow's own save (editor/pins.py `pins_replace`). A file without the key (an export
// from before) imports as it always did and leaves the pins alone.
import type { PinnedOutput, WorkflowDefinition } from "../api/types";

export type PinData = Record<string, unknown>;

/** The exported file: the definition and the pins of its nodes (keyed as on the canvas). */
export function exportedWorkflow(definition: WorkflowDefinition, pins: Readonly<Record<string, PinnedOutput>>): WorkflowDefinition & { pinData: PinData } {
  const ids = new Set(definition.nodes.map((n) => n.id));
  const pinData: PinData = {};
  for (const [key, pin] of Object.entries(pins).sort(([a], [b]) => a.localeCompare(b))) if (ids.has(key)) pinData[key] = pin.data;
  return { ...definition, pinData };
}

/** The `pinData` of an imported file (a definition, or a workflow as the API returns it
 * with `definition` inside), or undefined when it has none. */
export function importedPinData(file: unknown): PinData | undefined {
  if (!file || typeof file !== "object" || Array.isArray(file)) return undefined;
  const value = (file as { pinData?: unknown }).pinData;
  if (value === undefined || value === null) return undefined;
  // Anything else is sent as it is: the server says what is wrong with it (a 400).
  return value as PinData;
}
