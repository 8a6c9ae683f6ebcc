// Version history: every save that changed the definition is a version; restoring one
// saves its definition again as a new version (history is never rewritten). A version can
// be viewed (its nodes, and its JSON read-only) and compared with the draft before restoring;
// the view or the comparison opens inside the version's row, under its buttons.
import { type ReactNode, useEffect, useRef, useState } from "react";

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
function VersionView({ id, n, definition }: { id: string; n: number; definition: WorkflowDefinition }) {
  return (
    <div className="fm-version-detail" id={id} data-testid={`version-view-${n}`}>
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
function VersionCompare({ id, n, definition, draft }: { id: string; n: number; definition: WorkflowDefinition; draft: WorkflowDefinition }) {
  const diff = diffDefinitions(definition, draft);
  const label = (node: { id: string; name: string }) => (node.name && node.name !== node.id ? `${node.id} (${node.name})` : node.id);
  return (
    <div className="fm-version-detail" id={id} data-testid={`version-compare-${n}`}>
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

type Mode = "view" | "compare";

export function VersionsDialog({ workflowId, currentVersion, draft, onRestore, onClose }: Props) {
  const [versions, setVersions] = useState<WorkflowVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // One version's details open at a time, inside its row: with 20+ versions, details shown
  // under the whole list were ~1000 px below the button clicked, off screen, and a click on
  // View seemed to do nothing. `loading` is a row whose definition is being fetched (the list
  // carried only a size marker for it).
  const [shown, setShown] = useState<{ n: number; mode: Mode; definition: WorkflowDefinition } | null>(null);
  const [loading, setLoading] = useState<{ n: number; mode: Mode } | null>(null);
  const openRow = useRef<HTMLLIElement>(null);
  const show = (v: WorkflowVersion, mode: Mode) => {
    const n = versionNumber(v);
    if (shown && shown.n === n && shown.mode === mode) {
      setShown(null);
      return;
    }
    setLoading({ n, mode });
    void definitionOf(workflowId, v)
      .then((definition) => definition && setShown({ n, mode, definition }))
      .catch((err: unknown) => setError(errorMessage(err)))
      .finally(() => setLoading((l) => (l && l.n === n && l.mode === mode ? null : l)));
  };
  // Bring the opened row and its details into the dialog's view: the row's top stays on
  // screen when the two are taller than the dialog ("nearest" aligns the top then).
  useEffect(() => {
    if (shown) openRow.current?.scrollIntoView?.({ block: "nearest" });
  }, [shown]);
  useEffect(() => {
    workflowsApi
      .versions(workflowId)
      .then((list) => setVersions([...list].sort((a, b) => versionNumber(b) - versionNumber(a))))
      .catch((err: unknown) => setError(errorMessage(err)));
  }, [workflowId]);
  return (
    <Dialog title="Version history" titleId="versions-title" testId="versions-dialog" className="fm-modal-versions" onClose={onClose}>
      {error && <p className="fm-field-error" role="alert">{error}</p>}
      {!versions && !error && <p className="fm-muted">Loading…</p>}
      {versions && versions.length === 0 && <p className="fm-muted">No versions yet: save to create one.</p>}
      {versions && versions.length > 0 && (
        <ul className="fm-versions">
          {versions.map((v) => {
            const n = versionNumber(v);
            const open = shown?.n === n ? shown : null;
            const detailsId = `version-${n}-details`;
            const toggle = (mode: Mode, label: ReactNode) => (
              <button type="button" className={`fm-small-btn${open?.mode === mode ? " is-on" : ""}`} disabled={!v.definition}
                      data-testid={`${mode}-${n}`} aria-expanded={open?.mode === mode}
                      aria-controls={open?.mode === mode ? detailsId : undefined} onClick={() => show(v, mode)}>
                {label}
              </button>
            );
            return (
              <li key={n} data-testid={`version-${n}`} className={open ? "is-open" : undefined} ref={open ? openRow : undefined}>
                <div className="fm-version-row">
                  <span className="fm-version-number">v{n}</span>
                  <span className="fm-muted">{new Date(v.createdAt).toLocaleString()}</span>
                  <span className="fm-muted">{wholeDefinition(v) ? `${wholeDefinition(v)?.nodes.length} nodes` : ""}</span>
                  <span className="fm-version-actions">
                    {toggle("view", "View")}
                    {/* "with draft" goes on the smallest phones (app.css), where it pushed Restore onto a line of its own. */}
                    {toggle("compare", <>Compare<span className="fm-version-long"> with draft</span></>)}
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
                  </span>
                </div>
                {loading?.n === n && !open ? <p className="fm-muted fm-version-loading" role="status">Loading v{n}…</p> : null}
                {open?.mode === "view" ? <VersionView id={detailsId} n={n} definition={open.definition} /> : null}
                {open?.mode === "compare" ? <VersionCompare id={detailsId} n={n} definition={open.definition} draft={draft} /> : null}
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
