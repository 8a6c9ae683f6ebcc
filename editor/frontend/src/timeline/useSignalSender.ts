// Sending a signal from a timeline control (pause, resume, cancel, a custom signal): one
// request at a time, and a line that says what happened.
import { useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import type { ExecutionStatus } from "../api/types";
import { timelineApi } from "./api";

/** How long "pause sent" and the like stay when the run's status does not move on first. */
export const NOTICE_MS = 5000;

interface Line {
  text: string;
  /** A confirmation ("pause sent", "approved"): it goes once the run's status changes or after NOTICE_MS. */
  transient: boolean;
}

export function useSignalSender(executionId: string, onSent: () => void, status?: ExecutionStatus) {
  const [line, setLine] = useState<Line | null>(null);
  const [busy, setBusy] = useState(false);
  // "pause sent" stayed beside a run long paused (and "resume sent" beside one running again):
  // once the status it asked for is reached, the confirmation is stale.
  useEffect(() => {
    setLine((current) => (current?.transient ? null : current));
  }, [status]);
  useEffect(() => {
    if (!line?.transient) return undefined;
    const timer = window.setTimeout(() => setLine((current) => (current === line ? null : current)), NOTICE_MS);
    return () => window.clearTimeout(timer);
  }, [line]);
  /** An error or a hint: it stays until the next action. */
  const setMessage = (text: string | null) => setLine(text === null ? null : { text, transient: false });
  /** A confirmation that the request went through. */
  const setNotice = (text: string) => setLine({ text, transient: true });
  /** Sends `type` and resolves true once the server took it (the caller closes its form). */
  const send = async (type: string, body: { reason?: string; data?: unknown } = {}): Promise<boolean> => {
    setBusy(true);
    setLine(null);
    try {
      await timelineApi.signal(executionId, { type, ...body });
      setNotice(`${type} sent`);
      onSent();
      return true;
    } catch (err) {
      setMessage(errorMessage(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, message: line?.text ?? null, setMessage, setNotice, send };
}
