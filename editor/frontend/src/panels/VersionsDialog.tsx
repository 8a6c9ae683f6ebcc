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
                <span className="fm-muted">{v.definition ? `${v.definition.nodes.length} nodes` : ""}</span>
                {n === currentVersion ? (
                  <span className="fm-chip">current</span>
                ) : (
                  <button
                    type="button"
                    className="fm-small-btn"
                    disabled={!v.definition}
                    data-testid={`restore-${n}`}
                    onClick={() => v.definition && void onRestore(v.definition, n)}
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
