// The workflow list (/workflows/): search, sort (name, last run, updated), each workflow's
// last run and its status; create, open, rename, duplicate, delete, import.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import { workflowsApi } from "../api/endpoints";
import type { Workflow, WorkflowDefinition, WorkflowListItem } from "../api/types";
import { Dialog } from "../dialogs/Dialog";
import { EDITOR_NOTICE_KEY, importName } from "../lib/importName";
import { normaliseDefinition } from "../store/graphStore";
import { importedPinData } from "../store/pinData";
import { STATUS_COLOURS } from "../timeline/model";

type SortKey = "name" | "lastRun" | "updated";
const SORT_LABELS: Record<SortKey, string> = { name: "Name", lastRun: "Last run", updated: "Updated" };

function sortValue(wf: WorkflowListItem, key: SortKey): string | number {
  if (key === "name") return wf.name.toLocaleLowerCase();
  if (key === "lastRun") return wf.lastRun ? Date.parse(wf.lastRun.createdAt) : 0;
  return Date.parse(wf.updatedAt);
}

/** A row's definition: from the list, or fetched when the list carried only its size
 * (a big workflow past the list's size budget). */
async function definitionOf(wf: WorkflowListItem): Promise<WorkflowDefinition> {
  return "truncated" in wf.definition ? (await workflowsApi.get(wf.id)).definition : wf.definition;
}

/** A new workflow starts valid: one Start node (the server refuses a definition without one). */
export function starterDefinition(name: string): WorkflowDefinition {
  return {
    schemaVersion: 1,
    name,
    settings: {},
    nodes: [{ id: "start", type: "start", name: "Start", position: { x: 0, y: 0 }, config: {} }],
    edges: [],
  };
}

export function WorkflowListPage() {
  const [workflows, setWorkflows] = useState<WorkflowListItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [newName, setNewName] = useState("");
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<{ id: Workflow["id"]; name: string } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<WorkflowListItem | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: "updated", descending: true });

  const shown = useMemo(() => {
    const words = query.trim().toLocaleLowerCase().split(/\s+/).filter(Boolean);
    const matching = (workflows ?? []).filter((wf) => {
      const text = `${wf.name} ${wf.description} ${wf.lastRun?.status ?? "never run"}`.toLocaleLowerCase();
      return words.every((w) => text.includes(w));
    });
    return matching.sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sort.descending ? -order : order;
    });
  }, [workflows, query, sort]);

  const sortBy = (key: SortKey) =>
    setSort((prev) => (prev.key === key ? { key, descending: !prev.descending } : { key, descending: key !== "name" }));
  const header = (key: SortKey) => (
    <th scope="col" aria-sort={sort.key === key ? (sort.descending ? "descending" : "ascending") : "none"}>
      <button type="button" className="fm-sort-btn" onClick={() => sortBy(key)} data-testid={`sort-${key}`}>
        {SORT_LABELS[key]}
        <span aria-hidden="true">{sort.key === key ? (sort.descending ? " ▼" : " ▲") : ""}</span>
      </button>
    </th>
  );

  const reload = useCallback(async () => {
    try {
      setWorkflows(await workflowsApi.list());
    } catch (err) {
      setError(errorMessage(err));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const guard = async (what: string, action: () => Promise<void>) => {
    setError(null);
    setNotice(null);
    try {
      await action();
    } catch (err) {
      setError(`${what} failed: ${errorMessage(err)}`);
    }
  };

  const create = () =>
    guard("Create", async () => {
      const name = newName.trim() || "Untitled workflow";
      setCreating(true);
      try {
        // Nothing is stored until the editor's first save: no pile of empty drafts.
        window.location.assign(`/workflows/new/?name=${encodeURIComponent(name)}`);
      } finally {
        setCreating(false);
      }
    });

  const rename = (wf: WorkflowListItem, name: string) =>
    guard("Rename", async () => {
      const trimmed = name.trim();
      if (!trimmed || trimmed === wf.name) {
        setRenaming(null);
        return;
      }
      const definition = await definitionOf(wf);
      await workflowsApi.update(wf.id, { name: trimmed, definition: { ...normaliseDefinition(definition, trimmed), name: trimmed } });
      setRenaming(null);
      setNotice(`Renamed to “${trimmed}”.`);
      await reload();
    });

  const duplicate = (wf: WorkflowListItem) =>
    guard("Duplicate", async () => {
      const name = `${wf.name} (copy)`;
      const definition = await definitionOf(wf);
      await workflowsApi.create({ name, description: wf.description, definition: { ...normaliseDefinition(definition, name), name }, draft: true });
      setNotice(`Created “${name}”.`);
      await reload();
    });

  const remove = (wf: WorkflowListItem) =>
    guard("Delete", async () => {
      await workflowsApi.remove(wf.id);
      setConfirmDelete(null);
      setNotice(`Deleted “${wf.name}”.`);
      await reload();
    });

  const loadDemos = () =>
    guard("Loading the demos", async () => {
      // The server points the demos' apiBase at itself as this browser reaches it.
      const loaded = await api.post<Workflow[]>("/api/demo-workflows", {});
      setNotice(`Loaded ${loaded.length} demo workflows.`);
      await reload();
    });

  const importFile = (file: File) =>
    guard("Import", async () => {
      const parsed = JSON.parse(await file.text()) as Partial<WorkflowDefinition>;
      if (!parsed || !Array.isArray(parsed.nodes)) throw new Error("the file is not a workflow definition (no nodes list)");
      const ownName = parsed.name || file.name.replace(/\.json$/i, "");
      // Not a second workflow of the same name in the list: the import says it was renamed.
      const name = importName(ownName, (workflows ?? (await workflowsApi.list())).map((w) => w.name));
      // A draft: a file with problems (a cycle) still opens in the editor to be fixed there.
      // Its pinned data (`pinData`) is created with it or, refused, nothing is.
      const pinData = importedPinData(parsed);
      const wf = await workflowsApi.create({ name, definition: normaliseDefinition(parsed, name), draft: true, ...(pinData ? { pinData } : {}) });
      const notice = name === ownName ? `Imported “${name}”.` : `Imported as “${name}”: you already have a workflow named “${ownName}”.`;
      try {
        window.sessionStorage.setItem(EDITOR_NOTICE_KEY, JSON.stringify({ workflowId: String(wf.id), notice }));
      } catch {
        // Storage refused (private mode): the editor opens without the message; the name says it.
      }
      window.location.assign(`/workflows/${wf.id}/`);
    });

  return (
    <div className="fm-list-page" data-testid="workflow-list-page">
      <header className="fm-list-head">
        <h1>Workflows</h1>
        <form
          className="fm-new-form"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <label htmlFor="new-workflow-name" className="fm-visually-hidden">
            New workflow name
          </label>
          <input
            id="new-workflow-name"
            data-testid="new-workflow-name"
            placeholder="New workflow name"
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
          />
          <button type="button" className="fm-btn" data-testid="load-demos" onClick={() => void loadDemos()}>
            Load demo workflows
          </button>
          <button type="submit" className="fm-btn fm-btn-primary" data-testid="create-workflow" disabled={creating}>
            New workflow
          </button>
          <button type="button" className="fm-btn" data-testid="import-workflow" onClick={() => fileInput.current?.click()}>
            Import JSON
          </button>
          <input
            ref={fileInput}
            type="file"
            accept="application/json,.json"
            hidden
            data-testid="import-workflow-file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void importFile(file);
              e.target.value = "";
            }}
          />
        </form>
      </header>
      {error && (
        <p className="fm-banner fm-banner-error" role="alert" data-testid="list-error">
          {error}
        </p>
      )}
      {notice && (
        <p className="fm-banner" role="status" data-testid="list-notice">
          {notice}
        </p>
      )}
      {workflows && workflows.length > 0 && (
        <div className="fm-list-tools">
          <label htmlFor="workflow-search" className="fm-visually-hidden">Search workflows</label>
          <input id="workflow-search" type="search" placeholder="Search by name, description or last status" value={query}
                 onChange={(e) => setQuery(e.target.value)} data-testid="workflow-search" />
          <span className="fm-muted" data-testid="workflow-count">{shown.length} of {workflows.length}</span>
        </div>
      )}
      {workflows === null && !error && <p className="fm-muted">Loading…</p>}
      {workflows && workflows.length === 0 && <p className="fm-muted" data-testid="no-workflows">No workflows yet. Create one above.</p>}
      {workflows && workflows.length > 0 && (
        <table className="fm-table fm-workflow-table" data-testid="workflow-table">
          <thead>
            <tr>
              {header("name")}
              {header("lastRun")}
              <th scope="col">Nodes</th>
              <th scope="col">Version</th>
              {header("updated")}
              <th scope="col">
                <span className="fm-visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((wf) => (
              <tr key={wf.id} data-testid={`workflow-row-${wf.id}`}>
                <td className="fm-name-cell">
                  {renaming?.id === wf.id ? (
                    <form
                      onSubmit={(e) => {
                        e.preventDefault();
                        void rename(wf, renaming.name);
                      }}
                    >
                      <input
                        autoFocus
                        aria-label={`New name for ${wf.name}`}
                        data-testid="rename-input"
                        value={renaming.name}
                        onChange={(e) => setRenaming({ id: wf.id, name: e.target.value })}
                        onKeyDown={(e) => e.key === "Escape" && setRenaming(null)}
                      />
                      <button type="submit" className="fm-small-btn" data-testid="rename-save">
                        Save
                      </button>
                    </form>
                  ) : (
                    <a href={`/workflows/${wf.id}/`} data-testid="workflow-link">
                      {wf.name}
                    </a>
                  )}
                  {wf.description && <div className="fm-muted">{wf.description}</div>}
                </td>
                <td data-testid="last-run" data-label="Last run">
                  {wf.lastRun ? (
                    <a href={`/executions/${wf.lastRun.id}/`} className="fm-last-run" data-status={wf.lastRun.status}>
                      <span className="fm-status-dot" style={{ background: STATUS_COLOURS[wf.lastRun.status] }} aria-hidden="true" />
                      {wf.lastRun.status}
                      <time dateTime={wf.lastRun.createdAt} className="fm-muted"> {new Date(wf.lastRun.createdAt).toLocaleString()}</time>
                    </a>
                  ) : <span className="fm-muted">never run</span>}
                </td>
                <td data-label="Nodes">{"truncated" in wf.definition ? "" : (wf.definition?.nodes?.length ?? 0)}</td>
                <td data-label="Version">v{wf.version}</td>
                <td data-label="Updated">
                  <time dateTime={wf.updatedAt}>{new Date(wf.updatedAt).toLocaleString()}</time>
                </td>
                <td className="fm-actions fm-actions-wrap">
                  <a className="fm-small-btn" href={`/workflows/${wf.id}/`}>
                    Open
                  </a>
                  <button type="button" className="fm-small-btn" data-testid="rename" onClick={() => setRenaming({ id: wf.id, name: wf.name })}>
                    Rename
                  </button>
                  <button type="button" className="fm-small-btn" data-testid="duplicate" onClick={() => void duplicate(wf)}>
                    Duplicate
                  </button>
                  <a className="fm-small-btn" href={`/executions/?workflow=${wf.id}`}>
                    Executions
                  </a>
                  <button type="button" className="fm-small-btn fm-danger" data-testid="delete" onClick={() => setConfirmDelete(wf)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {confirmDelete && (
        <Dialog title={`Delete “${confirmDelete.name}”?`} titleId="delete-title" testId="confirm-delete" role="alertdialog"
                onClose={() => setConfirmDelete(null)}>
          <p>Its versions go with it. This cannot be undone.</p>
          <div className="fm-modal-actions">
            <button type="button" className="fm-btn" onClick={() => setConfirmDelete(null)} autoFocus>
              Cancel
            </button>
            <button type="button" className="fm-btn fm-btn-danger" data-testid="confirm-delete-button" onClick={() => void remove(confirmDelete)}>
              Delete
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
