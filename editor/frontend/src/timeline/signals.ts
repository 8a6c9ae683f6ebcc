// The signal history the timeline page shows (the signal log and the approval bar). The live
// stream only brings events after the timeline's `lastSeq`, so a page opened while a run
// already waits at an approval would never see the pause that names the node: these
// helpers read the stored events before `lastSeq` from the events API, newest page first.
import type { StreamEvent } from "./types";

/** Events the signal bar cares about: signals as sent, and the pauses/resumes they caused. */
export function isSignalEvent(event: StreamEvent): boolean {
  return event.type === "signal" || event.type === "execution.paused" || event.type === "execution.resumed";
}

/** The event types `isSignalEvent` keeps, as the events API's `type` filter names them. */
export const SIGNAL_EVENT_TYPES = ["signal", "execution.paused", "execution.resumed"] as const;

/** The last `limit` events of the given types with `seq < beforeSeq`, in seq order. */
export type SignalPage = (beforeSeq: number, limit: number) => Promise<StreamEvent[]>;

/**
 * Signal events with `seq <= lastSeq`, oldest first: the last `keep` of them, in one request.
 * The server reads them through an index of these kinds, however long the run's log. (This
 * paged back through up to 4,000 events of every kind, and could still miss the pause of a
 * run that had logged more since.)
 */
export async function earlierSignals(fetchSignals: SignalPage, lastSeq: number, keep = 200): Promise<StreamEvent[]> {
  if (lastSeq <= 0) return [];
  const events = await fetchSignals(lastSeq + 1, keep);
  return events.filter((e) => e.seq <= lastSeq && isSignalEvent(e));  // the API answers in seq order
}

/** Both lists in seq order without repeats (the stream and the history may overlap), the last `keep`. */
export function mergeSignals(a: readonly StreamEvent[], b: readonly StreamEvent[], keep = 200): StreamEvent[] {
  const bySeq = new Map<number, StreamEvent>();
  for (const event of [...a, ...b]) bySeq.set(event.seq, event);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq).slice(-keep);
}

export interface SignalLine {
  seq: number;
  ts: string;
  text: string;
}

/** The pause and resume a signal brings about, by the signal's type. */
const EFFECT: Record<string, string> = { pause: "execution.paused", resume: "execution.resumed" };

function reasonOf(event: StreamEvent): string {
  const reason = event.data && typeof event.data.reason === "string" ? event.data.reason : "";
  return reason ? ` — ${reason}` : "";
}

/** The signal log, one line per user action: a pause signal and the `execution.paused` it
 * caused read "pause — …" and "paused — …", two lines for one click. The effect takes the
 * signal's line (at the signal's time); a pause no signal sent (an approval node) keeps its own. */
export function signalLogLines(signals: readonly StreamEvent[]): SignalLine[] {
  const lines: (SignalLine & { reason: string; waitsFor?: string })[] = [];
  for (const event of signals) {
    if (event.type === "signal") {
      const kind = String(event.data?.type ?? "signal");
      const reason = reasonOf(event);
      lines.push({ seq: event.seq, ts: event.ts, text: `${kind}${reason}`, reason, waitsFor: EFFECT[kind] });
      continue;
    }
    const word = event.type.replace("execution.", "");
    const cause = [...lines].reverse().find((l) => l.waitsFor === event.type);
    if (cause) {
      cause.text = `${word}${reasonOf(event) || cause.reason}`;
      cause.waitsFor = undefined;
    } else {
      lines.push({ seq: event.seq, ts: event.ts, text: `${word}${reasonOf(event)}`, reason: reasonOf(event) });
    }
  }
  return lines.map(({ seq, ts, text }) => ({ seq, ts, text }));
}
