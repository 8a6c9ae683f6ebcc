// Sending a signal from a timeline control (pause, resume, cancel, a custom signal): one
// request at a time, and a line that says what happened.
import { useState } from "react";

import { errorMessage } from "../api/client";
import { timelineApi } from "./api";

export function useSignalSender(executionId: string, onSent: () => void) {
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Sends `type` and resolves true once the server took it (the caller closes its form). */
  const send = async (type: string, body: { reason?: string; data?: unknown } = {}): Promise<boolean> => {
    setBusy(true);
    setMessage(null);
    try {
      await timelineApi.signal(executionId, { type, ...body });
      setMessage(`${type} sent`);
      onSent();
      return true;
    } catch (err) {
      setMessage(errorMessage(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, message, setMessage, send };
}
