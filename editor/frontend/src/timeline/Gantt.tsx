// The execution Gantt chart: one row per lane, one bar per node-run attempt, drawn as SVG.
//
// Why a small SVG component and not vis-timeline or ECharts: the chart needs exactly our
// lane tree (nested branches, foldable loop groups with a density strip), bars split into
// queue wait and run time, critical-path outlines and a live "now" line, redrawn on every
// stream batch. In SVG that is ~300 lines of plain React with no extra dependency (the
// bundle already carries React Flow); the libraries would need custom renderers for most of
// it and bring their own DOM and state to keep in sync with the stream.
//
// Interaction: wheel zooms around the pointer, dragging pans, the buttons zoom or fit;
// while the view is "fitted" it follows the run as it grows. The axis fits any run, from a
// few microseconds to hours. Hover shows a tooltip; a click (or Enter on a focused bar)
// selects a bar or a lane (the page opens the side panel). Lane labels are real buttons: a
// loop's folds or unfolds its items (click anywhere on the label, or Enter/Space).

import { type MouseEvent as ReactMouseEvent, type WheelEvent as ReactWheelEvent, useEffect, useMemo, useRef, useState } from "react";

import {
  barLabel,
  formatDuration,
  FINISHED_NODE_STATUSES,
  loopItemCount,
  loopItemStats,
  type LoopItemStats,
  outsideLabelPlace,
  queueWaitMs,
  STATUS_COLOURS,
  stripStatus,
  tickLabel,
  tickLabelPlace,
  tickStep,
  toMs,
} from "./model";
import type { Bar, Lane } from "./types";

// The lane labels' column: 230 px, wider when a label needs it (up to 40% of the chart) —
// at 230 a loop's "Fetch profiles · 8 items · 1 failed" was cut after "1 fa", the count a
// user looks for. It never narrows while the page is open, so bars do not jump back.
const LABEL_WIDTH = 230;
const LABEL_MAX_SHARE = 0.4;
const PHONE_LABEL_SHARE = 0.45;
const MIN_WIDTH = 260;
const LABEL_FONT = '12.5px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
let measureContext: CanvasRenderingContext2D | null | undefined;
const measured = new Map<string, number>();

/** The width in px of a lane label's text (an estimate where there is no canvas, as in tests). */
function textWidth(text: string, bold: boolean): number {
  const key = `${bold ? "b" : ""}|${text}`;
  const known = measured.get(key);
  if (known !== undefined) return known;
  if (measured.size > 2000) measured.clear();
  if (measureContext === undefined) {
    try {
      measureContext = document.createElement("canvas").getContext("2d");
    } catch {
      measureContext = null;
    }
  }
  let px = text.length * 7.2;
  if (measureContext) {
    measureContext.font = `${bold ? "600 " : ""}${LABEL_FONT}`;
    px = measureContext.measureText(text).width;
  }
  measured.set(key, px);
  return px;
}
const ROW = 28;
const NOW_LABEL_PX = 24; // "now" at 10 px, with a little room
const AXIS = 26;
const BAR_HEIGHT = 16;
const QUEUE_HEIGHT = 4;
const MIN_BAR_PX = 3;
// A pinned node run took no time (it output its pinned data at once): drawn at MIN_BAR_PX
// it was a sliver under the next bar's start, which a user could neither see nor click.
// It gets a marker this wide, with a pin in it, drawn over its neighbours.
const PINNED_BAR_PX = 14;
const DENSITY_BUCKETS = 160;
const CHAR_PX = 6.3; // ~width of one character of .tl-bar-text (11 px system-ui)
const MIN_SPAN_MS = 0.01; // 10 µs: the narrowest view of a run

export type Selection = { kind: "bar"; id: string } | { kind: "lane"; id: string } | null;

interface GanttProps {
  lanes: Lane[];
  bars: Bar[];
  origin: number;
  end: number;
  now: number;
  live: boolean;
  folded: ReadonlySet<string>;
  showCritical: boolean;
  selection: Selection;
  onSelect: (selection: Selection) => void;
  onToggleFold: (laneId: string) => void;
  /** When the run stood paused, in ms since the epoch (`to` null: still paused). */
  paused?: readonly { from: number; to: number | null }[];
}

interface View {
  from: number;
  to: number;
}

export function Gantt(props: GanttProps) {
  const { lanes, bars, origin, end, now, live, folded, showCritical, selection, onSelect, onToggleFold, paused = [] } = props;
  const wrapper = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(960);
  const [view, setView] = useState<View | null>(null); // null: fitted, follows the run
  const [hover, setHover] = useState<{ bar: Bar; x: number; y: number } | null>(null);
  const drag = useRef<{ x: number; view: View; moved: boolean } | null>(null);

  useEffect(() => {
    const element = wrapper.current;
    if (!element) return;
    // Never narrower than its box: at 360 px a 400 px floor cut the run's last 80 px (its
    // end, the merge's bar) off at the box's right edge.
    const observer = new ResizeObserver(() => setWidth(Math.max(MIN_WIDTH, element.clientWidth)));
    observer.observe(element);
    setWidth(Math.max(MIN_WIDTH, element.clientWidth));
    return () => observer.disconnect();
  }, []);

  // A loop group's items and failed items, counted from the bars as they stand (live).
  const loopStats = useMemo(() => loopItemStats(bars), [bars]);
  const labels = lanes.map((lane) => lane.kind === "loop"
    ? laneText(lane, loopStats.get(lane.id), loopRunning(bars, lane.nodeId), loopItemCount(bars, lane))
    : lane.kind === "slot" ? lane.label : laneText(lane, loopStats.get(lane.id)));
  // Left padding (and the fold arrow of a loop), the text, the right padding and the gap.
  const needed = Math.ceil(Math.max(0, ...lanes.map((lane, index) =>
    (lane.kind === "loop" ? 6 + 16 : 8) + lane.depth * 14 + textWidth(labels[index] ?? "", lane.kind === "loop") + 4 + 6)));
  const [widest, setWidest] = useState(LABEL_WIDTH);
  useEffect(() => {
    if (needed > widest) setWidest(needed);
  }, [needed, widest]);
  // (On a phone's chart, under ~575 px, the labels' 230 px would leave the bars a sliver:
  // there they take at most PHONE_LABEL_SHARE and end in "…". Wider, this changes nothing.)
  const labelWidth = Math.min(Math.max(LABEL_WIDTH, Math.min(Math.max(widest, needed), Math.floor(width * LABEL_MAX_SHARE))),
                              Math.floor(width * PHONE_LABEL_SHARE));
  const chartWidth = width - labelWidth;
  // The view fits the run whatever its length: a 7 ms run fills the chart as a 2 h one does.
  const earliest = Math.min(0, ...bars.map((b) => (toMs(b.queuedAt) ?? origin) - origin));
  const span = Math.max(end - origin - earliest, MIN_SPAN_MS);
  const fitted: View = { from: earliest, to: earliest + span * 1.04 };
  const current = view ?? fitted;
  const scale = chartWidth / Math.max(1, current.to - current.from);
  const x = (t: number) => labelWidth + (t - origin - current.from) * scale;

  const barsByLane = useMemo(() => {
    const map = new Map<string, Bar[]>();
    for (const bar of bars) {
      const list = map.get(bar.lane);
      if (list) list.push(bar);
      else map.set(bar.lane, [bar]);
    }
    return map;
  }, [bars]);

  const height = AXIS + lanes.length * ROW + 8;
  const step = tickStep(current.to - current.from, chartWidth);
  const ticks: number[] = [];
  // Multiples of the step by index, so that fractions of a millisecond do not drift.
  for (let i = Math.ceil(current.from / step); i * step <= current.to && ticks.length < 200; i += 1) ticks.push(i * step);

  const zoom = (factor: number, anchorPx?: number) => {
    const anchor = anchorPx === undefined ? (current.from + current.to) / 2 : current.from + (anchorPx - labelWidth) / scale;
    const from = anchor - (anchor - current.from) / factor;
    const to = anchor + (current.to - anchor) / factor;
    if (to - from < MIN_SPAN_MS / 5) return;
    setView({ from, to });
  };

  const onWheel = (event: ReactWheelEvent<SVGSVGElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const px = event.clientX - rect.left;
    if (px < labelWidth) return;
    if (event.shiftKey) {
      const delta = (event.deltaY || event.deltaX) / scale;
      setView({ from: current.from + delta, to: current.to + delta });
    } else {
      zoom(event.deltaY < 0 ? 1.25 : 0.8, px);
    }
  };

  const onMouseDown = (event: ReactMouseEvent<SVGSVGElement>) => {
    drag.current = { x: event.clientX, view: current, moved: false };
  };
  const onMouseMove = (event: ReactMouseEvent<SVGSVGElement>) => {
    const state = drag.current;
    if (!state || event.buttons !== 1) return;
    const dx = event.clientX - state.x;
    if (Math.abs(dx) > 3) state.moved = true;
    if (state.moved) {
      const dt = dx / scale;
      setView({ from: state.view.from - dt, to: state.view.to - dt });
    }
  };
  const endDrag = () => {
    window.setTimeout(() => (drag.current = null), 0);
  };
  const wasDrag = () => drag.current?.moved === true;

  const select = (next: Selection) => {
    if (!wasDrag()) onSelect(next);
  };

  return (
    <div className="tl-gantt" ref={wrapper} data-testid="gantt">
      <div className="tl-gantt-tools">
        <button type="button" className="fm-small-btn" onClick={() => zoom(1.5)} aria-label="Zoom in" data-testid="gantt-zoom-in">+</button>
        <button type="button" className="fm-small-btn" onClick={() => zoom(1 / 1.5)} aria-label="Zoom out" data-testid="gantt-zoom-out">-</button>
        <button type="button" className={`fm-small-btn${view === null ? " is-on" : ""}`} onClick={() => setView(null)}
                data-testid="gantt-fit">Fit{live ? " & follow" : ""}</button>
        <span className="fm-muted">wheel: zoom · shift+wheel or drag: pan · Tab to a bar, Enter: details</span>
      </div>
      <svg width={width} height={height} className="tl-svg" onWheel={onWheel} onMouseDown={onMouseDown}
           onMouseMove={onMouseMove} onMouseUp={endDrag} onMouseLeave={() => { endDrag(); setHover(null); }}
           role="group" aria-label="Execution timeline" data-span-ms={current.to - current.from}>
        <defs>
          <clipPath id="tl-chart-clip"><rect x={labelWidth} y={0} width={chartWidth} height={height} /></clipPath>
        </defs>
        {ticks.map((t) => {
          const at = x(origin + t);
          const label = tickLabel(t, step);
          const place = tickLabelPlace(at, label, width);
          return (
            <g key={t}>
              <line x1={at} x2={at} y1={AXIS - 4} y2={height} className="tl-grid" />
              <text x={place.x} y={AXIS - 9} textAnchor={place.anchor} className="tl-tick" data-testid="axis-tick">{label}</text>
            </g>
          );
        })}
        {lanes.map((lane, index) => (
          <rect key={`row-${lane.id}`} x={0} y={AXIS + index * ROW} width={width} height={ROW}
                className={`tl-row${index % 2 ? " tl-row-odd" : ""}${selection?.kind === "lane" && selection.id === lane.id ? " tl-row-selected" : ""}`} />
        ))}
        <g clipPath="url(#tl-chart-clip)">
          {paused.map((p) => {
            const from = x(p.from);
            const to = x(p.to ?? now);
            return (
              <g key={p.from} data-testid="paused-span" data-paused-ms={(p.to ?? now) - p.from}>
                <rect x={from} y={AXIS - 6} width={Math.max(2, to - from)} height={height - AXIS + 6} className="tl-paused">
                  <title>paused for {formatDuration((p.to ?? now) - p.from)}</title>
                </rect>
                {/* In the band between the axis labels and the first lane: inside the lane it lay
                    across that lane's bar label (an approval's own bar, when it paused the run). */}
                {to - from > 44 ? <text x={from + 4} y={AXIS - 1} className="tl-paused-label">paused</text> : null}
              </g>
            );
          })}
        </g>
        {lanes.map((lane, index) => {
          const y = AXIS + index * ROW;
          const isSelected = selection?.kind === "lane" && selection.id === lane.id;
          const beside = outsidePlaces(barsByLane.get(lane.id) ?? [], now, x, labelWidth, chartWidth);
          return (
            <g key={lane.id} data-testid="timeline-lane" data-lane-id={lane.id} data-lane-kind={lane.kind}
               data-branch-name={lane.branchName ?? ""}>
              <foreignObject x={0} y={y} width={labelWidth - 4} height={ROW}>
                {lane.kind === "slot" ? (
                  <div className="tl-lane-text tl-label-slot" style={{ paddingLeft: 8 + lane.depth * 14 }}>{lane.label}</div>
                ) : lane.kind === "loop" ? (
                  <button type="button" className="tl-lane-btn tl-label-loop" style={{ paddingLeft: 6 + lane.depth * 14 }}
                          aria-expanded={!folded.has(lane.id)} data-testid="lane-fold"
                          title={folded.has(lane.id) ? "Show the items (Enter)" : "Fold the items into one strip (Enter)"}
                          onClick={() => { if (!wasDrag()) onToggleFold(lane.id); }}>
                    <span aria-hidden="true" className="tl-fold">{folded.has(lane.id) ? "▸" : "▾"}</span>
                    <span data-testid="lane-label" className="tl-lane-words">{labels[index]}</span>
                  </button>
                ) : (
                  <button type="button" className="tl-lane-btn" style={{ paddingLeft: 8 + lane.depth * 14 }} data-testid="lane-label"
                          aria-pressed={isSelected} title={labels[index]} onClick={() => select({ kind: "lane", id: lane.id })}>
                    {labels[index]}
                  </button>
                )}
              </foreignObject>
              <g clipPath="url(#tl-chart-clip)">
                {lane.kind === "loop"
                  ? <DensityStrip lane={lane} bars={bars} y={y} x={x} origin={origin} view={current} now={now} />
                  : null}
                {pinnedLast(barsByLane.get(lane.id) ?? []).map(([bar, index]) => {
                  const outside = beside[index];
                  const queued = toMs(bar.queuedAt);
                  const started = toMs(bar.startedAt);
                  const { runStart, runEnd } = barTimes(bar, now);
                  if (runEnd < origin + current.from - 1 || (queued ?? runStart) > origin + current.to + 1) return null;
                  const x0 = x(runStart);
                  const w = runWidth(bar, x(runEnd) - x0);
                  const selected = selection?.kind === "bar" && selection.id === bar.nodeRunId;
                  const colour = STATUS_COLOURS[bar.status] ?? "#adb5bd";
                  const wait = queueWaitMs(bar, now);
                  const label = barLabel(bar);
                  const shortLabel = bar.iteration !== null ? `#${bar.iteration}` : "";
                  const shown = label.length * CHAR_PX + 10 <= w ? label : shortLabel && shortLabel.length * CHAR_PX + 8 <= w ? shortLabel : "";
                  const run = started !== null ? formatDuration(runEnd - started) : "not started";
                  return (
                    <g key={bar.nodeRunId} data-testid="timeline-bar" data-node-id={bar.nodeId} data-status={bar.status}
                       data-lane={bar.lane} data-node-run-id={bar.nodeRunId} data-attempt={bar.attempt}
                       data-iteration={bar.iteration ?? ""} data-critical={bar.critical ? "true" : "false"}
                       data-pinned={bar.pinned ? "true" : undefined} data-reused-from={bar.reusedFrom ?? undefined}
                       className={`tl-bar${bar.container ? " tl-bar-container" : ""}${bar.pinned ? " tl-bar-pinned" : ""}`}
                       tabIndex={0} role="button" aria-pressed={selected}
                       aria-label={`${label}, ${bar.status}, ${run}`}
                       onClick={(e) => { e.stopPropagation(); select({ kind: "bar", id: bar.nodeRunId }); }}
                       onKeyDown={(e) => {
                         if (e.key === "Enter" || e.key === " ") {
                           e.preventDefault();
                           onSelect({ kind: "bar", id: bar.nodeRunId });
                         }
                       }}
                       onMouseMove={(e) => setHover({ bar, x: e.clientX, y: e.clientY })}
                       onMouseLeave={() => setHover(null)}>
                      {queued !== null && wait !== null && wait > 0 ? (
                        <rect x={x(queued)} y={y + ROW / 2 - QUEUE_HEIGHT / 2} width={Math.max(1, x(started ?? now) - x(queued))}
                              height={QUEUE_HEIGHT} className="tl-queue" data-testid="queue-wait" />
                      ) : null}
                      {started !== null ? (
                        <rect x={x0} y={y + (ROW - BAR_HEIGHT) / 2} width={w} height={bar.container ? BAR_HEIGHT / 2 : BAR_HEIGHT}
                              rx={3} fill={colour}
                              className={`tl-run${bar.status === "running" ? " tl-run-live" : ""}${showCritical && bar.critical ? " tl-critical" : ""}${selected ? " tl-selected" : ""}`} />
                      ) : (
                        // Never started (skipped, cancelled while queued): a hollow mark where it was queued.
                        <rect x={x(queued ?? runStart)} y={y + (ROW - BAR_HEIGHT) / 2} width={MIN_BAR_PX} height={BAR_HEIGHT}
                              className="tl-never" stroke={colour} />
                      )}
                      {started !== null && bar.pinned ? (
                        // The pin: a head and a needle, white on the bar.
                        <g className="tl-pin" data-testid="pinned-marker" aria-hidden="true">
                          <line x1={x0 + 7} x2={x0 + 7} y1={y + ROW / 2 - 1} y2={y + ROW / 2 + 5} />
                          <circle cx={x0 + 7} cy={y + ROW / 2 - 2.5} r={2.5} />
                        </g>
                      ) : null}
                      {started !== null && shown ? (
                        <text x={x0 + 5} y={y + ROW / 2 + 4} className="tl-bar-text" data-testid="bar-label">{shown}</text>
                      ) : !shown && outside ? (
                        <text x={outside.x} y={y + ROW / 2 + 4} textAnchor={outside.anchor} className="tl-bar-text tl-bar-text-outside"
                              data-testid="bar-label" data-outside="true">{label}</text>
                      ) : null}
                    </g>
                  );
                })}
              </g>
            </g>
          );
        })}
        <line x1={labelWidth - 2} x2={labelWidth - 2} y1={0} y2={height} className="tl-divider" />
        {live && x(now) >= labelWidth ? (
          <g data-testid="now-line">
            <line x1={x(now)} x2={x(now)} y1={AXIS - 6} y2={height} className="tl-now" />
            {/* Right of the line, or left of it near the chart's end: in an 800 px window the
                line is ~20 px from the edge and the label read "nov". */}
            {x(now) + 3 + NOW_LABEL_PX <= width
              ? <text x={x(now) + 3} y={10} className="tl-now-label" data-testid="now-label">now</text>
              : <text x={x(now) - 3} y={10} className="tl-now-label" textAnchor="end" data-testid="now-label">now</text>}
          </g>
        ) : null}
      </svg>
      {hover ? <Tooltip bar={hover.bar} x={hover.x} y={hover.y} now={now} /> : null}
    </div>
  );
}

/** A bar's run start and end in ms since the epoch (a running bar ends now; one that never
 * started sits where it would have). */
function barTimes(bar: Bar, now: number): { runStart: number; runEnd: number } {
  const started = toMs(bar.startedAt);
  const finished = toMs(bar.finishedAt) ?? (FINISHED_NODE_STATUSES.has(bar.status) ? started : now);
  const runStart = started ?? now;
  return { runStart, runEnd: Math.max(finished ?? now, runStart) };
}

/** How wide a started bar is drawn for `px` of run time: at least MIN_BAR_PX, and a pinned
 * one at least PINNED_BAR_PX (see there). */
function runWidth(bar: Pick<Bar, "pinned">, px: number): number {
  return Math.max(bar.pinned ? PINNED_BAR_PX : MIN_BAR_PX, px);
}

/** A lane's bars with their index in it, the pinned ones last: drawn last, their markers lie
 * over the start of the bar after them instead of under it. */
function pinnedLast(laneBars: readonly Bar[]): [Bar, number][] {
  const indexed = laneBars.map((bar, index): [Bar, number] => [bar, index]);
  return laneBars.some((bar) => bar.pinned) ? [...indexed.filter(([b]) => !b.pinned), ...indexed.filter(([b]) => b.pinned)] : indexed;
}

const NEIGHBOURS = 8;

/** Per bar of a lane, where its name goes when the bar is too narrow for it (null: inside, or
 * nowhere). A failed 2 ms node or a main-lane Merge is a sliver, and its name is what a user
 * looks for: it is written beside the bar where the lane is free, never over another bar or
 * another such name. The lane's bars are in start order and run one after another, so the
 * bars near each one suffice: a slot with thousands of items costs no more per bar. */
function outsidePlaces(laneBars: readonly Bar[], now: number, x: (t: number) => number, labelWidth: number, chartWidth: number): ({ x: number; anchor: "start" | "end" } | null)[] {
  const spans = laneBars.map((bar) => {
    const { runStart, runEnd } = barTimes(bar, now);
    const queued = toMs(bar.queuedAt);
    const x0 = x(runStart);
    const right = toMs(bar.startedAt) !== null ? x0 + runWidth(bar, x(runEnd) - x0) : x(queued ?? runStart) + MIN_BAR_PX;
    return { left: x(queued ?? runStart), right, runLeft: x0 };
  });
  const written: { left: number; right: number }[] = [];
  return laneBars.map((bar, index) => {
    const span = spans[index];
    if (!span) return null;
    const label = barLabel(bar);
    const width = label.length * CHAR_PX;
    const short = bar.iteration !== null ? `#${bar.iteration}` : "";
    const inside = span.right - span.runLeft;
    if (toMs(bar.startedAt) !== null && (width + 10 <= inside || (short && short.length * CHAR_PX + 8 <= inside))) return null;
    const others = [
      ...spans.slice(Math.max(0, index - NEIGHBOURS), index),
      ...spans.slice(index + 1, index + 1 + NEIGHBOURS),
      ...written.slice(-NEIGHBOURS),
    ];
    const place = outsideLabelPlace(span, others, width, labelWidth, labelWidth + chartWidth);
    if (place) written.push(place.anchor === "start" ? { left: place.x, right: place.x + width } : { left: place.x - width, right: place.x });
    return place;
  });
}

/** Whether some run of this loop node is still under way (its container bar not finished). */
function loopRunning(bars: readonly Bar[], nodeId: string | undefined): boolean {
  return nodeId !== undefined && bars.some((b) => b.nodeId === nodeId && b.container && !FINISHED_NODE_STATUSES.has(b.status));
}

function laneText(lane: Lane, stats: LoopItemStats | undefined, running = false, total?: number): string {
  if (lane.kind === "branch") {
    return lane.branchId && lane.branchId !== "main" ? `${lane.label} (${lane.branchId})` : lane.label;
  }
  if (lane.kind === "loop") {
    const items = stats?.items.size ?? lane.items ?? 0;
    const failed = stats?.failed ?? 0;
    const cancelled = stats?.cancelled ?? 0;
    // The count is of the items started; the loop's length comes from its start event
    // ("2 of 6 items"), or, from an engine that did not say it, "2 items so far".
    const count = total !== undefined && (running || items < total) ? `${items} of ${total} items`
      : `${items} items${running && total === undefined ? " so far" : ""}`;
    // Items cut by cancelOnFailure did not fail: they are counted apart, as the loop's error does.
    return `${lane.label} · ${count}${failed ? ` · ${failed} failed` : ""}${cancelled ? ` · ${cancelled} cancelled` : ""}`;
  }
  return lane.label;
}

interface DensityProps {
  lane: Lane;
  bars: Bar[];
  y: number;
  x: (t: number) => number;
  origin: number;
  view: View;
  now: number;
}

/** The folded view of a loop: how many of its node runs ran at each moment (opacity) and
 * how they ended (colour: a moment with a failed item is red, as the item's own bar is). */
function DensityStrip({ lane, bars, y, x, origin, view, now }: DensityProps) {
  const buckets = useMemo(() => {
    const counts = new Array<number>(DENSITY_BUCKETS).fill(0);
    const statuses: Record<string, number>[] = Array.from({ length: DENSITY_BUCKETS }, () => ({}));
    const width = (view.to - view.from) / DENSITY_BUCKETS;
    const prefix = `${lane.id}:slot:`;
    for (const bar of bars) {
      if (!bar.lane.startsWith(prefix)) continue;
      const start = toMs(bar.startedAt);
      if (start === null) continue;
      const stop = toMs(bar.finishedAt) ?? now;
      const first = Math.max(0, Math.floor((start - origin - view.from) / width));
      const last = Math.min(DENSITY_BUCKETS - 1, Math.floor((stop - origin - view.from) / width));
      for (let i = first; i <= last; i += 1) {
        counts[i] = (counts[i] ?? 0) + 1;
        const bucket = statuses[i];
        if (bucket) bucket[bar.status] = (bucket[bar.status] ?? 0) + 1;
      }
    }
    return { counts, statuses, width, max: Math.max(1, ...counts) };
  }, [lane.id, bars, origin, view.from, view.to, now]);
  return (
    <g data-testid="density-strip">
      {buckets.counts.map((count, i) => {
        if (!count) return null;
        const counts = buckets.statuses[i] ?? {};
        const status = stripStatus(counts);
        const detail = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
        return (
          <rect key={i} x={x(origin + view.from + i * buckets.width)} y={y + 6}
                width={Math.max(1, x(origin + view.from + (i + 1) * buckets.width) - x(origin + view.from + i * buckets.width))}
                height={ROW - 12} fill={STATUS_COLOURS[status] ?? STATUS_COLOURS.running} data-status={status}
                data-testid="density-cell" opacity={0.35 + (0.65 * count) / buckets.max}>
            <title>{count} node runs: {detail}</title>
          </rect>
        );
      })}
    </g>
  );
}

function Tooltip({ bar, x, y, now }: { bar: Bar; x: number; y: number; now: number }) {
  const queued = toMs(bar.queuedAt);
  const started = toMs(bar.startedAt);
  const finished = toMs(bar.finishedAt);
  return (
    <div className="tl-tooltip" style={{ left: x + 14, top: y + 12 }} role="tooltip" data-testid="bar-tooltip">
      <strong>{bar.name}</strong> <span className={`tl-status tl-status-${bar.status}`}>{bar.status}</span>
      <div>{bar.branchName} · <code>{bar.traceId}</code></div>
      <div>attempt {bar.attempt}{bar.iteration !== null ? ` · item ${bar.iteration}` : ""}</div>
      {queued !== null && started === null && FINISHED_NODE_STATUSES.has(bar.status)
        ? <div>never started</div>
        : <div>queue wait {formatDuration(queueWaitMs(bar, now))}</div>}
      <div>run time {formatDuration(started !== null ? (finished ?? now) - started : null)}</div>
    </div>
  );
}
