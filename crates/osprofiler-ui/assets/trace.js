/*
 * The trace page (issue 10, point 3): a virtualized waterfall of every point with its tree, a
 * zoomable time axis with a minimap, the selected point's details, errors, critical path, clock
 * skew, stats, a service map, search and keyboard navigation. The data comes from OspModel
 * (model.js); this file only draws it.
 *
 * Why it stays fast with 100,000 points: the rows on screen are the only rows in the DOM (a
 * small pool of elements, refilled on scroll in a requestAnimationFrame); which rows exist is a
 * flat array of point indices (`visible`), rebuilt in O(n) on expand, collapse and filter; the
 * minimap is one canvas drawn once per size; stats and the service map are built when their tab
 * is first opened.
 *
 * Trace data is untrusted: it reaches the DOM through textContent and attributes only.
 *
 * Stable hooks (the browser tests rely on these):
 *   body[data-state]              "loading", then "ready" (first render done) or "error"
 *   #home-link / #home-text       link to "/" (served) or plain brand text (offline)
 *   #trace-title, #trace-facts    base id; #fact-duration, #fact-points, #fact-services,
 *                                 #fact-errors (a button: next error)
 *   [data-tab=timeline|stats|service-map]   the tabs; #tab-timeline, #tab-stats, #tab-service-map
 *   #waterfall                    scrolling row list; rows .row[data-index][data-trace-id]
 *                                 (data-index = point index), classes .selected .error
 *                                 .critical .dim; .toggle[aria-expanded] on points with
 *                                 children; .skew badge (title gives the ms); .bar
 *   #minimap (canvas), #axis      whole-trace overview and time axis: drag to zoom
 *   #zoom-reset                   back to the whole trace
 *   #depth button[data-depth]     1, 2, ... or "all"
 *   #search, #min-duration, #filter-hide, #match-count
 *   #error-count, #prev-error, #next-error
 *   #critical-only, #critical-path (panel), #critical-path-list li[data-index]
 *   #details, #details-kind, #details-label, #details-service, #details-project,
 *   #details-host, #details-start, #details-duration, #details-self, #details-children,
 *   #details-trace-id, #details-parent-id,
 *   #details-error, #details-skew, #details-info, #details-stop-info,
 *   #details-raw-start, #details-raw-stop (<details> with a <pre>)
 *   #stats (tables #stats-kind, #stats-service), #service-map (svg + #service-edges table)
 * Performance marks: "osp:report" (report parsed), "osp:model", "osp:first-render".
 */
'use strict';

(function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  /** Rows drawn above and below the viewport so a fast scroll shows no blank band. */
  const OVERSCAN = 8;
  /** Indentation per tree level, px; capped so deep trees keep room for the label. */
  const INDENT = 14;
  const MAX_INDENT_LEVELS = 24;
  /** Smallest zoom window, as a fraction of the trace (and at least 1 µs). */
  const MIN_WINDOW_FRACTION = 1e-6;
  const MINIMAP_HEIGHT = 44;
  /** Depth buttons offered before "all". */
  const MAX_DEPTH_BUTTONS = 8;
  /** Critical-path list items put in the DOM; the rest is summed up in one line. */
  const MAX_CRITICAL_ITEMS = 2000;
  const PALETTE_SIZE = 12;

  const fmt = (ms) => OspModel.formatMs(ms);

  /** Everything the page knows; one object so the handlers below read plainly. */
  const S = {
    trace: null,
    points: [],
    n: 0,
    rowHeight: 22,
    /** Pre-order index one past the subtree of i. */
    subtreeEnd: null,
    collapsed: null,
    /** Point indices of the rows, in order; `visibleCount` of them are used. */
    visible: null,
    visibleCount: 0,
    /** Row of each point, or -1 when it is hidden. */
    rowOf: null,
    /** OspModel.match of the search and minimum duration, or null when both are empty. */
    match: null,
    /** Points kept by "hide" / "critical only" (with their ancestors), or null for all. */
    shown: null,
    hide: false,
    criticalOnly: false,
    selected: -1,
    viewStart: 0,
    viewEnd: 1,
    errors: [],
    criticalPath: [],
    /** Palette slot of each service name (first-seen order), as base.css's --svc-N. */
    serviceSlot: new Map(),
    palette: [],
    built: { stats: false, map: false },
    el: {},
  };

  // -------------------------------------------------------------------------------------------
  // Small DOM helpers

  /**
   * Creates an element. `props`: id, className, text, title, dataset, attrs, on (event map);
   * children: nodes or strings (as text nodes).
   */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    applyProps(el, props);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c);
    }
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    for (const c of children) el.append(c);
    return el;
  }

  function applyProps(el, props) {
    if (!props) return;
    if (props.id) el.id = props.id;
    if (props.className) el.className = props.className;
    if (props.text !== undefined) el.textContent = props.text;
    if (props.title) el.title = props.title;
    for (const k in props.dataset || {}) el.dataset[k] = props.dataset[k];
    for (const k in props.attrs || {}) el.setAttribute(k, props.attrs[k]);
    for (const k in props.on || {}) el.addEventListener(k, props.on[k]);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  /** A service's palette slot, or -1 for a point without a service. */
  function slotOf(service) {
    const s = S.serviceSlot.get(service);
    return s === undefined ? -1 : s;
  }

  function svcClass(service) {
    const s = slotOf(service);
    return s < 0 ? 'svc-none' : 'svc-' + s;
  }

  function colourOf(service) {
    const s = slotOf(service);
    return s < 0 ? '#9aa1a9' : S.palette[s];
  }

  function serviceName(service) {
    return service === '' || service === null || service === undefined ? '(none)' : service;
  }

  // -------------------------------------------------------------------------------------------
  // Loading

  /**
   * The report: embedded in the page (offline file, plain or gzip+base64), else fetched from
   * the collector by the base id in the URL (`/traces/{base_id}`).
   */
  async function loadReport() {
    const embedded = document.getElementById('osprofiler-report');
    if (embedded) {
      const text = embedded.dataset.encoding === 'gzip+base64'
        ? await gunzipBase64(embedded.textContent)
        : embedded.textContent;
      return JSON.parse(text);
    }
    const m = /\/traces\/([^/]+)\/?$/.exec(location.pathname);
    if (!m) throw new Error('No trace named in the URL (expected /traces/{base_id}).');
    const path = '/api/v1/traces/' + encodeURIComponent(decodeURIComponent(m[1]));
    if (typeof OspApi !== 'undefined') return OspApi.getJson(path);
    const response = await fetch(path, { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error('GET ' + path + ': ' + response.status + ' ' + response.statusText);
    return response.json();
  }

  /** The report text of a gzip+base64 element (both decoders skip whitespace). */
  async function gunzipBase64(b64) {
    let bytes;
    if (typeof Uint8Array.fromBase64 === 'function') {
      bytes = Uint8Array.fromBase64(b64);
    } else {
      const bin = atob(b64);
      bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text();
  }

  function isOffline() {
    return location.protocol === 'file:' || document.getElementById('osprofiler-report') !== null;
  }

  async function start() {
    document.body.dataset.state = 'loading';
    if (isOffline()) {
      document.getElementById('home-link').classList.add('hidden');
      document.getElementById('home-text').classList.remove('hidden');
    }
    const app = document.getElementById('app');
    app.append(h('div', { className: 'notice', id: 'loading', text: 'Loading the trace…' }));
    let report;
    try {
      report = await loadReport();
      performance.mark('osp:report');
      S.trace = OspModel.fromReport(report);
      S.criticalPath = OspModel.criticalPath(S.trace);
      performance.mark('osp:model');
    } catch (err) {
      clear(app);
      app.append(h('div', { className: 'notice error', id: 'load-error', text: 'Could not load the trace: ' + (err && err.message ? err.message : err) }));
      document.getElementById('trace-title').textContent = '';
      document.body.dataset.state = 'error';
      return;
    }
    clear(app);
    init();
    requestAnimationFrame(() => {
      performance.mark('osp:first-render');
      document.body.dataset.state = 'ready';
    });
  }

  // -------------------------------------------------------------------------------------------
  // Setup

  function init() {
    const t = S.trace;
    S.points = t.points;
    S.n = t.points.length;
    const rh = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row-height'));
    if (rh > 0) S.rowHeight = rh;
    readPalette();
    t.services.forEach((s, i) => S.serviceSlot.set(s, i % PALETTE_SIZE));
    indexTree();
    S.errors = [];
    for (let i = 0; i < S.n; i++) if (S.points[i].error) S.errors.push(i);
    S.viewStart = 0;
    S.viewEnd = Math.max(t.duration, 1e-3);

    fillHeader();
    buildLayout();
    rebuildVisible();
    observeSize();
    bindKeys();
    const fromHash = pointFromHash();
    if (fromHash >= 0) select(fromHash, 'center');
    else renderAll();
    window.addEventListener('hashchange', () => {
      const i = pointFromHash();
      if (i >= 0 && i !== S.selected) select(i, 'center');
    });
  }

  function readPalette() {
    const style = getComputedStyle(document.documentElement);
    const fallback = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
      '#b07aa1', '#ff9da7', '#9c755f', '#79706e', '#17becf', '#bcbd22'];
    S.palette = fallback.map((c, i) => style.getPropertyValue('--svc-' + i).trim() || c);
  }

  /** subtreeEnd, collapsed (nothing), visible/rowOf buffers: all O(n). */
  function indexTree() {
    const n = S.n;
    const pts = S.points;
    S.subtreeEnd = new Int32Array(n);
    // Pre-order: a subtree ends where the next point at the same depth or shallower starts.
    const stack = [];
    for (let i = 0; i < n; i++) {
      const d = pts[i].depth;
      while (stack.length && pts[stack[stack.length - 1]].depth >= d) S.subtreeEnd[stack.pop()] = i;
      stack.push(i);
    }
    while (stack.length) S.subtreeEnd[stack.pop()] = n;
    S.collapsed = new Uint8Array(n);
    S.visible = new Int32Array(n);
    S.rowOf = new Int32Array(n);
  }

  function fillHeader() {
    const t = S.trace;
    const title = t.baseId || '(no base id)';
    document.getElementById('trace-title').textContent = title;
    document.title = 'Trace ' + title + ' · OSprofiler';
    const facts = document.getElementById('trace-facts');
    clear(facts);
    facts.append(
      h('span', { id: 'fact-duration', className: 'fact', title: 'first start to last end' }, fmt(t.duration)),
      h('span', { id: 'fact-points', className: 'fact' }, S.n.toLocaleString('en-US') + (S.n === 1 ? ' point' : ' points')));
    const services = h('span', { id: 'fact-services', className: 'fact services' });
    for (const s of t.services) {
      services.append(h('span', { className: 'svc-chip' }, h('span', { className: 'swatch ' + svcClass(s) }), ' ' + serviceName(s)));
    }
    facts.append(services);
    const errors = h('button', {
      id: 'fact-errors',
      className: 'fact-errors' + (S.errors.length ? ' has-errors' : ''),
      title: S.errors.length ? 'go to the next error (n)' : 'no point failed',
      on: { click: () => jumpError(1) },
    }, S.errors.length + (S.errors.length === 1 ? ' error' : ' errors'));
    errors.disabled = S.errors.length === 0;
    facts.append(errors);
  }

  /** The page's structure: tabs, toolbar, timeline, side pane, stats and map panels. */
  function buildLayout() {
    const app = document.getElementById('app');
    const tabs = h('nav', { className: 'tabs', attrs: { role: 'tablist' } },
      tabButton('timeline', 'Timeline'), tabButton('stats', 'Stats'), tabButton('service-map', 'Service map'));

    S.el.search = h('input', { id: 'search', attrs: { type: 'search', placeholder: 'Search  ( / )', 'aria-label': 'search points', autocomplete: 'off' } });
    S.el.minDuration = h('input', { id: 'min-duration', attrs: { type: 'number', min: '0', step: 'any', placeholder: '0', 'aria-label': 'minimum duration in ms' } });
    S.el.hide = h('input', { id: 'filter-hide', attrs: { type: 'checkbox' } });
    S.el.matchCount = h('span', { id: 'match-count', className: 'muted small num' });
    S.el.criticalOnly = h('input', { id: 'critical-only', attrs: { type: 'checkbox' } });
    S.el.errorCount = h('span', { id: 'error-count', className: 'num' });

    const toolbar = h('div', { className: 'toolbar' },
      S.el.search,
      h('label', { title: 'only points lasting at least this long' }, 'min', S.el.minDuration, 'ms'),
      h('label', { title: 'hide the points that do not match instead of dimming them' }, S.el.hide, 'hide others'),
      S.el.matchCount,
      h('span', { className: 'sep' }),
      buildDepthControl(),
      h('span', { className: 'sep' }),
      // The count after the buttons: its text changes width ("1 error", "error 1 of 1"),
      // which must not move a button from under the pointer between two clicks.
      h('span', { className: 'errors-nav' + (S.errors.length ? ' has-errors' : '') },
        h('button', { id: 'prev-error', title: 'previous error (N)', on: { click: () => jumpError(-1) } }, '▲'),
        h('button', { id: 'next-error', title: 'next error (n)', on: { click: () => jumpError(1) } }, '▼'),
        S.el.errorCount),
      h('span', { className: 'sep' }),
      h('label', { title: 'show only the critical path (and its ancestors)' }, S.el.criticalOnly, 'critical path only'),
      h('span', { className: 'grow' }),
      h('span', { className: 'legend small muted' },
        h('span', { className: 'legend-bar critical' }), 'critical path',
        h('span', { className: 'legend-bar error' }), 'error',
        h('span', { className: 'badge skew' }, 'skew'), 'clock skew'),
      h('button', { id: 'zoom-reset', title: 'show the whole trace', on: { click: () => setView(0, S.trace.duration) } }, 'Reset zoom'));
    S.el.errorCount.textContent = S.errors.length + (S.errors.length === 1 ? ' error' : ' errors');
    for (const b of toolbar.querySelectorAll('#prev-error, #next-error')) b.disabled = S.errors.length === 0;

    const timeline = buildTimeline();
    const side = h('aside', { className: 'side' }, buildDetails(), buildCriticalPanel());
    const timelineTab = h('section', { id: 'tab-timeline', className: 'tab-panel' }, toolbar,
      h('div', { className: 'trace-body' }, timeline, side));
    const statsTab = h('section', { id: 'tab-stats', className: 'tab-panel hidden' }, h('div', { id: 'stats' }));
    const mapTab = h('section', { id: 'tab-service-map', className: 'tab-panel hidden' }, h('div', { id: 'service-map' }));
    app.append(tabs, timelineTab, statsTab, mapTab);
    showTab('timeline');
    bindFilters();
  }

  function tabButton(name, label) {
    return h('button', { className: 'tab', dataset: { tab: name }, attrs: { role: 'tab', type: 'button' }, on: { click: () => showTab(name) } }, label);
  }

  function showTab(name) {
    for (const b of document.querySelectorAll('[data-tab]')) {
      const on = b.dataset.tab === name;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    for (const p of document.querySelectorAll('.tab-panel')) p.classList.toggle('hidden', p.id !== 'tab-' + name);
    if (name === 'stats' && !S.built.stats) buildStats();
    if (name === 'service-map' && !S.built.map) buildServiceMap();
    if (name === 'timeline') scheduleRender();
  }

  function activeTab() {
    const b = document.querySelector('[data-tab].active');
    return b ? b.dataset.tab : 'timeline';
  }

  function buildDepthControl() {
    let maxDepth = 0;
    for (const p of S.points) if (p.depth > maxDepth) maxDepth = p.depth;
    const box = h('span', { id: 'depth', className: 'depth', title: 'expand down to this depth' }, 'depth');
    const levels = Math.min(maxDepth + 1, MAX_DEPTH_BUTTONS);
    for (let d = 1; d <= levels; d++) {
      box.append(h('button', { className: 'depth-btn', dataset: { depth: String(d) }, on: { click: () => expandToDepth(d) } }, String(d)));
    }
    if (maxDepth + 1 > levels) box.append(h('span', { className: 'muted' }, '…'));
    box.append(h('button', { className: 'depth-btn', dataset: { depth: 'all' }, on: { click: () => expandToDepth(Infinity) } }, 'all'));
    return box;
  }

  function buildTimeline() {
    S.el.minimap = h('canvas', { id: 'minimap', title: 'the whole trace: drag to choose the time window' });
    S.el.axis = h('div', { id: 'axis', className: 'axis', title: 'drag to zoom into a time range; ctrl + wheel zooms, shift + wheel pans' });
    S.el.axisSelection = h('div', { className: 'range-selection hidden' });
    S.el.axis.append(S.el.axisSelection);
    S.el.resizer = h('div', { className: 'col-resizer', title: 'drag to resize' });
    S.el.spacer = h('div', { className: 'spacer' });
    S.el.waterfall = h('div', { id: 'waterfall', attrs: { tabindex: '0', role: 'tree', 'aria-label': 'trace points' } }, S.el.spacer);
    S.el.grid = h('div', { className: 'grid-lines' });
    S.el.timeline = h('div', { className: 'timeline' },
      h('div', { className: 'minimap-box' }, S.el.minimap),
      h('div', { className: 'axis-row' },
        h('div', { className: 'axis-tree-head' }, h('span', { className: 'muted small' }, 'service · operation'), S.el.resizer),
        S.el.axis),
      h('div', { className: 'waterfall-box' }, S.el.grid, S.el.waterfall));
    S.pool = [];
    bindWaterfall();
    bindZoom();
    return S.el.timeline;
  }

  // -------------------------------------------------------------------------------------------
  // Visible rows

  /**
   * Rebuilds the rows: pre-order, skipping collapsed subtrees and, with a filter that hides,
   * the points it drops (a dropped point has no kept descendant, see computeShown).
   */
  function rebuildVisible() {
    const { n, collapsed, subtreeEnd, visible, rowOf, shown } = S;
    rowOf.fill(-1);
    let k = 0;
    for (let i = 0; i < n;) {
      if (shown && !shown[i]) {
        i = subtreeEnd[i];
        continue;
      }
      visible[k] = i;
      rowOf[i] = k++;
      i = collapsed[i] ? subtreeEnd[i] : i + 1;
    }
    S.visibleCount = k;
    S.el.spacer.style.height = k * S.rowHeight + 'px';
    scheduleRender();
  }

  /** Kept points: those passing the filters, plus their ancestors so the tree stays whole. */
  function computeShown() {
    const hideByMatch = S.hide && S.match;
    if (!hideByMatch && !S.criticalOnly) {
      S.shown = null;
      return;
    }
    const n = S.n;
    const shown = new Uint8Array(n);
    for (let i = n - 1; i >= 0; i--) {
      const p = S.points[i];
      if (!shown[i]) {
        shown[i] = (!hideByMatch || S.match[i]) && (!S.criticalOnly || p.critical) ? 1 : 0;
      }
      if (shown[i] && p.parent >= 0) shown[p.parent] = 1;
    }
    S.shown = shown;
  }

  function toggle(i, wholeSubtree) {
    if (!S.points[i].children.length) return;
    const to = S.collapsed[i] ? 0 : 1;
    if (wholeSubtree) {
      const end = S.subtreeEnd[i];
      for (let j = i; j < end; j++) if (S.points[j].children.length) S.collapsed[j] = to;
    } else {
      S.collapsed[i] = to;
    }
    rebuildVisible();
    markDepth(null);
  }

  function setCollapsed(i, value) {
    if (!S.points[i].children.length || S.collapsed[i] === value) return;
    S.collapsed[i] = value;
    rebuildVisible();
    markDepth(null);
  }

  /** Depth 1 shows the roots only; Infinity expands everything. */
  function expandToDepth(d) {
    for (let i = 0; i < S.n; i++) {
      const p = S.points[i];
      S.collapsed[i] = p.children.length && p.depth >= d - 1 ? 1 : 0;
    }
    rebuildVisible();
    markDepth(d === Infinity ? 'all' : String(d));
    if (S.selected >= 0 && S.rowOf[S.selected] >= 0) scrollToRow(S.rowOf[S.selected], 'nearest');
  }

  /** Highlights the depth button last applied; null once the tree was changed by hand. */
  function markDepth(depth) {
    for (const b of document.querySelectorAll('#depth [data-depth]')) b.classList.toggle('active', b.dataset.depth === depth);
  }

  /** Expands the collapsed ancestors of i, so that it has a row (unless a filter hides it). */
  function reveal(i) {
    let changed = false;
    for (let p = S.points[i].parent; p >= 0; p = S.points[p].parent) {
      if (S.collapsed[p]) {
        S.collapsed[p] = 0;
        changed = true;
      }
    }
    if (changed) {
      rebuildVisible();
      markDepth(null);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Rendering

  let renderQueued = false;

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      renderAll();
    });
  }

  function renderAll() {
    if (activeTab() !== 'timeline') return;
    renderRows();
    renderAxis();
    renderMinimap();
  }

  /** Fills the pool rows for the rows in (and just around) the viewport. */
  function renderRows() {
    const wf = S.el.waterfall;
    const rh = S.rowHeight;
    const first = Math.max(0, Math.floor(wf.scrollTop / rh) - OVERSCAN);
    const last = Math.min(S.visibleCount, Math.ceil((wf.scrollTop + wf.clientHeight) / rh) + OVERSCAN);
    const needed = Math.max(0, last - first);
    while (S.pool.length < needed) S.pool.push(makeRow());
    for (let k = 0; k < S.pool.length; k++) {
      const row = S.pool[k];
      if (k < needed) {
        if (!row.el.parentNode) S.el.spacer.append(row.el);
        fillRow(row, first + k);
      } else if (row.el.parentNode) {
        row.el.remove();
      }
    }
  }

  /** One pooled row element with references to its parts. */
  function makeRow() {
    const toggleEl = h('span', { className: 'toggle', attrs: { role: 'button' } });
    const swatch = h('span', { className: 'swatch' });
    const service = h('span', { className: 'svc-name' });
    const label = h('span', { className: 'label' });
    const errBadge = h('span', { className: 'badge error' });
    const skew = h('span', { className: 'badge skew' });
    const tree = h('div', { className: 'cell-tree' }, toggleEl, swatch, service, label, errBadge, skew);
    const bar = h('div', { className: 'bar' });
    const barText = h('span', { className: 'bar-text' });
    const cellBar = h('div', { className: 'cell-bar' }, bar, barText);
    const el = h('div', { className: 'row', attrs: { role: 'treeitem' } }, tree, cellBar);
    return { el, tree, toggle: toggleEl, swatch, service, label, errBadge, skew, bar, barText };
  }

  function fillRow(row, r) {
    const i = S.visible[r];
    const p = S.points[i];
    const el = row.el;
    el.style.top = r * S.rowHeight + 'px';
    el.dataset.index = i;
    el.dataset.traceId = p.traceId;
    el.className = 'row' + (i === S.selected ? ' selected' : '') + (p.error ? ' error' : '') +
      (p.critical ? ' critical' : '') + (S.match && !S.match[i] ? ' dim' : '');
    el.setAttribute('aria-level', p.depth + 1);
    el.setAttribute('aria-selected', i === S.selected ? 'true' : 'false');
    row.tree.style.paddingLeft = 4 + Math.min(p.depth, MAX_INDENT_LEVELS) * INDENT + 'px';

    if (p.children.length) {
      const open = !S.collapsed[i];
      row.toggle.className = 'toggle';
      row.toggle.textContent = open ? '▾' : '▸';
      row.toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
      row.toggle.title = (open ? 'collapse' : 'expand') + ' (alt-click: the whole subtree) · ' + p.children.length + ' children';
      el.setAttribute('aria-expanded', open ? 'true' : 'false');
    } else {
      row.toggle.className = 'toggle leaf';
      row.toggle.textContent = '';
      row.toggle.removeAttribute('aria-expanded');
      row.toggle.removeAttribute('title');
      el.removeAttribute('aria-expanded');
    }
    const svc = svcClass(p.service);
    row.swatch.className = 'swatch ' + svc;
    row.service.textContent = serviceName(p.service);
    row.label.textContent = p.label;
    row.errBadge.textContent = p.errorType;
    row.errBadge.title = p.error ? p.errorType + (p.errorMessage ? ': ' + p.errorMessage : '') : '';
    row.errBadge.hidden = !p.error;
    row.skew.hidden = !p.skew;
    if (p.skew) {
      row.skew.textContent = 'skew ' + fmt(p.skew.ms);
      row.skew.title = skewText(p);
    }

    const span = S.viewEnd - S.viewStart;
    const left = (p.start - S.viewStart) / span * 100;
    const width = p.duration / span * 100;
    row.bar.className = 'bar ' + svc + (p.error ? ' error' : '') + (p.critical ? ' critical' : '') + (p.unfinished ? ' unfinished' : '');
    row.bar.style.left = left + '%';
    row.bar.style.width = width + '%';
    row.barText.textContent = fmt(p.duration) + (p.unfinished ? ' (unfinished)' : '');
    // The duration goes right of the bar, or left of it when the bar reaches the right edge.
    if (left + width > 75) {
      row.barText.style.left = '';
      row.barText.style.right = Math.max(0, 100 - left) + '%';
    } else {
      row.barText.style.right = '';
      row.barText.style.left = Math.max(0, left + width) + '%';
    }
    el.title = p.label + '\n' + serviceName(p.service) + ' · ' + p.kind + ' · ' + fmt(p.duration) + ' at ' + fmt(p.start);
  }

  function skewText(p) {
    const where = p.skew.kind === 'before-parent' ? 'starts before its parent' : 'ends after its parent';
    const parent = S.points[p.parent];
    return 'clock skew: ' + where + ' by ' + p.skew.ms.toFixed(3) + ' ms (host ' +
      (p.host || '?') + ', parent on ' + ((parent && parent.host) || '?') + ')';
  }

  // -------------------------------------------------------------------------------------------
  // Time axis, zoom and minimap

  /** A round step (1, 2 or 5 × 10^k ms) giving about `target` ticks over `span`. */
  function tickStep(span, target) {
    const raw = span / Math.max(1, target);
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
    return 10 * pow;
  }

  function renderAxis() {
    const axis = S.el.axis;
    const width = axis.clientWidth;
    if (!width) return;
    const span = S.viewEnd - S.viewStart;
    const step = tickStep(span, width / 90);
    for (const old of axis.querySelectorAll('.tick')) old.remove();
    clear(S.el.grid);
    for (let v = Math.ceil(S.viewStart / step) * step; v <= S.viewEnd + step * 1e-9; v += step) {
      const x = (v - S.viewStart) / span * 100;
      // Labels near the right edge go left of their tick so they are not cut off.
      axis.append(h('span', { className: x > 92 ? 'tick end' : 'tick', attrs: { style: 'left:' + x + '%' } }, fmt(v)));
      S.el.grid.append(h('span', { className: 'grid-line', attrs: { style: 'left:' + x + '%' } }));
    }
  }

  function setView(a, b) {
    const total = Math.max(S.trace.duration, 1e-3);
    const minSpan = Math.max(total * MIN_WINDOW_FRACTION, 1e-3);
    let start = Math.min(a, b);
    let end = Math.max(a, b);
    if (end - start < minSpan) {
      const mid = (start + end) / 2;
      start = mid - minSpan / 2;
      end = mid + minSpan / 2;
    }
    // Keep the window inside the trace, moving it rather than shrinking it.
    if (start < 0) {
      end -= start;
      start = 0;
    }
    if (end > total) {
      start = Math.max(0, start - (end - total));
      end = total;
    }
    S.viewStart = start;
    S.viewEnd = end;
    S.el.timeline.classList.toggle('zoomed', start > 0 || end < total);
    scheduleRender();
  }

  /** The time (ms) under clientX within an element spanning the current view. */
  function timeAt(el, clientX) {
    const rect = el.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    return S.viewStart + f * (S.viewEnd - S.viewStart);
  }

  function bindZoom() {
    // Ctrl + wheel zooms around the pointer; shift + wheel (or a sideways wheel) pans.
    S.el.timeline.addEventListener('wheel', (e) => {
      const barArea = S.el.axis;
      const rect = barArea.getBoundingClientRect();
      if (e.clientX < rect.left) return;
      const span = S.viewEnd - S.viewStart;
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        const at = timeAt(barArea, e.clientX);
        const factor = Math.exp(e.deltaY * 0.002);
        setView(at - (at - S.viewStart) * factor, at + (S.viewEnd - at) * factor);
      } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        e.preventDefault();
        const d = (e.shiftKey ? e.deltaY : e.deltaX) / rect.width * span;
        setView(S.viewStart + d, S.viewEnd + d);
      }
    }, { passive: false });

    // Drag on the axis: select a range and zoom into it.
    S.el.axis.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      const t0 = timeAt(S.el.axis, e.clientX);
      const sel = S.el.axisSelection;
      const span = S.viewEnd - S.viewStart;
      dragging(e, (ev) => {
        const t1 = timeAt(S.el.axis, ev.clientX);
        sel.classList.remove('hidden');
        sel.style.left = (Math.min(t0, t1) - S.viewStart) / span * 100 + '%';
        sel.style.width = Math.abs(t1 - t0) / span * 100 + '%';
      }, (ev) => {
        sel.classList.add('hidden');
        const t1 = timeAt(S.el.axis, ev.clientX);
        if (Math.abs(ev.clientX - e.clientX) > 3) setView(t0, t1);
      });
    });

    // Minimap: drag inside the window pans it; elsewhere selects a new window; a click centres.
    S.el.minimap.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      const total = Math.max(S.trace.duration, 1e-3);
      const rect = S.el.minimap.getBoundingClientRect();
      const at = (x) => Math.min(1, Math.max(0, (x - rect.left) / rect.width)) * total;
      const t0 = at(e.clientX);
      const startView = [S.viewStart, S.viewEnd];
      const zoomed = startView[0] > 0 || startView[1] < total;
      const pan = zoomed && t0 >= startView[0] && t0 <= startView[1];
      let moved = false;
      dragging(e, (ev) => {
        moved = moved || Math.abs(ev.clientX - e.clientX) > 3;
        if (!moved) return;
        const t1 = at(ev.clientX);
        if (pan) setView(startView[0] + t1 - t0, startView[1] + t1 - t0);
        else setView(t0, t1);
      }, () => {
        if (moved) return;
        const half = (startView[1] - startView[0]) / 2;
        if (zoomed) setView(t0 - half, t0 + half);
      });
    });

    // The tree column is resizable from the axis header.
    S.el.resizer.addEventListener('mousedown', (e) => {
      e.preventDefault();
      const rect = S.el.timeline.getBoundingClientRect();
      dragging(e, (ev) => {
        const w = Math.min(rect.width - 120, Math.max(120, ev.clientX - rect.left));
        S.el.timeline.style.setProperty('--tree-width', w + 'px');
        scheduleRender();
      }, () => {});
    });
  }

  /** Follows the mouse until the button is released. */
  function dragging(down, onMove, onUp) {
    const move = (ev) => onMove(ev);
    const up = (ev) => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      onUp(ev);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }

  /**
   * The minimap: every point as a thin line (row = pre-order position, so the picture matches
   * the fully expanded tree), drawn once per size into an offscreen canvas; each render copies
   * it and shades what lies outside the time window.
   */
  function renderMinimap() {
    const canvas = S.el.minimap;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const hgt = Math.round(MINIMAP_HEIGHT * dpr);
    if (!canvas.clientWidth) return;
    if (!S.minimapBase || S.minimapBase.width !== w || S.minimapBase.height !== hgt) {
      S.minimapBase = drawMinimapBase(w, hgt);
    }
    if (canvas.width !== w || canvas.height !== hgt) {
      canvas.width = w;
      canvas.height = hgt;
    }
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, w, hgt);
    ctx.drawImage(S.minimapBase, 0, 0);
    const total = Math.max(S.trace.duration, 1e-3);
    const x0 = S.viewStart / total * w;
    const x1 = S.viewEnd / total * w;
    ctx.fillStyle = 'rgba(36, 41, 47, 0.18)';
    ctx.fillRect(0, 0, x0, hgt);
    ctx.fillRect(x1, 0, w - x1, hgt);
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#1f6feb';
    ctx.lineWidth = Math.max(1, dpr);
    ctx.strokeRect(x0 + 0.5, 0.5, Math.max(1, x1 - x0 - 1), hgt - 1);
  }

  function drawMinimapBase(w, hgt) {
    const off = document.createElement('canvas');
    off.width = w;
    off.height = hgt;
    const ctx = off.getContext('2d');
    const n = S.n;
    const total = Math.max(S.trace.duration, 1e-3);
    const rowH = Math.max(1, hgt / Math.max(n, 1));
    // One path per colour: a few fill calls instead of one per point.
    const paths = new Map();
    for (let i = 0; i < n; i++) {
      const p = S.points[i];
      const colour = p.error ? 'error' : slotOf(p.service);
      let path = paths.get(colour);
      if (!path) {
        path = new Path2D();
        paths.set(colour, path);
      }
      const x = p.start / total * w;
      path.rect(x, Math.floor(i / n * hgt), Math.max(1, p.duration / total * w), rowH);
    }
    const errorColour = getComputedStyle(document.documentElement).getPropertyValue('--error').trim() || '#cf222e';
    for (const [colour, path] of paths) {
      if (colour === 'error') continue;
      ctx.fillStyle = colour < 0 ? '#9aa1a9' : S.palette[colour];
      ctx.fill(path);
    }
    // Errors last, so they stay visible on top.
    if (paths.has('error')) {
      ctx.fillStyle = errorColour;
      ctx.fill(paths.get('error'));
    }
    return off;
  }

  function observeSize() {
    const update = () => {
      const wf = S.el.waterfall;
      S.el.timeline.style.setProperty('--scrollbar', wf.offsetWidth - wf.clientWidth + 'px');
      scheduleRender();
    };
    new ResizeObserver(update).observe(S.el.waterfall);
    update();
  }

  // -------------------------------------------------------------------------------------------
  // Waterfall events and selection

  function bindWaterfall() {
    const wf = S.el.waterfall;
    wf.addEventListener('scroll', scheduleRender, { passive: true });
    wf.addEventListener('click', (e) => {
      const rowEl = e.target.closest('.row');
      if (!rowEl) return;
      const i = Number(rowEl.dataset.index);
      if (e.target.closest('.toggle')) {
        toggle(i, e.altKey);
        return;
      }
      select(i, null);
    });
  }

  /**
   * Selects point i: reveals it (expanding its ancestors), scrolls to it (`scroll`: 'center',
   * 'nearest' or null), shows its details and names it in the URL fragment.
   */
  function select(i, scroll) {
    if (i < 0 || i >= S.n) return;
    S.selected = i;
    reveal(i);
    if (scroll && S.rowOf[i] >= 0) scrollToRow(S.rowOf[i], scroll);
    renderDetails(i);
    markCriticalItem(i);
    const hash = '#point=' + encodeURIComponent(S.points[i].traceId);
    if (location.hash !== hash) history.replaceState(null, '', hash);
    scheduleRender();
  }

  function scrollToRow(r, how) {
    const wf = S.el.waterfall;
    const rh = S.rowHeight;
    const top = r * rh;
    if (how === 'center') {
      if (top < wf.scrollTop || top + rh > wf.scrollTop + wf.clientHeight) {
        wf.scrollTop = top - wf.clientHeight / 2 + rh / 2;
      }
    } else if (top < wf.scrollTop) {
      wf.scrollTop = top;
    } else if (top + rh > wf.scrollTop + wf.clientHeight) {
      wf.scrollTop = top + rh - wf.clientHeight;
    }
  }

  function pointFromHash() {
    const m = /^#point=(.+)$/.exec(location.hash);
    if (!m) return -1;
    const id = decodeURIComponent(m[1]);
    return S.points.findIndex((p) => p.traceId === id);
  }

  /** Moves the selection by `delta` rows (selects the first row when nothing is). */
  function moveSelection(delta) {
    if (!S.visibleCount) return;
    const r = S.selected >= 0 ? S.rowOf[S.selected] : -1;
    const next = r < 0 ? 0 : Math.min(S.visibleCount - 1, Math.max(0, r + delta));
    select(S.visible[next], 'nearest');
  }

  function jumpError(dir) {
    if (!S.errors.length) return;
    const cur = S.selected;
    let target;
    if (dir > 0) target = S.errors.find((e) => e > cur);
    else target = [...S.errors].reverse().find((e) => e < cur);
    if (target === undefined) target = dir > 0 ? S.errors[0] : S.errors[S.errors.length - 1];
    if (activeTab() !== 'timeline') showTab('timeline');
    select(target, 'center');
    const pos = S.errors.indexOf(target) + 1;
    S.el.errorCount.textContent = 'error ' + pos + ' of ' + S.errors.length;
  }

  function bindKeys() {
    document.addEventListener('keydown', (e) => {
      const inField = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement ||
        e.target instanceof HTMLSelectElement;
      if (e.key === 'Escape') {
        if (inField) e.target.blur();
        if (S.el.search.value || S.el.minDuration.value) clearFilters();
        else if (S.selected >= 0) clearSelection();
        return;
      }
      if (inField || e.ctrlKey || e.metaKey || e.altKey || activeTab() !== 'timeline') return;
      const p = S.selected >= 0 ? S.points[S.selected] : null;
      switch (e.key) {
        case 'ArrowDown': moveSelection(1); break;
        case 'ArrowUp': moveSelection(-1); break;
        case 'PageDown': moveSelection(pageRows()); break;
        case 'PageUp': moveSelection(-pageRows()); break;
        case 'ArrowLeft':
          if (!p) return;
          if (p.children.length && !S.collapsed[p.index]) setCollapsed(p.index, 1);
          else if (p.parent >= 0) select(p.parent, 'nearest');
          break;
        case 'ArrowRight':
          if (!p || !p.children.length) return;
          if (S.collapsed[p.index]) setCollapsed(p.index, 0);
          else moveSelection(1);
          break;
        case 'Enter':
          if (!p) return;
          toggle(p.index, false);
          break;
        case '/': S.el.search.focus(); S.el.search.select(); break;
        case 'n': jumpError(1); break;
        case 'N': jumpError(-1); break;
        default: return;
      }
      e.preventDefault();
    });
  }

  function pageRows() {
    return Math.max(1, Math.floor(S.el.waterfall.clientHeight / S.rowHeight) - 1);
  }

  function clearSelection() {
    S.selected = -1;
    renderDetails(-1);
    markCriticalItem(-1);
    history.replaceState(null, '', location.pathname + location.search);
    scheduleRender();
  }

  // -------------------------------------------------------------------------------------------
  // Search and filters

  function bindFilters() {
    let timer = 0;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(applyFilters, 120);
    };
    S.el.search.addEventListener('input', later);
    S.el.minDuration.addEventListener('input', later);
    S.el.search.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      clearTimeout(timer);
      applyFilters();
      jumpMatch(e.shiftKey ? -1 : 1);
    });
    S.el.hide.addEventListener('change', () => {
      S.hide = S.el.hide.checked;
      computeShown();
      rebuildVisible();
    });
    S.el.criticalOnly.addEventListener('change', () => {
      S.criticalOnly = S.el.criticalOnly.checked;
      computeShown();
      rebuildVisible();
      if (S.selected >= 0 && S.rowOf[S.selected] >= 0) scrollToRow(S.rowOf[S.selected], 'center');
    });
  }

  function applyFilters() {
    const text = S.el.search.value.trim();
    const min = parseFloat(S.el.minDuration.value) || 0;
    if (!text && min <= 0) {
      S.match = null;
      S.el.matchCount.textContent = '';
    } else {
      S.match = OspModel.match(S.trace, text, min);
      let count = 0;
      for (let i = 0; i < S.n; i++) count += S.match[i];
      S.el.matchCount.textContent = count.toLocaleString('en-US') + ' of ' + S.n.toLocaleString('en-US') + ' match';
    }
    computeShown();
    rebuildVisible();
  }

  function clearFilters() {
    S.el.search.value = '';
    S.el.minDuration.value = '';
    applyFilters();
  }

  /** Selects the next (or previous) matching point after the selection, in pre-order. */
  function jumpMatch(dir) {
    if (!S.match) return;
    const n = S.n;
    for (let k = 1; k <= n; k++) {
      const i = ((S.selected < 0 ? (dir > 0 ? -1 : 0) : S.selected) + dir * k + n * 2) % n;
      if (S.match[i]) {
        select(i, 'center');
        return;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Details pane

  function buildDetails() {
    S.el.details = h('section', { id: 'details', className: 'details panel' });
    renderDetails(-1);
    return S.el.details;
  }

  function renderDetails(i) {
    const box = S.el.details;
    clear(box);
    if (i < 0) {
      box.append(h('div', { className: 'panel-title' }, 'Details'),
        h('p', { className: 'notice small' }, 'Select a point to see its details (↑ ↓ to move, / to search).'));
      return;
    }
    const p = S.points[i];
    const title = h('div', { className: 'details-head' },
      h('span', { className: 'swatch ' + svcClass(p.service) }),
      h('span', { id: 'details-label', className: 'details-label' }, p.label));
    const badges = h('div', { className: 'badges' });
    if (p.error) badges.append(h('span', { className: 'badge error' }, 'error'));
    if (p.critical) badges.append(h('span', { className: 'badge critical' }, 'critical path'));
    if (p.skew) badges.append(h('span', { className: 'badge skew', title: skewText(p) }, 'clock skew ' + p.skew.ms.toFixed(3) + ' ms'));
    if (p.unfinished) badges.append(h('span', { className: 'badge' }, 'unfinished'));

    const facts = h('dl', { className: 'kv facts' });
    const fact = (key, id, value, extraClass) => facts.append(h('dt', null, key), h('dd', { id, className: extraClass || '' }, value));
    fact('kind', 'details-kind', p.kind);
    fact('service', 'details-service', serviceName(p.service));
    fact('project', 'details-project', p.project || '–');
    fact('host', 'details-host', p.host || '–');
    fact('start', 'details-start', '+' + fmt(p.start) + absoluteTime(p.start));
    fact('duration', 'details-duration', fmt(p.duration) + (p.unfinished ? ' (no stop notification)' : ''));
    fact('self time', 'details-self', fmt(p.selfTime));
    fact('children', 'details-children', String(p.children.length));
    fact('trace id', 'details-trace-id', p.traceId, 'mono');
    const parentLink = p.parent >= 0
      ? h('a', { href: '#point=' + encodeURIComponent(S.points[p.parent].traceId), className: 'mono', on: { click: (e) => { e.preventDefault(); select(p.parent, 'center'); } } }, p.parentId)
      : h('span', { className: 'mono' }, p.parentId || '–');
    fact('parent id', 'details-parent-id', parentLink);
    if (p.error) fact('error', 'details-error', (p.errorType || 'error') + (p.errorMessage ? ': ' + p.errorMessage : ''), 'error-text');
    if (p.skew) fact('clock skew', 'details-skew', skewText(p), 'skew-text');

    box.append(h('div', { className: 'panel-title' }, 'Details'), h('div', { className: 'details-body' },
      title, badges, facts,
      infoSection('Start info', 'details-info', p.startInfo),
      infoSection('Stop info', 'details-stop-info', p.stopInfo),
      rawSection('Raw start notification', 'details-raw-start', p.rawStart),
      rawSection('Raw stop notification', 'details-raw-stop', p.rawStop)));
    // The pane is reused: a newly selected point is shown from its top.
    box.scrollTop = 0;
  }

  /** " (2026-11-25 04:59:10.043059 UTC)" when the trace has real timestamps. */
  function absoluteTime(ms) {
    const base = S.trace.startEpochUs;
    if (!base) return '';
    const us = Math.round(base + ms * 1000);
    const iso = new Date(Math.floor(us / 1000)).toISOString();
    return ' (' + iso.slice(0, 10) + ' ' + iso.slice(11, 23) + String(us % 1000).padStart(3, '0') + ' UTC)';
  }

  /** The `info` of a notification as nested key/value lists; `host` is already shown above. */
  function infoSection(title, id, info) {
    const keys = Object.keys(info || {}).filter((k) => k !== 'host');
    const box = h('div', { id, className: 'info-section' }, h('h3', null, title));
    if (!keys.length) {
      box.append(h('div', { className: 'muted small' }, '(nothing)'));
      return box;
    }
    const sub = {};
    for (const k of keys) sub[k] = info[k];
    box.append(kvView(sub, 0));
    return box;
  }

  /** Objects become nested <dl>s; long or multi-line strings a <pre>; the rest plain text. */
  function kvView(value, depth) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 4) {
      const dl = h('dl', { className: 'kv' });
      for (const k of Object.keys(value)) dl.append(h('dt', null, k), h('dd', null, kvView(value[k], depth + 1)));
      if (!dl.childElementCount) return h('span', { className: 'muted' }, '{}');
      return dl;
    }
    if (typeof value === 'string') {
      if (value.length > 60 || value.includes('\n')) return h('pre', { className: 'value' }, value);
      return h('span', { className: 'value mono' }, value);
    }
    const text = JSON.stringify(value, null, 2);
    if (text === undefined) return h('span', { className: 'muted' }, String(value));
    return text.length > 60 || text.includes('\n') ? h('pre', { className: 'value' }, text) : h('span', { className: 'value mono' }, text);
  }

  function rawSection(title, id, raw) {
    const d = h('details', { id, className: 'raw' }, h('summary', null, title + (raw ? '' : ' (none)')));
    if (raw) d.append(h('pre', null, JSON.stringify(raw, null, 2)));
    return d;
  }

  // -------------------------------------------------------------------------------------------
  // Critical path panel

  function buildCriticalPanel() {
    const list = h('ol', { id: 'critical-path-list', className: 'critical-list' });
    const path = S.criticalPath;
    const shown = Math.min(path.length, MAX_CRITICAL_ITEMS);
    for (let k = 0; k < shown; k++) {
      const p = S.points[path[k]];
      list.append(h('li', { dataset: { index: String(p.index), traceId: p.traceId }, title: p.label },
        h('span', { className: 'swatch ' + svcClass(p.service) }),
        h('span', { className: 'label' }, p.label),
        h('span', { className: 'muted num' }, fmt(p.duration))));
    }
    if (path.length > shown) {
      list.append(h('li', { className: 'more muted' }, (path.length - shown).toLocaleString('en-US') + ' more: tick "critical path only" to see them all in the waterfall'));
    }
    list.addEventListener('click', (e) => {
      const li = e.target.closest('li[data-index]');
      if (li) select(Number(li.dataset.index), 'center');
    });
    S.el.criticalList = list;
    return h('section', { id: 'critical-path', className: 'critical-panel panel' },
      h('div', { className: 'panel-title' }, 'Critical path · ' + path.length + (path.length === 1 ? ' point' : ' points')),
      list);
  }

  function markCriticalItem(i) {
    const old = S.el.criticalList.querySelector('li.selected');
    if (old) old.classList.remove('selected');
    if (i < 0 || !S.points[i].critical) return;
    const li = S.el.criticalList.querySelector('li[data-index="' + i + '"]');
    if (li) {
      li.classList.add('selected');
      li.scrollIntoView({ block: 'nearest' });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Stats tab

  function buildStats() {
    S.built.stats = true;
    const st = OspModel.stats(S.trace);
    const box = document.getElementById('stats');
    box.append(
      h('p', { className: 'muted small legend' },
        h('span', { className: 'legend-bar total' }), 'total time ',
        h('span', { className: 'legend-bar self' }), 'self time (not spent in children)'),
      h('div', { className: 'stats-grid' },
        statsTable('By kind', 'stats-kind', st.byKind, false),
        statsTable('By service', 'stats-service', st.byService, true)));
  }

  /** A table whose last column is the bar chart: total (light) with self (dark) inside. */
  function statsTable(title, id, rows, byService) {
    const max = rows.reduce((m, r) => Math.max(m, r.total), 0) || 1;
    const body = h('tbody');
    for (const r of rows) {
      const colour = byService ? colourOf(r.key) : 'var(--accent)';
      const totalBar = h('div', { className: 'hbar total' });
      totalBar.style.width = r.total / max * 100 + '%';
      totalBar.style.background = colour;
      const selfBar = h('div', { className: 'hbar self' });
      selfBar.style.width = r.total > 0 ? r.self / r.total * 100 + '%' : '0';
      totalBar.append(selfBar);
      body.append(h('tr', { dataset: { key: String(r.key) } },
        h('td', null, byService ? h('span', { className: 'swatch ' + svcClass(r.key) }) : null, ' ', byService ? serviceName(r.key) : r.key),
        h('td', { className: 'num' }, r.count.toLocaleString('en-US')),
        h('td', { className: 'num' }, fmt(r.total)),
        h('td', { className: 'num' }, fmt(r.self)),
        h('td', { className: 'chart' }, totalBar)));
    }
    return h('section', { className: 'panel' },
      h('div', { className: 'panel-title' }, title),
      h('table', { id, className: 'grid stats-table' },
        h('thead', null, h('tr', null,
          h('th', null, byService ? 'service' : 'kind'), h('th', { className: 'num' }, 'count'),
          h('th', { className: 'num' }, 'total'), h('th', { className: 'num' }, 'self'), h('th', { className: 'chart' }, ''))),
        body));
  }

  // -------------------------------------------------------------------------------------------
  // Service map tab

  /** Service map geometry, px. */
  const MAP = { nodeW: 190, nodeH: 46, gapX: 150, gapY: 40, margin: 20, laneStep: 18 };

  /**
   * Services as boxes in columns (layers, see serviceLayers), calls as arrows labelled
   * calls × total time, wider with more calls. A call to the next column is a curve; a call
   * further right runs in a band above the boxes, a call back left in a band below them, so
   * no line crosses a box.
   */
  function buildServiceMap() {
    S.built.map = true;
    const map = OspModel.serviceMap(S.trace);
    const box = document.getElementById('service-map');
    if (!map.nodes.length) {
      box.append(h('p', { className: 'notice' }, 'No points.'));
      return;
    }
    const { layerOf, back } = serviceLayers(map);
    const kinds = map.edges.map((e, k) => {
      if (back[k]) return 'back';
      return layerOf.get(e.to) - layerOf.get(e.from) === 1 ? 'next' : 'over';
    });
    const over = kinds.filter((k) => k === 'over').length;
    const under = kinds.filter((k) => k === 'back').length;
    const top = MAP.margin + (over ? 14 + over * MAP.laneStep : 0);
    const columns = [];
    for (const node of map.nodes) {
      const l = layerOf.get(node.service);
      (columns[l] = columns[l] || []).push(node);
    }
    const pos = new Map();
    let maxRows = 0;
    columns.forEach((col, l) => {
      maxRows = Math.max(maxRows, col.length);
      col.forEach((node, k) => pos.set(node.service, {
        x: MAP.gapX / 2 + l * (MAP.nodeW + MAP.gapX),
        y: top + k * (MAP.nodeH + MAP.gapY),
      }));
    });
    const bottom = top + maxRows * MAP.nodeH + (maxRows - 1) * MAP.gapY;
    const shapes = edgeGeometry(map.edges, kinds, pos, top, bottom);
    const width = columns.length * (MAP.nodeW + MAP.gapX);
    const height = bottom + MAP.margin + (under ? 14 + under * MAP.laneStep : 0);
    const maxCount = map.edges.reduce((m, e) => Math.max(m, e.count), 1);

    const root = svg('svg', { width, height, viewBox: '0 0 ' + width + ' ' + height, class: 'service-map-svg', role: 'img', 'aria-label': 'service map' },
      svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto' },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }))));
    map.edges.forEach((e, k) => root.append(edgeShape(e, shapes[k], maxCount)));
    for (const node of map.nodes) root.append(nodeShape(node, pos.get(node.service)));

    box.append(h('div', { className: 'map-scroll panel' }, root), edgesTable(map.edges));
  }

  /**
   * Columns for the services: a depth-first walk from the services of the root points marks
   * the calls that close a cycle (`back`, by edge index); without them the calls form a DAG,
   * and each service's column is its longest call chain from a start, so every other call goes
   * strictly right.
   */
  function serviceLayers(map) {
    const out = new Map();
    map.edges.forEach((e, k) => {
      if (!out.has(e.from)) out.set(e.from, []);
      out.get(e.from).push(k);
    });
    const back = new Uint8Array(map.edges.length);
    const state = new Map(); // 1 = on the walk's stack, 2 = done
    const order = []; // services in post-order
    const starts = [...S.trace.roots.map((r) => S.points[r].service), ...map.nodes.map((n) => n.service)];
    for (const s of starts) {
      if (state.has(s)) continue;
      state.set(s, 1);
      const stack = [[s, 0]];
      while (stack.length) {
        const top = stack[stack.length - 1];
        const edges = out.get(top[0]) || [];
        if (top[1] === edges.length) {
          state.set(top[0], 2);
          order.push(top[0]);
          stack.pop();
          continue;
        }
        const k = edges[top[1]++];
        const next = map.edges[k].to;
        if (state.get(next) === 1) back[k] = 1;
        else if (!state.has(next)) {
          state.set(next, 1);
          stack.push([next, 0]);
        }
      }
    }
    const layerOf = new Map();
    for (let i = order.length - 1; i >= 0; i--) {
      const s = order[i];
      if (!layerOf.has(s)) layerOf.set(s, 0);
      for (const k of out.get(s) || []) {
        if (back[k]) continue;
        const to = map.edges[k].to;
        layerOf.set(to, Math.max(layerOf.get(to) || 0, layerOf.get(s) + 1));
      }
    }
    return { layerOf, back };
  }

  function nodeShape(node, p) {
    const g = svg('g', { class: 'map-node', 'data-service': String(node.service), transform: 'translate(' + p.x + ',' + p.y + ')' });
    const title = svg('title', {});
    title.textContent = serviceName(node.service) + ': ' + node.count + ' points, ' + fmt(node.total);
    const name = svg('text', { x: 14, y: 19, class: 'map-node-name' });
    name.textContent = serviceName(node.service);
    const sub = svg('text', { x: 14, y: 36, class: 'map-node-sub' });
    sub.textContent = node.count.toLocaleString('en-US') + (node.count === 1 ? ' point · ' : ' points · ') + fmt(node.total);
    g.append(title,
      svg('rect', { width: MAP.nodeW, height: MAP.nodeH, rx: 5, class: 'map-node-box' }),
      svg('rect', { width: 6, height: MAP.nodeH, rx: 2, fill: colourOf(node.service) }),
      name, sub);
    return g;
  }

  /**
   * Each edge's path and label position. "next": a curve from the caller's right side to the
   * callee's left side. "over": up from the caller's top to a lane above the boxes, across,
   * down into the callee's top. "back": out of the caller's right side, down the gap to a lane
   * below the boxes, across, up the gap left of the callee into its left side. Edges meeting
   * one side of a box get their own spot along it, so neither lines nor labels pile up.
   */
  function edgeGeometry(edges, kinds, pos, top, bottom) {
    const sides = new Map();
    const attach = (key, k) => {
      if (!sides.has(key)) sides.set(key, []);
      sides.get(key).push(k);
    };
    edges.forEach((e, k) => {
      attach(e.from + (kinds[k] === 'over' ? '\ntop' : '\nright'), k);
      attach(e.to + (kinds[k] === 'over' ? '\ntop' : '\nleft'), k);
    });
    const spot = (service, side, k, length) => {
      const list = sides.get(service + '\n' + side);
      return (list.indexOf(k) + 1) / (list.length + 1) * length;
    };
    let overLane = 0;
    let backLane = 0;
    return edges.map((e, k) => {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      if (kinds[k] === 'over') {
        const x1 = a.x + spot(e.from, 'top', k, MAP.nodeW);
        const x2 = b.x + spot(e.to, 'top', k, MAP.nodeW);
        const lane = top - 14 - overLane++ * MAP.laneStep;
        return {
          d: 'M' + x1 + ',' + a.y + ' V' + lane + ' H' + x2 + ' V' + b.y,
          label: { x: (x1 + x2) / 2, y: lane - 4 },
        };
      }
      const x1 = a.x + MAP.nodeW;
      const y1 = a.y + spot(e.from, 'right', k, MAP.nodeH);
      const x2 = b.x;
      const y2 = b.y + spot(e.to, 'left', k, MAP.nodeH);
      if (kinds[k] === 'next') {
        const c = (x2 - x1) / 2;
        return {
          d: 'M' + x1 + ',' + y1 + ' C' + (x1 + c) + ',' + y1 + ' ' + (x2 - c) + ',' + y2 + ' ' + x2 + ',' + y2,
          label: { x: x1 + (x2 - x1) * 0.6, y: y1 + (y2 - y1) * 0.68 - 5 },
        };
      }
      const offset = 12 + (backLane % 12) * 5;
      const lane = bottom + 14 + backLane++ * MAP.laneStep;
      return {
        d: 'M' + x1 + ',' + y1 + ' H' + (x1 + offset) + ' V' + lane + ' H' + (x2 - offset) + ' V' + y2 + ' H' + x2,
        label: { x: (x1 + x2) / 2, y: lane - 4 },
      };
    });
  }

  function edgeShape(e, geo, maxCount) {
    const g = svg('g', { class: 'map-edge', 'data-from': String(e.from), 'data-to': String(e.to) });
    const title = svg('title', {});
    title.textContent = serviceName(e.from) + ' → ' + serviceName(e.to) + ': ' + e.count + ' calls, ' + fmt(e.total);
    const label = svg('text', { x: geo.label.x, y: geo.label.y, class: 'map-edge-label', 'text-anchor': 'middle' });
    label.textContent = e.count + '× · ' + fmt(e.total);
    g.append(title,
      svg('path', { d: geo.d, class: 'map-edge-line', 'stroke-width': 1 + 3 * Math.sqrt(e.count / maxCount), 'marker-end': 'url(#arrow)' }),
      label);
    return g;
  }

  function edgesTable(edges) {
    const body = h('tbody');
    for (const e of edges) {
      body.append(h('tr', null,
        h('td', null, h('span', { className: 'swatch ' + svcClass(e.from) }), ' ', serviceName(e.from)),
        h('td', null, h('span', { className: 'swatch ' + svcClass(e.to) }), ' ', serviceName(e.to)),
        h('td', { className: 'num' }, e.count.toLocaleString('en-US')),
        h('td', { className: 'num' }, fmt(e.total))));
    }
    if (!edges.length) body.append(h('tr', null, h('td', { attrs: { colspan: '4' }, className: 'muted' }, 'Every point runs in one service.')));
    return h('section', { className: 'panel edges-panel' },
      h('div', { className: 'panel-title' }, 'Calls between services'),
      h('table', { id: 'service-edges', className: 'grid' },
        h('thead', null, h('tr', null, h('th', null, 'from'), h('th', null, 'to'), h('th', { className: 'num' }, 'calls'), h('th', { className: 'num' }, 'total time'))),
        body));
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
