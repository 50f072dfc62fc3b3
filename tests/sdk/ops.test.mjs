// The PocketBase JS SDK's operations services against Ferrobase, unchanged: pb.settings
// (getAll, update, testEmail), pb.logs (getList with filter/sort, getOne, getStats), pb.health
// as a superuser, and pb.collections.getList with filter and sort. Restores the settings it
// changes, since the other SDK tests share the server.
// Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… node ops.test.mjs
import assert from "node:assert/strict";
import PocketBase from "pocketbase";

const url = process.env.FERROBASE_URL;
const pb = new PocketBase(url);
pb.autoCancellation(false);

async function poll(fn, what) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  await pb.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);

  // Settings: PocketBase's shape, secrets hidden, partial updates, validation errors by path.
  const before = await pb.settings.getAll();
  for (const key of ["meta", "smtp", "s3", "backups", "batch", "rateLimits", "trustedProxy", "logs"]) {
    assert.equal(typeof before[key], "object", key);
  }
  assert.equal(before.smtp.password, undefined);
  const updated = await pb.settings.update({ meta: { appName: "SDK Ops" }, smtp: { password: "hidden" } });
  assert.equal(updated.meta.appName, "SDK Ops");
  assert.equal(updated.meta.senderAddress, before.meta.senderAddress);
  assert.equal(updated.smtp.password, undefined);
  await assert.rejects(
    pb.settings.update({ meta: { appURL: "not a url" } }),
    (e) => e.status === 400 && e.response.data.meta.appURL.code === "validation_invalid_url",
  );
  assert.equal(await pb.settings.testEmail("_superusers", "sdk-test@example.com", "verification"), true);
  await assert.rejects(
    pb.settings.testEmail("_superusers", "sdk-test@example.com", "nope"),
    (e) => e.status === 400 && e.response.data.template.code === "validation_in_invalid",
  );
  await pb.settings.update({ meta: { appName: before.meta.appName } });

  // Health: superusers see the proxy details.
  const health = await pb.health.check();
  assert.equal(health.code, 200);
  assert.equal(health.data.realIP, "127.0.0.1");
  assert.equal(health.data.possibleProxyHeader, "");
  assert.equal(typeof health.data.canBackup, "boolean");

  // Collections list with PocketBase's filter and sort.
  const cols = await pb.collections.getList(1, 50, { filter: "system = true", sort: "-name" });
  assert.ok(cols.items.length >= 1);
  assert.ok(cols.items.every((c) => c.system === true));
  const names = cols.items.map((c) => c.name);
  assert.deepEqual(names, [...names].sort().reverse());

  // Logs: the health check above is there (written in batches, so poll), with its fields.
  const filter = pb.filter("data.url = {:url} && data.status = 200 && data.auth = {:auth}", {
    url: "/api/health",
    auth: "_superusers",
  });
  const list = await poll(async () => {
    const l = await pb.logs.getList(1, 5, { filter, sort: "-created" });
    return l.items.length > 0 && l;
  }, "the health check's log entry");
  const entry = list.items[0];
  assert.equal(entry.message, "GET /api/health");
  assert.equal(entry.level, 0);
  assert.equal(entry.data.method, "GET");
  assert.equal(entry.data.auth, "_superusers");
  const one = await pb.logs.getOne(entry.id);
  assert.deepEqual(one, entry);
  await assert.rejects(pb.logs.getOne("0000000000000000"), (e) => e.status === 404);
  const stats = await pb.logs.getStats({ filter });
  assert.ok(stats.length >= 1);
  assert.ok(stats.every((s) => typeof s.total === "number" && s.date.endsWith(":00:00.000Z")));

  // Guests get 401 from every operations API.
  const guest = new PocketBase(url);
  for (const call of [() => guest.settings.getAll(), () => guest.logs.getList(1, 1), () => guest.logs.getStats()]) {
    await assert.rejects(call(), (e) => e.status === 401);
  }
  console.log("ops: ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
