// Values the API cut because they are large (issue 12): an execution's input, output, error
// or state over the server's bound (500 KB of JSON by default; 4 KB in list rows), and a
// node run's, answer `{"truncated": true, "size": <bytes>, "url": …}` instead. The URL
// answers the whole value (`/api/executions/{id}/input`, or `…/timeline?nodeRun=<id>`).

export interface TruncatedValue {
  truncated: true;
  size: number;
  url?: string;
}

export function isTruncated(value: unknown): value is TruncatedValue {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return record.truncated === true && typeof record.size === "number";
}

/** `1.2 MB`, `340 KB`, `900 bytes` (decimal units, as the server counts bytes). */
export function sizeText(bytes: number): string {
  if (bytes >= 1_000_000) return `${(bytes / 1_000_000).toFixed(bytes >= 10_000_000 ? 0 : 1)} MB`;
  if (bytes >= 1_000) return `${Math.round(bytes / 1_000)} KB`;
  return `${bytes} bytes`;
}

/** The URL that saves the value as a file: the execution value routes take `download=1`. */
export function downloadUrl(url: string): string | null {
  if (!/^\/api\/executions\/\d+\/(input|output|error|state)\/?$/.test(url)) return null;
  return `${url}?download=1`;
}

/** One line for a short summary (a `<summary>`, the run bar): the marker, or the value's JSON. */
export function shortJson(value: unknown, max = 80): string {
  if (isTruncated(value)) return `large value (${sizeText(value.size)})`;
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > max ? `${text.slice(0, max - 3)}…` : text;
}
