// The trace page's speed in headless Chromium (issue 10, point 5 and "Speed"), for BENCHMARKS.md.
// scripts/bench_ui.sh makes the pages and runs this; it can also be run on its own:
//
//   node crates/osprofiler-ui/e2e/perf.mjs [--runs N] [--search WORD] [--json FILE] PAGE.html...
//
//   PAGE.html   offline trace pages (`osprofiler trace show FILE --html --out PAGE.html`)
//   --runs N    loads of each page (default 5); each load is a fresh browser context, and the
//               runs go round the pages (page 1, 2, ..., 1, 2, ...) so a noisy spell hits all
//   --search W  the word searched for (default "volume": in some points, not in all)
//   --json F    also write every sample as JSON
//   CHROMIUM    the browser (default /usr/bin/chromium)
//
// Prints one Markdown table: a row per measure, a column per page, each cell the median over
// the runs with the min and max. Exits 1 if any page failed to load or any step failed (an
// element missing, the page not in the expected state after the step, a page error).
//
// What is measured (all in ms; the page's own clock, performance.now(), 0 = navigation start):
//
// Loading, from the marks trace.js sets (osp:report when the embedded report is decoded and
// parsed, osp:model when OspModel has built the points and the critical path, osp:first-render
// in the first animation frame after the page was built, before it is painted) and:
//   interactive   the later of (a) the first idle period after the first render: a
//                 requestIdleCallback asked for as soon as a PerformanceObserver sees the
//                 osp:first-render mark, timed when it runs, and (b) the end of the last long
//                 task (>= 50 ms, PerformanceObserver 'longtask', observed from document
//                 creation) before a quiet window of 500 ms with no long task. That is
//                 Lighthouse's TTI with a 500 ms window instead of 5 s (nothing in the page
//                 runs late: no network, no timers).
//   after report  interactive minus osp:report: the issue's "interactive after the report
//                 arrives" (the report of the offline page is embedded, so it arrives with the
//                 page; decoding it is counted before this mark).
//   JS heap       performance.memory.usedJSHeapSize once interactive (MB, precise memory info).
//
// Steps, once the page is interactive, in this order on the same page: each is timed in the
// page from just before the action (a DOM event dispatched, or scrollTop set) to the second
// requestAnimationFrame callback after it, i.e. the next frame after the one in which the page
// drew the change has been produced ("to the next painted frame"); so a step takes at least one
// frame (~16.7 ms at 60 Hz) and is rounded up to frames. Before each step the page is left to
// settle (two frames and an idle callback), not timed. After each step its result is checked.
//   scroll 1 page     #waterfall.scrollTop += its height; rows are drawn in the new viewport
//   scroll to middle  scrollTop to the middle of the list; rows drawn there
//   select (click)    click on a row in the viewport; it becomes .selected, #details shows it
//   key down          ArrowDown; the next row is selected
//   collapse root     back to the top (untimed), click the first root's .toggle; aria-expanded=false
//   expand root       click it again; aria-expanded=true
//   depth 1           #depth [data-depth="1"]: every subtree collapsed
//   depth all         #depth [data-depth="all"]: everything expanded again
//   search            the word typed into #search (untimed, no event) and Enter pressed in it
//                     (the page applies the filter at once and jumps to the first match);
//                     #match-count says how many match. The first search also builds the
//                     searchable text of every point.
//   clear search      Escape in #search; #match-count empty
//   search again      the same word again (the searchable text is built)

import { chromium } from 'playwright-core';
import { writeFileSync, existsSync, statSync } from 'node:fs';
import { resolve, basename } from 'node:path';
import { pathToFileURL } from 'node:url';

const LOAD_TIMEOUT = 180_000;
const STEP_TIMEOUT = 60_000;
const QUIET_MS = 500;

function parseArgs(argv) {
  const o = { runs: 5, search: 'volume', json: null, pages: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') o.runs = Number(value());
    else if (a === '--search') o.search = value();
    else if (a === '--json') o.json = value();
    else if (a === '-h' || a === '--help') {
      console.log('usage: node perf.mjs [--runs N] [--search WORD] [--json FILE] PAGE.html...');
      process.exit(0);
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.pages.push(a);
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs must be a positive integer');
  if (!o.pages.length) throw new Error('no page given (usage: node perf.mjs [--runs N] PAGE.html...)');
  for (const p of o.pages) if (!existsSync(p)) throw new Error(`no such page: ${p}`);
  return o;
}

/** Runs in the page before its own scripts: long tasks, and an idle callback after first render. */
function initScript() {
  const osp = (window.__ospPerf = { longTasks: [], idle: null });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) osp.longTasks.push([e.startTime, e.startTime + e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {
    osp.longTaskError = String(e);
  }
  const marks = new PerformanceObserver((list) => {
    if (!list.getEntries().some((e) => e.name === 'osp:first-render')) return;
    marks.disconnect();
    requestIdleCallback(() => { osp.idle = performance.now(); });
  });
  marks.observe({ type: 'mark', buffered: true });
}

/** In the page: waits for the quiet window, returns the load measures. */
async function loadMeasures(quietMs) {
  const osp = window.__ospPerf;
  const mark = (name) => {
    const e = performance.getEntriesByName(name, 'mark')[0];
    return e ? e.startTime : null;
  };
  const firstRender = mark('osp:first-render');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const lastLongEnd = () => osp.longTasks.reduce((m, t) => Math.max(m, t[1]), 0);
  for (;;) {
    const quietSince = Math.max(firstRender, osp.idle ?? Infinity, lastLongEnd());
    if (osp.idle !== null && performance.now() - quietSince >= quietMs) break;
    await sleep(50);
  }
  const nav = performance.getEntriesByType('navigation')[0];
  const interactive = Math.max(firstRender, osp.idle, lastLongEnd());
  const report = mark('osp:report');
  return {
    points: (document.getElementById('fact-points')?.textContent || '').replace(/\D/g, ''),
    domContentLoaded: nav ? nav.domContentLoadedEventStart : null,
    report,
    model: mark('osp:model'),
    firstRender,
    idle: osp.idle,
    interactive,
    afterReport: interactive - report,
    longTasks: osp.longTasks.length,
    longTaskError: osp.longTaskError || null,
    heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null,
  };
}

/** In the page: settles, runs one step, times it to the second animation frame, checks it. */
async function runStep({ step, word }) {
  const $ = (sel) => document.querySelector(sel);
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const idle = () => new Promise((r) => requestIdleCallback(r, { timeout: 1000 }));
  const need = (sel) => {
    const el = $(sel);
    if (!el) throw new Error(`${step}: no element ${sel}`);
    return el;
  };
  const wf = need('#waterfall');
  /** Rows drawn inside the waterfall's viewport. */
  const rowsInView = () => {
    const box = wf.getBoundingClientRect();
    return [...wf.querySelectorAll('.row[data-index]')].filter((r) => {
      const b = r.getBoundingClientRect();
      return b.bottom > box.top + 1 && b.top < box.bottom - 1;
    });
  };
  const rowFor = (i) => wf.querySelector(`.row[data-index="${i}"]`);
  const selectedIndex = () => {
    const r = wf.querySelector('.row.selected[data-index]');
    return r ? Number(r.dataset.index) : -1;
  };
  const key = (target, k) => target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
  /** Scrolls (untimed) so that the top of the list is on screen. */
  const toTop = async () => {
    if (wf.scrollTop !== 0) {
      wf.scrollTop = 0;
      await frames();
    }
  };

  await frames();
  await idle();

  // Each case: prepare (untimed) and return { act, check }.
  let act;
  let check;
  switch (step) {
    case 'scroll 1 page':
    case 'scroll to middle': {
      const before = wf.scrollTop;
      const max = wf.scrollHeight - wf.clientHeight;
      const target = step === 'scroll 1 page' ? Math.min(max, before + wf.clientHeight) : max / 2;
      if (Math.abs(target - before) < 1) throw new Error(`${step}: nothing to scroll (scrollHeight ${wf.scrollHeight})`);
      act = () => { wf.scrollTop = target; };
      check = () => {
        if (Math.abs(wf.scrollTop - before) < 1) throw new Error(`${step}: #waterfall did not scroll`);
        if (!rowsInView().length) throw new Error(`${step}: no .row[data-index] drawn in the viewport`);
      };
      break;
    }
    case 'select (click)': {
      const rows = rowsInView().filter((r) => !r.classList.contains('selected'));
      const row = rows[Math.min(2, rows.length - 1)];
      if (!row) throw new Error(`${step}: no .row[data-index] in the viewport`);
      const i = Number(row.dataset.index);
      const label = row.querySelector('.label') || row;
      act = () => label.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
      check = () => {
        if (selectedIndex() !== i) throw new Error(`${step}: row ${i} not .selected`);
        if (!(need('#details-label').textContent || '').trim()) throw new Error(`${step}: #details-label empty`);
      };
      break;
    }
    case 'key down': {
      const before = selectedIndex();
      if (before < 0) throw new Error(`${step}: no row selected before`);
      if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
      act = () => key(document.body, 'ArrowDown');
      check = () => {
        const now = selectedIndex();
        if (now < 0 || now === before) throw new Error(`${step}: selection did not move (row ${before})`);
      };
      break;
    }
    case 'collapse root':
    case 'expand root': {
      await toTop();
      const row = rowFor(0);
      const toggle = row && row.querySelector('.toggle[aria-expanded]');
      if (!toggle) throw new Error(`${step}: no .row[data-index="0"] .toggle[aria-expanded]`);
      const want = step === 'collapse root' ? 'false' : 'true';
      if (toggle.getAttribute('aria-expanded') === want) throw new Error(`${step}: root already aria-expanded=${want}`);
      act = () => toggle.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
      check = () => {
        const t = rowFor(0)?.querySelector('.toggle[aria-expanded]');
        if (!t || t.getAttribute('aria-expanded') !== want) throw new Error(`${step}: root not aria-expanded=${want}`);
      };
      break;
    }
    case 'depth 1':
    case 'depth all': {
      const d = step === 'depth 1' ? '1' : 'all';
      const button = need(`#depth button[data-depth="${d}"]`);
      const spacer = need('#waterfall .spacer');
      const height = spacer.style.height;
      act = () => button.click();
      check = () => {
        if (!button.classList.contains('active')) throw new Error(`${step}: button not .active`);
        if (!rowsInView().length) throw new Error(`${step}: no rows drawn`);
        if (spacer.style.height === height) throw new Error(`${step}: the list's height did not change (${height})`);
      };
      break;
    }
    case 'search':
    case 'search again': {
      const input = need('#search');
      const count = need('#match-count');
      input.focus();
      input.value = word;
      act = () => key(input, 'Enter');
      check = () => {
        if (!/\d/.test(count.textContent)) throw new Error(`${step}: #match-count says "${count.textContent}"`);
      };
      break;
    }
    case 'clear search': {
      const input = need('#search');
      const count = need('#match-count');
      if (!count.textContent) throw new Error(`${step}: no search to clear`);
      input.focus();
      act = () => key(input, 'Escape');
      check = () => {
        if (count.textContent) throw new Error(`${step}: #match-count still says "${count.textContent}"`);
        if (wf.querySelector('.row.dim')) throw new Error(`${step}: rows still dimmed`);
      };
      break;
    }
    default:
      throw new Error(`unknown step ${step}`);
  }
  const t0 = performance.now();
  act();
  const t1 = performance.now();
  await frames();
  const t2 = performance.now();
  check();
  return { ms: t2 - t0, handlerMs: t1 - t0, ...(step.startsWith('search') ? { matches: need('#match-count').textContent } : {}) };
}

const LOAD_ROWS = [
  ['domContentLoaded', 'HTML parsed (DOMContentLoaded)'],
  ['report', 'report decoded (osp:report)'],
  ['model', 'model built (osp:model)'],
  ['firstRender', 'first render (osp:first-render)'],
  ['interactive', '**interactive**'],
  ['afterReport', 'interactive after the report'],
  ['heapMB', 'JS heap, MB'],
];
const STEPS = ['scroll 1 page', 'scroll to middle', 'select (click)', 'key down', 'collapse root', 'expand root',
  'depth 1', 'depth all', 'search', 'clear search', 'search again'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function num(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}

function cell(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return 'failed';
  if (v.length === 1) return num(v[0]);
  return `${num(median(v))} (${num(Math.min(...v))}–${num(Math.max(...v))})`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--enable-precise-memory-info'],
  });
  const version = browser.version();
  const pages = opts.pages.map((p) => ({
    path: p,
    name: basename(p),
    bytes: statSync(p).size,
    url: pathToFileURL(resolve(p)).href,
    points: null,
    load: [],
    steps: Object.fromEntries(STEPS.map((s) => [s, []])),
    failures: [],
  }));

  for (let run = 1; run <= opts.runs; run++) {
    for (const pg of pages) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      const problems = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
      await page.addInitScript(initScript);
      const fail = (what) => {
        const msg = `run ${run}: ${what}`;
        pg.failures.push(msg);
        process.stderr.write(`${pg.name}: FAILED ${msg}\n`);
      };
      try {
        await page.goto(pg.url, { waitUntil: 'commit', timeout: LOAD_TIMEOUT });
        await page.waitForFunction(() => ['ready', 'error'].includes(document.body?.dataset.state),
          null, { timeout: LOAD_TIMEOUT, polling: 20 });
        const state = await page.evaluate(() => document.body.dataset.state);
        if (state !== 'ready') throw new Error(`body[data-state]=${state}`);
        const load = await page.evaluate(loadMeasures, QUIET_MS);
        if (load.longTaskError) process.stderr.write(`${pg.name}: long tasks not observed: ${load.longTaskError}\n`);
        pg.points = load.points;
        pg.load.push(load);
        process.stderr.write(`${pg.name} run ${run}: first render ${num(load.firstRender)} ms, interactive ${num(load.interactive)} ms\n`);
        for (const step of STEPS) {
          let timer;
          try {
            const r = await Promise.race([
              page.evaluate(runStep, { step, word: opts.search }),
              new Promise((_, rej) => {
                timer = setTimeout(() => rej(new Error(`${step}: not done within ${STEP_TIMEOUT} ms`)), STEP_TIMEOUT);
              }),
            ]);
            pg.steps[step].push(r.ms);
            if (r.matches && run === 1 && step === 'search') process.stderr.write(`${pg.name}: search "${opts.search}": ${r.matches}\n`);
          } catch (e) {
            fail(String(e.message || e).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, ''));
            // A step still running in the page would overlap the next ones: end this run.
            if (/not done within/.test(String(e.message))) break;
          } finally {
            clearTimeout(timer);
          }
        }
        for (const p of problems) fail(p);
      } catch (e) {
        fail(`load: ${String(e.message || e).split('\n')[0]}`);
      } finally {
        await context.close();
      }
    }
  }
  await browser.close();

  const head = ['', ...pages.map((p) => `${p.name}<br>${p.points ? Number(p.points).toLocaleString('en-US') + ' points, ' : ''}${(p.bytes / 1e6).toFixed(2)} MB`)];
  const lines = [];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`);
  for (const [key, label] of LOAD_ROWS) {
    lines.push(`| ${label} | ${pages.map((p) => cell(p.load.map((l) => l[key]))).join(' | ')} |`);
  }
  for (const step of STEPS) {
    lines.push(`| ${step} | ${pages.map((p) => cell(p.steps[step])).join(' | ')} |`);
  }
  console.log(`Chromium ${version} headless, viewport 1280×800, ${opts.runs} runs per page; ms from navigation start `
    + '(load) or per step to the next frame; median (min–max).\n');
  console.log(lines.join('\n'));

  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ chromium: version, runs: opts.runs, search: opts.search, pages }, null, 2));
  }
  const failed = pages.filter((p) => p.failures.length);
  if (failed.length) {
    console.error(`\nFAILED: ${failed.map((p) => `${p.name} (${p.failures.length})`).join(', ')}`);
    for (const p of failed) for (const f of p.failures) console.error(`  ${p.name}: ${f}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
