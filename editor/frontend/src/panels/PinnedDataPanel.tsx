// Pinned test data of the selected node (n8n's "pin data"): while it is pinned, runs started
// with the Run button output this JSON for the node instead of running it, so a slow or paid
// call is not made again while the nodes after it are built. Edited here as JSON (checked
// as typed, the problem said under the box), saved, or unpinned. Webhooks and schedules
// never use pins.
import { useEffect, useId, useState } from "react";

import { ApiError, errorMessage } from "../api/client";
import { pinsApi } from "../api/endpoints";
import { parseJsonText } from "../lib/jsonText";
import { graphStore, useGraph } from "../store/graphStore";
import { PinIcon } from "./PinIcon";

const pretty = (value: unknown) => JSON.stringify(value, null, 2) ?? "null";

/** Pin `data` as the node's output: stored on the server, then shown on the canvas. */
export async function pinOutput(workflowId: string, nodeId: string, data: unknown): Promise<boolean> {
  const store = graphStore.getState();
  const name = store.definition.nodes.find((n) => n.id === nodeId)?.name || nodeId;
  try {
    store.setPin(nodeId, await pinsApi.put(workflowId, nodeId, data));
    store.notify("success", `Pinned ${name}'s output: runs from the Run button use it instead of running ${name}.`);
    return true;
  } catch (err) {
    store.notify("error", `Not pinned: ${err instanceof ApiError ? err.userMessage() : errorMessage(err)}`);
    return false;
  }
}

export function PinnedDataPanel({ workflowId, nodeId, dirty }: { workflowId: string; nodeId: string; dirty: boolean }) {
  const pin = useGraph((s) => s.pins[nodeId]);
  const [text, setText] = useState(() => (pin ? pretty(pin.data) : ""));
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const boxId = useId();
  // Another node, or the pin replaced from the run data: the box shows what is stored.
  useEffect(() => {
    setText(pin ? pretty(pin.data) : "");
    setEditing(false);
    setServerError(null);
  }, [nodeId, pin?.updatedAt]); // eslint-disable-line react-hooks/exhaustive-deps
  const parsed = parseJsonText(text, "The pinned data", undefined);
  const problem = !parsed.ok ? parsed.error : parsed.value === undefined ? "The pinned data is empty: write JSON (null, {}, [] …)." : null;
  const changed = !pin || text !== pretty(pin.data);

  if (!pin && !editing) {
    return (
      <section className="fm-pinned fm-pinned-none" aria-label="Pinned data" data-testid="pinned-none">
        <p className="fm-help">
          Not pinned. Pin its output (from a run's data below, or typed) and runs from ▶ Run use it instead of running this node.
        </p>
        <button type="button" className="fm-btn" data-testid="pin-type" onClick={() => {
          setText("{}");
          setEditing(true);
        }}>
          <PinIcon /> Pin data…
        </button>
      </section>
    );
  }

  const save = async () => {
    if (problem !== null || !parsed.ok) return;
    setBusy(true);
    setServerError(null);
    try {
      graphStore.getState().setPin(nodeId, await pinsApi.put(workflowId, nodeId, parsed.value));
      setEditing(false);
      graphStore.getState().notify("success", "Pinned data saved.");
    } catch (err) {
      setServerError(err instanceof ApiError ? err.userMessage() : errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const unpin = async () => {
    if (!pin) {
      setEditing(false);
      return;
    }
    setBusy(true);
    try {
      await pinsApi.remove(workflowId, nodeId);
      graphStore.getState().setPin(nodeId, null);
      graphStore.getState().notify("success", "Unpinned: the node runs again in every run.");
    } catch (err) {
      setServerError(err instanceof ApiError ? err.userMessage() : errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const described = [`${boxId}-help`, ...(problem || serverError ? [`${boxId}-problem`] : [])].join(" ");
  return (
    <section className="fm-pinned" aria-label="Pinned data" data-testid="pinned-data">
      <h3>
        <PinIcon />{" "}
        {pin ? "Pinned output" : "New pinned output"}
      </h3>
      <p className="fm-help" id={`${boxId}-help`}>
        Runs from ▶ Run output this instead of running the node (the Run dialog can leave pins out). Webhooks and schedules ignore it.
        {dirty && !pin ? " Save the workflow first if you just added this node." : ""}
      </p>
      <label className="fm-label" htmlFor={boxId}>
        Pinned data (JSON)
      </label>
      <textarea
        id={boxId}
        className="fm-pinned-text"
        data-testid="pinned-text"
        spellCheck={false}
        rows={Math.min(14, Math.max(3, text.split("\n").length))}
        value={text}
        aria-invalid={problem !== null}
        aria-describedby={described}
        onChange={(e) => {
          setText(e.target.value);
          setServerError(null);
        }}
      />
      {problem || serverError ? (
        <p className="fm-field-error" role="alert" id={`${boxId}-problem`} data-testid="pinned-problem">
          {problem ?? serverError}
        </p>
      ) : null}
      <div className="fm-pinned-actions">
        <button type="button" className="fm-btn fm-btn-primary" data-testid="pinned-save" disabled={busy || problem !== null || !changed}
                onClick={() => void save()}>
          {pin ? "Save pinned data" : "Pin"}
        </button>
        <button type="button" className="fm-btn" data-testid="unpin" disabled={busy} onClick={() => void unpin()}>
          {pin ? "Unpin" : "Cancel"}
        </button>
      </div>
    </section>
  );
}
