// The PocketBase JS SDK's record and auth flows against Ferrobase, unchanged: superuser login,
// collection setup, user registration and login, authRefresh, CRUD with rules, getList /
// getFullList / getFirstListItem with pb.filter(), expand, batch, password reset request, the
// logged mail, and token revocation after a password change.
// Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… node records_auth.test.mjs
import assert from "node:assert/strict";
import PocketBase from "pocketbase";

const url = process.env.FERROBASE_URL;
const su = new PocketBase(url);
su.autoCancellation(false);

async function main() {
  await su.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);
  assert.ok(su.authStore.isValid && su.authStore.isSuperuser, "superuser auth store");

  const users = await su.collections.getOne("users");
  assert.equal(users.type, "auth");
  const notes = await su.collections.create({
    name: "sdk_notes",
    type: "base",
    listRule: "owner = @request.auth.id",
    viewRule: "owner = @request.auth.id",
    createRule: "@request.auth.id != '' && owner = @request.auth.id",
    updateRule: "owner = @request.auth.id",
    deleteRule: "owner = @request.auth.id",
    fields: [
      { name: "title", type: "text", required: true },
      { name: "n", type: "number" },
      { name: "owner", type: "relation", collectionId: users.id, maxSelect: 1 },
    ],
  });
  assert.equal(notes.name, "sdk_notes");

  // Registration = create on the auth collection; then password login.
  const alice = new PocketBase(url);
  alice.autoCancellation(false);
  const reg = await alice.collection("users").create({
    email: "alice@example.com",
    password: "alice-password-1",
    passwordConfirm: "alice-password-1",
    name: "Alice",
  });
  // Like PocketBase, a guest's sign-up response hides the email unless emailVisibility is set.
  assert.equal(reg.email, undefined);
  const auth = await alice.collection("users").authWithPassword("ALICE@example.com", "alice-password-1");
  assert.equal(auth.record.id, reg.id);
  assert.ok(alice.authStore.isValid && !alice.authStore.isSuperuser);
  const refreshed = await alice.collection("users").authRefresh();
  assert.ok(refreshed.token.length > 20);

  // CRUD under rules, list helpers, pb.filter escaping, expand.
  for (let i = 0; i < 7; i++) {
    await alice.collection("sdk_notes").create({ title: `note "${i}"`, n: i, owner: reg.id });
  }
  const page = await alice.collection("sdk_notes").getList(1, 3, { sort: "-n", expand: "owner" });
  assert.deepEqual([page.page, page.perPage, page.totalItems, page.totalPages], [1, 3, 7, 3]);
  assert.deepEqual(page.items.map((r) => r.n), [6, 5, 4]);
  assert.equal(page.items[0].expand.owner.id, reg.id);
  const all = await alice.collection("sdk_notes").getFullList({ batch: 2, sort: "n" });
  assert.equal(all.length, 7);
  const third = await alice
    .collection("sdk_notes")
    .getFirstListItem(alice.filter("title = {:t} && n >= {:n}", { t: 'note "3"', n: 3 }));
  assert.equal(third.n, 3);
  const updated = await alice.collection("sdk_notes").update(third.id, { "n+": 10 });
  assert.equal(updated.n, 13);
  await alice.collection("sdk_notes").delete(third.id);
  await assert.rejects(alice.collection("sdk_notes").getOne(third.id), (e) => e.status === 404);

  // A guest sees nothing and cannot create.
  const guest = new PocketBase(url);
  guest.autoCancellation(false);
  const none = await guest.collection("sdk_notes").getList(1, 10);
  assert.equal(none.totalItems, 0);
  await assert.rejects(guest.collection("sdk_notes").create({ title: "x", owner: reg.id }), (e) => e.status === 400);

  // Batch (enabled by default) commits all or nothing.
  const batch = alice.createBatch();
  batch.collection("sdk_notes").create({ title: "b1", owner: reg.id });
  batch.collection("sdk_notes").create({ title: "b2", owner: reg.id });
  const results = await batch.send();
  assert.deepEqual(results.map((r) => r.status), [200, 200]);
  const bad = alice.createBatch();
  bad.collection("sdk_notes").create({ title: "b3", owner: reg.id });
  bad.collection("sdk_notes").create({ owner: reg.id });
  await assert.rejects(bad.send(), (e) => e.status === 400);
  assert.equal((await alice.collection("sdk_notes").getList(1, 1, { filter: 'title = "b3"' })).totalItems, 0);

  // Password reset request (no SMTP: the mail is kept for superusers), then revocation.
  // Mail goes out from a background queue, so wait (bounded) for it to be kept.
  await guest.collection("users").requestPasswordReset("alice@example.com");
  let logged = false;
  for (let i = 0; i < 200 && !logged; i++) {
    const mails = await su.send("/api/mails", { method: "GET" });
    const list = Array.isArray(mails) ? mails : mails.items;
    logged = list.some((m) => JSON.stringify(m).includes("alice@example.com"));
    if (!logged) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(logged, "reset mail logged within 5 s");
  const oldToken = alice.authStore.token;
  await alice.collection("users").update(reg.id, {
    oldPassword: "alice-password-1",
    password: "alice-password-2",
    passwordConfirm: "alice-password-2",
  });
  const stale = new PocketBase(url);
  stale.authStore.save(oldToken, null);
  await assert.rejects(stale.collection("users").authRefresh(), (e) => e.status === 401);
  await alice.collection("users").authWithPassword("alice@example.com", "alice-password-2");
  console.log("sdk records+auth: ok (register, login, refresh, rules, lists, filter, expand, batch, reset mail, revocation)");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
