// Redrive: run again only what failed (or the selected bar: a node, or one loop item) in a
// new attempt of this same execution. Succeeded node runs and loop items are kept; the
// server decides what depends on the re-run parts (POST /api/executions/{id}/redrive).
import { useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import type { ExecutionStatus } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
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

interface Props {
  executionId: string;
  status: ExecutionStatus;
  bars: Bar[];
  selected: Bar | null;
  onDone: () => void;
}

export function RedriveControls({ executionId, status, bars, selected, onDone }: Props) {
  const [open, setOpen] = useState<Target | null>(null);
  const [version, setVersion] = useState<"original" | "latest">("original");
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);

  if (!FINISHED.has(status)) return null;
  // The newest attempt of each node run decides what failed.
  const latest = new Map<string, Bar>();
  for (const bar of bars) {
    const key = `${bar.lane}|${bar.nodeId}|${bar.iteration ?? ""}`;
    const seen = latest.get(key);
    if (!seen || (bar.attempt ?? 0) >= (seen.attempt ?? 0)) latest.set(key, bar);
  }
  const failed = [...latest.values()].filter((b) => RERUN_STATUSES.has(b.status) && !b.container).length;
  const redriven = Math.max(0, ...bars.map((b) => b.redrive ?? 0));
  const selection = selectionTarget(selected, (id) => bars.find((b) => b.nodeId === id && b.container)?.name);

  const go = async () => {
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
                onClick={() => setOpen({ label: `the ${failed} node run${failed === 1 ? "" : "s"} that did not succeed`, body: {} })}>
          Redrive failed ({failed})
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
        <Dialog title={`Redrive ${open.label}`} titleId="redrive-title" testId="redrive-dialog" onClose={() => setOpen(null)} initialFocus={first}>
          <p>
            Runs again {open.label} and whatever depends on it, in this same execution. Everything that succeeded is kept;
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
            <button type="button" className="fm-btn" onClick={() => setOpen(null)}>
              Cancel
            </button>
            <button type="button" className="fm-btn fm-btn-primary" disabled={busy} onClick={() => void go()} data-testid="redrive-confirm">
              Redrive
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
