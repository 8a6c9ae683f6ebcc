// The config panel of the selected node: name, id, then the form generated from the node
// type's JSON schema (common policy keys — timeout, retry, onError… — at the end).
import type { Config, WorkflowNode } from "../api/types";
import { SchemaForm } from "../forms/SchemaForm";
import { graphStore, useGraph } from "../store/graphStore";

const COMMON_KEYS = ["timeout", "onTimeout", "retry", "onError", "compensate"] as const;

export function NodePanel({ node }: { node: WorkflowNode }) {
  const info = useGraph((s) => s.nodeTypes[node.type]);
  const serverErrors = useGraph((s) => s.serverIssues.errors);
  const errors = serverErrors.filter((e) => e.nodeId === node.id);
  const { updateNode } = graphStore.getState();
  return (
    <div className="fm-panel-body" data-testid="node-panel">
      <header className="fm-panel-head">
        <h2>{info?.title ?? node.type}</h2>
        <span className="fm-chip" data-testid="node-panel-id" title="node id: use it in templates as {{id}}">
          id: {node.id}
        </span>
      </header>
      {info?.description && <p className="fm-help">{info.description}</p>}
      <div className="fm-field">
        <label className="fm-label" htmlFor="node-name-input">
          <code>name</code>
        </label>
        <input
          id="node-name-input"
          type="text"
          data-testid="node-name-input"
          value={node.name}
          onChange={(e) => updateNode(node.id, { name: e.target.value })}
        />
      </div>
      {errors.length > 0 && (
        <ul className="fm-issues-inline" data-testid="node-panel-errors">
          {errors.map((e, i) => (
            <li key={i}>{e.message}</li>
          ))}
        </ul>
      )}
      {info ? (
        // Keyed by node id: a different node gets fresh field state.
        <SchemaForm
          key={node.id}
          schema={info.schema}
          value={node.config}
          lastKeys={COMMON_KEYS}
          onChange={(config: Config) => updateNode(node.id, { config })}
        />
      ) : (
        <p className="fm-field-error">Unknown node type “{node.type}”.</p>
      )}
    </div>
  );
}
