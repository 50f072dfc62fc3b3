// The todo app in headless Chromium against a running Ferrobase that serves it (FB_URL; test.sh
// starts one with `--public examples/todo/public` and the schema applied): sign-up, login, two
// users who each see only their own todos, a second tab of the same user that sees a new todo,
// a toggle and a delete live, and the rules refusing a forged owner over REST.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const URL_ = process.env.FB_URL;
assert.ok(URL_, "FB_URL must be set (run test.sh)");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const errors = [];

async function open(context) {
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  // Expected 4xx answers (a wrong password) are logged by the browser as "Failed to load resource".
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  await page.goto(URL_ + "/");
  await page.waitForSelector("body[data-ready]");
  return page;
}

async function signup(page, email, password) {
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#signup");
  await page.waitForSelector('body[data-ready="app"]');
  assert.equal(await page.textContent("#me"), email);
}

async function add(page, title) {
  await page.fill("#title", title);
  await page.press("#title", "Enter");
  await page.locator("#todos li", { hasText: title }).waitFor();
}

const titles = (page) => page.locator("#todos li span").allTextContents();

async function eventually(fn, what, ms = 5000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      if (Date.now() > deadline) throw new Error(`${what}: ${last.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

let failed = false;
try {
  // Two users in two browser contexts (separate localStorage = separate logins).
  const aliceCtx = await browser.newContext();
  const bobCtx = await browser.newContext();
  const alice = await open(aliceCtx);
  assert.equal(await alice.isVisible("#auth-form"), true, "logged out at first");
  await signup(alice, "alice@example.com", "alice-Passw0rd");
  const bob = await open(bobCtx);
  await signup(bob, "bob@example.com", "bob-Passw0rd");

  await add(alice, "buy milk");
  await add(alice, "write <b>report</b>");
  await add(bob, "walk the dog");
  assert.deepEqual(await titles(alice), ["buy milk", "write <b>report</b>"], "text, not HTML");
  assert.deepEqual(await titles(bob), ["walk the dog"]);

  // A second tab of Alice (same context = same login) sees her todos, and a new one live.
  const alice2 = await open(aliceCtx);
  await alice2.waitForSelector('body[data-ready="app"]');
  assert.deepEqual(await titles(alice2), ["buy milk", "write <b>report</b>"]);
  await add(alice, "call mom");
  await eventually(async () => assert.deepEqual(await titles(alice2), ["buy milk", "write <b>report</b>", "call mom"]), "live create in the 2nd tab");
  // ...and the other way round: toggle and delete in the second tab show up in the first.
  await alice2.locator("#todos li", { hasText: "buy milk" }).locator("input[type=checkbox]").check();
  await eventually(async () => assert.equal(await alice.locator("#todos li.done span").textContent(), "buy milk"), "live update in the 1st tab");
  await alice2.click('button[aria-label="Delete call mom"]');
  await eventually(async () => assert.deepEqual(await titles(alice), ["buy milk", "write <b>report</b>"]), "live delete in the 1st tab");
  // Bob saw none of it.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await titles(bob), ["walk the dog"]);

  // Reload keeps the session and the data (from the server, not the page).
  await bob.reload();
  await bob.waitForSelector('body[data-ready="app"]');
  assert.deepEqual(await titles(bob), ["walk the dog"]);

  // Log out, wrong password, log in again.
  await bob.click("#logout");
  await bob.waitForSelector('body[data-ready="auth"]');
  assert.deepEqual(await titles(bob), []);
  await bob.fill("#email", "bob@example.com");
  await bob.fill("#password", "wrong-Passw0rd");
  await bob.click("#login");
  await eventually(async () => assert.match(await bob.textContent("#error"), /authenticate/i), "login error shown");
  await bob.fill("#password", "bob-Passw0rd");
  await bob.click("#login");
  await bob.waitForSelector('body[data-ready="app"]');
  assert.deepEqual(await titles(bob), ["walk the dog"]);

  // The rules, over REST: Bob cannot create a todo owned by Alice, nor read hers by id.
  const token = await bob.evaluate(() => JSON.parse(localStorage.getItem("pocketbase_auth")).token);
  const aliceId = await alice.evaluate(() => JSON.parse(localStorage.getItem("pocketbase_auth")).record.id);
  const forged = await fetch(`${URL_}/api/collections/todos/records`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: token },
    body: JSON.stringify({ title: "forged", user: aliceId }),
  });
  assert.equal(forged.status, 400);
  const aliceTodo = await alice.locator("#todos li").first().getAttribute("data-id");
  const peek = await fetch(`${URL_}/api/collections/todos/records/${aliceTodo}`, { headers: { authorization: token } });
  assert.equal(peek.status, 404);
  const guest = await (await fetch(`${URL_}/api/collections/todos/records`)).json();
  assert.equal(guest.totalItems, 0, "guests see nothing");

  assert.deepEqual(errors, [], "no page errors");
  console.log("todo: ok (sign-up, login, per-user rules, live updates across tabs)");
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
