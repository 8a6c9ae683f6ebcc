// Redrive: run again only what failed (or the selected bar: a node, or one loop item) in a
// new attempt of this same execution. Succeeded node runs and loop items are kept; the
// server decides what depends on the re-run parts (POST /api/executions/{id}/redrive).
// A run that succeeded while some loop items failed (`onPartialFailure: "continue"`) offers
// "Redrive failed (N items)" too: one request without a selection re-runs all of them.
import { useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import type { ExecutionStatus } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
import { loopItemStats } from "./model";
import type { Bar } from "./types";

const REDRIVABLE = new Set<ExecutionStatus>(["failed", "cancelled", "timed_out"] as ExecutionStatus[]);
const FINISHED = new Set<ExecutionStatus>(["failed", "cancelled", "timed_out", "succeeded"] as ExecutionStatus[]);
const RERUN_STATUSES = new Set(["failed", "timed_out", "cancelled"]);

interface Target {
  label: string;
  body: { nodes?: string[]; items?: Record<string, number[]> };
}

/** What redriving the selected bar means: one loop item, or one node (every item of it in a
 * loop body). `nameOf` gives a node's name, so that the loop reads as on the canvas. */
export function selectionTarget(bar: Bar | null, nameOf: (nodeId: string) => string | undefined = () => undefined): Target | null {
  if (!bar || bar.container === undefined) return null;
  const group = /^loop:(.+):slot:\d+$/.exec(bar.lane)?.[1];
  if (group && bar.iteration !== null && bar.iteration !== undefined) {
    const loop = group.split("/").pop() ?? group;
    const name = nameOf(loop);
    return { label: `item ${bar.iteration} of ${name && name !== loop ? name : `loop ${loop}`}`, body: { items: { [loop]: [bar.iteration] } } };
  }
  return { label: `node ${bar.name || bar.nodeId}`, body: { nodes: [bar.nodeId] } };
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** What "Redrive failed" of a run that succeeded would re-run: its failed loop items (the
 * server's count when known, else the bars') and node runs outside loops that did not
 * succeed (a branch a `continue` join left out); null when there is nothing. */
export function partialFailures(bars: readonly Bar[], failedItems?: number): { button: string; label: string } | null {
  let items = failedItems;
  if (items === undefined) {
    items = 0;
    for (const stats of loopItemStats(bars).values()) items += stats.failed;
  }
  const latest = new Map<string, Bar>();
  for (const bar of bars) {
    if (bar.lane.includes(":slot:") || bar.container) continue;
    const key = `${bar.lane}|${bar.nodeId}`;
    const seen = latest.get(key);
    if (!seen || (bar.redrive ?? 0) > (seen.redrive ?? 0) || ((bar.redrive ?? 0) === (seen.redrive ?? 0) && (bar.attempt ?? 0) >= (seen.attempt ?? 0))) {
      latest.set(key, bar);
    }
  }
  // Not "cancelled": in a run that succeeded that is the loser of a first-success race.
  const others = [...latest.values()].filter((b) => b.status === "failed" || b.status === "timed_out").length;
  if (items + others === 0) return null;
  if (others === 0) return { button: `Redrive failed (${plural(items, "item")})`, label: `the ${plural(items, "failed item")}` };
  const parts = [items ? plural(items, "item") : "", plural(others, "node run")].filter(Boolean).join(", ");
  return { button: `Redrive failed (${parts})`, label: `what did not succeed (${parts})` };
}

/** The redrive dialog: what runs again, on which version (the timeline's and the Executions list's). */
export function RedriveDialog({ label, busy, onClose, onConfirm }: {
  label: string;
  busy: boolean;
  onClose: () => void;
  onConfirm: (version: "original" | "latest") => void;
}) {
  const [version, setVersion] = useState<"original" | "latest">("original");
  const first = useRef<HTMLInputElement>(null);
  return (
    <Dialog title={`Redrive ${label}`} titleId="redrive-title" testId="redrive-dialog" onClose={onClose} initialFocus={first}>
      <p>
        Runs again {label} and whatever depends on it, in this same execution. Everything that succeeded is kept;
        trace ids stay the same.
      </p>
      <fieldset>
        <legend>Version</legend>
        <label>
          <input ref={first} type="radio" name="redrive-version" checked={version === "original"} onChange={() => setVersion("original")} data-testid="redrive-version-original" />
          the version this run used
        </label>
        <label>
          <input type="radio" name="redrive-version" checked={version === "latest"} onChange={() => setVersion("latest")} data-testid="redrive-version-latest" />
          the latest version (after a fix)
        </label>
      </fieldset>
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="fm-btn fm-btn-primary" disabled={busy} onClick={() => onConfirm(version)} data-testid="redrive-confirm">
          Redrive
        </button>
      </div>
    </Dialog>
  );
}

interface Props {
  executionId: string;
  status: ExecutionStatus;
  bars: Bar[];
  selected: Bar | null;
  /** The server's count of failed loop items of the ended run (undefined: count the bars). */
  failedItems?: number;
  onDone: () => void;
}

export function RedriveControls({ executionId, status, bars, selected, failedItems, onDone }: Props) {
  const [open, setOpen] = useState<Target | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  if (!FINISHED.has(status)) return null;
  // The newest attempt of each node run decides what failed.
  const latest = new Map<string, Bar>();
  for (const bar of bars) {
    const key = `${bar.lane}|${bar.nodeId}|${bar.iteration ?? ""}`;
    const seen = latest.get(key);
    if (!seen || (bar.attempt ?? 0) >= (seen.attempt ?? 0)) latest.set(key, bar);
  }
  const failed = [...latest.values()].filter((b) => RERUN_STATUSES.has(b.status) && !b.container).length;
  const partial = status === "succeeded" ? partialFailures(bars, failedItems) : null;
  const redriven = Math.max(0, ...bars.map((b) => b.redrive ?? 0));
  const selection = selectionTarget(selected, (id) => bars.find((b) => b.nodeId === id && b.container)?.name);

  const go = async (version: "original" | "latest") => {
    if (!open) return;
    setBusy(true);
    try {
      await api.post(`/api/executions/${executionId}/redrive`, { version, ...open.body });
      setMessage({ text: `Redriving ${open.label}…`, error: false });
      setOpen(null);
      onDone();
    } catch (err) {
      setMessage({ text: errorMessage(err), error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="tl-redrive" data-testid="redrive-controls">
      {REDRIVABLE.has(status) && (
        <button type="button" className="fm-btn" data-testid="redrive-failed"
                onClick={() => setOpen({ label: `the ${plural(failed, "node run")} that did not succeed`, body: {} })}>
          Redrive failed ({failed})
        </button>
      )}
      {partial && (
        // The run succeeded, yet some items failed: no selection re-runs every one of them.
        <button type="button" className="fm-btn" data-testid="redrive-failed" onClick={() => setOpen({ label: partial.label, body: {} })}>
          {partial.button}
        </button>
      )}
      {selection && (
        <button type="button" className="fm-btn" data-testid="redrive-selection" onClick={() => setOpen(selection)}>
          Redrive {selection.label}
        </button>
      )}
      {redriven > 0 && <span className="fm-muted" data-testid="redrive-count">redriven {redriven}×</span>}
      {message && (
        <span className={message.error ? "fm-error" : "fm-muted"} role={message.error ? "alert" : "status"} data-testid="redrive-message">
          {message.text}
        </span>
      )}
      {open && (
        <RedriveDialog label={open.label} busy={busy} onClose={() => setOpen(null)} onConfirm={(version) => void go(version)} />
      )}
    </div>
  );
}
