// Approve or reject a waiting `approval` node with a comment and optional data, in one
// dialog shared by the canvas, the timeline and the executions list.
//
// The decision is a `resume` signal (SPEC §6) whose data becomes the approval node's
// output: `{...data, approved, comment}` (the decision keys win over same-named data keys,
// so `{{node.approved}}` always means the decision). The comment is also the signal's
// `reason`, so it shows in the signal log next to who sent it.
import { useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import type { Execution } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
import { parseJsonText } from "../lib/jsonText";

export interface WaitingApprovalInfo {
  nodeId: string;
  /** The node's display name (falls back to its id). */
  name?: string;
  /** The approval's message ("Refund over 500 EUR"). */
  reason?: string;
  approvers?: string[];
}

interface Props {
  executionId: string | number;
  approval: WaitingApprovalInfo;
  onClose: () => void;
  /** Called with the server's answer once the signal was accepted. */
  onDone?: (execution: Execution, approved: boolean) => void;
  /** Which button has the focus first ("approve" by default). */
  initial?: "approve" | "reject";
}

/** The `awaiting` entry of an execution's state (set by the engine while an approval waits). */
export function waitingApprovalOf(execution: Pick<Execution, "status"> & { state?: unknown }): WaitingApprovalInfo | null {
  if (execution.status !== "paused") return null;
  const state = execution.state;
  if (!state || typeof state !== "object") return null;
  const awaiting = (state as Record<string, unknown>).awaiting;
  if (!awaiting || typeof awaiting !== "object") return null;
  const a = awaiting as Record<string, unknown>;
  if (typeof a.nodeId !== "string") return null;
  return {
    nodeId: a.nodeId,
    name: typeof a.name === "string" ? a.name : undefined,
    reason: typeof a.reason === "string" ? a.reason : undefined,
    approvers: Array.isArray(a.approvers) ? a.approvers.map(String) : [],
  };
}

/** The signal body for a decision; exported for tests and for callers without the dialog. */
export function approvalSignal(approved: boolean, comment: string, data: unknown): { type: "resume"; reason: string; data: Record<string, unknown> } {
  const extra = data && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>) : data === undefined || data === null ? {} : { data };
  return { type: "resume", reason: comment.trim() || (approved ? "approved" : "rejected"), data: { ...extra, approved, comment: comment.trim() } };
}

export function ApprovalDialog({ executionId, approval, onClose, onDone, initial = "approve" }: Props) {
  const [comment, setComment] = useState("");
  const [dataText, setDataText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const commentRef = useRef<HTMLTextAreaElement>(null);
  const rejectRef = useRef<HTMLButtonElement>(null);

  const decide = async (approved: boolean) => {
    const data = parseJsonText(dataText, "The data", undefined);
    if (!data.ok) {
      setError(data.error);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const execution = await api.post<Execution>(`/api/executions/${executionId}/signal`, approvalSignal(approved, comment, data.value));
      onDone?.(execution, approved);
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const name = approval.name || approval.nodeId;
  return (
    <Dialog title={`Approval: ${name}`} titleId="approval-title" testId="approval-dialog" onClose={onClose}
            initialFocus={initial === "reject" ? rejectRef : commentRef}>
      <p data-testid="approval-message">{approval.reason || "Awaiting approval"}</p>
      {approval.approvers && approval.approvers.length ? <p className="fm-help">Approvers: {approval.approvers.join(", ")}</p> : null}
      <label className="fm-label" htmlFor="approval-comment">
        Comment
      </label>
      <textarea
        id="approval-comment"
        ref={commentRef}
        className="fm-textarea"
        rows={3}
        data-testid="approval-comment"
        value={comment}
        onChange={(e) => setComment(e.target.value)}
        placeholder="Why (kept in the output as comment and in the signal log)"
      />
      <label className="fm-label" htmlFor="approval-data">
        Data (JSON object, optional)
      </label>
      <textarea
        id="approval-data"
        className="fm-textarea fm-mono"
        rows={3}
        data-testid="approval-data"
        value={dataText}
        onChange={(e) => setDataText(e.target.value)}
        placeholder='{"limit": 500}'
      />
      <p className="fm-help">
        The approval's output becomes the data plus <code>approved</code> and <code>comment</code>.
      </p>
      {error ? (
        <p className="fm-field-error" role="alert" data-testid="approval-error">
          {error}
        </p>
      ) : null}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose} disabled={busy}>
          Cancel
        </button>
        <button type="button" className="fm-btn fm-btn-danger" data-testid="approval-dialog-reject" disabled={busy} ref={rejectRef} onClick={() => void decide(false)}>
          Reject
        </button>
        <button type="button" className="fm-btn fm-btn-primary" data-testid="approval-dialog-approve" disabled={busy} onClick={() => void decide(true)}>
          Approve
        </button>
      </div>
    </Dialog>
  );
}
