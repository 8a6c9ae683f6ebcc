// Pause, resume (with JSON data) and cancel (with a reason) through the signal API.
// A button shows only when the signal applies to the execution's state; the server still
// decides (409 when the state moved on) and its answer is shown as is.
import { useState } from "react";

import type { ExecutionStatus, WorkflowNode } from "../api/types";
import { parseJsonText } from "../lib/jsonText";
import { ApprovalDialog } from "../panels/ApprovalDialog";
import { formatTime } from "./model";
import type { StreamEvent } from "./types";
import { useSignalSender } from "./useSignalSender";

interface SignalBarProps {
  executionId: string;
  status: ExecutionStatus;
  signals: StreamEvent[];
  /** The run's workflow nodes: the approval bar names the waiting node as the canvas does. */
  nodes: readonly WorkflowNode[];
  onSent: () => void;
}

export function SignalBar({ executionId, status, signals, nodes, onSent }: SignalBarProps) {
  const [open, setOpen] = useState<"resume" | "cancel" | null>(null);
  const [reason, setReason] = useState("");
  const [data, setData] = useState("{}");
  const [deciding, setDeciding] = useState<"approve" | "reject" | null>(null);
  const { busy, message, setMessage, setNotice, send: sendSignal } = useSignalSender(executionId, onSent, status);
  const send = async (type: string, body: { reason?: string; data?: unknown }) => {
    if (await sendSignal(type, body)) setOpen(null);
  };

  const resume = () => {
    const parsed = parseJsonText(data, "The resume data", {});
    if (!parsed.ok) {
      setMessage(parsed.error);
      return;
    }
    void send("resume", { data: parsed.value });
  };

  const finished = ["succeeded", "failed", "cancelled", "timed_out"].includes(status);
  const approval = status === "paused" ? waitingApproval(signals) : null;
  return (
    <div className="tl-signals" data-testid="signals">
      {status === "running" ? (
        <button type="button" className="fm-btn" disabled={busy} onClick={() => void send("pause", { reason: "paused from the timeline" })}
                data-testid="signal-pause">Pause</button>
      ) : null}
      {/* At an approval the decision is the way on: a bare resume passed it with the output {},
          neither approved nor rejected. Resume is for a run paused by hand. */}
      {status === "paused" && !approval ? (
        <button type="button" className="fm-btn" disabled={busy} onClick={() => setOpen(open === "resume" ? null : "resume")}
                data-testid="signal-resume">Resume…</button>
      ) : null}
      {approval ? (
        <span className="tl-approval" role="group" aria-label="Approval" data-testid="approval" data-node-id={approval.nodeId}>
          <span className="tl-approval-text">
            {approval.reason} at <strong>{nodes.find((n) => n.id === approval.nodeId)?.name || approval.nodeId}</strong>
            {approval.approvers.length ? ` (approvers: ${approval.approvers.join(", ")})` : ""}
          </span>
          <button type="button" className="fm-btn fm-btn-primary" disabled={busy}
                  onClick={() => setDeciding("approve")} data-testid="approval-approve">Approve…</button>
          <button type="button" className="fm-btn fm-btn-danger" disabled={busy}
                  onClick={() => setDeciding("reject")} data-testid="approval-reject">Reject…</button>
        </span>
      ) : null}
      {approval && deciding ? (
        <ApprovalDialog
          executionId={executionId}
          approval={{ nodeId: approval.nodeId, name: nodes.find((n) => n.id === approval.nodeId)?.name, reason: approval.reason,
                      approvers: approval.approvers }}
          initial={deciding}
          onClose={() => setDeciding(null)}
          onDone={(_execution, approved) => {
            setNotice(approved ? "approved" : "rejected");
            onSent();
          }}
        />
      ) : null}
      {!finished ? (
        <button type="button" className="fm-btn fm-btn-danger" disabled={busy} onClick={() => setOpen(open === "cancel" ? null : "cancel")}
                data-testid="signal-cancel">Cancel…</button>
      ) : null}
      {open === "resume" && !approval ? (
        <span className="tl-signal-form">
          <label>Data (JSON) <textarea rows={2} cols={36} value={data} onChange={(e) => setData(e.target.value)} data-testid="resume-data" /></label>
          <button type="button" className="fm-btn fm-btn-primary" disabled={busy} onClick={resume} data-testid="resume-send">Send resume</button>
        </span>
      ) : null}
      {open === "cancel" ? (
        <span className="tl-signal-form">
          {/* Without a reason the run's error read "cancelled by signal", engine words for "you
              pressed Cancel": it says where, as Pause ("paused from the timeline") and the
              Executions list ("cancelled from the list") do. */}
          <label>Reason <input type="text" value={reason} placeholder="cancelled from the timeline" onChange={(e) => setReason(e.target.value)} data-testid="cancel-reason" /></label>
          <button type="button" className="fm-btn fm-btn-danger" disabled={busy} onClick={() => void send("cancel", { reason: reason.trim() || "cancelled from the timeline" })}
                  data-testid="cancel-send">Cancel the run</button>
        </span>
      ) : null}
      {message ? <span className="fm-muted" role="status">{message}</span> : null}
      {signals.length ? (
        <ul className="tl-signal-log" aria-label="Signals">
          {signals.slice(-5).map((s) => (
            <li key={s.seq}>{formatTime(s.ts)} {s.type === "signal" ? String(s.data?.type ?? "signal") : s.type.replace("execution.", "")}
              {s.data && typeof s.data.reason === "string" && s.data.reason ? ` — ${s.data.reason}` : ""}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

interface WaitingApproval {
  nodeId: string;
  reason: string;
  approvers: string[];
}

// The approval the run waits on: the latest pause/resume event, when it is a pause that an
// `approval` node made (it names the node; the engine marks it `approval: true`).
function waitingApproval(signals: StreamEvent[]): WaitingApproval | null {
  const last = [...signals].reverse().find((e) => e.type === "execution.paused" || e.type === "execution.resumed");
  if (!last || last.type !== "execution.paused" || !last.nodeId || last.data?.approval !== true) return null;
  const approvers = Array.isArray(last.data.approvers) ? last.data.approvers.map(String) : [];
  const reason = typeof last.data.reason === "string" && last.data.reason ? last.data.reason : "Awaiting approval";
  return { nodeId: last.nodeId, reason, approvers };
}
