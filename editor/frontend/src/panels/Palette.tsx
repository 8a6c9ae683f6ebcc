// Every node type from GET /api/node-types, grouped by category and searchable. Drag an
// item onto the canvas, or click it / press Enter to add it after the selected node (after
// several selected nodes: joining them; into a selected Loop whose body is empty; else in
// the middle of the view). On a phone (under 600 px, editor.css) it is a drawer over the
// canvas, opened by the editor's "+ Add node" button and closed by its own button or Escape
// (the editor's shortcuts).
import { useEffect, useMemo, useRef, useState } from "react";

import type { NodeTypeInfo } from "../api/types";
import { cycle } from "../dialogs/Dialog";
import { NODE_ICONS } from "../nodes/summaries";

export const DRAG_MIME = "application/x-flowmaestro-node-type";

interface Props {
  nodeTypes: NodeTypeInfo[];
  onAdd: (type: string) => void;
  /** Types that cannot be added now, with why (a second Start). */
  unavailable?: Record<string, string>;
  /** Open as the phone layout's drawer (a wider window always shows the palette). */
  open?: boolean;
  onClose?: () => void;
}

export function groupNodeTypes(types: readonly NodeTypeInfo[], query: string): [string, NodeTypeInfo[]][] {
  const q = query.trim().toLowerCase();
  const groups = new Map<string, NodeTypeInfo[]>();
  for (const t of types) {
    if (q && !`${t.type} ${t.title} ${t.description} ${t.category}`.toLowerCase().includes(q)) continue;
    const category = t.category || "Other";
    const list = groups.get(category);
    if (list) list.push(t);
    else groups.set(category, [t]);
  }
  return [...groups.entries()];
}

export function Palette({ nodeTypes, onAdd, unavailable = {}, open = false, onClose }: Props) {
  const [query, setQuery] = useState("");
  const groups = useMemo(() => groupNodeTypes(nodeTypes, query), [nodeTypes, query]);
  const search = useRef<HTMLInputElement>(null);
  // The drawer opens on its search field, as a dialog opens on its first field.
  useEffect(() => {
    if (open) search.current?.focus();
  }, [open]);
  // While it is open as a drawer, Tab and Shift+Tab stay inside it, as in a dialog: the
  // canvas and the toolbar behind it are covered, and a keyboard user tabbing on from the
  // last node type landed on controls the backdrop hides.
  const drawer = useRef<HTMLElement>(null);
  useEffect(() => {
    const element = drawer.current;
    if (!open || !element) return;
    const tab = (event: KeyboardEvent) => {
      if (event.key === "Tab") cycle(element, event);
    };
    window.addEventListener("keydown", tab, true);
    return () => window.removeEventListener("keydown", tab, true);
  }, [open]);
  return (
    <aside ref={drawer} id="fm-palette" className={open ? "fm-palette is-open" : "fm-palette"} aria-label="Node palette" data-testid="palette">
      {/* Shown only as the phone's drawer (editor.css). */}
      <div className="fm-sheet-head fm-palette-head">
        <strong>Add a node</strong>
        <button type="button" className="fm-btn" data-testid="close-palette" onClick={onClose}>
          Close ✕
        </button>
      </div>
      <input
        ref={search}
        type="search"
        className="fm-palette-search"
        placeholder="Search nodes…"
        aria-label="Search node types"
        data-testid="palette-search"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {groups.length === 0 && <p className="fm-muted">No node type matches “{query}”.</p>}
      {groups.map(([category, types]) => (
        <section key={category} className="fm-palette-group">
          <h3>{category}</h3>
          <ul>
            {types.map((t) => {
              const why = unavailable[t.type];
              return (
              <li key={t.type}>
                <div
                  className={`fm-palette-item${why ? " is-unavailable" : ""}`}
                  draggable={!why}
                  tabIndex={0}
                  role="button"
                  aria-disabled={why ? true : undefined}
                  data-testid={`palette-${t.type}`}
                  // The name is the visible text (axe: label-content-name-mismatch); the hint is its description.
                  aria-describedby={`palette-hint-${t.type}`}
                  title={why ?? t.description}
                  onDragStart={(e) => {
                    if (why) {
                      e.preventDefault();
                      return;
                    }
                    e.dataTransfer.setData(DRAG_MIME, t.type);
                    e.dataTransfer.setData("text/plain", t.type);
                    e.dataTransfer.effectAllowed = "move";
                  }}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" || e.key === " ") {
                      e.preventDefault();
                      if (!why) onAdd(t.type);
                    }
                  }}
                  // A role=button must act on a click (people coming from n8n click, and so do
                  // voice control and screen readers). `detail` counts the clicks of a
                  // double-click: only its first adds, so a double-click is still one node.
                  onClick={(e) => {
                    if (!why && e.detail <= 1) onAdd(t.type);
                  }}
                >
                  <span className="fm-node-icon" aria-hidden="true">
                    {NODE_ICONS[t.type] ?? "◆"}
                  </span>
                  <span className="fm-palette-title">{t.title}</span>
                  {t.container && <span className="fm-chip">container</span>}
                  {why ? <span className="fm-visually-hidden"> (unavailable)</span> : null}
                  <span id={`palette-hint-${t.type}`} className="fm-visually-hidden">
                    {why ?? "click or press Enter to add it after the selected node (after several: joining them; into a selected empty Loop), or drag it onto the canvas"}
                  </span>
                </div>
              </li>
              );
            })}
          </ul>
        </section>
      ))}
    </aside>
  );
}
