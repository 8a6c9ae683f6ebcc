// Selecting an edge that starts a branch edits the branch: name (shown as the edge label,
// default branch_a, branch_b… in edge order), timeout, onTimeout, retry, onError.
import type { BranchConfig, JsonSchema, WorkflowEdge } from "../api/types";
import { SchemaForm } from "../forms/SchemaForm";
import { branchInfo, nodeLabel } from "../lib/graph";
import { graphStore, useGraph } from "../store/graphStore";

export function branchSchema(retry: JsonSchema | undefined, defaultName: string): JsonSchema {
  return {
    type: "object",
    properties: {
      name: { type: "string", description: "Branch name, seen by the merge and in {{branch.name}}; letters, digits and _.", default: defaultName },
      timeout: { type: "integer", minimum: 1, description: "ms before the branch times out" },
      onTimeout: { type: "string", enum: ["cancel", "continue", "error"], description: "cancel: the branch is cancelled and counts as failed; continue: the timed-out node succeeds with {timedOut: true}; error: it fails with a timeout error" },
      retry: retry ?? { type: "object", title: "Retry", properties: { maxAttempts: { type: "integer", minimum: 1 } } },
      onError: { type: "string", enum: ["fail", "continue", "route"], description: "What a failure in this branch does" },
    },
  };
}

export function EdgePanel({ edge }: { edge: WorkflowEdge }) {
  const definition = useGraph((s) => s.definition);
  const retrySchema = useGraph((s) => Object.values(s.nodeTypes)[0]?.schema.properties?.retry);
  const info = branchInfo(definition.edges).get(edge.id);
  const { updateEdgeBranch, deleteElements } = graphStore.getState();
  const from = nodeLabel(definition.nodes, edge.source);
  const to = nodeLabel(definition.nodes, edge.target);
  return (
    <div className="fm-panel-body" data-testid="edge-panel">
      <header className="fm-panel-head">
        <h2>{info ? "Branch" : "Connection"}</h2>
        <span className="fm-chip">id: {edge.id}</span>
      </header>
      <p className="fm-help">
        {from} → {to}
        {edge.sourceHandle ? ` (from the ${edge.sourceHandle} handle)` : ""}
      </p>
      {info ? (
        <>
          <p className="fm-help">
            This connection starts branch <strong data-testid="edge-panel-branch-name">{info.name}</strong> because {from} fans out.
          </p>
          <SchemaForm
            key={edge.id}
            idPrefix="branch."
            schema={branchSchema(retrySchema, info.name)}
            value={(edge.branch ?? {}) as Record<string, unknown>}
            onChange={(value) => updateEdgeBranch(edge.id, value as BranchConfig)}
          />
        </>
      ) : (
        <p className="fm-help">
          Drag more connections out of {from} to fan out: each one then starts a parallel branch you can name and give its own
          timeout, retry and error handling.
        </p>
      )}
      <button type="button" className="fm-btn fm-btn-danger" data-testid="edge-delete" onClick={() => deleteElements([], [edge.id])}>
        Delete connection
      </button>
    </div>
  );
}
