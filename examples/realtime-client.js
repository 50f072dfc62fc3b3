// Ferrobase realtime client: the WebSocket protocol of docs/realtime.md with automatic reconnect
// and resume. No dependencies; works in browsers and in Node >= 22 (global WebSocket), or pass
// any WebSocket implementation as `options.WebSocket`.
//
//   import { RealtimeClient } from "./realtime-client.js";
//   const rt = new RealtimeClient("http://127.0.0.1:8090", { token });
//   const off = rt.subscribe("posts/*", (e) => console.log(e.action, e.record), { filter: "n > 5" });
//   rt.on("reset", ({ id }) => refetchEverything());   // the server's log no longer reaches back
//   off();                                             // unsubscribe
//
// Each subscription remembers the last `seq` it saw; after a disconnect (network, server restart,
// close 4008 "lagged") the client reconnects with backoff and re-subscribes with `since`, so no
// event is lost or repeated as long as the server's change log still covers the gap.

const BACKOFF_MS = [200, 500, 1000, 2000, 5000, 10000];

export class RealtimeClient {
  constructor(baseUrl, options = {}) {
    this.url = baseUrl.replace(/^http/, "ws").replace(/\/$/, "") + "/api/realtime/ws";
    this.token = options.token || "";
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    this.subs = new Map(); // id -> { topic, options, callback, seq }
    this.listeners = new Map(); // event name -> Set(fn)
    this.nextId = 1;
    this.attempt = 0;
    this.closed = false;
    this.ws = null;
    this.connect();
  }

  /** Subscribes to `coll/*` or `coll/ID`; returns a function that unsubscribes. */
  subscribe(topic, callback, options = {}) {
    const id = "s" + this.nextId++;
    const sub = { topic, options, callback, seq: options.since ?? null };
    this.subs.set(id, sub);
    this.sendSubscribe(id, sub);
    return () => this.unsubscribe(id);
  }

  unsubscribe(id) {
    if (this.subs.delete(id)) this.send({ type: "unsubscribe", id });
  }

  /** Listens to `open`, `close`, `reset`, `error`, `auth_ok`. Returns a function that stops. */
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name).delete(fn);
  }

  /** Changes the token on the open connection (and for every reconnect). */
  auth(token) {
    this.token = token || "";
    this.send({ type: "auth", token: this.token });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close(1000);
  }

  emit(name, payload) {
    for (const fn of this.listeners.get(name) || []) {
      try {
        fn(payload);
      } catch (err) {
        console.error(err);
      }
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  sendSubscribe(id, sub) {
    const msg = { type: "subscribe", id, topic: sub.topic };
    for (const k of ["filter", "expand", "fields"]) if (sub.options[k]) msg[k] = sub.options[k];
    if (sub.seq !== null) msg.since = sub.seq;
    this.send(msg);
  }

  connect() {
    if (this.closed) return;
    const url = this.token ? `${this.url}?token=${encodeURIComponent(this.token)}` : this.url;
    const ws = new this.WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.emit("open");
      for (const [id, sub] of this.subs) this.sendSubscribe(id, sub);
    };
    ws.onmessage = (ev) => this.handle(typeof ev.data === "string" ? ev.data : String(ev.data));
    ws.onclose = (ev) => {
      this.emit("close", { code: ev.code, reason: ev.reason });
      if (this.closed) return;
      const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)];
      setTimeout(() => this.connect(), ev.code === 4008 ? 0 : delay);
    };
    ws.onerror = () => {}; // onclose follows and reconnects
  }

  handle(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const sub = msg.id !== undefined ? this.subs.get(msg.id) : undefined;
    switch (msg.type) {
      case "event": {
        const s = this.subs.get(msg.sub);
        if (!s) return;
        if (s.seq !== null && msg.seq <= s.seq) return; // never deliver twice
        s.seq = msg.seq;
        s.callback({ action: msg.action, record: msg.record, seq: msg.seq });
        return;
      }
      case "subscribed":
        // Live delivery covers everything after msg.seq; a fresh subscription starts there.
        if (sub && sub.seq === null) sub.seq = msg.seq;
        return;
      case "reset":
        if (sub) sub.seq = null;
        this.emit("reset", { id: msg.id, topic: sub && sub.topic, reason: msg.reason, oldest: msg.oldest });
        return;
      case "auth_ok":
        this.emit("auth_ok", msg.record);
        return;
      case "error":
        this.emit("error", msg);
        return;
      default:
        return;
    }
  }
}
