// Records page: 500 rows through the virtualized list (render time and long tasks measured), the
// column picker (kept in localStorage), bulk select + delete with confirm, the record form's
// relation search, date picker and geoPoint inputs, and live rows over the WebSocket protocol
// resuming after a dropped connection (the socket is closed from the test through Playwright's
// WebSocket routing, reconnects are refused while a record is created, then allowed).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';

const ROWS = 500;

async function createMany(api, coll, n, make) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await api('POST', `/api/collections/${coll}/records`, make(i));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

export async function recordsScenario({ browser, ui, api, watch, login, artifacts }) {
  const stamp = Date.now().toString(36);
  const people = `people_${stamp}`;
  const name = `rec_${stamp}`;
  const peopleCol = await api('POST', '/api/collections', {
    name: people, type: 'base', fields: [{ name: 'name', type: 'text', presentable: true }],
  });
  const ada = await api('POST', `/api/collections/${people}/records`, { name: 'Ada Lovelace' });
  await api('POST', `/api/collections/${people}/records`, { name: 'Grace Hopper' });
  await api('POST', '/api/collections', {
    name,
    type: 'base',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'n', type: 'number' },
      { name: 'due', type: 'date' },
      { name: 'loc', type: 'geoPoint' },
      { name: 'author', type: 'relation', collectionId: peopleCol.id, maxSelect: 1 },
    ],
  });
  await createMany(api, name, ROWS, (i) => ({ title: `row ${String(i).padStart(3, '0')}`, n: i }));

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The realtime socket goes through the test: it can drop it and refuse reconnects for a while.
  let current = null;
  let refuse = false;
  let connects = 0;
  await context.routeWebSocket(/\/api\/realtime\/ws/, (ws) => {
    connects++;
    if (refuse) {
      ws.close({ code: 1011, reason: 'refused by the test' });
      return;
    }
    current = { ws, server: ws.connectToServer() };
  });
  await context.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  const page = await context.newPage();
  watch(page, 'records', 'light');
  await login(page);
  await page.goto(`${ui}#/collections/${name}/records`);
  await page.getByRole('cell', { name: 'row 000', exact: true }).waitFor();

  // 500 rows: time from choosing the page size to the rows being in place, and the long tasks
  // (> 50 ms main-thread blocks) while rendering and scrolling to the end.
  const t0 = await page.evaluate(() => performance.now());
  await page.getByLabel('Per page').selectOption(String(ROWS));
  await page.waitForFunction((n) => {
    const s = document.querySelector('.scroller');
    return s && document.querySelector('tbody tr.rec') && s.scrollHeight > n * 30 && /500 records/.test(document.body.innerText);
  }, ROWS);
  const t1 = await page.evaluate(() => performance.now());
  const domRows = await page.locator('tbody tr.rec').count();
  assert.ok(domRows < 80, `virtualized: ${domRows} rows in the DOM for ${ROWS}`);
  const scrollMs = await page.evaluate(async () => {
    const s = document.querySelector('.scroller');
    const start = performance.now();
    for (let i = 1; i <= 30; i++) {
      s.scrollTop = (s.scrollHeight * i) / 30;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }
    return performance.now() - start;
  });
  await page.getByRole('cell', { name: `row ${ROWS - 1}`, exact: true }).waitFor();
  const tasks = await page.evaluate((from) => window.__longTasks.filter((t) => t.start >= from), t0);
  const metrics = {
    rows: ROWS,
    renderMs: Math.round(t1 - t0),
    domRows,
    scroll30FramesMs: Math.round(scrollMs),
    longTasks: tasks.length,
    longTasksWhileRendering: tasks.filter((t) => t.start < t1).length,
    longestTaskMs: Math.round(Math.max(0, ...tasks.map((t) => t.duration))),
    cpuLoad1m: Number(loadavg()[0].toFixed(2)),
  };
  writeFileSync(join(artifacts, 'records-perf.json'), JSON.stringify(metrics, null, 2));
  console.log('records page:', JSON.stringify(metrics));

  // Column picker: hide `n`, survive a reload, show it again.
  await page.getByText('Columns', { exact: true }).click();
  await page.getByRole('group', { name: 'Visible columns' }).getByLabel('n', { exact: true }).uncheck();
  await page.getByRole('button', { name: 'n', exact: true }).waitFor({ state: 'detached' });
  await page.reload();
  await page.getByRole('button', { name: 'title', exact: true }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'n', exact: true }).count(), 0);
  await page.getByText('Columns', { exact: true }).click();
  await page.getByRole('group', { name: 'Visible columns' }).getByLabel('n', { exact: true }).check();
  await page.getByRole('button', { name: 'n', exact: true }).waitFor();
  await page.getByText('Columns', { exact: true }).click();

  // Bulk delete of three rows, after a confirm.
  for (const t of ['row 001', 'row 002', 'row 003']) {
    await page.getByRole('row').filter({ hasText: t }).getByRole('checkbox').check();
  }
  let question = '';
  page.once('dialog', (d) => {
    question = d.message();
    d.accept();
  });
  await page.getByRole('button', { name: 'Delete selected (3)' }).click();
  await page.getByRole('cell', { name: 'row 002', exact: true }).waitFor({ state: 'detached' });
  assert.match(question, /Delete 3 records/);
  const left = await api('GET', `/api/collections/${name}/records?perPage=1&filter=${encodeURIComponent('title ~ "row 00"')}`);
  assert.equal(left.totalItems, 7);

  // The form: relation search, date picker, geo point.
  await page.getByRole('button', { name: 'New record' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel(/^title/).fill('formed');
  await dialog.getByLabel(/^due/).fill('2024-05-06T07:08:09');
  await dialog.getByLabel('loc longitude').fill('12.5');
  await dialog.getByLabel('loc latitude').fill('-45.25');
  await dialog.getByLabel(/^author/).fill('Ada');
  await dialog.getByRole('button', { name: /Ada Lovelace/ }).click();
  await dialog.getByRole('list', { name: 'Selected author' }).getByText('Ada Lovelace').waitFor();
  await page.screenshot({ path: join(artifacts, 'record-form-relation.png') });
  await dialog.getByRole('button', { name: 'Create' }).click();
  await dialog.waitFor({ state: 'detached' });
  const made = await api('GET', `/api/collections/${name}/records?filter=${encodeURIComponent('title = "formed"')}`);
  assert.equal(made.items.length, 1);
  assert.equal(made.items[0].due, '2024-05-06 07:08:09.000Z');
  assert.deepEqual(made.items[0].loc, { lon: 12.5, lat: -45.25 });
  assert.equal(made.items[0].author, ada.id);
  // Editing shows the stored values back.
  await page.goto(`${ui}#/collections/${name}/records?filter=${encodeURIComponent('title = "formed"')}`);
  await page.getByRole('button', { name: `Edit record ${made.items[0].id}` }).click();
  assert.equal(await dialog.getByLabel(/^due/).inputValue(), '2024-05-06T07:08:09');
  assert.equal(await dialog.getByLabel('loc latitude').inputValue(), '-45.25');
  await dialog.getByRole('list', { name: 'Selected author' }).getByText('Ada Lovelace').waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  // Live rows, with resume: drop the socket, create a record while reconnects are refused, let
  // the client back in: the replay (subscribe with `since`) brings the record.
  await page.goto(`${ui}#/collections/${name}/records?filter=${encodeURIComponent('title ~ "live"')}`);
  await page.getByText('● live').waitFor();
  await api('POST', `/api/collections/${name}/records`, { title: 'live one' });
  await page.getByRole('cell', { name: 'live one', exact: true }).waitFor();
  refuse = true;
  const before = connects;
  current.ws.close({ code: 4000, reason: 'dropped by the test' });
  current.server.close();
  await page.getByText('● live').waitFor({ state: 'detached' });
  await api('POST', `/api/collections/${name}/records`, { title: 'live while away' });
  // At least one reconnect is refused after the record was created.
  for (let i = 0; i < 100 && connects === before; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(connects > before, 'the page tried to reconnect');
  refuse = false;
  await page.getByText('● live').waitFor();
  await page.getByRole('cell', { name: 'live while away', exact: true }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'live one', exact: true }).count(), 1);
  await page.screenshot({ path: join(artifacts, 'records-live.png'), fullPage: true });
  await context.close();
  return metrics;
}
