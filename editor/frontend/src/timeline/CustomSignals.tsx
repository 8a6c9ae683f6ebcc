// The workflow's own signals (SPEC §6: `settings.signalHandlers` other than pause, resume
// and cancel — e.g. the seed's `priority_change`), sent from the run page with optional
// JSON data, next to the pause / resume / cancel buttons of SignalBar.
import { useState } from "react";

import type { ExecutionStatus, SignalHandler } from "../api/types";
import { parseJsonText } from "../lib/jsonText";
import { useSignalSender } from "./useSignalSender";

const BUILT_IN = new Set(["pause", "resume", "cancel"]);
const FINISHED = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

interface CustomSignalsProps {
  executionId: string;
  status: ExecutionStatus;
  handlers: Record<string, SignalHandler> | undefined;
  onSent: () => void;
}

/** The custom signal names of a workflow, in the order its settings list them. */
export function customSignalNames(handlers: Record<string, SignalHandler> | undefined): string[] {
  return Object.keys(handlers ?? {}).filter((name) => !BUILT_IN.has(name));
}

export function CustomSignals({ executionId, status, handlers, onSent }: CustomSignalsProps) {
  const [open, setOpen] = useState<string | null>(null);
  const [data, setData] = useState("{}");
  const { busy, message, setMessage, send: sendSignal } = useSignalSender(executionId, onSent, status);
  const names = customSignalNames(handlers);
  if (!names.length || FINISHED.has(status)) return null;

  const send = async (type: string) => {
    const parsed = parseJsonText(data, "The signal data", undefined);
    if (!parsed.ok) {
      setMessage(parsed.error);
      return;
    }
    if (await sendSignal(type, parsed.value === undefined ? {} : { data: parsed.value })) setOpen(null);
  };

  return (
    <div className="tl-signals" role="group" aria-label="Custom signals" data-testid="custom-signals">
      {names.map((name) => (
        <button key={name} type="button" className="fm-btn" disabled={busy} aria-expanded={open === name}
                onClick={() => setOpen(open === name ? null : name)} data-testid={`custom-signal-${name}`}
                title={handlers?.[name]?.handler ? `runs node ${handlers[name]?.handler}` : undefined}>
          {name}…
        </button>
      ))}
      {open ? (
        <span className="tl-signal-form">
          <label>Data (JSON, optional) <textarea rows={2} cols={36} value={data} onChange={(e) => setData(e.target.value)}
                                                  data-testid="custom-signal-data" /></label>
          <button type="button" className="fm-btn fm-btn-primary" disabled={busy} onClick={() => void send(open)}
                  data-testid="custom-signal-send">Send {open}</button>
        </span>
      ) : null}
      {message ? <span className="fm-muted" role="status" data-testid="custom-signal-message">{message}</span> : null}
    </div>
  );
}
