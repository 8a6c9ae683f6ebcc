// Short human text about runs, shared by the editor's run bar, run-data panel and dialogs.

/** The message of an execution's or node run's `error` as one line: text, `{message}`, or
 * `{nodeId, error: {message}}` (a node's failure ended the run), never raw JSON when there
 * is a message. `nodeName` turns a node id into the name the canvas shows. */
export function errorText(error: unknown, nodeName?: (id: string) => string | undefined): string {
  if (error === null || error === undefined) return "";
  if (typeof error === "string") return error;
  if (typeof error === "object") {
    const e = error as Record<string, unknown>;
    const inner = e.error && typeof e.error === "object" ? (e.error as Record<string, unknown>) : null;
    const message = typeof e.message === "string" ? e.message : typeof e.error === "string" ? e.error : typeof inner?.message === "string" ? inner.message : null;
    if (message !== null) {
      const hinted = message + inputHint(message);
      const nodeId = typeof e.nodeId === "string" ? e.nodeId : null;
      if (!nodeId) return hinted;
      const name = nodeName?.(nodeId);
      return `${hinted} (at ${name && name !== nodeId ? `${name}, node ${nodeId}` : `node ${nodeId}`})`;
    }
  }
  return JSON.stringify(error);
}

/** A template on `{{input.…}}` that found nothing: n8n and Temporal users read `input` as
 * the run's input, as the Run dialog's box is called, but in a node it is what the node
 * before it passed on. The engine's message names the template; this says where the run's
 * input is. */
function inputHint(message: string): string {
  if (!/'\{\{\s*input[.\[][^']*\}\}' resolved to nothing/.test(message)) return "";
  return " — {{input}} is what the node before this one passed on; the run's input is {{start}} in every node";
}

export function durationText(startIso: string | null, endIso: string | null): string {
  if (!startIso) return "not started";
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : Date.now();
  const ms = Math.max(0, end - start);
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function shortTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** JSON for a <pre>, cut at `max` characters so a huge output cannot freeze the panel. */
export function jsonText(value: unknown, max = 20_000): string {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? "undefined";
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text;
}
