// The PocketBase JS SDK's realtime (SSE) against Ferrobase, unchanged: subscribe to a collection,
// receive create/update/delete, a filtered subscription, then unsubscribe.
// Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… node realtime.test.mjs
import assert from "node:assert/strict";
import { EventSource } from "eventsource";
import PocketBase from "pocketbase";

globalThis.EventSource = EventSource;

const pb = new PocketBase(process.env.FERROBASE_URL);
pb.autoCancellation(false);

function waiter() {
  const queue = [];
  let wake = null;
  return {
    push(e) {
      queue.push(e);
      if (wake) wake();
    },
    async next(ms = 5000) {
      const deadline = Date.now() + ms;
      while (queue.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error("timed out waiting for a realtime event");
        await new Promise((r) => {
          wake = r;
          setTimeout(r, left);
        });
        wake = null;
      }
      return queue.shift();
    },
    get size() {
      return queue.length;
    },
  };
}

async function main() {
  await pb.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);
  await pb.collections.create({
    name: "sdk_posts",
    type: "base",
    listRule: "",
    viewRule: "",
    createRule: "",
    updateRule: "",
    deleteRule: "",
    fields: [{ name: "title", type: "text" }, { name: "n", type: "number" }],
  });

  const all = waiter();
  const big = waiter();
  const unsubAll = await pb.collection("sdk_posts").subscribe("*", (e) => all.push(e));
  const unsubBig = await pb
    .collection("sdk_posts")
    .subscribe("*", (e) => big.push(e), { filter: "n > 5", fields: "id,n" });

  const rec = await pb.collection("sdk_posts").create({ title: "hello", n: 1 });
  let e = await all.next();
  assert.equal(e.action, "create");
  assert.equal(e.record.id, rec.id);
  assert.equal(e.record.title, "hello");

  const one = waiter();
  const unsubOne = await pb.collection("sdk_posts").subscribe(rec.id, (e) => one.push(e));

  await pb.collection("sdk_posts").update(rec.id, { title: "world", n: 10 });
  e = await all.next();
  assert.equal(e.action, "update");
  assert.equal(e.record.title, "world");
  e = await one.next();
  assert.equal(e.action, "update");
  // Entering the filter arrives as a create (the SDK only knows create/update/delete).
  e = await big.next();
  assert.deepEqual(e, { action: "create", record: { id: rec.id, n: 10 } });

  await pb.collection("sdk_posts").delete(rec.id);
  e = await all.next();
  assert.equal(e.action, "delete");
  assert.equal(e.record.id, rec.id);
  assert.equal((await one.next()).action, "delete");
  assert.equal((await big.next()).action, "delete");

  await unsubAll();
  await unsubBig();
  await unsubOne();
  await pb.collection("sdk_posts").create({ title: "after", n: 100 });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(all.size + big.size + one.size, 0, "no events after unsubscribe");
  pb.realtime.unsubscribe();
  console.log("sdk realtime: ok (create/update/delete, record topic, filtered topic, unsubscribe)");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
