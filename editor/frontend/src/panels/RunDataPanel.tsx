// The selected node in the run shown on the canvas: its status, every attempt (and loop
// item) with input, output and error — what n8n shows when a node is opened after a run.
import { useEffect, useState } from "react";

import { executionsApi } from "../api/endpoints";
import { TERMINAL_EXECUTION_STATUSES, type Execution, type NodeRun } from "../api/types";
import { LargeValue } from "../dialogs/LargeValue";
import { ScrollingPre } from "../dialogs/ScrollingPre";
import { isTruncated } from "../lib/largeValue";
import { durationText, errorText, jsonText } from "../lib/runText";
import { displayStatus } from "../canvas/useRunData";
import { useGraph } from "../store/graphStore";
import { pinOutput } from "./PinnedDataPanel";
import { PinIcon } from "./PinIcon";
import { SourceRun } from "./SourceRun";

const SHOWN_RUNS = 50;

/** The node's runs: from the execution, or (when it carried only a first page) the node-runs API. */
function useNodeRuns(execution: Execution, nodeId: string): { runs: NodeRun[]; loading: boolean } {
  const inline = (execution.nodeRuns ?? []).filter((r) => r.nodeId === nodeId);
  const paged = Boolean(execution.nodeRunsNext);
  const [fetched, setFetched] = useState<NodeRun[] | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!paged) {
      setFetched(null);
      return;
    }
    let stopped = false;
    setLoading(true);
    executionsApi
      .nodeRuns(execution.id, nodeId)
      .then((runs) => !stopped && setFetched(runs))
      .catch(() => !stopped && setFetched(null)) // not on this server yet: the first page is what we have
      .finally(() => !stopped && setLoading(false));
    return () => {
      stopped = true;
    };
    // Re-read when the run moves on (its status) or another node is picked.
  }, [paged, execution.id, execution.status, nodeId]);
  return { runs: fetched ?? inline, loading };
}

/** A node run's value as JSON, or — cut by the server because it is large — its size and link. */
function RunValue({ value, testId, label, dash = false }: { value: unknown; testId: string; label: string; dash?: boolean }) {
  if (isTruncated(value)) return <p className="fm-json" data-testid={testId}><LargeValue value={value} /></p>;
  return <ScrollingPre className="fm-json" testId={testId} label={label}>{dash && (value === null || value === undefined) ? "—" : jsonText(value)}</ScrollingPre>;
}

/** "Re-run from here" (n8n's "execute from this node"): after a fix to this node, run it and
 * what follows it again with the inputs it had, instead of the whole workflow from its
 * start — the slow calls upstream are not made again. The editor saves first; the server's
 * redrive keeps every node run outside this node's downstream. Only for a run that ended:
 * a running one is still deciding what this node gets. */
function RerunFromHere({ execution, inLoop, onRerun }: { execution: Execution; inLoop: boolean; onRerun: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  if (!TERMINAL_EXECUTION_STATUSES.includes(execution.status)) return null;
  return (
    <div className="fm-rerun-from">
      <button
        type="button"
        className="fm-btn"
        data-testid="rerun-from-here"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void onRerun().finally(() => setBusy(false));
        }}
      >
        {busy ? "Re-running…" : "Re-run from here"}
      </button>
      <span className="fm-help">
        Runs {inLoop ? "this node in every item" : "this node"} and all after it again in run #{execution.id}, with the inputs they had.
        Your edits are saved first; the nodes before it do not run again.
      </span>
    </div>
  );
}

export function RunDataPanel({ execution, nodeId, onRerunFrom, pinTo }: {
  execution: Execution;
  nodeId: string;
  /** Re-run this node and what follows it in this execution (absent: no such button). */
  onRerunFrom?: (nodeId: string) => Promise<void>;
  /** The workflow whose pins a succeeded run's output can be pinned to (absent: the node cannot be pinned). */
  pinTo?: string | undefined;
}) {
  const [pinning, setPinning] = useState(false);
  const { runs, loading } = useNodeRuns(execution, nodeId);
  // A loop body node of a loop that succeeded reads as its badge does ("2 of 4 failed").
  const partial = useGraph((s) => (s.nodeStatus[nodeId] === "partial" ? s.nodeStatusText[nodeId] : undefined));
  const status = partial ? "partial" : displayStatus(execution)[nodeId];
  const statusLine = partial ? `${partial} (its loop succeeded)` : status ? status.replace("_", " ") : "did not run";
  const inLoop = useGraph((s) => s.definition.nodes.find((n) => n.id === nodeId)?.parentId);
  // (Names the scrolling boxes of its input and output for a screen reader.)
  const nodeName = useGraph((s) => s.definition.nodes.find((n) => n.id === nodeId)?.name) || nodeId;
  const [index, setIndex] = useState(0);
  useEffect(() => setIndex(runs.length ? runs.length - 1 : 0), [nodeId, runs.length]);
  const current = runs[Math.min(index, runs.length - 1)];
  return (
    <section className="fm-rundata" data-testid="run-data" aria-label={`Run data of execution ${execution.id}`}>
      <h3>
        Run #{execution.id}: <span className={`fm-status-text fm-status-text-${status ?? "none"}`} data-testid="run-data-status">{statusLine}</span>
      </h3>
      {onRerunFrom ? <RerunFromHere execution={execution} inLoop={Boolean(inLoop)} onRerun={() => onRerunFrom(nodeId)} /> : null}
      {loading ? <p className="fm-muted">Loading this node's runs…</p> : null}
      {runs.length > 1 ? (
        <ol className="fm-attempts" aria-label="Attempts" data-testid="run-data-attempts">
          {runs.slice(-SHOWN_RUNS).map((run) => {
            const i = runs.indexOf(run);
            return (
              <li key={run.id}>
                <button type="button" className={`fm-attempt${i === index ? " is-current" : ""}`} aria-pressed={i === index} onClick={() => setIndex(i)}>
                  {run.iteration !== null ? `item ${run.iteration} · ` : ""}attempt {run.attempt} · {run.status.replace("_", " ")}
                </button>
              </li>
            );
          })}
          {runs.length > SHOWN_RUNS ? <li className="fm-muted">(the last {SHOWN_RUNS} of {runs.length})</li> : null}
        </ol>
      ) : null}
      {current ? (
        <div data-testid="run-data-current">
          <p className="fm-help">
            {current.iteration !== null ? `Item ${current.iteration}, ` : ""}attempt {current.attempt}: {current.status.replace("_", " ")} · {durationText(current.startedAt, current.finishedAt)}
            {current.branchName && current.branchName !== "main" ? ` · branch ${current.branchName}` : ""}
          </p>
          {current.error ? (
            <div className="fm-rundata-error" role="note" data-testid="run-data-error">
              {isTruncated(current.error) ? <LargeValue value={current.error} /> : errorText(current.error)}
            </div>
          ) : null}
          <h4>Input</h4>
          <RunValue value={current.input} testId="run-data-input" label={`Run input of ${nodeName}`} />
          {current.pinned ? (
            <p className="fm-pinned-note" data-testid="run-data-pinned">
              {current.reusedFrom ? (
                <><PinIcon /> Reused: this node did not run; its output is the one it had in{" "}
                  <SourceRun id={current.reusedFrom} deleted={current.reusedFromDeleted} label="run #" testId="run-data-reused-from" />.</>
              ) : (
                <><PinIcon /> Pinned data: this node did not run; its output is the pin it had when the run started.</>
              )}
            </p>
          ) : null}
          <h4>Output</h4>
          <RunValue value={current.output} testId="run-data-output" label={`Run output of ${nodeName}`} dash />
          {pinTo && current.status === "succeeded" && !current.pinned && !isTruncated(current.output) ? (
            <button type="button" className="fm-btn" data-testid="pin-output" disabled={pinning}
                    title="Runs from ▶ Run output this instead of running the node"
                    onClick={() => {
                      setPinning(true);
                      void pinOutput(pinTo, nodeId, current.output).finally(() => setPinning(false));
                    }}>
              <PinIcon /> {pinning ? "Pinning…" : "Pin output"}
            </button>
          ) : null}
        </div>
      ) : (
        <p className="fm-muted" data-testid="run-data-none">This node did not run in execution {execution.id}.</p>
      )}
    </section>
  );
}
