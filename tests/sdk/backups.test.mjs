// Backups through the PocketBase JS SDK, unchanged: pb.backups.getFullList(), create(name),
// upload({file}), getDownloadURL(fileToken, key), delete(key) and restore(key) — after which the
// server restarts in place with the restored data (run.sh runs this file after the others).
// Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… node backups.test.mjs
import assert from "node:assert/strict";
import PocketBase from "pocketbase";

const url = process.env.FERROBASE_URL;
const su = new PocketBase(url);
su.autoCancellation(false);

async function waitHealthy(pb, deadlineMs) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const h = await pb.health.check();
      if (h.code === 200) return h;
    } catch (_) {
      // restarting
    }
    assert.ok(Date.now() < until, "server did not come back after the restore");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  await su.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);
  await su.collections.create({
    name: "sdk_backups",
    type: "base",
    listRule: "", viewRule: "", createRule: "",
    fields: [{ name: "title", type: "text" }],
  });
  const kept = await su.collection("sdk_backups").create({ title: "in the backup" });

  const health = await su.health.check();
  assert.equal(health.data.canBackup, true);

  assert.equal(await su.backups.create("sdk_one.zip"), true);
  await assert.rejects(su.backups.create("Bad Name.zip"), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.response.data.name.code, "validation_match_invalid");
    return true;
  });
  let list = await su.backups.getFullList();
  const one = list.find((b) => b.key === "sdk_one.zip");
  assert.ok(one, JSON.stringify(list));
  assert.ok(one.size > 0 && typeof one.modified === "string");

  // Download with a superuser file token.
  const token = await su.files.getToken();
  const dl = await fetch(su.backups.getDownloadURL(token, "sdk_one.zip"));
  assert.equal(dl.status, 200);
  const zip = Buffer.from(await dl.arrayBuffer());
  assert.equal(zip.subarray(0, 2).toString(), "PK");
  const denied = await fetch(su.backups.getDownloadURL("bogus", "sdk_one.zip"));
  assert.equal(denied.status, 403);

  // Upload it under another name, then delete the original.
  const file = new File([zip], "sdk_two.zip", { type: "application/zip" });
  assert.equal(await su.backups.upload({ file }), true);
  assert.equal(await su.backups.delete("sdk_one.zip"), true);
  list = await su.backups.getFullList();
  assert.deepEqual(list.map((b) => b.key).filter((k) => k.startsWith("sdk_")), ["sdk_two.zip"]);
  await assert.rejects(su.backups.delete("sdk_one.zip"), (e) => e.status === 400);

  // Written after the backup: gone after the restore.
  const later = await su.collection("sdk_backups").create({ title: "after the backup" });
  assert.equal(await su.backups.restore("sdk_two.zip"), true);
  await new Promise((r) => setTimeout(r, 300));
  await waitHealthy(su, 20000);
  await su.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);
  const back = await su.collection("sdk_backups").getOne(kept.id);
  assert.equal(back.title, "in the backup");
  await assert.rejects(su.collection("sdk_backups").getOne(later.id), (e) => e.status === 404);
  assert.equal((await su.health.check()).data.canBackup, true);
  await su.backups.delete("sdk_two.zip");
  console.log("backups.test.mjs: ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
