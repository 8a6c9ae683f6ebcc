// The run shown on the canvas: a picker of the workflow's runs (newest first), its status
// coloured by outcome with the reason of a failure, and what can be done with it (decide a
// waiting approval, re-run, open its timeline, hide the badges). Under 700 px of window the
// bar stays one row by moving re-run, the timeline link and the badges toggle into a "⋯"
// menu (editor.css): in a 480 px window "Hide run data" was past the right edge, and beside
// a waiting approval so was part of "Re-run…".
import type { Execution, ExecutionSummary } from "../api/types";
import { LargeValue } from "../dialogs/LargeValue";
import { isTruncated } from "../lib/largeValue";
import { usePhone } from "../lib/phone";
import { errorText, jsonText, shortTime } from "../lib/runText";
import { ToolbarMore, type MoreItem } from "../pages/ToolbarMore";
import { waitingApprovalOf } from "./ApprovalDialog";

interface Props {
  executions: ExecutionSummary[];
  execution: Execution | null;
  selectedId: string | null;
  hidden: boolean;
  onSelect: (id: string) => void;
  onHide: (hidden: boolean) => void;
  onApprove: () => void;
  onRerun: () => void;
  /** The canvas name of a node id, so that a failure names the node as the canvas shows it. */
  nodeName?: (id: string) => string | undefined;
}

export function statusLabel(execution: Pick<Execution, "status"> & { state?: unknown }): string {
  if (execution.status === "paused") return waitingApprovalOf(execution) ? "waiting for approval" : "paused";
  return execution.status.replace("_", " ");
}

export function RunBar({ executions, execution, selectedId, hidden, onSelect, onHide, onApprove, onRerun, nodeName }: Props) {
  const phone = usePhone();
  // The bar's place is kept before the first run: it appeared with that run and pushed the
  // canvas down ~43 px under the pointer.
  if (!executions.length && !execution) {
    return (
      <div className="fm-runbar fm-runbar-none" data-testid="run-bar-empty">
        <span className="fm-runbar-reason">No runs yet: ▶ Run starts one, and its status shows here and on the nodes.</span>
      </div>
    );
  }
  const status = execution?.status ?? executions.find((e) => String(e.id) === selectedId)?.status ?? "queued";
  const approval = execution ? waitingApprovalOf(execution) : null;
  const tone = status === "succeeded" ? "ok" : status === "failed" || status === "timed_out" ? "bad" : status === "paused" ? "wait" : status === "cancelled" ? "muted" : "live";
  const timeline = selectedId ? `/executions/${selectedId}/` : null;
  const more: MoreItem[] = [
    ...(execution ? [{ label: "Re-run…", testId: "rerun", onSelect: onRerun }] : []),
    ...(timeline ? [{ label: "Open timeline →", testId: "execution-link", onSelect: () => window.location.assign(timeline) }] : []),
    { label: hidden ? "Show run data" : "Hide run data", testId: "hide-badges", onSelect: () => onHide(!hidden) },
  ];
  const options = executions.some((e) => String(e.id) === selectedId) || !execution ? executions : [execution, ...executions];
  return (
    // Only the status is live (role="status": polite, read whole): with the whole bar live, a
    // screen reader read the picker and every button out again at each change of the run.
    <div className={`fm-runbar fm-runbar-${tone}`} data-testid="run-bar" data-tone={tone}>
      <label className="fm-runbar-pick">
        <span className="fm-runbar-word">Run</span>
        {/* On a phone the bar had ~50 px left for the picker, which then showed "#" and its
            caret: which run was shown could not be read. There it is as wide as the run's
            number (its status is said beside it), never narrower; the opened list still
            says each run's status, version and time. */}
        <select data-testid="run-picker" aria-label="Run shown on the canvas" value={selectedId ?? ""} onChange={(e) => onSelect(e.target.value)}
                style={phone && selectedId ? { width: `calc(${selectedId.length + 1.6}ch + 36px)` } : undefined}>
          {options.map((e) => (
            <option key={e.id} value={String(e.id)}>
              #{e.id} · {e.status.replace("_", " ")} · v{e.version} · {shortTime(e.createdAt)}
            </option>
          ))}
        </select>
      </label>
      <span className="fm-runbar-status" role="status" title={`Execution ${selectedId ?? ""}: ${execution ? statusLabel(execution) : status}`}>
        <span className="fm-runbar-word fm-runbar-word-last">Execution </span>
        <span className="fm-runbar-id"><strong data-testid="execution-id">{selectedId}</strong>:{" "}</span>
        <span data-testid="execution-status" data-status={status}>
          {execution ? statusLabel(execution) : status}
        </span>
      </span>
      {execution && (status === "failed" || status === "timed_out" || status === "cancelled") && execution.error ? (
        <span className="fm-runbar-reason" data-testid="execution-error">
          — {isTruncated(execution.error) ? <LargeValue value={execution.error} /> : errorText(execution.error, nodeName)}
        </span>
      ) : null}
      {execution && status === "succeeded" ? (
        isTruncated(execution.output) ? (
          <span className="fm-runbar-reason" data-testid="execution-output">→ <LargeValue value={execution.output} /></span>
        ) : (
          <span className="fm-runbar-reason fm-mono" data-testid="execution-output" title={jsonText(execution.output)}>
            → {jsonText(execution.output, 120).replace(/\s+/g, " ")}
          </span>
        )
      ) : null}
      <span className="fm-spacer" />
      {approval ? (
        <button type="button" className="fm-btn fm-btn-primary" data-testid="canvas-approve" onClick={onApprove}>
          {/* (Shorter on a phone, where the run's number and status need the room.) */}
          {phone ? "Approve…" : "Approve / reject…"}
        </button>
      ) : null}
      {execution ? (
        <button type="button" className="fm-btn fm-runbar-extra" data-testid="rerun" onClick={onRerun}>
          Re-run…
        </button>
      ) : null}
      {timeline ? (
        <a href={timeline} className="fm-runbar-extra" data-testid="execution-link">
          Open timeline →
        </a>
      ) : null}
      <button type="button" className="fm-small-btn fm-runbar-extra" aria-pressed={hidden} data-testid="hide-badges" onClick={() => onHide(!hidden)}>
        {hidden ? "Show run data" : "Hide run data"}
      </button>
      <ToolbarMore items={more} label="⋯" ariaLabel="More run actions" testId="run-more" className="fm-runbar-more" />
    </div>
  );
}
