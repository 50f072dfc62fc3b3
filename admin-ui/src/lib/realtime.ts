/**
 * Live record events over Ferrobase's WebSocket protocol (docs/realtime.md): authenticates with a
 * message (the token never lands in a URL or access log), subscribes, remembers the last `seq`
 * seen and, after a dropped connection, reconnects with backoff and re-subscribes with `since`, so
 * the events of the gap are replayed exactly once. A `reset` (the log no longer reaches back) asks
 * the page to refetch.
 */
export type LiveEvent<T> = { action: 'create' | 'update' | 'delete' | 'enter' | 'leave'; record: T; seq: number };

export type LiveHandlers<T> = {
  event: (e: LiveEvent<T>) => void;
  /** The server could not replay the gap: refetch, then keep applying events. */
  reset: () => void;
  /** Connection state for the page's indicator. */
  status: (live: boolean) => void;
};

const BACKOFF_MS = [250, 500, 1000, 2000, 4000];
const SUB = 'rows';

export class LiveTopic<T> {
  private ws: WebSocket | null = null;
  private seq: number | null = null;
  private attempt = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private topic: string,
    private token: () => string,
    private on: LiveHandlers<T>,
  ) {
    this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
  }

  private connect(): void {
    if (this.closed) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/realtime/ws`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.token() }));
    ws.onmessage = (ev) => this.handle(ws, typeof ev.data === 'string' ? ev.data : '');
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.on.status(false);
      this.retry();
    };
    ws.onerror = () => {}; // onclose follows
  }

  private retry(): void {
    if (this.closed) return;
    const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)];
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private handle(ws: WebSocket, text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'auth_ok': {
        const sub: Record<string, unknown> = { type: 'subscribe', id: SUB, topic: this.topic };
        if (this.seq !== null) sub.since = this.seq;
        ws.send(JSON.stringify(sub));
        return;
      }
      case 'subscribed':
        // A fresh subscription sees everything after the hub's position.
        if (this.seq === null && typeof msg.seq === 'number') this.seq = msg.seq;
        this.attempt = 0;
        this.on.status(true);
        return;
      case 'event': {
        const seq = Number(msg.seq);
        if (msg.sub !== SUB || !Number.isFinite(seq)) return;
        if (this.seq !== null && seq <= this.seq) return; // replayed and live: never twice
        this.seq = seq;
        this.on.event({ action: msg.action as LiveEvent<T>['action'], record: msg.record as T, seq });
        return;
      }
      case 'reset':
        this.seq = null; // continues live from here; the refetch covers the gap
        this.on.reset();
        return;
      default:
        return;
    }
  }
}
