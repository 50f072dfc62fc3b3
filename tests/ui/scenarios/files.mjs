// File fields: a collection with a multiple file field (size with a unit, MIME chips from a preset
// plus one typed, thumb chips accepted exactly when the server accepts them, a live server message
// for too many files) and a protected single file field, created through the editor; the record
// form uploads an image and a text file (multipart), shows thumbs (the protected one through a file
// token) and file links, removes one file, and shows the server's MIME-type, too-many-files and
// size errors under the field; the records list shows thumbs and names. With SCREENSHOTS=1 it
// writes docs/screenshots/record-form-files-<desktop|phone>-<light|dark>.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { unnamedControls } from './a11y.mjs';

const here = new URL('.', import.meta.url).pathname;
const SHOTS = process.env.SCREENSHOTS === '1' ? resolve(here, '../../../docs/screenshots') : null;

// A 2x1 PNG (one red, one blue pixel) and a larger 24x24 one for the screenshots.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAADUlEQVR4nGP4zwAE/wEHAAH/4iOeWQAAAABJRU5ErkJggg==',
  'base64',
);
const png = (name) => ({ name, mimeType: 'image/png', buffer: PNG });
const text = (name, body) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(body) });

/** Every <img> in `scope` has loaded (a broken thumb has naturalWidth 0). */
async function imagesLoaded(scope) {
  await scope.locator('img').first().waitFor();
  await scope.evaluate((el) =>
    Promise.all(
      [...el.querySelectorAll('img')].map((img) =>
        img.complete
          ? null
          : new Promise((done) => {
              img.addEventListener('load', done, { once: true });
              img.addEventListener('error', done, { once: true });
            }),
      ),
    ),
  );
  const broken = await scope.evaluate((el) => [...el.querySelectorAll('img')].filter((i) => i.naturalWidth === 0).map((i) => i.src));
  assert.deepEqual(broken, [], 'every thumb loads');
}

export async function filesScenario({ browser, ui, apiBase, token, api, watch, login, artifacts }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, 'files', 'light');
  const stamp = Date.now().toString(36);
  const name = `files_${stamp}`;
  await login(page);

  // The editor: a `file` type with its options.
  await page.getByRole('link', { name: 'New collection' }).click();
  await page.getByLabel('Collection name').fill(name);
  const cards = page.locator('fieldset.field-card');
  const add = async (type, fieldName) => {
    await page.getByLabel('New field type').selectOption(type);
    const n = await cards.count();
    await page.getByRole('button', { name: 'Add field' }).click();
    const card = cards.nth(n);
    await card.getByLabel('Name', { exact: true }).fill(fieldName);
    return card;
  };
  await add('text', 'title');
  const att = await add('file', 'attachments');
  // Live validation: the server's bound on maxSelect shows under the option, without a save.
  await att.getByLabel('Max files').fill('150');
  await att.locator('.field-error').filter({ hasText: /no greater than 99/ }).waitFor();
  await att.getByLabel('Max files').fill('3');
  await att.locator('.field-error').filter({ hasText: /no greater than 99/ }).waitFor({ state: 'detached' });
  await att.getByLabel('Max size per file', { exact: true }).fill('1');
  await att.getByLabel('Max size per file unit').selectOption({ label: 'MiB' });
  await att.getByText('1 MiB', { exact: true }).waitFor();
  await att.getByRole('button', { name: 'Images', exact: true }).click();
  const mime = att.getByLabel('Allowed MIME types', { exact: true });
  await mime.fill('text/plain');
  await mime.press('Enter');
  await mime.fill('nonsense');
  await mime.press('Enter');
  await att.getByText('"nonsense" is not a MIME type').waitFor();
  await mime.fill('');
  await att.getByText('"nonsense" is not a MIME type').waitFor({ state: 'detached' });
  const thumbs = att.getByLabel('Thumb sizes', { exact: true });
  await thumbs.fill('50x50z');
  await thumbs.press('Enter');
  await att.getByText('"50x50z" is not a thumb size').waitFor();
  // The editor accepts exactly the thumb sizes the server accepts (asked through the dry run).
  const specs = ['50x50t', '0x40', '40x0', '30x30b', '30x30f', '0x0', 'x10', '10x', '10x10z', '100', '5000x10', '4096x4096', '0x0t'];
  const shown = [];
  for (const spec of specs) {
    await thumbs.fill(spec);
    await thumbs.press('Enter');
    if ((await thumbs.inputValue()) === '') shown.push(spec);
  }
  const serverOk = [];
  for (const spec of specs) {
    const r = await fetch(`${apiBase}/api/collections/meta/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: JSON.stringify({ name: `${name}_dry`, type: 'base', fields: [{ name: 'f', type: 'file', thumbs: [spec] }] }),
    });
    assert.ok(r.status === 204 || r.status === 400, `validate ${spec}: ${r.status}`);
    if (r.status === 204) serverOk.push(spec);
  }
  assert.deepEqual(shown, serverOk, 'the editor and the server accept the same thumb sizes');
  const thumbChips = att.getByRole('list', { name: 'attachments Thumb sizes' });
  assert.deepEqual(await thumbChips.locator('li .mono').allInnerTexts(), serverOk);
  await thumbChips.getByRole('button', { name: 'Remove 4096x4096' }).click();
  const keptThumbs = serverOk.filter((t) => t !== '4096x4096');
  const secret = await add('file', 'secret');
  await secret.getByLabel('Protected (downloads need a file token)').check();
  await page.screenshot({ path: join(artifacts, 'files-editor.png'), fullPage: true });
  await page.getByRole('button', { name: 'Create collection' }).click();
  await page.getByRole('heading', { name, exact: true }).waitFor();

  const col = await api('GET', `/api/collections/${name}`);
  const byName = Object.fromEntries(col.fields.map((f) => [f.name, f]));
  assert.equal(byName.attachments.type, 'file');
  assert.equal(byName.attachments.maxSelect, 3);
  assert.equal(byName.attachments.maxSize, 1024 * 1024);
  assert.ok(byName.attachments.mimeTypes.includes('image/png'), JSON.stringify(byName.attachments.mimeTypes));
  assert.ok(byName.attachments.mimeTypes.includes('text/plain'));
  assert.ok(!byName.attachments.mimeTypes.includes('nonsense'));
  assert.deepEqual(byName.attachments.thumbs, keptThumbs);
  assert.equal(byName.secret.protected, true);
  assert.equal(byName.secret.maxSelect, 1);

  // The API preview sends files as multipart (JSON values in @jsonPayload), `f+` appends on update.
  await page.getByRole('link', { name: 'API preview' }).click();
  await page.getByRole('heading', { name: `${name} API` }).waitFor();
  await page.getByText("-F 'attachments=@./attachments.png'").waitFor();
  await page.getByText("-F 'attachments+=@./attachments.png'").waitFor();
  assert.equal(await page.getByText('Content-Type: application/json').count(), 0);
  await page.getByLabel('JavaScript SDK').check();
  await page.getByText(`"attachments": [new File([bytes], 'attachments.png')]`).waitFor();

  // The record form: an image and a text file, plus a protected image; sent as multipart.
  await page.goto(`${ui}#/collections/${name}/records`);
  await page.getByRole('button', { name: 'New record' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel(/^title/).fill('with files');
  const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().includes(`/api/collections/${col.id}/records`));
  await dialog.locator('#rf-attachments').setInputFiles([png('dot.png'), text('notes.txt', 'some notes')]);
  const newList = dialog.getByRole('list', { name: 'attachments files' });
  await newList.getByText('dot.png').waitFor();
  await newList.getByText('notes.txt').waitFor();
  await imagesLoaded(newList); // the local preview of the new image
  await dialog.locator('#rf-secret').setInputFiles([png('hidden.png')]);
  await dialog.getByRole('button', { name: 'Create' }).click();
  assert.match((await sent).headers()['content-type'] ?? '', /^multipart\/form-data/);
  await page.getByRole('cell', { name: 'with files', exact: true }).waitFor();

  let { items } = await api('GET', `/api/collections/${name}/records`);
  assert.equal(items.length, 1);
  const rec = items[0];
  assert.equal(rec.attachments.length, 2);
  assert.match(rec.attachments[0], /^dot_[a-z0-9]{10}\.png$/);
  assert.match(rec.attachments[1], /^notes_[a-z0-9]{10}\.txt$/);
  assert.match(rec.secret, /^hidden_[a-z0-9]{10}\.png$/);

  // The list: thumbs for images (the protected one with a file token), names for other files.
  const row = page.getByRole('row').filter({ hasText: 'with files' });
  await row.getByRole('img', { name: rec.attachments[0] }).waitFor();
  await row.getByText(rec.attachments[1]).waitFor();
  await row.getByRole('img', { name: rec.secret }).waitFor();
  await imagesLoaded(row);
  const cellThumb = await row.getByRole('img', { name: rec.secret }).getAttribute('src');
  assert.match(cellThumb, /thumb=100x100/);
  assert.match(cellThumb, /token=/);

  // Edit: previews of current files; remove the text file.
  await row.getByRole('button', { name: /^Edit/ }).click();
  const files = dialog.getByRole('list', { name: 'attachments files' });
  await files.getByText(rec.attachments[0]).waitFor();
  await imagesLoaded(dialog);
  const thumbSrc = await files.locator('img').first().getAttribute('src');
  assert.ok(thumbSrc.includes(`/api/files/${col.id}/${rec.id}/${rec.attachments[0]}?thumb=100x100`), thumbSrc);
  const docLink = files.getByRole('link', { name: `Open ${rec.attachments[1]}` });
  assert.ok((await docLink.getAttribute('href')).endsWith(`/api/files/${col.id}/${rec.id}/${rec.attachments[1]}`));
  const secretSrc = await dialog.getByRole('list', { name: 'secret files' }).locator('img').getAttribute('src');
  assert.match(secretSrc, /token=/);
  await page.screenshot({ path: join(artifacts, 'files-record-form.png'), fullPage: true });
  await files.getByRole('button', { name: `Remove ${rec.attachments[1]}` }).click();
  await files.getByText('removed on save').waitFor();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
  ({ items } = await api('GET', `/api/collections/${name}/records`));
  assert.deepEqual(items[0].attachments, [rec.attachments[0]]);
  const gone = await fetch(`${apiBase}/api/files/${col.id}/${rec.id}/${rec.attachments[1]}`);
  assert.equal(gone.status, 404);
  await row.getByText(rec.attachments[1]).waitFor({ state: 'detached' });

  // The server's checks, shown under the field: a MIME type outside the list, too many files.
  await row.getByRole('button', { name: /^Edit/ }).click();
  await files.getByText(rec.attachments[0]).waitFor();
  await dialog.locator('#rf-attachments').setInputFiles([{ name: 'data.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 1, 2, 3, 255, 254]) }]);
  await dialog.getByRole('button', { name: 'Save' }).click();
  const err = dialog.locator('#rf-attachments-err');
  await err.waitFor();
  assert.match(await err.innerText(), /"data\.bin" mime type must be one of/);
  await files.getByRole('button', { name: "Don't upload data.bin" }).click();
  await dialog.locator('#rf-attachments').setInputFiles([png('a.png'), png('b.png'), png('c.png')]);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await err.filter({ hasText: 'The maximum allowed files is 3.' }).waitFor();
  // A file over maxSize (1 MiB): flagged in the list, refused by the server while it streams.
  await files.getByRole('button', { name: "Don't upload a.png" }).click();
  await files.getByRole('button', { name: "Don't upload b.png" }).click();
  await files.getByRole('button', { name: "Don't upload c.png" }).click();
  await dialog.locator('#rf-attachments').setInputFiles([text('big.txt', 'x'.repeat(1024 * 1024 + 10))]);
  await files.getByText('larger than 1 MiB').waitFor();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await err.filter({ hasText: /"big\.txt" - the maximum allowed file size is 1048576 bytes/ }).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  ({ items } = await api('GET', `/api/collections/${name}/records`));
  assert.deepEqual(items[0].attachments, [rec.attachments[0]], 'refused saves change nothing');
  await context.close();

  // The record form with files at 1280 and 390 px, light and dark: named controls, no sideways
  // overflow, thumbs load; screenshots for the README with SCREENSHOTS=1.
  const form = new FormData();
  form.append('title', 'Quarterly report');
  form.append('attachments', new Blob([PNG], { type: 'image/png' }), 'chart.png');
  form.append('attachments', new Blob(['Numbers for Q3.'], { type: 'text/plain' }), 'summary.txt');
  form.append('attachments', new Blob([PNG], { type: 'image/png' }), 'cover.png');
  form.append('secret', new Blob([PNG], { type: 'image/png' }), 'signature.png');
  const res = await fetch(`${apiBase}/api/collections/${name}/records`, { method: 'POST', headers: { authorization: token }, body: form });
  assert.equal(res.status, 200, await res.clone().text());
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  for (const scheme of ['light', 'dark']) {
    for (const [label, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
      const ctx = await browser.newContext({ viewport, colorScheme: scheme });
      const p = await ctx.newPage();
      watch(p, `files-${label}`, scheme);
      const cdp = await ctx.newCDPSession(p);
      await cdp.send('DOM.enable');
      await cdp.send('Accessibility.enable');
      await login(p);
      await p.goto(`${ui}#/collections/${name}/records`);
      const r = p.getByRole('row').filter({ hasText: 'Quarterly report' });
      await r.getByRole('button', { name: /^Edit/ }).click();
      const d = p.getByRole('dialog');
      await d.getByRole('list', { name: 'attachments files' }).getByText(/^summary_/).waitFor();
      await d.locator('#rf-attachments').setInputFiles([text('minutes.txt', 'Minutes of the meeting.')]);
      await d.getByText('minutes.txt').waitFor();
      await d.getByRole('button', { name: /^Remove cover_/ }).click();
      await imagesLoaded(d);
      const where = `record-form-files/${label}/${scheme}`;
      const names = await unnamedControls(p, cdp);
      assert.deepEqual(names.bad, [], `${where}: controls without an accessible name`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${where}: the page is ${overflow}px wider than the viewport`);
      if (SHOTS) await p.screenshot({ path: join(SHOTS, `record-form-files-${label}-${scheme}.png`) });
      await ctx.close();
    }
  }
  console.log('files: ok');
}
