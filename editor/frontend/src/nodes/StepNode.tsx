// The look of an ordinary node: icon, name, a one-line summary, its handles, validation
// badges and the live status of the current run.
import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";

import { useHandleKeyboard } from "../canvas/connectRequest";
import type { StepFlowNode } from "../canvas/convert";
import { TAKES_OWN_CLICK } from "../canvas/geometry";
import { hasInputHandle, outputHandles } from "../lib/graph";
import { plural } from "../lib/plural";
import { PinIcon } from "../panels/PinIcon";
import { useGraph } from "../store/graphStore";
import { NODE_ICONS, summarise } from "./summaries";

export function StatusBadge({ status, text, nodeId }: { status: string | undefined; text?: string | undefined; nodeId: string }) {
  if (!status) return null;
  // "partial": a loop body node that failed in some items of a loop that succeeded.
  const title = status === "partial" && text ? `In this run's items: ${text}; its loop succeeded` : `Run status: ${status}`;
  return (
    <span className={`fm-status fm-status-${status}`} data-testid={`status-${nodeId}`} data-status={status} title={title}>
      {text ?? status.replace("_", " ")}
    </span>
  );
}

export function IssueBadge({ issues, warnings, nodeId }: { issues: string[]; warnings: string[]; nodeId: string }) {
  if (issues.length) {
    return (
      <span className="fm-issue-badge" data-testid={`node-error-${nodeId}`} title={issues.join("\n")} role="img" aria-label={`${plural(issues.length, "error")}: ${issues.join("; ")}`}>
        ! {issues.length}
      </span>
    );
  }
  if (warnings.length) {
    return (
      <span className="fm-warn-badge" data-testid={`node-warning-${nodeId}`} title={warnings.join("\n")} role="img" aria-label={plural(warnings.length, "warning")}>
        ⚠
      </span>
    );
  }
  return null;
}

function OutputHandle({ handle, nodeId, nodeName, top }: { handle: string; nodeId: string; nodeName: string; top: string }) {
  const keyboard = useHandleKeyboard({ nodeId, handle, into: false },
                                     `Connect from ${nodeName}, ${handle === "out" ? "its output" : `output ${handle}`}`);
  return (
    <Handle
      id={handle}
      type="source"
      position={Position.Right}
      className={`${TAKES_OWN_CLICK} fm-handle fm-handle-${handle}`}
      style={{ top }}
      data-testid={`handle-out-${nodeId}-${handle}`}
      title={`${handle} output: drag to a node, or press Enter to pick one`}
      {...keyboard}
    >
      {handle !== "out" && <span className="fm-handle-label" aria-hidden="true">{handle}</span>}
    </Handle>
  );
}

export function OutputHandles({ handles, nodeId, nodeName }: { handles: string[]; nodeId: string; nodeName: string }) {
  return (
    <>
      {handles.map((handle, index) => (
        <OutputHandle key={handle} handle={handle} nodeId={nodeId} nodeName={nodeName}
                      top={`${((index + 1) / (handles.length + 1)) * 100}%`} />
      ))}
    </>
  );
}

export function InputHandle({ nodeId, nodeName }: { nodeId: string; nodeName: string }) {
  const keyboard = useHandleKeyboard({ nodeId, handle: null, into: true }, `Connect into ${nodeName}, its input`);
  return (
    <Handle type="target" position={Position.Left} id="in" className={`${TAKES_OWN_CLICK} fm-handle fm-handle-in`} data-testid={`handle-in-${nodeId}`}
            title="input: drag from a node's output, or press Enter to pick one" {...keyboard} />
  );
}

function StepNodeView({ data, selected }: NodeProps<StepFlowNode>) {
  const { node, info, status, statusText, issues, warnings } = data;
  const summary = summarise(node.type, node.config);
  const pinned = useGraph((s) => node.id in s.pins);
  return (
    <div
      className={`${TAKES_OWN_CLICK} fm-node fm-node-${node.type}${selected ? " is-selected" : ""}${issues.length ? " has-error" : ""}${status ? ` run-${status}` : ""}${pinned ? " is-pinned" : ""}`}
      data-testid={`node-${node.id}`}
      data-node-type={node.type}
      title={info?.description}
    >
      {hasInputHandle(info, node.type) && <InputHandle nodeId={node.id} nodeName={node.name || node.id} />}
      <div className="fm-node-head">
        <span className="fm-node-icon" aria-hidden="true">
          {NODE_ICONS[node.type] ?? "◆"}
        </span>
        {/* A name too long for the node is cut: the tooltip gives it whole. */}
        <span className="fm-node-name" data-testid={`node-name-${node.id}`} title={node.name}>
          {node.name}
        </span>
        {pinned ? (
          <span className="fm-pin-badge" data-testid={`pinned-${node.id}`} role="img" aria-label="Pinned data"
                title="Pinned data: runs from ▶ Run output the pin instead of running this node">
            <PinIcon />
            <span aria-hidden="true">pinned</span>
          </span>
        ) : null}
        <IssueBadge issues={issues} warnings={warnings} nodeId={node.id} />
      </div>
      <div className="fm-node-sub">
        <span className="fm-node-type">{node.type}</span>
        {summary && <span className="fm-node-summary"> · {summary}</span>}
      </div>
      <StatusBadge status={status} text={statusText} nodeId={node.id} />
      <OutputHandles handles={outputHandles(node, info)} nodeId={node.id} nodeName={node.name || node.id} />
    </div>
  );
}

export const StepNode = memo(StepNodeView);
