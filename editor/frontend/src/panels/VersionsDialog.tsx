// Version history: every save that changed the definition is a version; restoring one
// saves its definition again as a new version (history is never rewritten). A version can
// be viewed (its nodes, and its JSON read-only) and compared with the draft before restoring.
import { useEffect, useState } from "react";

import { errorMessage } from "../api/client";
import { workflowsApi } from "../api/endpoints";
import type { WorkflowDefinition, WorkflowVersion } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
import { ScrollingPre } from "../dialogs/ScrollingPre";
import { diffDefinitions, isEmptyDiff, shortValue } from "../lib/versionDiff";

interface Props {
  workflowId: string;
  currentVersion: number;
  /** The editor's definition now, unsaved edits included: what "Compare" compares with. */
  draft: WorkflowDefinition;
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

/** A version's nodes, and its whole definition as read-only JSON. */
function VersionView({ n, definition }: { n: number; definition: WorkflowDefinition }) {
  return (
    <div className="fm-version-detail" data-testid={`version-view-${n}`}>
      <h3>v{n}: {definition.nodes.length} nodes, {definition.edges.length} connections</h3>
      <ul className="fm-version-nodes">
        {definition.nodes.map((node) => (
          <li key={node.id}>
            <code>{node.id}</code> {node.name && node.name !== node.id ? node.name : null} <span className="fm-muted">({node.type}{node.parentId ? `, in ${node.parentId}` : ""})</span>
          </li>
        ))}
      </ul>
      <details>
        <summary>JSON</summary>
        <ScrollingPre label={`Definition of v${n}`} className="fm-version-json" testId={`version-json-${n}`}>
          {JSON.stringify(definition, null, 2)}
        </ScrollingPre>
      </details>
    </div>
  );
}

/** What the draft changed since a version: nodes added, removed, and changed keys old → new. */
function VersionCompare({ n, definition, draft }: { n: number; definition: WorkflowDefinition; draft: WorkflowDefinition }) {
  const diff = diffDefinitions(definition, draft);
  const label = (node: { id: string; name: string }) => (node.name && node.name !== node.id ? `${node.id} (${node.name})` : node.id);
  return (
    <div className="fm-version-detail" data-testid={`version-compare-${n}`}>
      <h3>v{n} → your current draft</h3>
      {isEmptyDiff(diff) ? <p className="fm-muted" data-testid="compare-same">No differences in nodes, their options or connections (positions aside).</p> : null}
      {diff.added.length ? <p data-testid="compare-added"><strong>Added:</strong> {diff.added.map(label).join(", ")}</p> : null}
      {diff.removed.length ? <p data-testid="compare-removed"><strong>Removed:</strong> {diff.removed.map(label).join(", ")}</p> : null}
      {diff.changed.length ? (
        <div data-testid="compare-changed">
          <strong>Changed:</strong>
          <ul className="fm-version-nodes">
            {diff.changed.map((c) => (
              <li key={c.id} data-testid={`compare-changed-${c.id}`}>
                <code>{label(c)}</code>
                <ul>
                  {c.changes.map((k) => (
                    <li key={k.key}><code>{k.key}</code>: {shortValue(k.before)} → {shortValue(k.after)}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {diff.edgesAdded || diff.edgesRemoved ? (
        <p data-testid="compare-edges">Connections: {diff.edgesAdded} added, {diff.edgesRemoved} removed.</p>
      ) : null}
    </div>
  );
}

export function VersionsDialog({ workflowId, currentVersion, draft, onRestore, onClose }: Props) {
  const [versions, setVersions] = useState<WorkflowVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<{ n: number; mode: "view" | "compare"; definition: WorkflowDefinition } | null>(null);
  const show = (v: WorkflowVersion, mode: "view" | "compare") => {
    const n = versionNumber(v);
    if (shown && shown.n === n && shown.mode === mode) {
      setShown(null);
      return;
    }
    void definitionOf(workflowId, v)
      .then((definition) => definition && setShown({ n, mode, definition }))
      .catch((err: unknown) => setError(errorMessage(err)));
  };
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
                <button type="button" className="fm-small-btn" disabled={!v.definition} data-testid={`view-${n}`}
                        aria-expanded={shown?.n === n && shown.mode === "view"} onClick={() => show(v, "view")}>
                  View
                </button>
                <button type="button" className="fm-small-btn" disabled={!v.definition} data-testid={`compare-${n}`}
                        aria-expanded={shown?.n === n && shown.mode === "compare"} onClick={() => show(v, "compare")}>
                  Compare with draft
                </button>
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
      {shown?.mode === "view" ? <VersionView n={shown.n} definition={shown.definition} /> : null}
      {shown?.mode === "compare" ? <VersionCompare n={shown.n} definition={shown.definition} draft={draft} /> : null}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
