/**
 * The compare page, served at /compare/{a}/{b}.
 *
 * It fetches both reports from the collector, turns them into models (OspModel.fromReport) and
 * shows what OspModel.compare finds: a summary of the two traces, tables by kind, service and
 * point name, the points found in only one trace, and both timelines on one shared time scale
 * so that a phase that got slower shows as a longer bar.
 *
 * Trace data is untrusted: it reaches the DOM only as text nodes and attribute values.
 * Large traces stay fast: tables show a page of rows at a time and the timelines draw only
 * the rows in view on a canvas the size of the view.
 *
 * Stable hooks (the browser tests, crates/osprofiler-ui/e2e/ui.test.mjs, rely on these):
 *   #compare-summary; tables #by-kind, #by-service, #by-name (rows tr[data-key]);
 *   lists #only-in-a, #only-in-b; canvases #timeline-a, #timeline-b; #compare-filter;
 *   #compare-loading while loading, #error when a trace cannot be loaded
 */
'use strict';

(() => {
  /** Rows a table or list shows at first, and adds per "show more". */
  const PAGE = 200;
  /** Differences smaller than this (ms) are float noise, shown as no change. */
  const EPS = 0.0005;
  const MINUS = '\u2212';

  /** Timeline geometry, in CSS pixels. */
  const ROW_H = 16;
  const BAR_H = 10;
  const AXIS_H = 22;
  const MAX_VIEW_H = 320;
  const PAD_L = 8;
  const PAD_R = 16;
  const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

  /** Used when base.css does not define the service colours. */
  const FALLBACK_SVC = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948',
    '#9c755f', '#ff9da7', '#7f7f7f', '#86bcb6', '#8cd17d', '#d4a6c8'];

  // ---------------------------------------------------------------- small helpers

  /** createElement with properties and children; strings become text nodes, never HTML. */
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'style') e.style.cssText = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  const fmtMs = (ms) => OspModel.formatMs(ms);
  const fmtInt = (n) => n.toLocaleString('en');

  function fmtSignedMs(d) {
    if (Math.abs(d) < EPS) return '0';
    return (d > 0 ? '+' : MINUS) + fmtMs(Math.abs(d));
  }

  function fmtSignedInt(d) {
    return d === 0 ? '0' : (d > 0 ? '+' : MINUS) + fmtInt(Math.abs(d));
  }

  /** Change from a to b in percent of a; Infinity when a is zero and b is not. */
  function percent(a, b) {
    if (Math.abs(a) < EPS) return Math.abs(b) < EPS ? 0 : Infinity;
    return ((b - a) / a) * 100;
  }

  function fmtPercent(p) {
    if (p === Infinity) return 'new';
    if (Math.abs(p) < 0.05) return '0%';
    const abs = Math.abs(p);
    return (p > 0 ? '+' : MINUS) + abs.toFixed(abs >= 100 ? 0 : 1) + '%';
  }

  /** B took longer than A: red; shorter: green. */
  function diffClass(d) {
    if (d > EPS) return 'cmp-slower';
    if (d < -EPS) return 'cmp-faster';
    return 'cmp-same';
  }

  /** A service or kind may be empty (null in the report); say so instead of showing nothing. */
  function keyText(key) {
    return key === '' || key == null ? '(none)' : String(key);
  }

  /** A trace page's URL, naming one of its points when `pointId` is given (docs/ui.md). */
  function traceUrl(id, pointId) {
    const url = OspApi.traceUrl(id);
    return pointId == null ? url : url + '#point=' + encodeURIComponent(pointId);
  }

  /** The value of a CSS custom property of the page, or the fallback. */
  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  // ---------------------------------------------------------------- loading

  /** One sentence saying why trace `side` could not be loaded. */
  function describeFailure(side, id, err) {
    const status = err && err.status;
    const name = `Trace ${side} (${id})`;
    if (status === 404) return `${name} was not found: the collector has no trace with this id.`;
    if (status === 401 || status === 403) return `${name} could not be loaded: access denied (HTTP ${status}).`;
    if (status) return `${name} could not be loaded: the collector answered HTTP ${status}.`;
    const why = err && err.message ? err.message : String(err);
    return `${name} could not be loaded: network error (${why}). Is the collector running?`;
  }

  /** Fetches both reports in parallel and builds their models; failures name their side. */
  async function loadBoth(ids) {
    const sides = ['A', 'B'];
    const results = await Promise.allSettled(
      ids.map((id) => OspApi.getJson('/api/v1/traces/' + encodeURIComponent(id))));
    const traces = [];
    const errors = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        errors.push(describeFailure(sides[i], ids[i], r.reason));
        return;
      }
      try {
        traces[i] = OspModel.fromReport(r.value);
      } catch (e) {
        errors.push(`Trace ${sides[i]} (${ids[i]}) could not be read: ${e.message}.`);
      }
    });
    return { traces, errors };
  }

  function showError(main, messages, ids, traces) {
    const box = el('div', { id: 'error', class: 'notice error cmp-error', role: 'alert' },
      el('h2', { text: 'Cannot compare these traces' }),
      el('ul', null, ...messages.map((m) => el('li', { text: m }))));
    (ids || []).forEach((id, i) => {
      if (traces && traces[i]) {
        box.append(el('p', null, `Trace ${'AB'[i]} loaded: `,
          el('a', { href: traceUrl(id), text: 'open it on its own' }), '.'));
      }
    });
    box.append(el('p', null, el('a', { href: '/', text: 'Back to the trace list' })));
    main.replaceChildren(box);
  }

  async function start() {
    const main = document.getElementById('compare');
    const ids = OspApi.compareIds(location.pathname);
    if (!ids) {
      showError(main, ['This page compares two traces: open it as /compare/{base id A}/{base id B}.']);
      return;
    }
    document.title = `Compare ${ids[0]} · ${ids[1]} · OSprofiler`;
    document.getElementById('compare-title').replaceChildren(
      el('span', { class: 'cmp-side cmp-side-a', text: 'A' }), ids[0], ' ',
      el('span', { class: 'cmp-side cmp-side-b', text: 'B' }), ids[1]);
    main.replaceChildren(
      el('p', { id: 'compare-loading', class: 'notice', role: 'status', text: 'Loading traces A and B…' }));
    const { traces, errors } = await loadBoth(ids);
    if (errors.length) {
      showError(main, errors, ids, traces);
      return;
    }
    render(main, ids, traces[0], traces[1]);
  }

  // ---------------------------------------------------------------- page layout

  function render(main, ids, a, b) {
    const cmp = OspModel.compare(a, b);
    const colours = serviceColours(a, b);
    const scale = Math.max(a.duration, b.duration) || 1;
    const tables = [
      new DiffTable('by-kind', 'By kind', 'Kind', cmp.byKind),
      new DiffTable('by-service', 'By service', 'Service', cmp.byService),
      new DiffTable('by-name', 'By point name', 'Point name', cmp.byName),
    ];
    const byName = new Map(cmp.byName.map((r) => [r.key, r]));
    const lists = [
      new OnlyList('only-in-a', cmp.onlyInA, byName, 'a'),
      new OnlyList('only-in-b', cmp.onlyInB, byName, 'b'),
    ];
    const timelines = [
      new Timeline('a', ids[0], a, scale, colours),
      new Timeline('b', ids[1], b, scale, colours),
    ];

    main.replaceChildren(
      summary(ids, a, b),
      el('section', { class: 'cmp-section cmp-timelines', 'aria-label': 'Timelines' },
        el('div', { class: 'cmp-section-head' },
          el('h2', { text: 'Timelines' }),
          el('span', { class: 'cmp-hint', text: 'one time scale, each from its own start · click a row to open the point' })),
        legend(colours),
        ...timelines.map((t) => t.element)),
      el('section', { class: 'cmp-section', 'aria-label': 'Differences' },
        el('div', { class: 'cmp-section-head' },
          el('h2', { text: 'Differences' }),
          filterBox([...tables, ...lists])),
        el('div', { class: 'cmp-grid-2 cmp-tables' }, tables[0].element, tables[1].element),
        tables[2].element,
        el('div', { class: 'cmp-grid-2' }, lists[0].element, lists[1].element)));
    timelines.forEach((t) => t.attach());
  }

  /** One filter box for every table and list: a name typed here narrows all of them. */
  function filterBox(targets) {
    let timer = 0;
    const input = el('input', {
      id: 'compare-filter', type: 'search', class: 'cmp-filter',
      placeholder: 'Filter kinds, services, names…', 'aria-label': 'Filter rows',
    });
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => targets.forEach((t) => t.setFilter(input.value)), 80);
    });
    return input;
  }

  // ---------------------------------------------------------------- summary

  function errorCount(trace) {
    let n = 0;
    for (const p of trace.points) if (p.error) n++;
    return n;
  }

  function stat(label, value, field, cls) {
    return el('div', { class: 'cmp-stat' },
      el('dt', { text: label }),
      el('dd', { class: cls, dataset: { field }, text: value }));
  }

  function traceCard(side, id, trace, errors) {
    const s = side.toLowerCase();
    return el('div', { class: 'cmp-card', dataset: { side: s } },
      el('div', { class: 'cmp-card-head' },
        el('span', { class: `cmp-side cmp-side-${s}`, text: side }),
        el('a', { class: 'cmp-id', href: traceUrl(id), dataset: { field: `link-${s}` }, text: id })),
      el('dl', { class: 'cmp-stats' },
        stat('Duration', fmtMs(trace.duration), `duration-${s}`),
        stat('Points', fmtInt(trace.points.length), `points-${s}`),
        stat('Errors', fmtInt(errors), `errors-${s}`, errors ? 'cmp-has-errors' : null)));
  }

  function deltaCard(a, b, errorsA, errorsB) {
    const d = b.duration - a.duration;
    const cls = diffClass(d);
    const pct = a.duration > 0 ? fmtPercent(percent(a.duration, b.duration)) : 'n/a';
    let verdict = 'B takes as long as A, end to end';
    if (cls === 'cmp-slower') verdict = 'B is slower than A, end to end';
    if (cls === 'cmp-faster') verdict = 'B is faster than A, end to end';
    return el('div', { class: 'cmp-card cmp-delta', dataset: { side: 'diff' } },
      el('div', { class: 'cmp-card-head' }, el('span', { class: 'cmp-side', text: 'B − A' }),
        el('span', { class: 'cmp-verdict', text: verdict })),
      el('dl', { class: 'cmp-stats' },
        stat('Duration', `${fmtSignedMs(d)} (${pct})`, 'diff', `cmp-big ${cls}`),
        stat('Points', fmtSignedInt(b.points.length - a.points.length), 'diff-points'),
        stat('Errors', fmtSignedInt(errorsB - errorsA), 'diff-errors',
          errorsB > errorsA ? 'cmp-slower' : errorsB < errorsA ? 'cmp-faster' : null)));
  }

  function summary(ids, a, b) {
    const errorsA = errorCount(a);
    const errorsB = errorCount(b);
    return el('section', { id: 'compare-summary', class: 'cmp-summary', 'aria-label': 'Summary' },
      traceCard('A', ids[0], a, errorsA),
      traceCard('B', ids[1], b, errorsB),
      deltaCard(a, b, errorsA, errorsB));
  }

  // ---------------------------------------------------------------- tables

  /** The columns of a difference table: how to read, show and sort each. */
  const COLUMNS = [
    { id: 'key', title: null, get: (r) => String(r.key ?? ''), text: true },
    { id: 'countA', title: 'Count A', get: (r) => r.a.count, show: fmtInt },
    { id: 'countB', title: 'Count B', get: (r) => r.b.count, show: fmtInt },
    { id: 'countDiff', title: 'Δ count', get: (r) => r.countDiff, show: fmtSignedInt },
    { id: 'totalA', title: 'Time A', get: (r) => r.a.total, show: fmtMs },
    { id: 'totalB', title: 'Time B', get: (r) => r.b.total, show: fmtMs },
    { id: 'totalDiff', title: 'Δ time', get: (r) => r.totalDiff, show: fmtSignedMs, coloured: true },
    { id: 'pct', title: 'Δ %', get: (r) => percent(r.a.total, r.b.total), show: fmtPercent, coloured: true },
  ];

  /**
   * A sortable, filterable table of compare rows. It keeps the rows sorted once per sort
   * order and puts only a page of them in the DOM, as a table by point name can have as
   * many rows as the traces have points. Until a header is clicked the rows keep the model's
   * order: the largest time difference first, slower or faster.
   */
  class DiffTable {
    constructor(id, title, keyTitle, rows) {
      this.rows = rows;
      this.sort = null;
      this.filter = '';
      this.limit = PAGE;
      this.sorted = rows;
      this.count = el('span', { class: 'cmp-count' });
      this.body = el('tbody');
      this.foot = el('tfoot');
      this.heads = COLUMNS.map((c) => this.headCell(c, c.title || keyTitle));
      this.table = el('table', { id, class: 'grid cmp-table' },
        el('thead', null, el('tr', null, ...this.heads)), this.body, this.foot);
      this.element = el('div', { class: 'cmp-table-wrap' },
        el('h3', null, title, ' ', this.count), this.table);
      this.render();
    }

    headCell(col, title) {
      const button = el('button', { type: 'button', text: title,
        onclick: () => this.sortBy(col.id) });
      return el('th', { scope: 'col', class: col.text ? 'cmp-key' : 'cmp-num', dataset: { col: col.id } },
        button);
    }

    /** A new column sorts text A to Z and numbers largest first; the same column flips. */
    sortBy(colId) {
      const col = COLUMNS.find((c) => c.id === colId);
      this.sort = this.sort && this.sort.col === colId
        ? { col: colId, dir: -this.sort.dir }
        : { col: colId, dir: col.text ? 1 : -1 };
      this.sorted = null;
      this.limit = PAGE;
      this.render();
    }

    setFilter(text) {
      this.filter = text.trim().toLowerCase();
      this.limit = PAGE;
      this.render();
    }

    sortedRows() {
      if (!this.sorted) {
        const col = COLUMNS.find((c) => c.id === this.sort.col);
        const dir = this.sort.dir;
        const keyed = this.rows.map((r) => [col.get(r), r]);
        keyed.sort((x, y) => (x[0] < y[0] ? -dir : x[0] > y[0] ? dir : 0));
        this.sorted = keyed.map((k) => k[1]);
      }
      return this.sorted;
    }

    visibleRows() {
      const rows = this.sortedRows();
      if (!this.filter) return rows;
      return rows.filter((r) => keyText(r.key).toLowerCase().includes(this.filter));
    }

    render() {
      const rows = this.visibleRows();
      this.heads.forEach((th) => {
        const on = this.sort && th.dataset.col === this.sort.col;
        if (on) th.setAttribute('aria-sort', this.sort.dir > 0 ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
      });
      const shown = rows.length === this.rows.length
        ? `(${fmtInt(rows.length)})`
        : `(${fmtInt(rows.length)} of ${fmtInt(this.rows.length)})`;
      this.count.textContent = this.sort ? shown : `${shown} · largest change first`;
      this.body.replaceChildren(...(rows.length
        ? rows.slice(0, this.limit).map((r) => this.rowElement(r))
        : [el('tr', null, el('td', { class: 'cmp-empty', colspan: String(COLUMNS.length),
          text: this.rows.length ? 'No match.' : 'Nothing to compare.' }))]));
      this.foot.replaceChildren(...this.moreRow(rows.length));
    }

    rowElement(r) {
      const tr = el('tr', { dataset: { key: String(r.key ?? '') } });
      for (const col of COLUMNS) {
        if (col.text) {
          const text = keyText(r.key);
          tr.append(el('td', { class: r.key === '' || r.key == null ? 'cmp-key cmp-none' : 'cmp-key',
            title: text, text }));
          continue;
        }
        const cls = col.coloured ? `cmp-num ${diffClass(r.totalDiff)}` : 'cmp-num';
        tr.append(el('td', { class: cls, text: col.show(col.get(r)) }));
      }
      return tr;
    }

    /** A footer row offering the next page when rows are left out. */
    moreRow(total) {
      if (total <= this.limit) return [];
      const left = total - this.limit;
      const button = el('button', { type: 'button', class: 'cmp-more',
        text: `Show ${fmtInt(Math.min(left, PAGE * 5))} more (${fmtInt(left)} not shown)`,
        onclick: () => { this.limit += PAGE * 5; this.render(); } });
      return [el('tr', null, el('td', { colspan: String(COLUMNS.length) }, button))];
    }
  }

  /**
   * The point names found in only one trace, with their count and time there, longest
   * first; paged like the tables.
   */
  class OnlyList {
    constructor(id, labels, byName, side) {
      this.items = labels.map((label) => {
        const row = byName.get(label);
        return { label, count: row ? row[side].count : 0, total: row ? row[side].total : 0 };
      }).sort((x, y) => y.total - x.total);
      this.filter = '';
      this.limit = PAGE;
      this.count = el('span', { class: 'cmp-count' });
      this.list = el('ul', { id, class: 'cmp-only' });
      this.more = el('div');
      this.element = el('div', { class: 'cmp-only-wrap' },
        el('h3', null, 'Only in ', el('span', { class: `cmp-side cmp-side-${side}`, text: side.toUpperCase() }),
          this.count),
        this.list, this.more);
      this.render();
    }

    setFilter(text) {
      this.filter = text.trim().toLowerCase();
      this.limit = PAGE;
      this.render();
    }

    render() {
      const items = this.filter
        ? this.items.filter((it) => keyText(it.label).toLowerCase().includes(this.filter))
        : this.items;
      this.count.textContent = `(${fmtInt(items.length)})`;
      if (!items.length) {
        this.list.replaceChildren(el('li', { class: 'cmp-empty',
          text: this.items.length ? 'No match.' : 'None: every point name here is in the other trace too.' }));
      } else {
        this.list.replaceChildren(...items.slice(0, this.limit).map((it) => el('li',
          { dataset: { key: it.label } },
          el('span', { class: 'cmp-only-label', title: keyText(it.label), text: keyText(it.label) }),
          el('span', { class: 'cmp-only-stat', text: `${fmtInt(it.count)} × · ${fmtMs(it.total)}` }))));
      }
      const left = items.length - this.limit;
      this.more.replaceChildren(...(left > 0 ? [el('button', { type: 'button', class: 'cmp-more',
        text: `Show ${fmtInt(Math.min(left, PAGE * 5))} more (${fmtInt(left)} not shown)`,
        onclick: () => { this.limit += PAGE * 5; this.render(); } })] : []));
    }
  }

  // ---------------------------------------------------------------- timelines

  /** One colour per service, the same in both traces (services of A first, then new ones of B). */
  function serviceColours(a, b) {
    const map = new Map();
    for (const s of [...a.services, ...b.services]) {
      if (!map.has(s)) {
        const i = map.size % 12;
        map.set(s, cssVar(`--svc-${i}`, FALLBACK_SVC[i]));
      }
    }
    return map;
  }

  function legend(colours) {
    const items = [...colours].map(([service, colour]) => el('span', { class: 'cmp-legend-item' },
      el('span', { class: 'swatch', style: `background:${colour}` }), keyText(service)));
    items.push(el('span', { class: 'cmp-legend-item' },
      el('span', { class: 'swatch cmp-swatch-error' }), 'error'));
    return el('div', { class: 'cmp-legend' }, ...items);
  }

  /** A step of 1, 2 or 5 times a power of ten giving about one tick per 110 px. */
  function tickStep(scale, width) {
    const raw = scale / Math.max(1, width / 110);
    const pow = 10 ** Math.floor(Math.log10(raw));
    const m = raw / pow;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
  }

  /**
   * One trace's timeline: a row per point in depth-first order, its bar placed on the time
   * scale shared with the other trace. The canvas is only as tall as the view and sticks to
   * the top of a scroller whose spacer gives the full height, so a trace of 100,000 points
   * draws the twenty rows in view, not all of them.
   */
  class Timeline {
    constructor(side, id, trace, scale, colours) {
      this.id = id;
      this.trace = trace;
      this.scale = scale;
      this.colours = colours;
      this.hover = -1;
      this.pending = false;
      const n = trace.points.length;
      this.fullH = AXIS_H + Math.max(n, 1) * ROW_H;
      this.viewH = Math.min(this.fullH, MAX_VIEW_H);
      this.canvas = el('canvas', { id: `timeline-${side}`, class: 'cmp-canvas', role: 'img',
        'aria-label': `Timeline of trace ${side.toUpperCase()}, ${n} points` });
      this.canvas.style.height = `${this.viewH}px`;
      this.scroller = el('div', { class: 'cmp-tl-scroll' }, this.canvas,
        el('div', { style: `height:${this.fullH - this.viewH}px` }));
      this.scroller.style.height = `${this.viewH}px`;
      this.tip = el('div', { class: 'cmp-tip', hidden: true });
      this.element = el('div', { class: 'cmp-tl', dataset: { side } },
        el('div', { class: 'cmp-tl-head' },
          el('span', { class: `cmp-side cmp-side-${side}`, text: side.toUpperCase() }),
          el('a', { class: 'cmp-id', href: traceUrl(id), text: id }),
          el('span', { class: 'cmp-tl-meta', text: `${fmtMs(trace.duration)} · ${fmtInt(n)} points` })),
        this.scroller, this.tip);
    }

    /** Starts drawing once the element is in the page and its width is known. */
    attach() {
      this.readColours();
      this.scroller.addEventListener('scroll', () => this.requestDraw(), { passive: true });
      this.canvas.addEventListener('mousemove', (e) => this.onMove(e));
      this.canvas.addEventListener('mouseleave', () => this.setHover(-1, null));
      this.canvas.addEventListener('click', (e) => this.onClick(e));
      new ResizeObserver(() => this.resize()).observe(this.scroller);
      this.resize();
    }

    readColours() {
      this.c = {
        error: cssVar('--error', '#d1242f'),
        text: cssVar('--text', '#1f2328'),
        muted: cssVar('--muted', '#656d76'),
        grid: cssVar('--border-light', '#e6e9ee'),
        bg: cssVar('--bg', '#ffffff'),
        hover: cssVar('--bg-hover', '#eef3fb'),
        outside: 'rgba(127, 127, 127, 0.08)',
        label: 'rgba(255, 255, 255, 0.85)',
      };
    }

    resize() {
      const w = this.scroller.clientWidth;
      if (!w) return;
      const dpr = window.devicePixelRatio || 1;
      this.width = w;
      this.canvas.style.width = `${w}px`;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(this.viewH * dpr);
      this.dpr = dpr;
      this.draw();
    }

    requestDraw() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }

    x(ms) {
      return PAD_L + (ms / this.scale) * (this.width - PAD_L - PAD_R);
    }

    /** The range of point rows at least partly in view. */
    visibleRange() {
      const top = this.scroller.scrollTop;
      const first = Math.max(0, Math.floor(top / ROW_H));
      const last = Math.min(this.trace.points.length - 1,
        Math.floor((top + this.viewH - AXIS_H) / ROW_H));
      return [first, last, top];
    }

    draw() {
      if (!this.width) return;
      const ctx = this.canvas.getContext('2d');
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      ctx.clearRect(0, 0, this.width, this.viewH);
      ctx.font = FONT;
      const step = tickStep(this.scale, this.width - PAD_L - PAD_R);
      this.drawBackground(ctx, step);
      this.drawRows(ctx);
      this.drawAxis(ctx, step);
    }

    /** The time after this trace's end is shaded, so the shorter trace's end shows. */
    drawBackground(ctx, step) {
      const end = this.x(this.trace.duration);
      ctx.fillStyle = this.c.outside;
      ctx.fillRect(end, AXIS_H, this.width - end, this.viewH - AXIS_H);
      ctx.strokeStyle = this.c.grid;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let t = 0; t <= this.scale + step / 1000; t += step) {
        const x = Math.round(this.x(t)) + 0.5;
        ctx.moveTo(x, AXIS_H);
        ctx.lineTo(x, this.viewH);
      }
      ctx.stroke();
    }

    drawRows(ctx) {
      const points = this.trace.points;
      if (!points.length) {
        ctx.fillStyle = this.c.muted;
        ctx.fillText('This trace has no points.', PAD_L + 8, AXIS_H + ROW_H - 4);
        return;
      }
      const [first, last, top] = this.visibleRange();
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, AXIS_H, this.width, this.viewH - AXIS_H);
      ctx.clip();
      ctx.textBaseline = 'middle';
      for (let i = first; i <= last; i++) {
        this.drawRow(ctx, points[i], AXIS_H + i * ROW_H - top, i === this.hover);
      }
      ctx.restore();
    }

    /** A point's bar, and its label and duration beside it where there is room. */
    drawRow(ctx, p, y, hovered) {
      if (hovered) {
        ctx.fillStyle = this.c.hover;
        ctx.fillRect(0, y, this.width, ROW_H);
      }
      const x0 = this.x(p.start);
      const w = Math.max(1, this.x(p.end) - x0);
      ctx.globalAlpha = p.unfinished ? 0.45 : 1;
      ctx.fillStyle = p.error ? this.c.error : this.colours.get(p.service) || FALLBACK_SVC[0];
      ctx.fillRect(x0, y + (ROW_H - BAR_H) / 2, w, BAR_H);
      ctx.globalAlpha = 1;
      if (hovered) {
        ctx.strokeStyle = this.c.text;
        ctx.strokeRect(x0 - 0.5, y + (ROW_H - BAR_H) / 2 - 0.5, w + 1, BAR_H + 1);
      }
      this.drawLabel(ctx, p, x0, w, y);
    }

    /** The label goes right of the bar, else left of it, else over it on a light box. */
    drawLabel(ctx, p, x0, w, y) {
      const text = `${keyText(p.label)} · ${fmtMs(p.duration)}`;
      const tw = ctx.measureText(text).width;
      const mid = y + ROW_H / 2;
      let tx = x0 + w + 4;
      ctx.textAlign = 'left';
      if (tx + tw > this.width - 2) {
        if (x0 - 4 - tw >= 0) {
          tx = x0 - 4 - tw;
        } else {
          tx = x0 + 4;
          ctx.fillStyle = this.c.label;
          ctx.fillRect(tx - 2, y + 2, tw + 4, ROW_H - 4);
        }
      }
      ctx.fillStyle = p.error ? this.c.error : this.c.text;
      ctx.fillText(text, tx, mid);
    }

    /** The shared time axis, drawn over the rows so that it stays at the top. */
    drawAxis(ctx, step) {
      ctx.fillStyle = this.c.bg;
      ctx.fillRect(0, 0, this.width, AXIS_H);
      ctx.strokeStyle = this.c.grid;
      ctx.beginPath();
      ctx.moveTo(0, AXIS_H - 0.5);
      ctx.lineTo(this.width, AXIS_H - 0.5);
      ctx.stroke();
      ctx.fillStyle = this.c.muted;
      ctx.textBaseline = 'middle';
      for (let t = 0; t <= this.scale + step / 1000; t += step) {
        const x = this.x(t);
        ctx.textAlign = t === 0 ? 'left' : x > this.width - 40 ? 'right' : 'center';
        ctx.fillText(t === 0 ? '0' : fmtMs(t), x, AXIS_H / 2);
      }
      const end = this.x(this.trace.duration);
      ctx.strokeStyle = this.c.text;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(end) + 0.5, AXIS_H - 6);
      ctx.lineTo(Math.round(end) + 0.5, this.viewH);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    /** The point in the row under the mouse; each row holds exactly one point. */
    pointAt(e) {
      const rect = this.canvas.getBoundingClientRect();
      const y = e.clientY - rect.top;
      if (y < AXIS_H) return -1;
      const i = Math.floor((y - AXIS_H + this.scroller.scrollTop) / ROW_H);
      return i < this.trace.points.length ? i : -1;
    }

    onMove(e) {
      this.setHover(this.pointAt(e), e);
    }

    setHover(i, e) {
      if (i !== this.hover) {
        this.hover = i;
        this.canvas.style.cursor = i >= 0 ? 'pointer' : '';
        this.requestDraw();
      }
      if (i < 0) {
        this.tip.hidden = true;
        return;
      }
      this.fillTip(this.trace.points[i]);
      this.placeTip(e);
    }

    fillTip(p) {
      const lines = [
        el('div', { class: 'cmp-tip-label', text: keyText(p.label) }),
        el('div', null, `${fmtMs(p.duration)} · starts at ${fmtMs(p.start)}${p.unfinished ? ' · unfinished' : ''}`),
        el('div', { class: 'cmp-tip-muted' },
          [p.kind, p.service, p.host].map(keyText).join(' · ')),
      ];
      if (p.error) {
        lines.push(el('div', { class: 'cmp-tip-error',
          text: [p.errorType, p.errorMessage].filter(Boolean).join(': ') || 'error' }));
      }
      this.tip.replaceChildren(...lines);
      this.tip.hidden = false;
    }

    /** Puts the tooltip below right of the mouse, kept inside the window. */
    placeTip(e) {
      const pad = 12;
      const w = this.tip.offsetWidth;
      const h = this.tip.offsetHeight;
      let left = e.clientX + pad;
      let top = e.clientY + pad;
      if (left + w > window.innerWidth - 4) left = Math.max(4, e.clientX - pad - w);
      if (top + h > window.innerHeight - 4) top = Math.max(4, e.clientY - pad - h);
      this.tip.style.left = `${left}px`;
      this.tip.style.top = `${top}px`;
    }

    /** Opens the point on its trace page; with Ctrl or Cmd, in a new tab. */
    onClick(e) {
      const i = this.pointAt(e);
      if (i < 0) return;
      const url = traceUrl(this.id, this.trace.points[i].traceId);
      if (e.ctrlKey || e.metaKey) window.open(url, '_blank', 'noopener');
      else location.assign(url);
    }
  }

  start();
})();
