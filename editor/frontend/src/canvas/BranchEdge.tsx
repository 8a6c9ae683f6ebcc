// An edge; when it starts a branch (its source fans out) it carries the branch name as a
// label (`branch_a`, … or the name the user gave it), and errors turn it red.
import { BaseEdge, EdgeLabelRenderer, type EdgeProps, getBezierPath } from "@xyflow/react";
import { memo } from "react";

import type { BranchConfig } from "../api/types";
import { graphStore } from "../store/graphStore";
import type { BranchFlowEdge } from "./convert";
import { TAKES_OWN_CLICK } from "./geometry";

/** The branch's own settings in a few words, shown under its name on the canvas. */
export function branchSettingsText(branch: BranchConfig | undefined): string {
  if (!branch) return "";
  const parts: string[] = [];
  if (typeof branch.timeout === "number") {
    const t = branch.timeout >= 1000 ? `${branch.timeout / 1000} s` : `${branch.timeout} ms`;
    parts.push(branch.onTimeout && branch.onTimeout !== "error" ? `timeout ${t} → ${branch.onTimeout}` : `timeout ${t}`);
  }
  const attempts = branch.retry?.maxAttempts;
  if (typeof attempts === "number" && attempts > 1) parts.push(`retry ×${attempts}`);
  if (branch.onError && branch.onError !== "fail") parts.push(`on error: ${branch.onError}`);
  return parts.join(" · ");
}

function BranchEdgeView(props: EdgeProps<BranchFlowEdge>) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected, markerEnd, style } = props;
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  const branch = data?.branch;
  const issues = data?.issues ?? [];
  const handle = data?.edge.sourceHandle;
  const label = branch?.name ?? (handle && handle !== "out" ? handle : undefined);
  const settings = branchSettingsText(data?.edge.branch);
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} interactionWidth={24} />
      {(label || settings || issues.length > 0) && (
        <EdgeLabelRenderer>
          <div
            className={`${TAKES_OWN_CLICK} fm-edge-label${branch ? " is-branch" : ""}${branch?.custom ? " is-custom" : ""}${selected ? " is-selected" : ""}${issues.length ? " has-error" : ""}`}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)`, pointerEvents: "all" }}
            onClick={() => graphStore.getState().select([], [id])}
            data-testid={`edge-label-${id}`}
            title={issues.length ? issues.join("\n") : branch ? "Branch: click to edit" : undefined}
          >
            {label}
            {settings ? (
              <span className="fm-edge-settings" data-testid={`edge-settings-${id}`}>
                {" "}
                {settings}
              </span>
            ) : null}
            {issues.length > 0 && <span className="fm-edge-issue" data-testid={`edge-error-${id}`}> ! {issues[0]}</span>}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const BranchEdge = memo(BranchEdgeView);
