// The config panel of the selected node: name, id, then the form generated from the node
// type's JSON schema (common policy keys — timeout, retry, onError… — at the end).
import { useEffect, useMemo, useState } from "react";

import type { Config, Execution, WorkflowNode } from "../api/types";
import { workflowsApi } from "../api/endpoints";
import { CodeContext, type CodeContextValue } from "../forms/codeContext";
import { HelpText } from "../forms/HelpText";
import { SchemaForm } from "../forms/SchemaForm";
import { completionNames } from "../lib/completions";
import { readableIssues } from "../lib/issueText";
import { graphStore, useGraph } from "../store/graphStore";
import { PinnedDataPanel } from "./PinnedDataPanel";
import { RunDataPanel } from "./RunDataPanel";

const COMMON_KEYS = ["timeout", "onTimeout", "retry", "onError", "compensate", "parallel"] as const;

export function NodePanel({ node, execution, workflowId, onRerunFrom, onRunTo }: {
  node: WorkflowNode;
  execution?: Execution | null;
  workflowId?: string;
  onRerunFrom?: (nodeId: string) => Promise<void>;
  /** "Run to here": a run of this node and the nodes before it (absent: no such button). */
  onRunTo?: (nodeId: string) => void;
}) {
  const info = useGraph((s) => s.nodeTypes[node.type]);
  const definition = useGraph((s) => s.definition);
  // The node's input in the run shown on the canvas: completes `input.` and is what "Test" runs on.
  const lastRun = execution ? [...(execution.nodeRuns ?? [])].reverse().find((r) => r.nodeId === node.id) : undefined;
  const lastInput = lastRun?.input;
  const executionId = execution?.id;
  const codeContext = useMemo<CodeContextValue>(
    () => ({
      completions: completionNames(definition, node.id, lastInput),
      test: workflowId
        ? (code: string) => workflowsApi.testExpression(workflowId, { code, execution: lastRun ? executionId : null, nodeId: node.id })
        : undefined,
      testSubject: lastRun ? `run #${executionId}'s input` : "an empty input",
    }),
    // Completions follow the graph's shape, not every keystroke in a field.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [definition.nodes.length, definition.edges, definition.settings, node.id, node.parentId, lastInput, workflowId, executionId, Boolean(lastRun)],
  );
  const serverErrors = useGraph((s) => s.serverIssues.errors);
  const nodeTypes = useGraph((s) => s.nodeTypes);
  const errors = readableIssues(serverErrors.filter((e) => e.nodeId === node.id), definition, nodeTypes);
  const dirty = useGraph((s) => s.dirty);
  const { updateNode } = graphStore.getState();
  const pinnable = Boolean(info?.pinnable && workflowId);
  return (
    <div className="fm-panel-body" data-testid="node-panel">
      <header className="fm-panel-head">
        <h2>{info?.title ?? node.type}</h2>
        <span className="fm-chip" data-testid="node-panel-id" title="node id: use it in templates as {{id}}">
          id: {node.id}
        </span>
      </header>
      {onRunTo && node.type !== "start" ? (
        <div className="fm-run-to">
          <button type="button" className="fm-btn" data-testid="run-to-here" onClick={() => onRunTo(node.id)}
                  aria-describedby="run-to-here-help">
            ▶ Run to here
          </button>
          <span className="fm-help" id="run-to-here-help">
            {node.parentId ? "Runs its loop and what comes before; nothing after." : "Runs this node and what comes before it; nothing after."}
          </span>
        </div>
      ) : null}
      {pinnable && workflowId ? <PinnedDataPanel workflowId={workflowId} nodeId={node.id} dirty={dirty} /> : null}
      {execution ? <RunDataPanel execution={execution} nodeId={node.id} onRerunFrom={onRerunFrom} pinTo={pinnable ? workflowId : undefined} /> : null}
      {info?.description && <p className="fm-help"><HelpText text={info.description} /></p>}
      <NodeIdField nodeId={node.id} />
      <div className="fm-field">
        <label className="fm-label" htmlFor="node-name-input">
          <code>name</code>
        </label>
        <NodeNameInput node={node} />
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
        <CodeContext.Provider value={codeContext}>
          <SchemaForm
            key={node.id}
            schema={info.schema}
            value={node.config}
            lastKeys={COMMON_KEYS}
            onChange={(config: Config) => updateNode(node.id, { config })}
          />
        </CodeContext.Provider>
      ) : (
        <p className="fm-field-error">Unknown node type “{node.type}”.</p>
      )}
    </div>
  );
}

/**
 * The node id, editable: later nodes read this node's output as `{{id}}` (the seed's
 * `{{users}}`). Applied on Enter or when the field loses focus, not per keystroke, so the
 * half-typed id never becomes a reference (Ctrl+S applies it too); Escape puts the current id back.
 */
function NodeIdField({ nodeId }: { nodeId: string }) {
  const [text, setText] = useState(nodeId);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    setText(nodeId);
    setProblem(null);
  }, [nodeId]);
  const apply = () => {
    const candidate = text.trim();
    if (candidate === nodeId) {
      setText(nodeId);
      setProblem(null);
      return;
    }
    setProblem(graphStore.getState().renameNode(nodeId, candidate));
  };
  return (
    <div className="fm-field">
      <label className="fm-label" htmlFor="node-id-input">
        <code>id</code>
        <span className="fm-title">used in templates as {`{{${nodeId}}}`}</span>
      </label>
      <input
        id="node-id-input"
        type="text"
        data-testid="node-id-input"
        value={text}
        spellCheck={false}
        aria-invalid={problem !== null}
        aria-describedby={problem !== null ? "node-id-problem" : undefined}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => {
          // Ctrl+S saves from anywhere (a window listener, reached after this one): apply first.
          if (e.key === "Enter" || ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s")) apply();
          if (e.key === "Escape") {
            setText(nodeId);
            setProblem(null);
          }
        }}
      />
      {problem !== null && (
        <div className="fm-field-error" role="alert" id="node-id-problem" data-testid="node-id-problem">
          {problem}
        </div>
      )}
    </div>
  );
}

/** The node's name. It labels the node on the canvas and its bars on the run page, and an
 * output node's name is the key of the run's result, so a name cleared by accident (select
 * all, delete, click away) must not leave a blank node: leaving the box empty puts back the
 * name it had when the box was entered, and says so while it is empty. */
function NodeNameInput({ node }: { node: WorkflowNode }) {
  const { updateNode } = graphStore.getState();
  const [kept, setKept] = useState(node.name);
  // Another node selected: its own name is the one to keep.
  useEffect(() => setKept(node.name), [node.id]); // eslint-disable-line react-hooks/exhaustive-deps
  const empty = node.name.trim() === "";
  return (
    <>
      <input
        id="node-name-input"
        type="text"
        data-testid="node-name-input"
        value={node.name}
        aria-describedby={empty ? "node-name-empty" : undefined}
        onFocus={() => { if (node.name.trim()) setKept(node.name); }}
        onChange={(e) => updateNode(node.id, { name: e.target.value })}
        onBlur={() => { if (empty && kept.trim()) updateNode(node.id, { name: kept }); }}
      />
      {empty && kept.trim() ? (
        <span className="fm-help" id="node-name-empty" data-testid="node-name-empty" role="status">
          A node needs a name: left empty, it keeps “{kept}”.
        </span>
      ) : null}
    </>
  );
}
