// Accessibility and layout sweep over the main pages, at 1280 px and 390 px, light and dark:
// every input/select/textarea has a computed accessible name (from Chromium's accessibility tree),
// keyboard focus is visible on every tab stop, nothing overflows the viewport sideways, the colour
// scheme follows the system, and a few flows work from the keyboard alone. With SCREENSHOTS=1 it
// also writes docs/screenshots/<page>-<desktop|phone>-<light|dark>.png for the README.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const SHOTS = process.env.SCREENSHOTS === '1' ? resolve(here, '../../../docs/screenshots') : null;
const SHOT_PAGES = new Set(['collections', 'editor', 'records', 'record-form', 'webhooks', 'superusers', 'settings', 'settings-mail', 'logs', 'backups']);

/** Controls without a computed accessible name, described for the failure message. */
export async function unnamedControls(page, cdp) {
  const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
  const { nodeIds } = await cdp.send('DOM.querySelectorAll', {
    nodeId: root.nodeId,
    selector: 'input:not([type=hidden]), select, textarea',
  });
  const bad = [];
  for (const nodeId of nodeIds) {
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const node = nodes.find((n) => !n.ignored) ?? nodes[0];
    if (node?.ignored) continue; // not exposed (e.g. inside a closed <details>)
    const name = node?.name?.value ?? '';
    if (!String(name).trim()) {
      const { outerHTML } = await cdp.send('DOM.getOuterHTML', { nodeId });
      bad.push(outerHTML.slice(0, 160));
    }
  }
  return { count: nodeIds.length, bad };
}

/** Tabs through up to `n` stops; returns the ones without a visible focus indicator. */
async function invisibleFocus(page, n = 25) {
  await page.evaluate(() => {
    document.activeElement?.blur();
    window.scrollTo(0, 0);
  });
  const bad = [];
  let stops = 0;
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    const r = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
      const ring = s.boxShadow && s.boxShadow !== 'none';
      return { ok: outline || ring, what: el.outerHTML.slice(0, 120) };
    });
    if (r) stops++;
    if (r && !r.ok) bad.push(r.what);
  }
  return { bad, stops };
}

export async function a11yScenario({ browser, ui, apiBase, token, watch, login }, collection) {
  const pages = [
    { key: 'collections', path: '#/collections', ready: (p) => p.getByRole('heading', { name: 'Collections' }) },
    { key: 'collection', path: `#/collections/${collection}`, ready: (p) => p.getByRole('heading', { name: 'API rules' }) },
    { key: 'editor', path: `#/collections/${collection}/edit`, ready: (p) => p.getByRole('heading', { name: `Edit ${collection}` }) },
    { key: 'records', path: `#/collections/${collection}/records`, ready: (p) => p.locator('tbody tr.rec').first() },
    {
      key: 'record-form',
      path: `#/collections/${collection}/records`,
      ready: async (p) => {
        await p.locator('tbody tr.rec').first().waitFor();
        await p.getByRole('button', { name: 'New record' }).click();
        return p.getByRole('dialog');
      },
    },
    { key: 'api', path: `#/collections/${collection}/api`, ready: (p) => p.getByRole('heading', { name: 'Realtime' }) },
    { key: 'webhooks', path: '#/webhooks', ready: (p) => p.getByRole('heading', { name: 'Webhooks' }) },
    { key: 'webhook-new', path: '#/webhooks/new', ready: (p) => p.getByLabel('URL') },
    { key: 'superusers', path: '#/superusers', ready: (p) => p.getByRole('list', { name: 'Superusers' }) },
    { key: 'plugins', path: '#/plugins', ready: (p) => p.getByText('No plugins are loaded') },
    { key: 'settings', path: '#/settings/application', ready: (p) => p.getByLabel('Application name') },
    { key: 'settings-mail', path: '#/settings/mail', ready: (p) => p.getByLabel('Sender address') },
    { key: 'settings-storage', path: '#/settings/storage', ready: (p) => p.getByLabel('Use S3 storage') },
    { key: 'settings-rate-limits', path: '#/settings/rate-limits', ready: (p) => p.getByRole('table', { name: 'Rate limit rules' }) },
    { key: 'settings-proxy', path: '#/settings/proxy', ready: (p) => p.getByText('Client IP headers') },
    { key: 'settings-logs', path: '#/settings/logs', ready: (p) => p.getByLabel('Minimum level') },
    { key: 'settings-batch', path: '#/settings/batch', ready: (p) => p.getByLabel('Timeout (seconds)') },
    { key: 'logs', path: '#/logs', ready: (p) => p.getByRole('table', { name: 'Log entries' }) },
    {
      key: 'log-detail',
      path: '#/logs',
      ready: async (p) => {
        await p.getByRole('table', { name: 'Log entries' }).getByRole('button').first().click();
        return p.getByRole('dialog');
      },
    },
  ];
  // The backups page only where the binary has the backups API (a 404 would fail the run).
  const backups = await fetch(`${apiBase}/api/backups`, { headers: { authorization: token } });
  if (backups.status !== 404) {
    // One backup in the list, so its row's buttons are checked too.
    const made = await fetch(`${apiBase}/api/backups`, {
      method: 'POST',
      headers: { authorization: token, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'a11y_example.zip' }),
    });
    assert.ok(made.ok || made.status === 400, `POST /api/backups → ${made.status}`);
    pages.push({
      key: 'backups',
      path: '#/backups',
      ready: async (p) => {
        await p.getByText('a11y_example.zip', { exact: true }).waitFor();
        return p.getByLabel('Schedule (cron)');
      },
    });
  } else {
    console.log('a11y: backups page skipped: this binary has no /api/backups (404)');
  }
  const report = [];
  let controls = 0;
  let stops = 0;
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  for (const scheme of ['light', 'dark']) {
    for (const [label, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
      const context = await browser.newContext({ viewport, colorScheme: scheme });
      const page = await context.newPage();
      watch(page, `a11y-${label}`, scheme);
      const cdp = await context.newCDPSession(page);
      await cdp.send('DOM.enable');
      await cdp.send('Accessibility.enable');

      // The login page, logged out.
      await page.goto(`${ui}#/login`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      const dark = await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches);
      assert.equal(dark, scheme === 'dark');
      report.push({ scheme, bg });
      const loginNames = await unnamedControls(page, cdp);
      assert.deepEqual(loginNames.bad, [], `login/${label}/${scheme}: controls without a name`);
      await login(page);

      for (const pg of pages) {
        await page.goto(`${ui}${pg.path}`);
        await (await pg.ready(page)).waitFor();
        await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
        const where = `${pg.key}/${label}/${scheme}`;
        const names = await unnamedControls(page, cdp);
        assert.deepEqual(names.bad, [], `${where}: controls without an accessible name`);
        controls += names.count;
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${where}: the page is ${overflow}px wider than the viewport`);
        if (SHOTS && SHOT_PAGES.has(pg.key)) {
          // No focus ring left over from the previous page's keyboard sweep.
          await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
          await page.screenshot({ path: join(SHOTS, `${pg.key}-${label}-${scheme}.png`) });
        }
        if (pg.key !== 'record-form' && pg.key !== 'log-detail') {
          const focus = await invisibleFocus(page);
          assert.deepEqual(focus.bad, [], `${where}: focused elements without a visible indicator`);
          stops += focus.stops;
        }
      }

      // Keyboard only: open a record form from the records page, type, close it with Escape.
      await page.goto(`${ui}#/collections/${collection}/records`);
      await page.locator('tbody tr.rec').first().waitFor();
      await page.getByRole('button', { name: 'New record' }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('dialog').waitFor();
      assert.equal(await page.evaluate(() => !!document.activeElement?.closest('dialog')), true, 'focus moves into the dialog');
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'detached' });
      // The skip link (the first tab stop of a fresh page) moves focus to the main content.
      await page.reload();
      await page.locator('tbody tr.rec').first().waitFor();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Skip to content');
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
      await context.close();
    }
  }
  assert.notEqual(report[0].bg, report[2].bg, 'dark mode changes the page colours');
  console.log(`a11y: ${controls} controls named, ${stops} focus stops visible, backgrounds ${report.map((r) => r.bg).join(' / ')}`);
  return report;
}
