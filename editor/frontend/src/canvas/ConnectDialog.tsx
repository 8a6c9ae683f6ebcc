// Connecting nodes without a mouse: with a node focused on the canvas (Tab reaches nodes),
// press C and pick the node to connect to (and, for a node with several outputs such as a
// condition, which output); or Tab on to one of its handles and press Enter or Space: from
// an output the wire leaves from that output, into an input the dialog asks where it comes
// from. The same checks as a dragged wire apply (store.connect).
import { useMemo, useRef, useState } from "react";

import { Dialog } from "../dialogs/Dialog";
import { hasInputHandle, outputHandles } from "../lib/graph";
import { graphStore, useGraph } from "../store/graphStore";

interface Props {
  /** The node the dialog was opened on: the wire leaves from it, or with `into` goes into it. */
  nodeId: string;
  into?: boolean;
  /** The output the user started from (Enter on that handle): picked already. */
  handle?: string | null;
  /** Opened from a handle: the focus goes back there (the dialog's own rule), not to the node. */
  fromHandle?: boolean;
  onClose: () => void;
}

export function ConnectDialog({ nodeId, into = false, handle: startHandle = null, fromHandle = false, onClose }: Props) {
  const definition = useGraph((s) => s.definition);
  const nodeTypes = useGraph((s) => s.nodeTypes);
  const here = definition.nodes.find((n) => n.id === nodeId);
  // The other end: a node with an input (from here), or a node with an output (into here).
  const others = definition.nodes.filter((n) => n.id !== nodeId && (into
    ? (nodeTypes[n.type]?.ports.outputs.length ?? 1) > 0
    : hasInputHandle(nodeTypes[n.type], n.type)));
  const [other, setOther] = useState(others[0]?.id ?? "");
  const source = definition.nodes.find((n) => n.id === (into ? other : nodeId));
  const handles = useMemo(() => (source ? outputHandles(source, nodeTypes[source.type]) : []), [source, nodeTypes]);
  const [chosenHandle, setHandle] = useState<string | null>(startHandle);
  const handle = chosenHandle && handles.includes(chosenHandle) ? chosenHandle : handles[0] ?? "out";
  const [error, setError] = useState<string | null>(null);
  const first = useRef<HTMLSelectElement>(null);

  if (!here) return null;
  const connect = () => {
    const [from, to] = into ? [other, nodeId] : [nodeId, other];
    const result = graphStore.getState().connect(from, to, handles.length > 1 ? handle : null);
    if (!result.ok) {
      setError(result.message ?? "These nodes cannot be connected.");
      return;
    }
    onClose();
    if (fromHandle) return;
    // Back on the node the user came from, so that the next C or Tab goes on from there.
    window.requestAnimationFrame(() =>
      document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(nodeId)}"]`)?.focus());
  };
  const name = here.name || here.id;
  const title = into ? `Connect to “${name}” from…`
    : startHandle && handles.length > 1 ? `Connect “${name}” (output ${startHandle}) to…` : `Connect “${name}” to…`;
  return (
    <Dialog title={title} titleId="connect-title" testId="connect-dialog" onClose={onClose}
            onSubmit={connect} initialFocus={first}>
      <p>
        <label htmlFor="connect-target">{into ? "From the node" : "Node"}</label>{" "}
        <select id="connect-target" ref={first} value={other} onChange={(e) => { setOther(e.target.value); setError(null); }}
                data-testid="connect-target">
          {others.map((n) => <option key={n.id} value={n.id}>{n.name || n.id} ({n.id})</option>)}
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
        <button type="submit" className="fm-btn fm-btn-primary" data-testid="connect-submit" disabled={!other}>Connect</button>
      </div>
    </Dialog>
  );
}
