// The web UI end to end in headless Chromium (issue 10, point 6), driven by playwright-core,
// against a running collector. crates/osprofiler-cli/tests/ui_browser.rs starts the collector,
// fills it with traces from Python OSprofiler and from ours, and runs this file with:
//
//   COLLECTOR_URL   http://127.0.0.1:PORT of `osprofiler serve`
//   SCREENSHOT_DIR  where list.png, trace.png, stats.png, service-map.png, compare.png go
//   UI_TRACES       JSON: { python: [base id], ours: [base id], errors: [base id],
//                           service: { name, ids }, text: { q, ids }, nested: base id }
//                   (ids: the traces the list must show for that filter)
//   CHROMIUM        the browser (default /usr/bin/chromium)
//
// Every step is a test that fails on its own; any page error, console error or request to
// another host than the collector fails the step in which it happened.
// The hooks used (ids, classes, data attributes) are listed at the top of trace.js.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.COLLECTOR_URL || '').replace(/\/+$/, '');
const SHOTS = process.env.SCREENSHOT_DIR || '';
const T = JSON.parse(process.env.UI_TRACES || '{}');
const STEP_TIMEOUT = 15_000;

assert.ok(BASE, 'COLLECTOR_URL is not set');
assert.ok(T.python?.length && T.ours?.length, 'UI_TRACES must name Python\'s traces and ours');
const ORIGIN = new URL(BASE).origin;

let browser;
let context;
let page;
/** What went wrong in the page since the last check: page errors, console errors, foreign requests. */
const problems = [];

/** A trace's report as the collector serves it (read here, not in the page). */
async function report(id) {
  const r = await fetch(`${BASE}/api/v1/traces/${encodeURIComponent(id)}`);
  assert.equal(r.status, 200, `GET report ${id}`);
  return r.json();
}

/** The report's points, depth first: { traceId, kind, service, error }. */
function reportPoints(node, out = []) {
  for (const c of node.children || []) {
    const info = c.info || {};
    const stop = Object.entries(info).find(([k]) => k.startsWith('meta.raw_payload.') && k.endsWith('-stop'));
    const etype = stop && stop[1] && stop[1].info ? stop[1].info.etype : null;
    out.push({ traceId: c.trace_id, kind: info.name, service: info.service, error: !!etype });
    reportPoints(c, out);
  }
  return out;
}

/** Waits until `fn(arg)` is truthy in the page; fails with `what` otherwise. */
async function until(what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: STEP_TIMEOUT });
  } catch (e) {
    assert.fail(`${what}: not within ${STEP_TIMEOUT} ms (${e.message.split('\n')[0]})`);
  }
}

async function shot(name) {
  if (!SHOTS) return;
  await page.screenshot({ path: join(SHOTS, name) });
}

/** The base ids in the list's table, in order. */
const listedIds = () => page.$$eval('#traces tbody tr[data-base-id]', (rows) => rows.map((r) => r.dataset.baseId));

/** Waits until the list's table shows exactly `ids` (in any order). */
async function listShows(what, ids) {
  await until(what, (want) => {
    const got = [...document.querySelectorAll('#traces tbody tr[data-base-id]')].map((r) => r.dataset.baseId);
    return got.length === want.length && want.every((id) => got.includes(id));
  }, ids);
  const got = await listedIds();
  assert.deepEqual([...got].sort(), [...ids].sort(), what);
}

async function openTrace(id, hash = '') {
  await page.goto(`${BASE}/traces/${encodeURIComponent(id)}${hash}`);
  await until(`the trace page of ${id} is ready`, () => document.body.dataset.state === 'ready');
  await until('rows drawn', () => document.querySelectorAll('#waterfall .row').length > 0);
}

const rowCount = () => page.$$eval('#waterfall .row', (rows) => rows.length);
const selectedRow = () => page.$eval('#waterfall', (wf) => {
  const r = wf.querySelector('.row.selected');
  return r ? { index: Number(r.dataset.index), traceId: r.dataset.traceId, error: r.classList.contains('error') } : null;
});
const text = (sel) => page.$eval(sel, (e) => e.textContent.trim());

before(async () => {
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  // Everything comes from the collector: a request anywhere else is a failure (and never sent).
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(data|blob):/.test(url) || new URL(url).origin === ORIGIN) return route.continue();
    problems.push(`request to another host: ${url}`);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url || '?'})`);
  });
  page.on('crash', () => problems.push('the page crashed'));
  page.setDefaultTimeout(STEP_TIMEOUT);
});

afterEach(() => {
  const found = problems.splice(0);
  assert.deepEqual(found, [], 'page errors, console errors or requests to another host');
});

after(async () => {
  await browser?.close();
});

// ---- the list ------------------------------------------------------------------------------

test('the list shows the traces of Python OSprofiler and ours', async () => {
  await page.goto(`${BASE}/`);
  await listShows('every trace listed', [...T.python, ...T.ours]);
  // Newest first.
  const times = await page.$$eval('#traces tbody tr[data-base-id] td.time', (tds) => tds.map((td) => td.title));
  assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
  // The error count of an error trace is marked.
  const errorCells = await page.$$eval('#traces tbody tr[data-base-id]', (rows) =>
    rows.filter((r) => r.querySelector('td.errors.some')).map((r) => r.dataset.baseId));
  assert.deepEqual(errorCells.sort(), [...T.errors].sort(), 'error counts marked');
  await until('the scatter plot drawn', () => {
    const c = document.getElementById('scatter');
    return c && c.width > 0 && c.height > 0;
  });
  await shot('list.png');
});

test('the list filters: errors only', async () => {
  await page.check('#f-error');
  await page.click('#apply');
  await listShows('only the traces with errors', T.errors);
  assert.match(page.url(), /[?&]error=true/);
});

test('the list filters: service', async () => {
  await page.uncheck('#f-error');
  await page.fill('#f-service', T.service.name);
  await page.click('#apply');
  await listShows(`only the traces of service ${T.service.name}`, T.service.ids);
});

test('the list filters: text', async () => {
  await page.fill('#f-service', '');
  await page.fill('#f-q', T.text.q);
  await page.press('#f-q', 'Enter');
  await listShows(`only the traces holding "${T.text.q}"`, T.text.ids);
});

test('the list filters clear', async () => {
  await page.click('#clear');
  await listShows('every trace again', [...T.python, ...T.ours]);
  assert.equal(await page.inputValue('#f-q'), '');
  assert.equal(new URL(page.url()).search, '');
  // Back returns to the previous filter.
  await page.goBack();
  await listShows('Back: the text filter again', T.text.ids);
  assert.equal(await page.inputValue('#f-q'), T.text.q);
});

// ---- a trace -------------------------------------------------------------------------------

test('a trace opens from the list', async () => {
  const id = T.ours.find((x) => T.errors.includes(x)) || T.ours[0];
  await page.goto(`${BASE}/`);
  await listShows('every trace listed', [...T.python, ...T.ours]);
  await Promise.all([
    page.waitForURL(`**/traces/${id}`),
    page.click(`#traces tr[data-base-id="${id}"] td.base-id a`),
  ]);
  await until('the trace page is ready', () => document.body.dataset.state === 'ready');
  assert.equal(await text('#trace-title'), id);
  const points = reportPoints(await report(id));
  await until('a row per point', (n) => document.querySelectorAll('#waterfall .row').length === n, points.length);
  const rowIds = await page.$$eval('#waterfall .row', (rows) =>
    rows.sort((a, b) => a.offsetTop - b.offsetTop).map((r) => r.dataset.traceId));
  assert.deepEqual(rowIds, points.map((p) => p.traceId), 'rows in depth-first order');
  assert.match(await text('#fact-points'), new RegExp(`^${points.length} points?$`));
});

test('a subtree collapses and expands', async () => {
  const before = await rowCount();
  const toggles = await page.$$('#waterfall .row .toggle[aria-expanded="true"]');
  assert.ok(toggles.length > 0, 'a point with children');
  // The deepest open toggle that is not the root: collapse hides its children only.
  const last = toggles[toggles.length - 1];
  const children = await last.evaluate((t) => Number(/(\d+) children/.exec(t.title)[1]));
  await last.click();
  await until('rows hidden', (n) => document.querySelectorAll('#waterfall .row').length === n, before - children);
  assert.equal(await last.getAttribute('aria-expanded'), 'false');
  await last.click();
  await until('rows back', (n) => document.querySelectorAll('#waterfall .row').length === n, before);
  // The root collapses to one row.
  await toggles[0].click();
  await until('one row', () => document.querySelectorAll('#waterfall .row').length === 1);
  await toggles[0].click();
  await until('rows back', (n) => document.querySelectorAll('#waterfall .row').length === n, before);
});

test('a point selected by click and keyboard shows its details', async () => {
  const id = await text('#trace-title');
  const points = reportPoints(await report(id));
  const byId = new Map(points.map((p) => [p.traceId, p]));
  // Click the second row (not on its toggle).
  const row = page.locator('#waterfall .row').filter({ has: page.locator('.label') }).nth(1);
  const traceId = await row.getAttribute('data-trace-id');
  const want = byId.get(traceId);
  await row.locator('.label').click();
  await until('the row selected', (t) => document.querySelector(`#waterfall .row.selected[data-trace-id="${t}"]`), traceId);
  assert.equal(await text('#details-trace-id'), traceId);
  assert.equal(await text('#details-kind'), want.kind);
  assert.equal(await text('#details-service'), want.service);
  assert.ok((await text('#details-label')).length > 0, 'a label');
  assert.ok(await page.isVisible('#details-info'), 'the info shown');
  assert.ok(new URL(page.url()).hash === `#point=${encodeURIComponent(traceId)}`, `the URL names the point: ${page.url()}`);
  // The raw notifications.
  for (const [sel, phase] of [['#details-raw-start', 'start'], ['#details-raw-stop', 'stop']]) {
    await page.click(`${sel} summary`);
    const raw = JSON.parse(await text(`${sel} pre`));
    assert.equal(raw.trace_id, traceId, `${phase}: trace id`);
    assert.equal(raw.base_id, id, `${phase}: base id`);
    assert.ok(raw.name.endsWith(`-${phase}`), `${phase}: name ${raw.name}`);
  }
  // Down: the next row.
  const from = await selectedRow();
  await page.focus('#waterfall');
  await page.keyboard.press('ArrowDown');
  await until('the next row selected', (i) => {
    const r = document.querySelector('#waterfall .row.selected');
    return r && Number(r.dataset.index) !== i;
  }, from.index);
  const next = await selectedRow();
  assert.equal(next.traceId, points[points.findIndex((p) => p.traceId === from.traceId) + 1].traceId);
  assert.equal(await text('#details-trace-id'), next.traceId);
  assert.equal(await text('#details-kind'), byId.get(next.traceId).kind);
  // Up: back.
  await page.keyboard.press('ArrowUp');
  await until('the previous row selected', (t) => document.querySelector('#waterfall .row.selected')?.dataset.traceId === t, from.traceId);
});

test('the critical path is listed and leads to its points', async () => {
  const items = await page.$$eval('#critical-path-list li[data-index]', (lis) =>
    lis.map((li) => ({ index: Number(li.dataset.index), traceId: li.dataset.traceId })));
  assert.ok(items.length > 0, 'a critical path');
  const critical = await page.$$eval('#waterfall .row.critical', (rows) => rows.map((r) => r.dataset.traceId));
  assert.deepEqual(critical.sort(), items.map((i) => i.traceId).sort(), 'the critical rows are the listed ones');
  const item = items[items.length - 1];
  await page.click(`#critical-path-list li[data-index="${item.index}"]`);
  await until('the point selected', (t) => document.querySelector('#waterfall .row.selected')?.dataset.traceId === t, item.traceId);
  assert.equal(await text('#details-trace-id'), item.traceId);
  assert.ok(await page.$eval(`#critical-path-list li[data-index="${item.index}"]`, (li) => li.classList.contains('selected')));
});

test('next error jumps to an error row', async () => {
  const errors = (await page.$$eval('#waterfall .row.error', (rows) => rows.map((r) => r.dataset.traceId)));
  assert.ok(errors.length > 0, 'an error row');
  const button = await page.locator('#next-error').boundingBox();
  await page.click('#next-error');
  await until('an error row selected', () => document.querySelector('#waterfall .row.selected.error'));
  const sel = await selectedRow();
  assert.ok(errors.includes(sel.traceId));
  assert.ok((await text('#details-error')).length > 0, 'the error described');
  assert.match(await text('#error-count'), /^error \d+ of \d+$/);
  // The button stays under the pointer for the next click.
  assert.deepEqual(await page.locator('#next-error').boundingBox(), button, 'the next-error button moved');
  // The details of the new point from their top, though the last ones were scrolled down.
  assert.equal(await page.$eval('#details', (d) => d.scrollTop), 0, 'the details pane scrolled to its top');
  // The row's label stays readable beside its error badge.
  const shown = await page.$eval('#waterfall .row.selected .label', (l) => ({ width: l.clientWidth, full: l.scrollWidth }));
  assert.ok(shown.width >= Math.min(shown.full, 80), `the error row's label is squeezed to ${shown.width} px`);
  await shot('trace.png');
});

test('search dims the rows that do not match', async () => {
  const kind = await text('#details-kind');
  const total = await rowCount();
  await page.press('#waterfall', '/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'search', '/ focuses the search');
  await page.keyboard.type(kind);
  await until('rows dimmed', () => document.querySelectorAll('#waterfall .row.dim').length > 0);
  const dim = await page.$$eval('#waterfall .row.dim', (r) => r.length);
  assert.ok(dim < total, 'the matching rows stay lit');
  assert.match(await text('#match-count'), new RegExp(`^\\d+ of ${total} match$`));
  // Hide the others.
  await page.check('#filter-hide');
  await until('rows hidden', (n) => document.querySelectorAll('#waterfall .row').length < n, total);
  await page.uncheck('#filter-hide');
  await page.fill('#search', '');
  await until('no row dimmed', () => document.querySelectorAll('#waterfall .row.dim').length === 0);
  assert.equal(await rowCount(), total);
});

test('the URL names a point to select on load', async () => {
  const id = T.nested || T.ours[0];
  const points = reportPoints(await report(id));
  const deep = points[points.length - 1];
  await openTrace(id, `#point=${encodeURIComponent(deep.traceId)}`);
  await until('the point selected', (t) => document.querySelector('#waterfall .row.selected')?.dataset.traceId === t, deep.traceId);
  assert.equal(await text('#details-trace-id'), deep.traceId);
  assert.equal(await text('#details-kind'), deep.kind);
  assert.equal(await text('#details-service'), deep.service);
});

test('a trace from Python OSprofiler opens', async () => {
  for (const id of T.python) {
    const points = reportPoints(await report(id));
    await openTrace(id);
    await until('a row per point', (n) => document.querySelectorAll('#waterfall .row').length === n, points.length);
    assert.equal(await text('#trace-title'), id);
  }
});

test('the stats tab shows tables', async () => {
  const id = T.ours.find((x) => T.errors.includes(x)) || T.ours[0];
  const points = reportPoints(await report(id));
  await openTrace(id, `#point=${encodeURIComponent(points.find((p) => p.error)?.traceId || points[0].traceId)}`);
  await page.click('[data-tab="stats"]');
  await until('the stats shown', () => !document.getElementById('tab-stats').classList.contains('hidden') &&
    document.querySelectorAll('#stats-kind tbody tr').length > 0);
  const kinds = await page.$$eval('#stats-kind tbody tr', (rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual(kinds.sort(), [...new Set(points.map((p) => p.kind))].sort());
  const services = await page.$$eval('#stats-service tbody tr', (rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual(services.sort(), [...new Set(points.map((p) => p.service))].sort());
  const counts = await page.$$eval('#stats-kind tbody tr td:nth-child(2)', (tds) => tds.map((td) => Number(td.textContent.replace(/,/g, ''))));
  assert.equal(counts.reduce((a, b) => a + b, 0), points.length, 'every point counted once');
  assert.ok(await page.isHidden('#tab-timeline'));
  await shot('stats.png');
});

test('the service map tab shows the services and their calls', async () => {
  const id = await text('#trace-title');
  const points = reportPoints(await report(id));
  await page.click('[data-tab="service-map"]');
  await until('the map drawn', () => document.querySelectorAll('#service-map svg .map-node').length > 0);
  const nodes = await page.$$eval('#service-map svg .map-node', (g) => g.map((n) => n.dataset.service));
  assert.deepEqual(nodes.sort(), [...new Set(points.map((p) => p.service))].sort());
  const edges = await page.$$eval('#service-edges tbody tr', (rows) => rows.length);
  assert.ok(edges > 0, 'calls between services listed');
  await shot('service-map.png');
  // Back to the timeline: rows are drawn again.
  await page.click('[data-tab="timeline"]');
  await until('rows drawn', () => document.querySelectorAll('#waterfall .row').length > 0 &&
    !document.getElementById('tab-timeline').classList.contains('hidden'));
});

// ---- compare -------------------------------------------------------------------------------

test('two traces picked in the list open the compare page', async () => {
  const [a, b] = T.ours.length >= 2 ? T.ours.slice(0, 2) : [T.ours[0], T.python[0]];
  await page.goto(`${BASE}/`);
  await listShows('every trace listed', [...T.python, ...T.ours]);
  assert.ok(await page.isDisabled('#compare'), 'compare needs two traces');
  await page.check(`#traces tr[data-base-id="${a}"] input.pick`);
  assert.ok(await page.isDisabled('#compare'));
  await page.check(`#traces tr[data-base-id="${b}"] input.pick`);
  assert.ok(await page.isEnabled('#compare'));
  await Promise.all([page.waitForURL('**/compare/**'), page.click('#compare')]);
  assert.equal(new URL(page.url()).pathname, `/compare/${a}/${b}`);
  await until('the comparison shown', () => document.querySelectorAll('#by-kind tbody tr').length > 0);
  const [ra, rb] = [reportPoints(await report(a)), reportPoints(await report(b))];
  for (const table of ['by-kind', 'by-service', 'by-name']) {
    const rows = await page.$$eval(`#${table} tbody tr`, (trs) => trs.length);
    assert.ok(rows > 0, `${table} has rows`);
  }
  const kinds = await page.$$eval('#by-kind tbody tr[data-key]', (rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual(kinds.sort(), [...new Set([...ra, ...rb].map((p) => p.kind))].sort());
  assert.ok(await page.isVisible('#only-in-a') && await page.isVisible('#only-in-b'), 'the only-in lists');
  // Both timelines, one above the other, drawn.
  const boxes = [];
  for (const side of ['a', 'b']) {
    const box = await page.locator(`#timeline-${side}`).boundingBox();
    assert.ok(box && box.width > 100 && box.height > 20, `timeline ${side} has a size`);
    boxes.push(box);
    const colours = await page.$eval(`#timeline-${side}`, (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length && seen.size < 4; i += 16) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
      return seen.size;
    });
    assert.ok(colours >= 3, `timeline ${side} is drawn`);
  }
  assert.ok(boxes[0].y + boxes[0].height <= boxes[1].y, 'A above B');
  await shot('compare.png');
});
