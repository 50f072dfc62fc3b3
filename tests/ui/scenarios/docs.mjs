// The API docs at /api/docs (RapiDoc, embedded in the binary): a guest sees the collections whose
// rules let guests in and not the superuser-only one; logging in through the page's bar reloads
// the description as a superuser (the smoke collection appears), and "try it" on that collection's
// list runs against this server with the superuser's token and shows its record.
import assert from 'node:assert/strict';

export async function docsScenario({ browser, apiBase, email, password, watch }, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, 'docs', 'light');
  await page.goto(`${apiBase}/api/docs`);
  const listOp = (collection) => page.locator(`[id="get-/api/collections/${collection}/records"]`);
  // A guest: `users` (rules for its owners) is described, the superuser-only collection is not.
  await listOp('users').first().waitFor({ state: 'attached' });
  assert.equal(await listOp(name).count(), 0, 'superuser-only collection hidden from guests');

  await page.getByLabel('Superuser email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(`Logged in as ${email}.`).waitFor();
  const op = listOp(name).first();
  await op.waitFor({ state: 'attached' });
  await op.scrollIntoViewIfNeeded();
  await op.getByRole('button', { name: 'TRY', exact: true }).click();
  // RapiDoc prints the body of the response: the smoke record, which only a superuser's token
  // can list (a request without the token gets a 403 and no record).
  await op.getByText('"first"', { exact: false }).first().waitFor();
  await context.close();
}
