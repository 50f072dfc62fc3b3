// Superusers (create, change password, delete through the records API), the plugins status page
// and a collection's API preview (snippets for every operation, copied to the clipboard).
import assert from 'node:assert/strict';

export async function superusersScenario({ browser, ui, apiBase, watch, login }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, 'superusers', 'light');
  await login(page);
  await page.getByRole('link', { name: 'Superusers', exact: true }).click();
  await page.getByRole('heading', { name: 'Superusers' }).waitFor();
  const email = `su${Date.now().toString(36)}@example.com`;
  // A mismatched confirmation is the server's field error.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill('first-Passw0rd');
  await page.getByLabel('Confirm password').fill('other-Passw0rd');
  await page.getByRole('button', { name: 'Create superuser' }).click();
  await page.locator('#su-confirm-err').waitFor();
  await page.getByLabel('Confirm password').fill('first-Passw0rd');
  await page.getByRole('button', { name: 'Create superuser' }).click();
  const item = page.getByRole('list', { name: 'Superusers' }).getByRole('listitem').filter({ hasText: email });
  await item.waitFor();
  const signIn = (password) =>
    fetch(`${apiBase}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: email, password }),
    });
  assert.equal((await signIn('first-Passw0rd')).status, 200);

  await item.getByRole('button', { name: `Change password of ${email}` }).click();
  await item.getByLabel('New password', { exact: true }).fill('second-Passw0rd');
  await item.getByLabel('Confirm new password').fill('second-Passw0rd');
  await item.getByRole('button', { name: 'Save password' }).click();
  await item.getByLabel('New password', { exact: true }).waitFor({ state: 'detached' });
  assert.equal((await signIn('first-Passw0rd')).status, 400);
  assert.equal((await signIn('second-Passw0rd')).status, 200);

  page.once('dialog', (d) => d.accept());
  await item.getByRole('button', { name: `Delete superuser ${email}` }).click();
  await item.waitFor({ state: 'detached' });
  assert.equal((await signIn('second-Passw0rd')).status, 400);
  await context.close();
}

export async function pluginsScenario({ browser, watch, login }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, 'plugins', 'light');
  await login(page);
  await page.getByRole('link', { name: 'Plugins', exact: true }).click();
  await page.getByRole('heading', { name: 'Plugins' }).waitFor();
  // The smoke server loads no plugin directory: the page says so (and the request succeeded).
  await page.getByText('No plugins are loaded').waitFor();
  await context.close();
}

export async function apiPreviewScenario({ browser, ui, watch, login }, collection) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(ui).origin });
  const page = await context.newPage();
  watch(page, 'api-preview', 'light');
  await login(page);
  await page.goto(`${ui}#/collections/${collection}`);
  await page.getByRole('link', { name: 'API preview' }).click();
  await page.getByRole('heading', { name: `${collection} API` }).waitFor();
  for (const op of ['List / search', 'View one', 'Create', 'Update', 'Delete', 'Realtime']) {
    await page.getByRole('heading', { name: op, exact: true }).waitFor();
  }
  await page.getByRole('button', { name: 'Copy Create curl snippet' }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, new RegExp(`curl -X POST '.*/api/collections/${collection}/records'`));
  assert.match(copied, /Content-Type: application\/json/);
  await page.getByLabel('JavaScript SDK').check();
  await page.getByRole('button', { name: 'Copy Realtime JavaScript snippet' }).click();
  const sdk = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(sdk, new RegExp(`pb\\.collection\\('${collection}'\\)\\.subscribe\\('\\*'`));
  await context.close();
}
