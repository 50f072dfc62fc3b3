#!/usr/bin/env node
// A terminal chat over Ferrobase's WebSocket realtime protocol, with resume: rooms and messages
// are records, new messages arrive over /api/realtime/ws through examples/realtime-client.js, and
// a dropped connection (network, server restart) is resumed from the last seen `seq`, so nothing
// sent meanwhile is lost or shown twice.
//
//   node chat.mjs --url http://127.0.0.1:8090 --email alice@example.com --password '…' \
//                 [--room general] [--signup --name Alice]
//
// Node >= 20 (Node 20 has no global WebSocket: the `ws` package is passed to the client).
import { RealtimeClient } from "../realtime-client.js";
import WebSocket from "ws";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

export class ApiError extends Error {
  constructor(method, path, status, body) {
    const detail = body && body.message ? `: ${body.message}` : "";
    const fields = body && body.data ? Object.entries(body.data).map(([k, v]) => ` ${k}: ${v.message}`) : [];
    super(`${method} ${path} → ${status}${detail}${fields.join(";")}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(baseUrl, method, path, body, token) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(method, path, res.status, json);
  return json;
}

/** Logs a user in (creating the account first with `signup`); returns { token, record }. */
export async function login(baseUrl, email, password, { signup = false, name = "" } = {}) {
  const auth = () =>
    api(baseUrl, "POST", "/api/collections/users/auth-with-password", { identity: email, password });
  try {
    return await auth();
  } catch (err) {
    if (!signup || err.status !== 400) throw err;
  }
  await api(baseUrl, "POST", "/api/collections/users/records", {
    email,
    password,
    passwordConfirm: password,
    name: name || email.split("@")[0],
  });
  return auth();
}

/** The room record named `name`, created if missing. */
export async function joinRoom(baseUrl, token, name) {
  const find = async () => {
    const q = encodeURIComponent(`name = ${JSON.stringify(name)}`);
    const page = await api(baseUrl, "GET", `/api/collections/rooms/records?filter=${q}&perPage=1`, undefined, token);
    return page.items[0];
  };
  const found = await find();
  if (found) return found;
  try {
    return await api(baseUrl, "POST", "/api/collections/rooms/records", { name }, token);
  } catch (err) {
    const again = err.status === 400 && (await find()); // someone else created it first
    if (again) return again;
    throw err;
  }
}

/**
 * One user in one room. `onMessage({ id, text, author, created, seq })` is called once per
 * message, in order: the recent history first, then live ones. `options.WebSocket` defaults to
 * the `ws` package.
 */
export class Chat {
  constructor(baseUrl, { token, user, room, onMessage, history = 50, WebSocket: WS = WebSocket }) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.user = user;
    this.room = room;
    this.onMessage = onMessage;
    this.history = history;
    this.seen = new Set();
    this.resets = 0;
    this.pending = []; // live events that arrive before the history is shown
    this.loading = true;
    this.rt = new RealtimeClient(baseUrl, { token, WebSocket: WS });
    // Subscribe before reading the history, so nothing falls between the two.
    this.rt.subscribe("messages/*", (e) => this.live(e), {
      filter: `room = ${JSON.stringify(room.id)}`,
      expand: "author",
    });
    // The server's change log no longer reached back to our last seq: refetch what we missed.
    this.rt.on("reset", () => {
      this.resets++;
      this.loadHistory().catch((err) => console.error("refetch failed:", err.message));
    });
    this.ready = this.loadHistory().finally(() => {
      this.loading = false;
      for (const e of this.pending.splice(0)) this.live(e);
    });
  }

  live({ action, record, seq }) {
    if (action !== "create" && action !== "enter") return;
    if (this.loading) {
      this.pending.push({ action, record, seq });
      return;
    }
    this.show(record, seq);
  }

  show(record, seq = null) {
    if (this.seen.has(record.id)) return;
    this.seen.add(record.id);
    const author = record.expand?.author?.name || record.expand?.author?.id || record.author;
    this.onMessage({ id: record.id, text: record.text, author, created: record.created, seq });
  }

  async loadHistory() {
    const q = encodeURIComponent(`room = ${JSON.stringify(this.room.id)}`);
    const page = await api(
      this.baseUrl,
      "GET",
      `/api/collections/messages/records?filter=${q}&sort=-@rowid&perPage=${this.history}&expand=author&skipTotal=1`,
      undefined,
      this.token,
    );
    for (const record of page.items.reverse()) this.show(record);
  }

  send(text) {
    return api(
      this.baseUrl,
      "POST",
      "/api/collections/messages/records",
      { room: this.room.id, author: this.user.id, text },
      this.token,
    );
  }

  close() {
    this.rt.close();
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: "http://127.0.0.1:8090" },
      email: { type: "string" },
      password: { type: "string" },
      room: { type: "string", default: "general" },
      signup: { type: "boolean", default: false },
      name: { type: "string", default: "" },
    },
  });
  if (!values.email || !values.password) {
    console.error("usage: node chat.mjs --url URL --email EMAIL --password PASSWORD [--room NAME] [--signup --name NAME]");
    process.exit(2);
  }
  const { token, record: user } = await login(values.url, values.email, values.password, values);
  const room = await joinRoom(values.url, token, values.room);
  const chat = new Chat(values.url, {
    token,
    user,
    room,
    onMessage: (m) => console.log(`[${(m.created || "").slice(11, 16)}] ${m.author}: ${m.text}`),
  });
  chat.rt.on("close", ({ code }) => chat.rt.closed || console.error(`(disconnected, code ${code}; reconnecting…)`));
  chat.rt.on("open", () => console.error(`(connected to #${room.name} as ${user.name || user.id})`));
  await chat.ready;
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const text = line.trim();
    if (text === "/quit") break;
    if (text) await chat.send(text).catch((err) => console.error(err.message));
  }
  chat.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error("error:", err.message);
    process.exit(1);
  });
}
