// Collection editor: one field of every type with its type-specific options, a unique multi-field
// index, rules checked live against the server (positioned message under the right input, no
// save needed), auth options of an auth collection, and the dry run of an edit (with `id`).
import assert from 'node:assert/strict';
import { join } from 'node:path';

export async function editorTypesScenario({ browser, ui, api, watch, login, artifacts }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, 'editor-types', 'light');
  const stamp = Date.now().toString(36);
  const target = `authors_${stamp}`;
  await api('POST', '/api/collections', { name: target, type: 'base', fields: [{ name: 'name', type: 'text' }] });
  await login(page);
  await page.getByRole('link', { name: 'New collection' }).click();
  const name = `types_${stamp}`;
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
  const title = await add('text', 'title');
  await title.getByLabel('Pattern (regex)').fill('^[A-Z]');
  await title.getByLabel('Presentable').check();
  await (await add('number', 'n')).getByLabel('Max', { exact: true }).fill('10');
  await add('bool', 'flag');
  await (await add('email', 'contact')).getByLabel('Only domains').fill('example.com, example.org');
  await (await add('url', 'site')).getByLabel('Except domains').fill('bad.example');
  await (await add('editor', 'body')).getByLabel('Convert URLs').check();
  const date = await add('date', 'due');
  await date.getByLabel(/^Min date/).fill('2020-01-02T03:04:05');
  await date.getByLabel('Help text').fill('When it is due');
  await (await add('autodate', 'touched')).getByLabel('Set on update').check();
  const sel = await add('select', 'tags');
  await sel.getByLabel('Values').fill('a, b, c');
  await sel.getByLabel('Max select').fill('2');
  await add('json', 'meta');
  const rel = await add('relation', 'authors');
  await rel.getByLabel('Collection', { exact: true }).selectOption({ label: target });
  await rel.getByLabel('Max select').fill('3');
  await rel.getByLabel('Cascade delete').check();
  await (await add('password', 'pin')).getByLabel('Min length').fill('4');
  const geo = await add('geoPoint', 'where');
  await geo.getByText('geoDistance').waitFor();

  // A unique index over two fields.
  await page.getByRole('button', { name: 'Add index' }).click();
  await page.getByLabel('Index 1 name').fill(`idx_${stamp}_contact_title`);
  const ix = page.locator('fieldset.index').first();
  await ix.getByLabel('Unique').check();
  await ix.getByRole('group', { name: 'Index 1 columns' }).getByLabel('contact', { exact: true }).check();
  await ix.getByRole('group', { name: 'Index 1 columns' }).getByLabel('title', { exact: true }).check();

  // Rules: the server's positioned message appears while typing, without a save.
  const list = page.locator('#rule-listRule');
  await list.locator('..').getByLabel('Superusers only').uncheck();
  await list.fill('title = &&');
  const err = page.locator('#rule-listRule-err');
  await err.waitFor();
  assert.match(await err.innerText(), /at \d+/);
  assert.equal(await list.getAttribute('aria-invalid'), 'true');
  await page.screenshot({ path: join(artifacts, 'editor-live-rule.png'), fullPage: true });
  await list.fill('title != "" && n < 5');
  await err.waitFor({ state: 'detached' });
  // A rule naming an unknown field is refused by the same dry run, under the view rule.
  const view = page.locator('#rule-viewRule');
  await view.locator('..').getByLabel('Superusers only').uncheck();
  await view.fill('nope = 1');
  await page.locator('#rule-viewRule-err').waitFor();
  await view.fill('');
  await page.locator('#rule-viewRule-err').waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'Create collection' }).click();
  await page.getByRole('heading', { name, exact: true }).waitFor();

  const col = await api('GET', `/api/collections/${name}`);
  const f = Object.fromEntries(col.fields.map((x) => [x.name, x]));
  const targetCol = await api('GET', `/api/collections/${target}`);
  assert.deepEqual(
    col.fields.map((x) => `${x.name}:${x.type}`),
    ['id:text', 'title:text', 'n:number', 'flag:bool', 'contact:email', 'site:url', 'body:editor', 'due:date',
      'touched:autodate', 'tags:select', 'meta:json', 'authors:relation', 'pin:password', 'where:geoPoint'],
  );
  assert.equal(f.title.pattern, '^[A-Z]');
  assert.equal(f.title.presentable, true);
  assert.equal(f.n.max, 10);
  assert.deepEqual(f.contact.onlyDomains, ['example.com', 'example.org']);
  assert.deepEqual(f.site.exceptDomains, ['bad.example']);
  assert.equal(f.body.convertURLs, true);
  assert.equal(f.due.min, '2020-01-02 03:04:05.000Z');
  assert.equal(f.due.help, 'When it is due');
  assert.equal(f.touched.onUpdate, true);
  assert.deepEqual(f.tags.values, ['a', 'b', 'c']);
  assert.equal(f.tags.maxSelect, 2);
  assert.equal(f.authors.collectionId, targetCol.id);
  assert.equal(f.authors.maxSelect, 3);
  assert.equal(f.authors.cascadeDelete, true);
  assert.equal(f.pin.min, 4);
  assert.equal(col.listRule, 'title != "" && n < 5');
  assert.equal(col.viewRule, '');
  assert.equal(col.createRule, null);
  assert.equal(col.indexes.length, 1);
  assert.match(col.indexes[0], /^CREATE UNIQUE INDEX `idx_\w+` ON `\w+` \(`contact`, `title`\)/);

  // Editing: the dry run carries the collection's id (a duplicate field name is an update error,
  // shown under that field), nothing is saved until the button.
  await page.getByRole('link', { name: 'Edit collection' }).click();
  await page.getByLabel('Collection name').waitFor();
  await page.locator('fieldset.index').first().getByLabel('Unique').waitFor();
  await cards.nth(2).getByLabel('Name', { exact: true }).fill('title');
  await cards.nth(2).locator('.field-error').waitFor();
  await cards.nth(2).getByLabel('Name', { exact: true }).fill('n');
  await cards.nth(2).locator('.field-error').waitFor({ state: 'detached' });
  await page.locator('#rule-deleteRule').locator('..').getByLabel('Superusers only').uncheck();
  await page.locator('#rule-deleteRule').fill('(title = "x"');
  await page.locator('#rule-deleteRule-err').waitFor();
  assert.equal((await api('GET', `/api/collections/${name}`)).deleteRule, null);

  // Auth collections: the auth rules and options, checked the same way.
  await page.goto(`${ui}#/new-collection`);
  await page.getByLabel('Collection name').fill(`members_${stamp}`);
  await page.getByLabel('Collection type').selectOption('auth');
  await page.locator('#rule-manageRule').waitFor();
  await page.getByLabel('Auth token').fill('5');
  await page.locator('#auth-authToken-err').waitFor();
  await page.getByLabel('Auth token').fill('3600');
  await page.locator('#auth-authToken-err').waitFor({ state: 'detached' });
  await page.getByLabel('One-time password (email)').check();
  await page.locator('#rule-authRule').fill('verified = true');
  await page.getByRole('button', { name: 'Create collection' }).click();
  await page.getByRole('heading', { name: `members_${stamp}`, exact: true }).waitFor();
  const members = await api('GET', `/api/collections/members_${stamp}`);
  assert.equal(members.authToken.duration, 3600);
  assert.equal(members.otp.enabled, true);
  assert.equal(members.authRule, 'verified = true');
  await context.close();
  return { name, target };
}
