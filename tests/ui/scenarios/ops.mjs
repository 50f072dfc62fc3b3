// The operator pages: settings (app name saved and shown after a reload, a bad URL's field error,
// a test email that lands in the kept mails), logs (a 404 found by `status >= 400`, the detail
// dialog, the per-hour chart following the filter, a filter error, refresh) and backups (create,
// download a zip, upload, restore and the page coming back, delete).
import assert from 'node:assert/strict';
import { readFileSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function open(ctx, label) {
  const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  ctx.watch(page, label, 'light');
  await ctx.login(page);
  return { context, page };
}

export async function settingsScenario(ctx) {
  const { context, page } = await open(ctx, 'settings');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { name: 'Application', exact: true }).waitFor();
  const appName = `Ops ${Date.now().toString(36)}`;
  await page.getByLabel('Application name').fill(appName);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Application settings saved.').waitFor();
  assert.equal((await ctx.api('GET', '/api/settings')).meta.appName, appName);
  await page.reload();
  await page.getByLabel('Application name').waitFor();
  assert.equal(await page.getByLabel('Application name').inputValue(), appName);
  // Nothing changed: saving is disabled.
  assert.equal(await page.getByRole('button', { name: 'Save changes' }).isDisabled(), true);
  assert.equal(await page.title(), `${appName} · Ferrobase`);

  // hideControls hides the collection create/edit controls.
  await page.getByLabel('Hide collection create and edit controls').check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Application settings saved.').first().waitFor();
  await page.getByRole('link', { name: 'Collections', exact: true }).click();
  await page.getByRole('heading', { name: 'Collections' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'New collection' }).count(), 0);
  await page.goto(`${ctx.ui}#/settings/application`);
  await page.getByLabel('Hide collection create and edit controls').uncheck();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByRole('link', { name: 'Collections', exact: true }).click();
  await page.getByRole('link', { name: 'New collection' }).waitFor();
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByLabel('Application URL').waitFor();

  // A bad URL is the server's field error, on the field.
  await page.getByLabel('Application URL').fill('not a url');
  await page.getByRole('button', { name: 'Save changes' }).click();
  const urlErr = page.locator('#s-meta-appURL-err');
  await urlErr.waitFor();
  assert.ok((await urlErr.innerText()).length > 0);
  assert.equal(await page.getByLabel('Application URL').getAttribute('aria-invalid'), 'true');
  assert.notEqual((await ctx.api('GET', '/api/settings')).meta.appURL, 'not a url');
  // Another section shows the unsaved edit in its nav entry; Reset restores the saved value.
  await page.getByRole('link', { name: 'Mail' }).click();
  await page.getByRole('link', { name: /Application.*unsaved/ }).waitFor();
  await page.getByRole('link', { name: /Application/ }).click();
  await page.getByRole('button', { name: 'Reset' }).click();
  assert.notEqual(await page.getByLabel('Application URL').inputValue(), 'not a url');

  // Rate limit rules: a bad label is marked on its row.
  await page.getByRole('link', { name: 'Rate limits' }).click();
  await page.getByRole('button', { name: 'Add rule' }).click();
  const rules = page.getByRole('table', { name: 'Rate limit rules' });
  const n = await rules.locator('tbody tr').count();
  await page.getByLabel(`Rule ${n} label`).fill('bad label!');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.locator(`#s-rateLimits-rules-${n - 1}-label-err`).waitFor();
  await page.getByLabel(`Rule ${n} label`).fill('users:create');
  await page.getByLabel(`Rule ${n} audience`).selectOption('@guest');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Rate limits settings saved.').waitFor();
  const saved = (await ctx.api('GET', '/api/settings')).rateLimits.rules;
  assert.ok(saved.some((r) => r.label === 'users:create' && r.audience === '@guest'), JSON.stringify(saved));

  // A test email with a chosen template is sent (kept by the server without SMTP).
  await page.getByRole('link', { name: 'Mail' }).click();
  await page.getByRole('button', { name: 'Send test email' }).click();
  const dialog = page.getByRole('dialog', { name: 'Send a test email' });
  await dialog.getByLabel('Password reset').check();
  await dialog.getByLabel('To address').fill('bad-address');
  await dialog.getByRole('button', { name: 'Send' }).click();
  await dialog.locator('#test-to-err').waitFor();
  const to = `ops-${Date.now().toString(36)}@example.com`;
  await dialog.getByLabel('To address').fill(to);
  await dialog.getByRole('button', { name: 'Send' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByText(`Test email sent to ${to}.`).waitFor();
  let mail;
  for (let i = 0; i < 50 && !mail; i++) {
    const { items } = await ctx.api('GET', '/api/mails');
    mail = items.find((m) => JSON.stringify(m.to).includes(to));
    if (!mail) await sleep(100);
  }
  assert.ok(mail, 'the test email is kept');
  assert.match(mail.subject, /reset/i);
  await context.close();
}

export async function logsScenario(ctx) {
  const marker = `nope_${Date.now().toString(36)}`;
  const get = (path) => fetch(`${ctx.apiBase}${path}`, { headers: { authorization: ctx.token } });
  assert.equal((await get('/api/health')).status, 200);
  assert.equal((await get(`/api/collections/${marker}/records`)).status, 404);
  // The log is written in the background: wait until the 404 is there.
  const filter = encodeURIComponent(`data.url ~ "${marker}"`);
  for (let i = 0; i < 100; i++) {
    if ((await ctx.api('GET', `/api/logs?filter=${filter}`)).totalItems > 0) break;
    await sleep(100);
  }

  const { context, page } = await open(ctx, 'logs');
  await page.getByRole('link', { name: 'Logs', exact: true }).click();
  await page.getByRole('heading', { name: 'Logs' }).waitFor();
  const table = page.getByRole('table', { name: 'Log entries' });
  await table.waitFor();
  assert.ok((await page.locator('svg rect.bar').count()) > 0, 'the chart has bars');

  await page.getByLabel('Filter', { exact: true }).fill('status >= 400');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/filter=status/);
  // Only errors are listed once the filtered page is in.
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('table[aria-label="Log entries"] tbody tr td:nth-child(2)')];
    return !document.querySelector('[aria-busy="true"]') && cells.length > 0 && cells.every((c) => Number(c.textContent) >= 400);
  });
  const hit = table.getByRole('row').filter({ hasText: `${marker}/records` });
  await hit.waitFor();
  // The chart follows the filter: its total is the list's.
  const count = Number((await page.locator('.count').innerText()).match(/\d+/)[0]);
  const chart = await page.getByRole('img', { name: /Requests per hour/ }).getAttribute('aria-label');
  assert.equal(Number(chart.match(/: (\d+) in/)[1]), count, chart);
  assert.ok((await page.locator('svg rect.bar').count()) > 0);

  // The detail dialog lists every data field.
  await hit.getByRole('button', { name: /^Details of/ }).click();
  const detail = page.getByRole('dialog');
  await detail.getByRole('row', { name: /data\.status\s+404/ }).waitFor();
  for (const k of ['data.method', 'data.url', 'data.execTime', 'data.userAgent', 'data.auth', 'level', 'created']) {
    await detail.getByRole('rowheader', { name: k, exact: true }).waitFor();
  }
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'detached' });

  // The filter survives a reload (it is in the hash).
  await page.reload();
  await hit.waitFor();
  assert.equal(await page.getByLabel('Filter', { exact: true }).inputValue(), 'status >= 400');

  // A new error shows after Refresh.
  const marker2 = `${marker}_b`;
  assert.equal((await get(`/api/collections/${marker2}/records`)).status, 404);
  const hit2 = table.getByRole('row').filter({ hasText: `${marker2}/records` });
  for (let i = 0; i < 50 && !(await hit2.count()); i++) {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await sleep(200);
  }
  await hit2.waitFor();

  // Text without an operator is a search (message, URL, error, IP, auth).
  await page.getByLabel('Filter', { exact: true }).fill(marker2);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  await hit2.waitFor();
  await hit.waitFor({ state: 'detached' });
  const found = await table.locator('tbody tr').allInnerTexts();
  assert.ok(found.length > 0 && found.every((t) => t.includes(marker2)), `search hits only ${marker2}: ${found}`);

  // A broken filter is a message under the box.
  await page.getByLabel('Filter', { exact: true }).fill('status >= &&');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('#logs-filter-err').waitFor();
  await context.close();
}

export async function backupsScenario(ctx) {
  const probe = await fetch(`${ctx.apiBase}/api/backups`, { headers: { authorization: ctx.token } });
  if (probe.status === 404) {
    console.log('backups scenario skipped: this binary has no /api/backups (404)');
    return;
  }
  const { context, page } = await open(ctx, 'backups');
  await page.getByRole('link', { name: 'Backups', exact: true }).click();
  await page.getByRole('heading', { name: 'Backups', exact: true }).waitFor();
  const table = page.getByRole('table', { name: 'Backups' });
  const rowOf = (key) => table.getByRole('row').filter({ has: page.getByText(key, { exact: true }) });
  // A bad name is the server's field error under the input.
  await page.getByLabel('Backup name (optional)').fill('Bad Name!');
  await page.getByRole('button', { name: 'Create backup' }).click();
  await page.locator('#backup-name-err').waitFor();
  // `.zip` is added when left out.
  const base = `ui_${Date.now().toString(36)}`;
  const name = `${base}.zip`;
  await page.getByLabel('Backup name (optional)').fill(base);
  await page.getByRole('button', { name: 'Create backup' }).click();
  const row = rowOf(name);
  await row.waitFor({ timeout: 60000 });

  // Download through a file token: a zip.
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `Download ${name}` }).click()]);
  const file = await download.path();
  assert.equal(readFileSync(file).subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'a zip');

  // Upload it back under another name.
  const uploaded = `up_${name}`;
  const copy = join(mkdtempSync(join(tmpdir(), 'ferrobase-ui-backup-')), uploaded);
  copyFileSync(file, copy);
  await page.locator('input[type=file]').setInputFiles(copy);
  const upRow = rowOf(uploaded);
  await upRow.waitFor({ timeout: 60000 });

  // A record created after the backup is gone once it is restored.
  const later = `after-backup-${Date.now().toString(36)}`;
  const { items: cols } = await ctx.api('GET', '/api/collections?perPage=200');
  const target = cols.find((c) => c.name.startsWith('smoke_'));
  await ctx.api('POST', `/api/collections/${target.name}/records`, { title: later });

  await row.getByRole('button', { name: `Restore ${name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Restore ${name}` });
  const confirmButton = dialog.getByRole('button', { name: 'Restore backup' });
  assert.equal(await confirmButton.isDisabled(), true, 'restore needs the typed name');
  await dialog.getByLabel(/to confirm/).fill(name);
  await confirmButton.click();
  // The page waits for the server, then reloads and shows the list again.
  await page.waitForEvent('load', { timeout: 120000 });
  await page.getByRole('heading', { name: 'Backups', exact: true }).waitFor({ timeout: 60000 });
  await row.waitFor({ timeout: 60000 });
  const { items } = await ctx.api('GET', `/api/collections/${target.name}/records?perPage=500`);
  assert.equal(items.some((r) => r.title === later), false, 'the restore brought back the old data');

  // Delete both (confirmed).
  for (const key of [uploaded, name]) {
    page.once('dialog', (d) => d.accept());
    await rowOf(key).getByRole('button', { name: `Delete ${key}` }).click();
    await rowOf(key).waitFor({ state: 'detached' });
  }
  const left = await ctx.api('GET', '/api/backups');
  assert.equal(left.some((b) => b.key === name || b.key === uploaded), false);
  await context.close();
}
