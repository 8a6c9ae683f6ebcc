// An edge; when it starts a branch (its source fans out) it carries the branch name as a
// label (`branch_a`, … or the name the user gave it), and errors turn it red.
import { BaseEdge, EdgeLabelRenderer, type EdgeProps, getBezierPath } from "@xyflow/react";
import { memo } from "react";

import { graphStore } from "../store/graphStore";
import type { BranchFlowEdge } from "./convert";

function BranchEdgeView(props: EdgeProps<BranchFlowEdge>) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected, markerEnd, style } = props;
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  const branch = data?.branch;
  const issues = data?.issues ?? [];
  const handle = data?.edge.sourceHandle;
  const label = branch?.name ?? (handle && handle !== "out" ? handle : undefined);
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} interactionWidth={24} />
      {(label || issues.length > 0) && (
        <EdgeLabelRenderer>
          <div
            className={`fm-edge-label${branch ? " is-branch" : ""}${branch?.custom ? " is-custom" : ""}${selected ? " is-selected" : ""}${issues.length ? " has-error" : ""}`}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)`, pointerEvents: "all" }}
            onClick={() => graphStore.getState().select([], [id])}
            data-testid={`edge-label-${id}`}
            title={issues.length ? issues.join("\n") : branch ? "Branch: click to edit" : undefined}
          >
            {label}
            {issues.length > 0 && <span className="fm-edge-issue" data-testid={`edge-error-${id}`}> ! {issues[0]}</span>}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const BranchEdge = memo(BranchEdgeView);
