// Version history: every save that changed the definition is a version; restoring one
// saves its definition again as a new version (history is never rewritten).
import { useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import { workflowsApi } from "../api/endpoints";
import type { WorkflowDefinition, WorkflowVersion } from "../api/types";
import { Dialog } from "../dialogs/Dialog";

interface Props {
  workflowId: string;
  currentVersion: number;
  onRestore: (definition: WorkflowDefinition, number: number) => Promise<void>;
  onClose: () => void;
}

export function versionNumber(v: WorkflowVersion): number {
  return Number(v.number ?? v.version ?? 0);
}

/** The version's definition when the list carried it whole (not a size marker). */
function wholeDefinition(v: WorkflowVersion): WorkflowDefinition | null {
  return v.definition && !("truncated" in v.definition) ? v.definition : null;
}

/** The definition to restore: from the list, or fetched when the list carried a marker. */
async function definitionOf(workflowId: string, v: WorkflowVersion): Promise<WorkflowDefinition | null> {
  const whole = wholeDefinition(v);
  if (whole || !v.definition) return whole;
  const fetched = await workflowsApi.version(workflowId, versionNumber(v));
  return wholeDefinition(fetched);
}

export function VersionsDialog({ workflowId, currentVersion, onRestore, onClose }: Props) {
  const [versions, setVersions] = useState<WorkflowVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    workflowsApi
      .versions(workflowId)
      .then((list) => setVersions([...list].sort((a, b) => versionNumber(b) - versionNumber(a))))
      .catch((err: unknown) => setError(errorMessage(err)));
  }, [workflowId]);
  return (
    <Dialog title="Version history" titleId="versions-title" testId="versions-dialog" onClose={onClose}>
      {error && <p className="fm-field-error" role="alert">{error}</p>}
      {!versions && !error && <p className="fm-muted">Loading…</p>}
      {versions && versions.length === 0 && <p className="fm-muted">No versions yet: save to create one.</p>}
      {versions && versions.length > 0 && (
        <ul className="fm-versions">
          {versions.map((v) => {
            const n = versionNumber(v);
            return (
              <li key={n} data-testid={`version-${n}`}>
                <span className="fm-version-number">v{n}</span>
                <span className="fm-muted">{new Date(v.createdAt).toLocaleString()}</span>
                <span className="fm-muted">{wholeDefinition(v) ? `${wholeDefinition(v)?.nodes.length} nodes` : ""}</span>
                {n === currentVersion ? (
                  <span className="fm-chip">current</span>
                ) : (
                  <button
                    type="button"
                    className="fm-small-btn"
                    disabled={!v.definition}
                    data-testid={`restore-${n}`}
                    onClick={() =>
                      void definitionOf(workflowId, v)
                        .then((definition) => definition && onRestore(definition, n))
                        .catch((err: unknown) => setError(errorMessage(err)))
                    }
                  >
                    Restore
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
