// The dependency-free WebSocket client in examples/realtime-client.js against Ferrobase: live
// events, then a dropped connection while records keep being created, then automatic reconnect
// and resume from the last seq — every event exactly once, in order.
// Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… node realtime_client.test.mjs
import assert from "node:assert/strict";
import PocketBase from "pocketbase";
import WebSocket from "ws";
import { RealtimeClient } from "../../examples/realtime-client.js";

const url = process.env.FERROBASE_URL;
const pb = new PocketBase(url);
pb.autoCancellation(false);

async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  await pb.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);
  await pb.collections.create({
    name: "rt_client_items",
    type: "base",
    listRule: "",
    viewRule: "",
    createRule: "",
    fields: [{ name: "n", type: "number" }],
  });

  const rt = new RealtimeClient(url, { WebSocket });
  let opens = 0;
  rt.on("open", () => opens++);
  const seen = [];
  rt.subscribe("rt_client_items/*", (e) => seen.push(e));
  await until(() => opens === 1, 5000, "the first connection");
  // Give the subscribe message a moment to be acknowledged before writing.
  await new Promise((r) => setTimeout(r, 200));

  for (let n = 0; n < 5; n++) await pb.collection("rt_client_items").create({ n });
  await until(() => seen.length === 5, 5000, "5 live events");

  // Drop the socket from under the client; write while it is away.
  rt.ws.close();
  for (let n = 5; n < 45; n++) await pb.collection("rt_client_items").create({ n });
  await until(() => opens === 2, 10000, "the reconnect");
  await until(() => seen.length >= 45, 10000, "the replayed events");
  await new Promise((r) => setTimeout(r, 300)); // anything duplicated would arrive now

  assert.equal(seen.length, 45, "each event exactly once");
  assert.deepEqual(
    seen.map((e) => e.record.n),
    Array.from({ length: 45 }, (_, i) => i),
    "in creation order"
  );
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].seq > seen[i - 1].seq, "seq increases");
  assert.ok(seen.every((e) => e.action === "create"));
  rt.close();
  console.log("example realtime client: ok (live, drop, 40 writes while away, resume exactly once in order)");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
