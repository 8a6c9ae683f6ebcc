// Connecting nodes without a mouse: with a node focused on the canvas (Tab reaches nodes),
// press C and pick the node to connect to (and, for a node with several outputs such as a
// condition, which output). The same checks as a dragged wire apply (store.connect).
import { useMemo, useRef, useState } from "react";

import { Dialog } from "../dialogs/Dialog";
import { outputHandles } from "../lib/graph";
import { graphStore, useGraph } from "../store/graphStore";

interface Props {
  sourceId: string;
  onClose: () => void;
}

export function ConnectDialog({ sourceId, onClose }: Props) {
  const definition = useGraph((s) => s.definition);
  const nodeTypes = useGraph((s) => s.nodeTypes);
  const source = definition.nodes.find((n) => n.id === sourceId);
  const handles = useMemo(() => (source ? outputHandles(source, nodeTypes[source.type]) : []), [source, nodeTypes]);
  const targets = definition.nodes.filter((n) => n.id !== sourceId && n.type !== "start");
  const [target, setTarget] = useState(targets[0]?.id ?? "");
  const [handle, setHandle] = useState(handles[0] ?? "out");
  const [error, setError] = useState<string | null>(null);
  const first = useRef<HTMLSelectElement>(null);

  if (!source) return null;
  const connect = () => {
    const result = graphStore.getState().connect(sourceId, target, handles.length > 1 ? handle : null);
    if (!result.ok) {
      setError(result.message ?? "These nodes cannot be connected.");
      return;
    }
    onClose();
    // Back on the node the user came from, so that the next C or Tab goes on from there.
    window.requestAnimationFrame(() =>
      document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(sourceId)}"]`)?.focus());
  };
  return (
    <Dialog title={`Connect “${source.name || source.id}” to…`} titleId="connect-title" testId="connect-dialog" onClose={onClose}
            onSubmit={connect} initialFocus={first}>
      <p>
        <label htmlFor="connect-target">Node</label>{" "}
        <select id="connect-target" ref={first} value={target} onChange={(e) => setTarget(e.target.value)} data-testid="connect-target">
          {targets.map((n) => <option key={n.id} value={n.id}>{n.name || n.id} ({n.id})</option>)}
        </select>
      </p>
      {handles.length > 1 ? (
        <p>
          <label htmlFor="connect-handle">From the output</label>{" "}
          <select id="connect-handle" value={handle} onChange={(e) => setHandle(e.target.value)} data-testid="connect-handle">
            {handles.map((h) => <option key={h} value={h}>{h}</option>)}
          </select>
        </p>
      ) : null}
      {error ? <p className="fm-banner fm-banner-error" role="alert" data-testid="connect-error">{error}</p> : null}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>Cancel</button>
        <button type="submit" className="fm-btn fm-btn-primary" data-testid="connect-submit" disabled={!target}>Connect</button>
      </div>
    </Dialog>
  );
}
