// Realtime load tool: N subscribers (Ferrobase WebSocket or PocketBase-style SSE), a writer at
// R creates/s, per-event delivery latency (create request sent -> event received, same clock) and
// missed events; or N idle subscribers and the server's RSS.
//   node fanout.mjs fanout --proto ws|sse --url U --token T --subs 1000 --rate 100 --seconds 10
//   node fanout.mjs idle --proto ws --url U --subs 10000 --pid PID
// Prints one JSON line.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const args = Object.fromEntries(
  process.argv.slice(3).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const mode = process.argv[2];
const url = args.url;
const now = () => performance.timeOrigin + performance.now();
const COLL = args.collection || "bench_rt";

function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : null;
}

// ---- subscribers -------------------------------------------------------------------------------
function wsSubscriber(onEvent) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws") + "/api/realtime/ws", { perMessageDeflate: false });
    ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", id: "b", topic: `${COLL}/*` })));
    ws.on("message", (data) => {
      const m = JSON.parse(data);
      if (m.type === "subscribed") resolve(ws);
      else if (m.type === "event") onEvent(m.record);
    });
    ws.on("error", reject);
  });
}

function sseSubscriber(onEvent) {
  return new Promise((resolve, reject) => {
    const req = http.get(url + "/api/realtime", { agent: false }, (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = {};
          for (const line of block.split("\n")) {
            const c = line.indexOf(":");
            if (c > 0) ev[line.slice(0, c)] = line.slice(c + 1);
          }
          if (ev.event === "PB_CONNECT") {
            const body = JSON.stringify({ clientId: ev.id, subscriptions: [`${COLL}/*`] });
            const post = http.request(url + "/api/realtime", {
              method: "POST",
              agent: false,
              headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
            }, (r) => {
              r.resume();
              r.statusCode === 204 ? resolve(req) : reject(new Error("subscribe " + r.statusCode));
            });
            post.on("error", reject);
            post.end(body);
          } else if (ev.event && ev.data) {
            onEvent(JSON.parse(ev.data).record);
          }
        }
      });
    });
    req.on("error", reject);
  });
}

async function openSubscribers(n, proto, onEvent) {
  const open = proto === "ws" ? wsSubscriber : sseSubscriber;
  const conns = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) batch.push(open(onEvent));
    conns.push(...(await Promise.all(batch)));
  }
  return conns;
}

// ---- child: a share of the subscribers ---------------------------------------------------------
if (mode === "child") {
  const lat = [];
  const seen = new Map();
  await openSubscribers(Number(args.subs), args.proto, (rec) => {
    lat.push(now() - rec.t);
    seen.set(rec.id, (seen.get(rec.id) || 0) + 1);
  });
  process.send({ ready: true });
  process.on("message", (m) => {
    if (m.report) {
      process.send({ lat, received: lat.length, ids: seen.size });
      setTimeout(() => process.exit(0), 100);
    }
  });
}

// ---- writer ------------------------------------------------------------------------------------
function create(token, i) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ title: "r" + i, t: now() });
    const req = http.request(url + `/api/collections/${COLL}/records`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: token },
    }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

if (mode === "fanout") {
  const subs = Number(args.subs || 1000);
  const rate = Number(args.rate || 100);
  const seconds = Number(args.seconds || 10);
  const procs = Number(args.procs || 2);
  const children = [];
  for (let k = 0; k < procs; k++) {
    const share = Math.floor(subs / procs) + (k < subs % procs ? 1 : 0);
    const c = fork(new URL(import.meta.url).pathname, ["child", "--url", url, "--proto", args.proto, "--subs", String(share), "--collection", COLL]);
    children.push(new Promise((resolve) => c.on("message", (m) => m.ready && resolve(c))));
  }
  const kids = await Promise.all(children);
  console.error(`${subs} subscribers ready`);
  await new Promise((r) => setTimeout(r, 500));
  const total = rate * seconds;
  let ok = 0;
  const start = now();
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(create(args.token, i).then((s) => (ok += s ? 1 : 0)));
  }
  console.error(`${total} creates sent`);
  await Promise.all(pending);
  console.error(`${ok} creates answered`);
  await new Promise((r) => setTimeout(r, 2000)); // let deliveries drain
  const reports = await Promise.all(kids.map((c) => new Promise((resolve) => {
    c.on("message", (m) => m.lat && resolve(m));
    c.send({ report: true });
  })));
  const lat = reports.flatMap((r) => r.lat).sort((a, b) => a - b);
  const expected = ok * subs;
  console.log(JSON.stringify({
    system: args.system, scenario: "fanout", proto: args.proto, subscribers: subs, rate, seconds, creates_ok: ok,
    expected_events: expected, received_events: lat.length, missed_events: expected - lat.length,
    p50_ms: pct(lat, 50), p90_ms: pct(lat, 90), p99_ms: pct(lat, 99), max_ms: lat.at(-1) ?? null,
  }));
  process.exit(0);
}

if (mode === "idle") {
  const subs = Number(args.subs || 10000);
  const pid = Number(args.pid);
  const before = rssKb(pid);
  const t0 = now();
  const conns = await openSubscribers(subs, args.proto, () => {});
  const openMs = now() - t0;
  await new Promise((r) => setTimeout(r, 3000));
  const after = rssKb(pid);
  console.log(JSON.stringify({
    system: args.system, scenario: "idle", proto: args.proto, subscribers: conns.length, open_ms: Math.round(openMs),
    rss_before_mb: before / 1024, rss_after_mb: after / 1024, per_conn_kb: (after - before) / conns.length,
  }));
  process.exit(0);
}
