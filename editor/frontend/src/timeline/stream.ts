// The websocket side of the execution pages (SPEC §8): `ws/executions/{id}/?afterSeq=N` for
// one execution's events, `ws/executions/` for status changes of all the user's executions.
// The server guarantees order and no gaps per connection; across reconnects this client
// resumes with `afterSeq` = the last seq it saw and still drops anything it already has.

import type { ExecutionStatusMessage, StreamEvent } from "./types";

/** Close codes after which reconnecting cannot help (see engine/live/consumers.py). */
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4404]);
/** The user has too many streams open (other tabs): worth trying again, but slowly. */
const BUSY_CLOSE_CODE = 4429;
const MAX_BACKOFF_MS = 5000;

export type StreamState = "connecting" | "live" | "reconnecting" | "closed";

export function websocketUrl(path: string): string {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

interface ReconnectingOptions {
  path: () => string;
  onMessage: (data: unknown) => void;
  onState: (state: StreamState, detail?: string) => void;
}

/** A websocket that reconnects with back-off until closed or refused for good. */
class ReconnectingSocket {
  private socket: WebSocket | null = null;
  private stopped = false;
  private backoff = 250;
  private timer: number | undefined;
  private refusal: string | undefined;

  constructor(private readonly options: ReconnectingOptions) {
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    const socket = new WebSocket(websocketUrl(this.options.path()));
    this.socket = socket;
    socket.onopen = () => {
      this.backoff = 250;
      this.options.onState("live");
    };
    socket.onmessage = (message: MessageEvent<string>) => {
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (isRefusal(data)) {
        this.refusal = data.detail;
        return;
      }
      this.options.onMessage(data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.options.onState("closed", this.refusal ?? `refused (${event.code})`);
        return;
      }
      // The server refuses a busy stream after opening it, and the open reset the back-off:
      // without this the page would knock every 250 ms.
      const busy = event.code === BUSY_CLOSE_CODE;
      if (busy) this.backoff = MAX_BACKOFF_MS;
      this.options.onState("reconnecting", busy ? this.refusal : undefined);
      this.timer = window.setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
  }

  close(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.socket?.close();
  }
}

function isRefusal(data: unknown): data is { type: "error"; detail: string } {
  return typeof data === "object" && data !== null && (data as { type?: unknown }).type === "error";
}

/** One execution's events, in seq order, each exactly once, across reconnects. */
export class ExecutionStream {
  private lastSeq: number;
  private readonly socket: ReconnectingSocket;

  constructor(
    executionId: number | string,
    afterSeq: number,
    onEvent: (event: StreamEvent) => void,
    onState: (state: StreamState, detail?: string) => void,
  ) {
    this.lastSeq = afterSeq;
    this.socket = new ReconnectingSocket({
      path: () => `/ws/executions/${executionId}/?afterSeq=${this.lastSeq}`,
      onState,
      onMessage: (data) => {
        const event = data as StreamEvent;
        if (typeof event.seq !== "number" || event.seq <= this.lastSeq) return;
        this.lastSeq = event.seq;
        onEvent(event);
      },
    });
  }

  get seq(): number {
    return this.lastSeq;
  }

  close(): void {
    this.socket.close();
  }
}

/** Status changes of all the user's executions. */
export class ExecutionListStream {
  private readonly socket: ReconnectingSocket;

  constructor(onStatus: (message: ExecutionStatusMessage) => void, onState: (state: StreamState, detail?: string) => void) {
    this.socket = new ReconnectingSocket({
      path: () => "/ws/executions/",
      onState,
      onMessage: (data) => {
        const message = data as ExecutionStatusMessage;
        if (message.type === "execution.status" && message.execution) onStatus(message);
      },
    });
  }

  close(): void {
    this.socket.close();
  }
}
