// The chat example end to end: two users in one room see each other's messages in order; then
// Alice's socket is killed while Bob keeps writing, then the server is restarted while Bob keeps
// writing; after each, Alice's client resumes from its last seq and sees every message exactly
// once, in order (asserted on the exact sequences, with no history refetch involved).
//
// FB_BIN (the ferrobase binary) is required; test.sh builds it. The test starts the server itself
// so that it can restart it on the same port and data dir.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Chat, api, joinRoom, login } from "./chat.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.FB_BIN;
assert.ok(BIN, "FB_BIN must name the ferrobase binary (run test.sh)");
const SU = { email: "admin@example.com", password: "example-Passw0rd" };

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const dir = mkdtempSync(join(tmpdir(), "ferrobase-chat-"));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
let server = null;

async function startServer() {
  server = spawn(BIN, ["serve", "--http", `127.0.0.1:${port}`, "--dir", dir], { stdio: "ignore" });
  const exited = new Promise((r) => server.once("exit", r));
  server.exited = exited;
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error("ferrobase did not start");
}

async function stopServer() {
  server.kill("SIGTERM");
  await server.exited;
}

async function main() {
  execFileSync(BIN, ["superuser", "upsert", SU.email, SU.password, "--dir", dir]);
  await startServer();
  execFileSync("python3", [join(here, "../schema-import/apply.py"), join(here, "schema.json"),
    "--url", url, "--email", SU.email, "--password", SU.password], { stdio: "ignore" });

  const alice = await login(url, "alice@example.com", "alice-Passw0rd", { signup: true, name: "Alice" });
  const bob = await login(url, "bob@example.com", "bob-Passw0rd", { signup: true, name: "Bob" });
  const room = await joinRoom(url, alice.token, "general");
  assert.equal((await joinRoom(url, bob.token, "general")).id, room.id, "one room by name");
  // Another room's messages never show up.
  const other = await joinRoom(url, bob.token, "random");

  const got = { alice: [], bob: [] };
  const chats = {};
  for (const [name, who] of [["alice", alice], ["bob", bob]]) {
    chats[name] = new Chat(url, {
      token: who.token,
      user: who.record,
      room,
      onMessage: (m) => got[name].push(`${m.author}: ${m.text}`),
    });
    await chats[name].ready;
  }
  const opens = { alice: 0, bob: 0 };
  const closes = { alice: 0, bob: 0 };
  for (const name of ["alice", "bob"]) {
    chats[name].rt.on("open", () => opens[name]++);
    chats[name].rt.on("close", () => closes[name]++);
  }
  await sleep(300); // the subscriptions are acknowledged

  const expected = [];
  const say = async (name, text) => {
    await chats[name].send(text);
    expected.push(`${name === "alice" ? "Alice" : "Bob"}: ${text}`);
  };

  // 1. Live: both see both, in order.
  for (let i = 1; i <= 3; i++) await say("bob", `b${i}`);
  await say("alice", "a1");
  await api(url, "POST", "/api/collections/messages/records",
    { room: other.id, author: bob.record.id, text: "elsewhere" }, bob.token);
  await until(() => got.alice.length >= 4 && got.bob.length >= 4, 5000, "live messages");
  assert.deepEqual(got.alice, expected);
  assert.deepEqual(got.bob, expected);

  // 2. Alice's socket dies; Bob writes while she is away; she resumes from her last seq.
  chats.alice.rt.ws.terminate();
  await until(() => closes.alice >= 1, 5000, "alice's socket to close");
  for (let i = 4; i <= 8; i++) await say("bob", `b${i}`);
  await until(() => opens.alice >= 1, 5000, "alice to reconnect");
  await until(() => got.alice.length >= expected.length, 5000, "resumed messages");
  await say("alice", "a2");
  await until(() => got.alice.length >= expected.length && got.bob.length >= expected.length, 5000, "a2");
  assert.deepEqual(got.alice, expected, "resume after a killed socket: nothing lost or repeated");
  assert.deepEqual(got.bob, expected);

  // 3. The server restarts; Bob writes over REST as soon as it is back, before (or while) the
  //    clients reconnect; both resume from their last seq.
  await stopServer();
  await until(() => closes.alice >= 2 && closes.bob >= 1, 5000, "sockets to close");
  await startServer();
  for (let i = 9; i <= 12; i++) await say("bob", `b${i}`);
  await until(() => opens.alice >= 2 && opens.bob >= 1, 15000, "reconnects after the restart");
  await until(() => got.alice.length >= expected.length && got.bob.length >= expected.length, 5000, "resumed after restart");
  await say("alice", "a3");
  await until(() => got.alice.length >= expected.length && got.bob.length >= expected.length, 5000, "a3");
  await sleep(300); // no late duplicates
  assert.deepEqual(got.alice, expected, "resume after a restart: nothing lost or repeated");
  assert.deepEqual(got.bob, expected);
  assert.equal(chats.alice.resets + chats.bob.resets, 0, "resumed from the change log, no refetch");

  // A late joiner gets the history (the last 50) in order.
  const carol = await login(url, "carol@example.com", "carol-Passw0rd", { signup: true, name: "Carol" });
  const late = [];
  const carolChat = new Chat(url, { token: carol.token, user: carol.record, room,
    onMessage: (m) => late.push(`${m.author}: ${m.text}`) });
  await carolChat.ready;
  assert.deepEqual(late, expected);

  // Rules: nobody can post as someone else.
  await assert.rejects(
    api(url, "POST", "/api/collections/messages/records",
      { room: room.id, author: alice.record.id, text: "forged" }, bob.token),
    (err) => err.status === 400,
  );

  for (const c of [chats.alice, chats.bob, carolChat]) c.close();
  console.log(`chat: ok (${expected.length} messages; killed socket and server restart resumed exactly)`);
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  if (server && server.exitCode === null) await stopServer();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code); // open sockets of a failed run must not keep the process alive
