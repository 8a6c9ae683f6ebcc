// The signal history the timeline page shows (the signal log and the approval bar). The live
// stream only brings events after the timeline's `lastSeq`, so a page opened while a run
// already waits at an approval would never see the pause that names the node: these
// helpers read the stored events before `lastSeq` from the events API, newest page first.
import type { StreamEvent } from "./types";

/** Events the signal bar cares about: signals as sent, and the pauses/resumes they caused. */
export function isSignalEvent(event: StreamEvent): boolean {
  return event.type === "signal" || event.type === "execution.paused" || event.type === "execution.resumed";
}

const isPauseOrResume = (event: StreamEvent) => event.type === "execution.paused" || event.type === "execution.resumed";

export type EventPage = (afterSeq: number, limit: number) => Promise<StreamEvent[]>;

export interface EarlierSignalsOptions {
  /** Keep reading back until the latest pause/resume is found (the run is paused now). */
  needPause: boolean;
  pageSize?: number;
  /** A bound on the requests for a huge run: its pause is normally among its last events. */
  maxPages?: number;
}

/** Signal events with `seq <= lastSeq`, oldest first. */
export async function earlierSignals(fetchPage: EventPage, lastSeq: number, options: EarlierSignalsOptions): Promise<StreamEvent[]> {
  const pageSize = options.pageSize ?? 500;
  const maxPages = options.maxPages ?? 8;
  const found: StreamEvent[] = [];
  let upTo = lastSeq;
  for (let page = 0; page < maxPages && upTo > 0; page++) {
    const afterSeq = Math.max(0, upTo - pageSize);
    const events = await fetchPage(afterSeq, upTo - afterSeq);
    const signals = events.filter((e) => e.seq <= upTo && isSignalEvent(e));
    found.unshift(...signals);
    upTo = afterSeq;
    // One page is enough for the signal log; a paused run also needs the pause itself.
    if (!options.needPause || signals.some(isPauseOrResume)) break;
  }
  return found;
}

/** Both lists in seq order without repeats (the stream and the history may overlap), the last `keep`. */
export function mergeSignals(a: readonly StreamEvent[], b: readonly StreamEvent[], keep = 200): StreamEvent[] {
  const bySeq = new Map<number, StreamEvent>();
  for (const event of [...a, ...b]) bySeq.set(event.seq, event);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq).slice(-keep);
}
