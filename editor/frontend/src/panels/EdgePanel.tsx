// Selecting an edge that starts a branch edits the branch: name (shown as the edge label,
// default branch_a, branch_b… in edge order), timeout, onTimeout, retry, onError.
import type { BranchConfig, WorkflowEdge } from "../api/types";
import { SchemaForm } from "../forms/SchemaForm";
import { branchInfo, nodeLabel } from "../lib/graph";
import { branchSchema, commonProperties } from "../lib/panelSchemas";
import { graphStore, useGraph } from "../store/graphStore";

export function EdgePanel({ edge }: { edge: WorkflowEdge }) {
  const definition = useGraph((s) => s.definition);
  const nodeTypes = useGraph((s) => s.nodeTypes);
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
            schema={branchSchema(commonProperties(nodeTypes), info.name)}
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
