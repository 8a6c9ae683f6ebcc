// Redrive: run again only what failed (or the selected bar: a node, or one loop item) in a
// new attempt of this same execution. Succeeded node runs and loop items are kept; the
// server decides what depends on the re-run parts (POST /api/executions/{id}/redrive).
// A run that succeeded while some loop items or a branch failed (`onPartialFailure:
// "continue"`) offers "Redrive failed (…)" too: one request without a selection re-runs them.
// Failed items whose dead letters were replayed as other executions are left out of it (the
// server's `redriveOffer`): counted apart, named with links to the replays, and not run a
// second time (the request says `leaveOutReplayed`; without it the server refuses with 409).
import { useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import type { ExecutionStatus } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
import { plural } from "../lib/plural";
import type { Bar, Redrive, RedriveOffer } from "./types";

const REDRIVABLE = new Set<ExecutionStatus>(["failed", "cancelled", "timed_out"] as ExecutionStatus[]);
const FINISHED = new Set<ExecutionStatus>(["failed", "cancelled", "timed_out", "succeeded"] as ExecutionStatus[]);

interface Target {
  label: string;
  body: { nodes?: string[]; items?: Record<string, number[]>; leaveOutReplayed?: boolean };
  /** A loop chosen by its bar: every item of it runs again, none is kept. */
  whole?: boolean;
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
  return { label: `node ${bar.name || bar.nodeId}`, body: { nodes: [bar.nodeId] }, whole: bar.container };
}

export { plural };

/** Which versions the run's attempts ran, when a redrive moved it to another one — "began on
 * v1; redrive 2 on v3" — else null: the header's version is then the only one. A redrive on
 * "latest" changes the run's version, and the node runs kept from before ran the older one. */
export function redriveVersions(redrives: Redrive[]): string | null {
  const first = redrives[0]?.fromVersion;
  if (first === null || first === undefined) return null;
  const moves: string[] = [];
  let current = first;
  for (const r of redrives) {
    if (r.version !== null && r.version !== undefined && r.version !== current) {
      moves.push(`redrive ${r.number} on v${r.version}`);
      current = r.version;
    }
  }
  return moves.length ? `began on v${first}; ${moves.join(", ")}` : null;
}

/** The engine's count, when the run ended, of what a redrive without a selection re-runs
 * (`failedNodes`, `failedItems` of the execution's summary). */
export interface FailedCounts {
  failedNodes?: number;
  failedItems?: number;
}

/** The "Redrive failed" button of a finished run — one definition for its timeline and its
 * Executions row, from the engine's count: "Redrive failed (1 node)", "(2 items)" or
 * "(1 node, 2 items)" (a top-level node run, e.g. a branch left out by `onPartialFailure:
 * "continue"`, and loop items are different things to re-run, so both are named). A run that
 * failed, was cancelled or timed out offers it even with nothing counted (it failed before a
 * node ran: a redrive runs it from the start); a succeeded run only with something counted. */
export function redriveFailed(status: ExecutionStatus, counts?: FailedCounts): { button: string; label: string } | null {
  if (!FINISHED.has(status)) return null;
  const nodes = counts?.failedNodes ?? 0;
  const items = counts?.failedItems ?? 0;
  if (nodes + items === 0) return REDRIVABLE.has(status) ? { button: "Redrive failed", label: "what did not succeed" } : null;
  const parts = [nodes ? plural(nodes, "node") : "", items ? plural(items, "item") : ""].filter(Boolean);
  const failed = [nodes ? plural(nodes, "failed node") : "", items ? plural(items, "failed item") : ""].filter(Boolean);
  return { button: `Redrive failed (${parts.join(", ")})`, label: `the ${failed.join(" and ")}` };
}

/** "Redrive failed" with the server's `redriveOffer`: the button counts only what can be
 * redriven (the replayed items are left out), or is disabled when nothing is left; `note`
 * says why, beside it. Null when nothing was replayed (then `redriveFailed` alone decides). */
export function offeredRedrive(status: ExecutionStatus, offer: RedriveOffer | null | undefined):
    { button: string; label: string; disabled: boolean; note: string } | null {
  if (!offer || !FINISHED.has(status)) return null;
  const whole = offer.replayed.some((r) => r.kind === "run");
  const items = offer.replayed.filter((r) => r.kind === "item").length;
  const left = offer.failedNodes + offer.failedItems;
  if (whole || left === 0) {
    return { button: "Redrive failed", label: "what did not succeed", disabled: true,
             note: `Nothing left to redrive: ${offer.reason}.` };
  }
  const failed = redriveFailed(status, offer);
  return { button: failed?.button ?? "Redrive failed", label: failed?.label ?? "what did not succeed", disabled: false,
           note: `${offer.reason} and ${items === 1 ? "is" : "are"} left out.` };
}

/** The replays an offer names, as links: "#12, #13" in the note beside the button. */
function ReplayLinks({ offer }: { offer: RedriveOffer }) {
  const ids = offer.replayed.map((r) => r.execution).filter((id): id is number => id !== null);
  return (
    <>
      {ids.map((id, i) => (
        <span key={id}>
          {i > 0 ? (i === ids.length - 1 ? " and " : ", ") : null}
          <a href={`/executions/${id}/`} data-testid="redrive-replay-link">#{id}</a>
        </span>
      ))}
    </>
  );
}

/** The redrive dialog: what runs again, on which version (the timeline's and the Executions list's). */
export function RedriveDialog({ label, busy, runVersion, whole = false, error, onClose, onConfirm }: {
  label: string;
  busy: boolean;
  /** Why the server refused the redrive (e.g. an item already replayed from its dead letter):
   * said in the dialog, which stays open, not behind its backdrop. */
  error?: string;
  /** A loop chosen as a node: all its items run again (the server re-runs them all). */
  whole?: boolean;
  /** The version the run is on (named beside "the version this run used"). */
  runVersion?: number;
  onClose: () => void;
  onConfirm: (version: "original" | "latest") => void;
}) {
  const [version, setVersion] = useState<"original" | "latest">("original");
  const first = useRef<HTMLInputElement>(null);
  return (
    <Dialog title={`Redrive ${label}`} titleId="redrive-title" testId="redrive-dialog" onClose={onClose} initialFocus={first}>
      <p data-testid="redrive-what">
        {whole
          ? <>Runs again {label} with every one of its items, and everything downstream, in this same execution. Everything
            else that succeeded is kept; trace ids stay the same.</>
          : <>Runs again {label} and everything downstream, in this same execution. Everything that succeeded is kept;
            trace ids stay the same.</>}
      </p>
      <fieldset>
        <legend>Version</legend>
        <label>
          <input ref={first} type="radio" name="redrive-version" checked={version === "original"} onChange={() => setVersion("original")} data-testid="redrive-version-original" />
          the version this run used{runVersion !== undefined ? ` (v${runVersion})` : ""}
        </label>
        <label>
          <input type="radio" name="redrive-version" checked={version === "latest"} onChange={() => setVersion("latest")} data-testid="redrive-version-latest" />
          the latest version (after a fix)
        </label>
      </fieldset>
      {error ? <p className="fm-error" role="alert" data-testid="redrive-error">{error}</p> : null}
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
  /** The server's count for the ended run (undefined until the page has read it). */
  counts?: FailedCounts;
  /** The run's redrives (the timeline API's `redrives`). */
  redrives?: Redrive[];
  /** The version the run is on. */
  runVersion?: number;
  /** The server's `redriveOffer` (failed work already replayed elsewhere), when there is one. */
  offer?: RedriveOffer | null;
  onDone: () => void;
}

export function RedriveControls({ executionId, status, bars, selected, counts, redrives = [], runVersion, offer, onDone }: Props) {
  const [open, setOpen] = useState<Target | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  if (!FINISHED.has(status)) return null;
  // Until the page has read the ended run's count, no button: a plain "Redrive failed" that
  // turns into "Redrive failed (2 items)" a moment later would be a button that changes under the pointer.
  const offered = counts ? offeredRedrive(status, offer) : null;
  const failed = offered ?? (counts ? redriveFailed(status, counts) : null);
  const redriven = Math.max(0, ...bars.map((b) => b.redrive ?? 0));
  const versions = redriveVersions(redrives);
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
      {failed && (
        // No selection: the server re-runs what the count names, and what depends on it —
        // leaving out, when the offer says so, the items already replayed elsewhere.
        <button type="button" className="fm-btn" data-testid="redrive-failed" disabled={offered?.disabled}
                title={offered?.disabled ? offered.note : undefined}
                onClick={() => { setMessage(null); setOpen({ label: failed.label, body: offered ? { leaveOutReplayed: true } : {} }); }}>
          {failed.button}
        </button>
      )}
      {offered && offer && (
        <span className="fm-muted" data-testid="redrive-left-out">
          {offered.disabled ? "Nothing left to redrive: " : null}
          {offer.replayed.some((r) => r.kind === "run")
            ? "the run was replayed"
            : `${plural(offer.replayed.length, "item")} ${offer.replayed.length === 1 ? "was" : "were"} replayed`}
          {offer.replayed.some((r) => r.execution !== null) ? <> as <ReplayLinks offer={offer} /></> : null}
          {offered.disabled ? "." : <> and {offer.replayed.length === 1 ? "is" : "are"} left out.</>}
        </span>
      )}
      {selection && (
        <button type="button" className="fm-btn" data-testid="redrive-selection" onClick={() => { setMessage(null); setOpen(selection); }}>
          Redrive {selection.label}
        </button>
      )}
      {redriven > 0 && <span className="fm-muted" data-testid="redrive-count">redriven {redriven}×</span>}
      {versions && <span className="fm-muted" data-testid="redrive-versions">({versions})</span>}
      {message && (
        <span className={message.error ? "fm-error" : "fm-muted"} role={message.error ? "alert" : "status"} data-testid="redrive-message">
          {message.text}
        </span>
      )}
      {open && (
        <RedriveDialog label={open.label} busy={busy} runVersion={runVersion} whole={open.whole}
                       error={message?.error ? message.text : undefined}
                       onClose={() => setOpen(null)} onConfirm={(version) => void go(version)} />
      )}
    </div>
  );
}
