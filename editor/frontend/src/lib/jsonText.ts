// What a user typed into a JSON box (a run's input, an approval's data, a signal's data).

export type JsonText = { ok: true; value: unknown } | { ok: false; error: string };

/** The value of `text`, `empty` for blank text, or a message naming the box
 * (`what` = "The input" → "The input is not valid JSON: Unexpected token …"). */
export function parseJsonText(text: string, what: string, empty: unknown): JsonText {
  if (!text.trim()) return { ok: true, value: empty };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}
