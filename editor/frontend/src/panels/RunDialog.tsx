// Run from the editor: an input JSON dialog; the execution then gets a link to its timeline.
import { useEffect, useRef, useState } from "react";

import { api, errorMessage } from "../api/client";
import { Dialog } from "../dialogs/Dialog";
import { CodeField } from "../forms/LazyCodeField";
import { LargeValue } from "../dialogs/LargeValue";
import { EDIT_BOUND } from "../dialogs/RerunDialog";
import { parseJsonText } from "../lib/jsonText";
import { plural } from "../lib/plural";
import { isTruncated } from "../lib/largeValue";
import { Latest } from "../lib/latest";

interface Props {
  onRun: (input: unknown, priority: number | undefined, usePinnedData: boolean, reuseFrom?: number) => Promise<void>;
  /** How many nodes have pinned test data: the run uses them unless unticked. */
  pinnedCount?: number;
  onClose: () => void;
  busy: boolean;
  /** Prefilled: the input of the workflow's last run (remembered per workflow). */
  initialInput?: unknown;
  /** The workflow's current errors, each naming its node: the server refuses the run until
   * they are fixed, so the dialog says so before "Start run" rather than after. */
  problems?: readonly string[];
  /** "Run to here": the name of the node the run stops at (absent: a whole run). */
  until?: string;
  /** "Run to here": the workflow's last finished run, whose outputs the nodes before the stop
   * may reuse instead of running again (absent: none to reuse, or a whole run). */
  reuseRun?: number;
  /** With `reuseRun`: asks the server which nodes a run with this input would reuse (their
   * names, or why none), so the dialog says so before "Start run". */
  previewReuse?: (input: unknown, usePinnedData: boolean) => Promise<{ reused: string[]; note: string | null }>;
}

/** What the reuse preview shows: being asked, the answer, or that it could not be had. */
type ReusePreview = { state: "checking" } | { state: "known"; reused: string[]; note: string | null } | { state: "unknown"; why: string };

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

export function RunDialog({ onRun, onClose, busy, initialInput, problems = [], pinnedCount = 0, until, reuseRun, previewReuse }: Props) {
  const [usePins, setUsePins] = useState(true);
  const [reuse, setReuse] = useState(true);
  // A last input the server cut (the list cuts beyond 4 KB) is fetched whole up to the
  // re-run dialog's bound; a bigger one is not prefilled (megabytes in the code editor).
  const lastCut = isTruncated(initialInput) ? initialInput : null;
  const fetchUrl = lastCut?.url && lastCut.size <= EDIT_BOUND ? lastCut.url : null;
  const [text, setText] = useState(() => (initialInput && typeof initialInput === "object" && !lastCut ? JSON.stringify(initialInput, null, 2) : "{}"));
  const [prefilling, setPrefilling] = useState(fetchUrl !== null);
  const [priority, setPriority] = useState("");
  const priorityInput = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!fetchUrl) return;
    let stopped = false;
    api
      .get<unknown>(fetchUrl)
      .then((whole) => !stopped && setText(JSON.stringify(whole ?? {}, null, 2)))
      .catch(() => undefined) // the box keeps {}: the run can still be started
      .finally(() => !stopped && setPrefilling(false));
    return () => {
      stopped = true;
    };
  }, [fetchUrl]);
  // Which nodes the run would reuse, asked again (after a pause in typing) when the input or
  // the pins choice changes: another input reuses nothing, and a pin wins over a reused output.
  const [preview, setPreview] = useState<ReusePreview | null>(null);
  const previews = useRef(new Latest());
  const offersReuse = Boolean(until && reuseRun !== undefined && previewReuse);
  useEffect(() => {
    const current = previews.current.take(); // an answer still on its way is of another question
    if (!offersReuse || !reuse || !previewReuse || prefilling) {
      setPreview(null);
      return;
    }
    const input = parseJsonText(text, "The input", {});
    if (!input.ok) {
      setPreview({ state: "unknown", why: "the input is not valid JSON yet" });
      return;
    }
    setPreview({ state: "checking" });
    const timer = window.setTimeout(() => {
      previewReuse(input.value, pinnedCount > 0 && usePins).then(
        (answer) => current() && setPreview({ state: "known", ...answer }),
        (err: unknown) => current() && setPreview({ state: "unknown", why: errorMessage(err) }),
      );
    }, 300);
    return () => window.clearTimeout(timer);
  }, [offersReuse, reuse, previewReuse, prefilling, text, pinnedCount, usePins]);

  const submit = async () => {
    const input = parseJsonText(text, "The input", {});
    if (!input.ok) {
      setError(input.error);
      return;
    }
    const p = priority.trim() ? Number(priority) : undefined;
    // "1e" in a number field reaches us as "" (the default priority): refused, as "1.5" is.
    if (priorityInput.current?.validity.badInput || (p !== undefined && !Number.isInteger(p))) {
      setError("Priority must be a whole number.");
      return;
    }
    setError(null);
    await onRun(input.value, p, pinnedCount > 0 && usePins, until && reuseRun !== undefined && reuse ? reuseRun : undefined);
  };
  return (
    <Dialog title={until ? `Run to ${until}` : "Run workflow"} titleId="run-title" testId="run-dialog" onClose={onClose}>
      {until ? (
        <p className="fm-help" data-testid="run-until-help">
          Only <strong>{until}</strong> and the nodes before it run; every node after it is skipped, and the run's output is its output.
        </p>
      ) : null}
      <p className="fm-help">The input becomes the Start node's output: {"{{start}}"} in every node ({"{{input}}"} is a node's own input, what the node before it passed on). Prefilled with the last run's input. Unsaved changes are saved first.</p>
      {problems.length ? (
        <p className="fm-field-error" role="alert" data-testid="run-problems">
          {plural(problems.length, "problem")} to fix first, or the run is refused: {problems.slice(0, 3).join("; ")}
          {problems.length > 3 ? ` (and ${problems.length - 3} more in the list below the canvas)` : ""}.
        </p>
      ) : null}
      {lastCut && !fetchUrl ? (
        <p className="fm-help" data-testid="run-last-input-large">
          The last run's input is a <LargeValue value={lastCut} /> and is not prefilled; re-run that run to reuse it unchanged.
        </p>
      ) : null}
      <label className="fm-label" htmlFor="run-input">
        Input (JSON)
      </label>
      {prefilling ? <p className="fm-muted" data-testid="run-input-loading">Loading the last run's input…</p> : null}
      <CodeField id="run-input" testId="run-input" label="Run input JSON" language="javascript" value={text} onChange={setText} minHeight="120px" />
      <label className="fm-label" htmlFor="run-priority">
        Priority (optional)
      </label>
      <input id="run-priority" ref={priorityInput} type="number" step={1} data-testid="run-priority" value={priority} onChange={(e) => setPriority(e.target.value)} />
      {pinnedCount > 0 ? (
        <div className="fm-run-pins">
          <input id="run-use-pins" type="checkbox" data-testid="run-use-pins" checked={usePins} onChange={(e) => setUsePins(e.target.checked)}
                 aria-describedby="run-use-pins-help" />
          <div>
            <label htmlFor="run-use-pins">Use pinned data ({plural(pinnedCount, "node")} pinned)</label>
            <p className="fm-help" id="run-use-pins-help" data-testid="run-pins-help">
              {usePins
                ? `${plural(pinnedCount, "pinned node")} will not run: ${pinnedCount === 1 ? "it outputs its" : "they output their"} pinned data.`
                : "Every node runs, pinned or not."}
            </p>
          </div>
        </div>
      ) : null}
      {until && reuseRun !== undefined ? (
        <div className="fm-run-pins">
          <input id="run-reuse" type="checkbox" data-testid="run-reuse" checked={reuse} onChange={(e) => setReuse(e.target.checked)}
                 aria-describedby="run-reuse-help" />
          <div>
            <label htmlFor="run-reuse">Reuse outputs of run #{reuseRun} for the nodes before {until}</label>
            <p className="fm-help" id="run-reuse-help" data-testid="run-reuse-help">
              {reuse
                ? `The nodes before ${until} that succeeded in run #${reuseRun} and have not changed since output what they output then, without running (no HTTP call is made again); a changed node, and every node after it, runs. With another input, everything runs. The run page names the reused nodes.`
                : `Every node before ${until} runs again.`}
            </p>
            {preview ? (
              <p className="fm-help" data-testid="run-reuse-preview" data-state={preview.state} aria-live="polite">
                {preview.state === "checking"
                  ? "Checking which nodes would be reused…"
                  : preview.state === "unknown"
                    ? `Which nodes would be reused is not known: ${preview.why}.`
                    : preview.reused.length
                      ? <>Reused without running: <strong>{preview.reused.join(", ")}</strong>; every other node up to {until} runs.</>
                      : `${capitalised(preview.note ?? `no node before ${until} can be reused`)}.`}
              </p>
            ) : null}
          </div>
        </div>
      ) : null}
      {error && (
        <p className="fm-field-error" role="alert" data-testid="run-error">
          {error}
        </p>
      )}
      <div className="fm-modal-actions">
        <button type="button" className="fm-btn" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="fm-btn fm-btn-primary" data-testid="run-submit" disabled={busy || prefilling} onClick={() => void submit()}>
          {busy ? "Starting…" : "Start run"}
        </button>
      </div>
    </Dialog>
  );
}
