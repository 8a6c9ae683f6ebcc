// One line under each node's name saying what it does, per node type. A type without an
// entry simply shows none: new node types need no front-end change.
import type { Config } from "../api/types";

type Summary = (config: Config) => string | undefined;

const str = (v: unknown): string | undefined => (v === undefined || v === null || v === "" ? undefined : typeof v === "string" ? v : JSON.stringify(v));

export const NODE_SUMMARIES: Record<string, Summary> = {
  start: () => "input",
  http: (c) => [str(c.method) ?? "GET", str(c.url)].filter(Boolean).join(" "),
  transform: (c) => (c.operation === "custom" ? "custom expression" : str(c.operation)),
  merge: (c) => `mode: ${str(c.mode) ?? "all"} · output: ${str(c.output) ?? "object"}`,
  condition: (c) => str(c.expression),
  loop: (c) =>
    [
      `forEach ${str(c.arrayPath) ?? "?"}`,
      c.parallel ? `parallel${c.maxConcurrency ? ` ×${String(c.maxConcurrency)}` : ""}` : "sequential",
      c.batchSize ? `batch ${String(c.batchSize)}` : "",
      // The limits a person set in the panel show on the canvas too: without them a loop
      // throttled to 5 starts a second and fed by a queue read like an unlimited one.
      c.rateLimit ? `${String(c.rateLimit)}/s` : "",
      c.queue && typeof c.queue === "object" ? "queued" : "",
    ]
      .filter(Boolean)
      .join(" · "),
  delay: (c) => (c.duration !== undefined ? `${String(c.duration)} ms` : undefined),
  // `message` is the approval's option (there is no `reason`): what the approver is asked.
  approval: (c) => str(c.message) ?? "waits for resume",
  log: (c) => str(c.message),
  set: (c) => (c.values && typeof c.values === "object" ? Object.keys(c.values).join(", ") : undefined),
  output: (c) => str(c.value),
  fail: (c) => str(c.message),
};

export const NODE_ICONS: Record<string, string> = {
  start: "▶",
  http: "⇄",
  transform: "ƒ",
  merge: "⋈",
  condition: "◇",
  loop: "⟳",
  delay: "◷",
  approval: "☑",
  log: "☰",
  set: "≔",
  output: "⏏",
  fail: "✕",
};

export function summarise(type: string, config: Config): string | undefined {
  const fn = NODE_SUMMARIES[type];
  const text = fn ? fn(config) : undefined;
  return text && text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
