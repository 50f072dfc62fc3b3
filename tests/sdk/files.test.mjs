// File fields through the PocketBase JS SDK, unchanged: create with File/Blob values (the SDK
// turns the body into multipart), append with `field+`, remove with `field-`, pb.files.getURL()
// with and without a thumb, protected files with pb.files.getToken(), and users' avatar.
// Usage: FERROBASE_URL=http://127.0.0.1:PORT SU_EMAIL=… SU_PASSWORD=… node files.test.mjs
import assert from "node:assert/strict";
import PocketBase from "pocketbase";

const url = process.env.FERROBASE_URL;
const su = new PocketBase(url);
su.autoCancellation(false);

// A 2x1 PNG (one red, one blue pixel).
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAADUlEQVR4nGP4zwAE/wEHAAH/4iOeWQAAAABJRU5ErkJggg==",
  "base64",
);

async function fetchBytes(u) {
  const r = await fetch(u);
  return { status: r.status, type: r.headers.get("content-type"), body: Buffer.from(await r.arrayBuffer()) };
}

async function main() {
  await su.collection("_superusers").authWithPassword(process.env.SU_EMAIL, process.env.SU_PASSWORD);
  await su.collections.create({
    name: "sdk_files",
    type: "base",
    listRule: "", viewRule: "", createRule: "", updateRule: "", deleteRule: "",
    fields: [
      { name: "title", type: "text" },
      { name: "docs", type: "file", maxSelect: 5, maxSize: 1024 },
      { name: "image", type: "file", maxSelect: 1, mimeTypes: ["image/png"], thumbs: ["1x1"] },
      { name: "secret", type: "file", maxSelect: 1, protected: true },
    ],
  });

  const pb = new PocketBase(url);
  pb.autoCancellation(false);
  const rec = await pb.collection("sdk_files").create({
    title: "with files",
    docs: [new File(["first"], "first.txt"), new Blob(["second"])],
    image: new File([PNG], "dot.png", { type: "image/png" }),
  });
  assert.equal(rec.docs.length, 2);
  assert.match(rec.docs[0], /^first_[a-z0-9]{10}\.txt$/);
  assert.match(rec.docs[1], /^blob_[a-z0-9]{10}\.txt$/);
  assert.match(rec.image, /^dot_[a-z0-9]{10}\.png$/);

  // getURL builds /api/files/<collectionId>/<id>/<name>; the server answers it.
  const docUrl = pb.files.getURL(rec, rec.docs[0]);
  assert.ok(docUrl.includes(`/api/files/${rec.collectionId}/${rec.id}/`), docUrl);
  const doc = await fetchBytes(docUrl);
  assert.equal(doc.status, 200);
  assert.equal(doc.body.toString(), "first");
  const img = await fetchBytes(pb.files.getURL(rec, rec.image, { thumb: "1x1" }));
  assert.equal(img.status, 200);
  assert.equal(img.type, "image/png");
  assert.ok(img.body.subarray(1, 4).toString() === "PNG");
  const dl = await fetch(pb.files.getURL(rec, rec.image, { download: true }));
  assert.match(dl.headers.get("content-disposition"), /^attachment/);

  // field+ appends uploads, field- removes by name (and the file is gone).
  const more = await pb.collection("sdk_files").update(rec.id, { "docs+": new File(["third"], "third.txt") });
  assert.equal(more.docs.length, 3);
  const less = await pb.collection("sdk_files").update(rec.id, { "docs-": [rec.docs[0]] });
  assert.deepEqual(less.docs, more.docs.slice(1));
  assert.equal((await fetchBytes(docUrl)).status, 404);

  // Checks come back as the SDK's ClientResponseError with PocketBase's codes.
  await assert.rejects(
    pb.collection("sdk_files").update(rec.id, { image: new File(["not an image"], "x.png", { type: "image/png" }) }),
    (e) => e.status === 400 && e.response.data.image.code === "validation_invalid_mime_type",
  );

  // Protected files: with a view rule that needs auth, a file token from an authenticated
  // client (a public view rule would serve them to anyone, as PocketBase does).
  await su.collections.update("sdk_files", { viewRule: "@request.auth.id != ''" });
  const secret = await su.collection("sdk_files").update(rec.id, { secret: new File(["hush"], "hush.txt") });
  const plain = await fetchBytes(pb.files.getURL(secret, secret.secret));
  assert.equal(plain.status, 404);
  await assert.rejects(pb.files.getToken(), (e) => e.status === 401);
  const token = await su.files.getToken();
  const withToken = await fetchBytes(su.files.getURL(secret, secret.secret, { token }));
  assert.equal(withToken.status, 200);
  assert.equal(withToken.body.toString(), "hush");

  // The default users collection takes an avatar, like PocketBase's.
  const user = await pb.collection("users").create({
    email: "avatar@example.com",
    password: "avatar-password-1",
    passwordConfirm: "avatar-password-1",
    avatar: new File([PNG], "portrait.png", { type: "image/png" }),
  });
  assert.match(user.avatar, /^portrait_[a-z0-9]{10}\.png$/);

  await su.collection("sdk_files").delete(rec.id);
  assert.equal((await fetchBytes(pb.files.getURL(rec, rec.image))).status, 404);
  console.log("sdk files: ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
