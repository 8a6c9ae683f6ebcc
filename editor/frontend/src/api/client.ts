// A small JSON client for the FlowMaestro HTTP API (SPEC §7), shared by every page.
// Session auth: Django's CSRF token is read from its cookie and sent on every unsafe
// request. Errors come back as `ApiError` carrying the server's `detail` and `errors`,
// so a page can show the user exactly what the server said.

import { readableIssueMessage } from "../lib/issueText";

export interface ApiErrorItem {
  message?: string;
  nodeId?: string;
  edgeId?: string;
  path?: string;
  [key: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors: ApiErrorItem[];
  readonly body: unknown;

  constructor(status: number, detail: string, errors: ApiErrorItem[], body: unknown) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.errors = errors;
    this.body = body;
  }

  /** One line for a toast: the detail plus the first few item messages, each with the node
   * (or edge) it is about — "config.url: is required" alone did not say which of several
   * HTTP nodes. `nameOf` turns a node id into the name the canvas shows. */
  userMessage(nameOf: (nodeId: string) => string | undefined = () => undefined): string {
    const items = this.errors
      .map((e) => {
        if (typeof e === "string") return e;
        const text = e.message !== undefined ? readableIssueMessage(e.message) : JSON.stringify(e);
        if (typeof e.nodeId === "string" && e.nodeId) return `${nameOf(e.nodeId) || e.nodeId}: ${text}`;
        if (typeof e.edgeId === "string" && e.edgeId) return `connection ${e.edgeId}: ${text}`;
        return text;
      })
      .slice(0, 3);
    // "Invalid workflow definition." + ": …" would read ".:"; the list follows the colon.
    return items.length ? `${this.detail.replace(/[.:]\s*$/, "")}: ${items.join("; ")}` : this.detail;
  }
}

export function readCookie(name: string, cookieString: string = typeof document === "undefined" ? "" : document.cookie): string | null {
  for (const part of cookieString.split(";")) {
    const [rawKey, ...rest] = part.trim().split("=");
    if (rawKey === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function csrfToken(): string | null {
  // The cookie is the source of truth; a page may also render the token into a meta tag
  // (useful when CSRF_COOKIE_HTTPONLY is on).
  const fromCookie = readCookie("csrftoken");
  if (fromCookie) return fromCookie;
  const meta = typeof document === "undefined" ? null : document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  return meta?.content ?? null;
}

/** Turns any error body into a human sentence. DRF sends `{detail}` or `{field: [msgs]}`. */
export function describeErrorBody(status: number, body: unknown): { detail: string; errors: ApiErrorItem[] } {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const errors = Array.isArray(record.errors) ? (record.errors as ApiErrorItem[]) : [];
    if (typeof record.detail === "string") return { detail: record.detail, errors };
    const fieldMessages = Object.entries(record)
      .filter(([key]) => key !== "errors")
      .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(" ") : JSON.stringify(value)}`);
    if (fieldMessages.length) return { detail: fieldMessages.join("; "), errors };
    if (errors.length) return { detail: `Request failed (${status})`, errors };
  }
  if (typeof body === "string" && body.trim()) return { detail: body.trim().slice(0, 300), errors: [] };
  return { detail: `Request failed (${status})`, errors: [] };
}

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export async function request<T>(method: Method, url: string, body?: unknown, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (body !== undefined) headers.set("Content-Type", "application/json");
  if (method !== "GET") {
    const token = csrfToken();
    if (token) headers.set("X-CSRFToken", token);
  }
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `Network error: ${err instanceof Error ? err.message : String(err)}`, [], null);
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const { detail, errors } = describeErrorBody(response.status, parsed);
    throw new ApiError(response.status, detail, errors, parsed);
  }
  return parsed as T;
}

export const api = {
  get: <T>(url: string, init?: RequestInit) => request<T>("GET", url, undefined, init),
  post: <T>(url: string, body?: unknown, init?: RequestInit) => request<T>("POST", url, body ?? {}, init),
  put: <T>(url: string, body: unknown, init?: RequestInit) => request<T>("PUT", url, body, init),
  patch: <T>(url: string, body: unknown, init?: RequestInit) => request<T>("PATCH", url, body, init),
  delete: <T = null>(url: string, init?: RequestInit) => request<T>("DELETE", url, undefined, init),
};

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.userMessage();
  if (err instanceof Error) return err.message;
  return String(err);
}
