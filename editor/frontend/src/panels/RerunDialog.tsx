// Re-run a past execution from the editor: its original version or the latest one, with
// its input prefilled and editable (POST /api/executions/{id}/retry).
import { useEffect, useState } from "react";

import { api, errorMessage } from "../api/client";
import { executionsApi, type RerunVersion } from "../api/endpoints";
import type { Execution, ExecutionSummary } from "../api/types";
import { CodeField } from "../forms/LazyCodeField";

interface Props {
  execution: Pick<ExecutionSummary, "id" | "version" | "input" | "status">;
  latestVersion: number;
  onClose: () => void;
  onStarted: (execution: Execution) => void;
}

export function RerunDialog({ execution, latestVersion, onClose, onStarted }: Props) {
  const [version, setVersion] = useState<RerunVersion>(execution.version === latestVersion ? "original" : "latest");
  const [text, setText] = useState(() => JSON.stringify(execution.input ?? {}, null, 2));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A run kept as an open dead letter is re-run by replaying it, so the dead letter is
  // marked as dealt with (and names the replay) instead of staying open beside it.
  const [deadLetter, setDeadLetter] = useState<number | null>(null);
  useEffect(() => {
    let stopped = false;
    api
      .get<{ id: number; kind: string }[]>(`/api/dead-letters?execution=${execution.id}&state=open&kind=run`)
      .then((letters) => !stopped && setDeadLetter(letters[0]?.id ?? null))
      .catch(() => undefined);
    return () => {
      stopped = true;
    };
  }, [execution.id]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, [onClose]);

  const submit = async () => {
    let input: unknown;
    try {
      input = text.trim() ? JSON.parse(text) : {};
    } catch (err) {
      setError(`Input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (!input || typeof input !== "object" || Array.isArray(input)) {
      setError("Input must be a JSON object.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (deadLetter !== null) {
        const replayed = await api.post<{ id: number }>(`/api/dead-letters/${deadLetter}/replay`, { version, input });
        onStarted(await executionsApi.get(replayed.id));
      } else {
        onStarted(await executionsApi.retry(execution.id, { version, input }));
      }
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="fm-modal-backdrop" onClick={onClose}>
      <div className="fm-modal" role="dialog" aria-modal="true" aria-labelledby="rerun-title" data-testid="rerun-dialog" onClick={(e) => e.stopPropagation()}>
        <h2 id="rerun-title">Re-run execution {execution.id}</h2>
        {deadLetter !== null ? (
          <p className="fm-help" data-testid="rerun-dead-letter">
            This run is dead letter #{deadLetter}: re-running replays it and marks it replayed.
          </p>
        ) : null}
        <fieldset className="fm-fieldset">
          <legend className="fm-label">Version</legend>
          <label className="fm-radio">
            <input type="radio" name="rerun-version" value="original" data-testid="rerun-original" checked={version === "original"} onChange={() => setVersion("original")} />
            Original (v{execution.version})
          </label>
          <label className="fm-radio">
            <input type="radio" name="rerun-version" value="latest" data-testid="rerun-latest" checked={version === "latest"} onChange={() => setVersion("latest")} />
            Latest saved (v{latestVersion})
          </label>
        </fieldset>
        <label className="fm-label" htmlFor="rerun-input">
          Input (JSON)
        </label>
        <CodeField id="rerun-input" testId="rerun-input" label="Re-run input JSON" language="javascript" value={text} onChange={setText} minHeight="120px" />
        {error && (
          <p className="fm-field-error" role="alert" data-testid="rerun-error">
            {error}
          </p>
        )}
        <div className="fm-modal-actions">
          <button type="button" className="fm-btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="fm-btn fm-btn-primary" data-testid="rerun-submit" disabled={busy} onClick={() => void submit()}>
            {busy ? "Starting…" : deadLetter !== null ? "Replay" : "Re-run"}
          </button>
        </div>
      </div>
    </div>
  );
}
