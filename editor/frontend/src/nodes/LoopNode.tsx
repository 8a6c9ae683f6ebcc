// A loop is a container (React Flow sub-flow): its body nodes sit inside it, have
// `parentId` set to it, and move with it. Its outer handles connect it in the main flow.
import type { NodeProps } from "@xyflow/react";
import { memo } from "react";

import type { StepFlowNode } from "../canvas/convert";
import { TAKES_OWN_CLICK } from "../canvas/geometry";
import { outputHandles } from "../lib/graph";
import { InputHandle, IssueBadge, OutputHandles, StatusBadge } from "./StepNode";
import { summarise } from "./summaries";

function LoopNodeView({ data, selected }: NodeProps<StepFlowNode>) {
  const { node, info, status, statusText, issues, warnings, size, hasBody } = data;
  return (
    <div
      className={`fm-loop${selected ? " is-selected" : ""}${issues.length ? " has-error" : ""}${status ? ` run-${status}` : ""}`}
      data-testid={`node-${node.id}`}
      data-node-type={node.type}
      style={{ width: size.width, height: size.height }}
    >
      <InputHandle nodeId={node.id} nodeName={node.name || node.id} />
      <div className={`${TAKES_OWN_CLICK} fm-loop-head`}>
        <span className="fm-node-icon" aria-hidden="true">
          ⟳
        </span>
        <span className="fm-node-name" data-testid={`node-name-${node.id}`}>
          {node.name}
        </span>
        <IssueBadge issues={issues} warnings={warnings} nodeId={node.id} />
        <StatusBadge status={status} text={statusText} nodeId={node.id} />
      </div>
      <div className={`${TAKES_OWN_CLICK} fm-loop-sub`} data-testid={`loop-summary-${node.id}`} title={summarise(node.type, node.config)}>
        {summarise(node.type, node.config)}
      </div>
      {/* A how-to for an empty loop: beside a body it read as if the body were not there. */}
      {hasBody ? null : <div className="fm-loop-hint" data-testid={`loop-hint-${node.id}`}>Drop nodes here to build the loop body (runs once per item)</div>}
      <OutputHandles handles={outputHandles(node, info)} nodeId={node.id} nodeName={node.name || node.id} />
    </div>
  );
}

export const LoopNode = memo(LoopNodeView);
