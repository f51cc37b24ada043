// The trace list (docs/ui.md, issue 10 point 2): the collector's filters, kept in the page URL
// so a filtered list can be linked and reloaded; a paged table of traces, newest first; a
// scatter plot of duration over time; two traces picked for the compare page.
// Every value from the API goes into the DOM as text (textContent), never as markup.
//
// Stable hooks (the browser tests, crates/osprofiler-ui/e2e/ui.test.mjs, rely on these):
//   #filters: #f-error #f-service #f-project #f-host #f-since #f-until #f-min-duration #f-q,
//             #apply (submit), #clear; the filters are also the page URL's query
//   #traces tbody tr[data-base-id]   a trace; td.time (title: UTC), td.base-id a (its page),
//                                    td.errors.some (has errors), input.pick (to compare)
//   #compare (enabled with two picks), #picked, #scatter (canvas), #status, #prev-page, #next-page
"use strict";

(function () {
  /** The filters of GET /api/v1/traces, named as there; the page URL uses the same names. */
  const FILTERS = ["error", "service", "project", "host", "since", "until", "min_duration_ms", "q"];
  const DEFAULT_LIMIT = 50;
  /** The scatter plot shows up to this many of the newest matching traces (the API's maximum page). */
  const SCATTER_LIMIT = 1000;
  /** A dot is under the mouse within this many CSS pixels. */
  const HIT_RADIUS = 8;

  const $ = (id) => document.getElementById(id);

  const state = {
    query: null, // { filters: {name: value}, limit, offset, scale }
    traces: [], // the table's page of TraceSummary
    sample: [], // the scatter plot's traces
    picks: [], // base ids picked for comparison, in pick order, at most two
    loads: 0, // counts loads, so an older answer arriving late is ignored
    loaded: false, // whether a first answer (or failure) came
  };

  // ---- time ---------------------------------------------------------------------------

  /** Milliseconds since the epoch of an API timestamp (UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff][Z]`). */
  function parseUtc(text) {
    const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?Z?$/.exec(text || "");
    if (!m) return NaN;
    const whole = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return whole + (m[7] ? parseFloat(m[7]) * 1000 : 0);
  }

  const pad = (n, width = 2) => String(n).padStart(width, "0");

  function localDate(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function localTime(d) {
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  /** `YYYY-MM-DD HH:MM:SS.mmm` in the viewer's time zone. */
  function formatLocal(ms) {
    if (!Number.isFinite(ms)) return "?";
    const d = new Date(ms);
    return localDate(d) + " " + localTime(d) + "." + pad(d.getMilliseconds(), 3);
  }

  /** A datetime-local input's value (local time) as the API's UTC form, or "". */
  function inputToUtc(value) {
    if (!value) return "";
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 19) + "Z";
  }

  /** An API timestamp as a datetime-local input's value (local time), or "". */
  function utcToInput(text) {
    const ms = parseUtc(text);
    if (!Number.isFinite(ms)) return "";
    const d = new Date(ms);
    return localDate(d) + "T" + localTime(d);
  }

  // ---- the query: page URL, form, API path ------------------------------------------

  function readUrl() {
    const params = new URLSearchParams(location.search);
    const filters = {};
    for (const name of FILTERS) {
      const value = params.get(name);
      if (value) filters[name] = value;
    }
    const limit = parseInt(params.get("limit"), 10);
    const offset = parseInt(params.get("offset"), 10);
    return {
      filters,
      limit: limit > 0 ? Math.min(limit, SCATTER_LIMIT) : DEFAULT_LIMIT,
      offset: offset > 0 ? offset : 0,
      scale: params.get("scale") === "linear" ? "linear" : "log",
    };
  }

  /** The page URL of `query`: only what differs from the defaults. */
  function pageUrl(query) {
    const params = new URLSearchParams(query.filters);
    if (query.limit !== DEFAULT_LIMIT) params.set("limit", query.limit);
    if (query.offset) params.set("offset", query.offset);
    if (query.scale !== "log") params.set("scale", query.scale);
    const search = params.toString();
    return location.pathname + (search ? "?" + search : "");
  }

  function apiPath(filters, limit, offset) {
    const params = new URLSearchParams(filters);
    params.set("limit", limit);
    if (offset) params.set("offset", offset);
    return "/api/v1/traces?" + params.toString();
  }

  function writeForm(query) {
    const f = query.filters;
    $("f-error").checked = f.error === "true";
    $("f-service").value = f.service || "";
    $("f-project").value = f.project || "";
    $("f-host").value = f.host || "";
    $("f-since").value = utcToInput(f.since);
    $("f-until").value = utcToInput(f.until);
    $("f-min-duration").value = f.min_duration_ms || "";
    $("f-q").value = f.q || "";
    $("page-size").value = String(query.limit);
    $("scatter-scale").value = query.scale;
  }

  function readForm() {
    const filters = {};
    const set = (name, value) => {
      if (value) filters[name] = value;
    };
    set("error", $("f-error").checked ? "true" : "");
    set("service", $("f-service").value.trim());
    set("project", $("f-project").value.trim());
    set("host", $("f-host").value.trim());
    set("since", inputToUtc($("f-since").value));
    set("until", inputToUtc($("f-until").value));
    set("min_duration_ms", $("f-min-duration").value.trim());
    set("q", $("f-q").value.trim());
    return filters;
  }

  /** Shows `query`: a new history entry, so Back returns to the previous filters or page. */
  function navigate(query) {
    state.query = query;
    history.pushState(null, "", pageUrl(query));
    load();
  }

  // ---- loading ----------------------------------------------------------------------------

  /**
   * Fetches the newest SCATTER_LIMIT matching traces for the plot; the table's page is a slice
   * of them when it lies within, else a second request.
   */
  async function load() {
    const load = ++state.loads;
    const { filters, limit, offset } = state.query;
    const slow = setTimeout(() => showStatus("Loading…", false), 200);
    try {
      const sampleRequest = OspApi.getJson(apiPath(filters, SCATTER_LIMIT, 0));
      const fromSample = offset + limit <= SCATTER_LIMIT;
      const [sample, page] = await Promise.all([
        sampleRequest,
        fromSample ? sampleRequest : OspApi.getJson(apiPath(filters, limit, offset)),
      ]);
      if (load !== state.loads) return;
      state.loaded = true;
      state.sample = sample.traces;
      state.traces = fromSample ? sample.traces.slice(offset, offset + limit) : page.traces;
      const more = fromSample
        ? sample.traces.length > offset + limit || sample.traces.length === SCATTER_LIMIT
        : page.traces.length === limit;
      showStatus("", false);
      renderTable();
      renderPager(more);
      fillSuggestions();
      drawScatter();
    } catch (err) {
      if (load !== state.loads) return;
      state.loaded = true;
      state.sample = [];
      state.traces = [];
      showStatus(err.message, true);
      renderTable();
      renderPager(false);
      drawScatter();
    } finally {
      clearTimeout(slow);
    }
  }

  function showStatus(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("hidden", !text);
    status.classList.toggle("error", isError);
  }

  // ---- the table ------------------------------------------------------------------------

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  /** A cell listing names, cut by CSS when long, the whole list in its tooltip. */
  function listCell(names, column) {
    const td = cell((names || []).join(", "), "list " + column);
    td.title = td.textContent;
    return td;
  }

  function row(trace) {
    const tr = document.createElement("tr");
    tr.dataset.baseId = trace.base_id;

    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.className = "pick";
    pick.title = "Pick to compare";
    pick.setAttribute("aria-label", "pick " + trace.base_id + " to compare");
    const pickCell = cell("", "pick-col");
    pickCell.appendChild(pick);

    const time = cell(formatLocal(parseUtc(trace.timestamp)), "time");
    time.title = trace.timestamp + " UTC";

    const link = document.createElement("a");
    link.href = OspApi.traceUrl(trace.base_id);
    link.textContent = trace.base_id;
    const id = cell("", "base-id");
    id.appendChild(link);

    const errors = cell(String(trace.errors), trace.errors > 0 ? "num errors some" : "num errors muted");

    tr.append(
      pickCell,
      time,
      id,
      cell(OspModel.formatMs(trace.duration_ms), "num"),
      cell(String(trace.points), "num"),
      errors,
      listCell(trace.services, "col-services"),
      listCell(trace.projects, "col-projects"),
      listCell(trace.hosts, "col-hosts")
    );
    return tr;
  }

  function renderTable() {
    const body = $("traces").tBodies[0];
    const rows = state.traces.map(row);
    if (rows.length === 0 && $("status").classList.contains("hidden")) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(
        state.query.offset > 0 ? "No more traces." : "No traces match these filters."
      );
      td.colSpan = $("traces").tHead.rows[0].cells.length;
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    syncPicks();
  }

  function renderPager(more) {
    const { limit, offset } = state.query;
    $("prev-page").disabled = offset === 0;
    $("next-page").disabled = !more;
    const n = state.traces.length;
    $("range").textContent = n ? "traces " + (offset + 1) + "–" + (offset + n) : "";
  }

  /** Offers the services, projects and hosts seen in the sample as input suggestions. */
  function fillSuggestions() {
    const fill = (listId, field) => {
      const names = new Set();
      for (const t of state.sample) for (const name of t[field] || []) names.add(name);
      const options = [...names].sort().map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      });
      $(listId).replaceChildren(...options);
    };
    fill("known-services", "services");
    fill("known-projects", "projects");
    fill("known-hosts", "hosts");
  }

  // ---- picking two traces to compare ----------------------------------------------------

  /** Picks or unpicks `id`; a third pick replaces the oldest. Picks survive paging. */
  function setPicked(id, picked) {
    state.picks = state.picks.filter((p) => p !== id);
    if (picked) state.picks.push(id);
    if (state.picks.length > 2) state.picks.shift();
    syncPicks();
  }

  function syncPicks() {
    for (const tr of $("traces").tBodies[0].rows) {
      const box = tr.querySelector(".pick");
      if (!box) continue;
      const picked = state.picks.includes(tr.dataset.baseId);
      box.checked = picked;
      tr.classList.toggle("picked", picked);
    }
    const [a, b] = state.picks;
    $("compare").disabled = state.picks.length !== 2;
    $("compare").classList.toggle("primary", state.picks.length === 2);
    $("picked").textContent =
      state.picks.length === 2
        ? short(a) + " with " + short(b)
        : state.picks.length === 1
          ? short(a) + ": tick one more trace to compare"
          : "Tick two traces to compare them.";
  }

  const short = (id) => (id.length > 13 ? id.slice(0, 8) + "…" : id);

  // ---- the scatter plot -----------------------------------------------------------------

  const scatter = {
    xs: new Float32Array(0), // each sample trace's dot, CSS pixels
    ys: new Float32Array(0),
    hover: -1, // index into state.sample under the mouse
    highlight: null, // base id of the table row under the mouse
  };

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  /** 1, 2 or 5 times a power of ten, at least `raw`. */
  function niceStep(raw) {
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
    return 10 * power;
  }

  /** The y axis: a function from ms to pixels, and its ticks. */
  function yAxis(durations, top, bottom, log) {
    const max = Math.max(...durations, 0.001);
    if (log) {
      const positive = durations.filter((d) => d > 0);
      const lo = Math.pow(10, Math.floor(Math.log10(Math.max(Math.min(...positive, max), 0.001))));
      const hi = Math.max(Math.pow(10, Math.ceil(Math.log10(max))), lo * 10);
      const span = Math.log10(hi) - Math.log10(lo);
      const y = (d) => bottom - ((Math.log10(Math.max(d, lo)) - Math.log10(lo)) / span) * (bottom - top);
      const ticks = [];
      for (let p = lo; p <= hi * 1.0001; p *= 10) {
        ticks.push(p);
        if (span <= 2) ticks.push(2 * p, 5 * p);
      }
      return { y, ticks: ticks.filter((t) => t <= hi * 1.0001) };
    }
    const step = niceStep(max / 4);
    const hi = Math.ceil(max / step) * step;
    const y = (d) => bottom - (d / hi) * (bottom - top);
    const ticks = [];
    for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t);
    return { y, ticks };
  }

  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  const TIME_STEPS = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
    MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
  ];

  /** Tick times at round local times, about one per `minGap` pixels, and their label. */
  function timeTicks(from, to, width, minGap) {
    const span = to - from;
    const step = TIME_STEPS.find((s) => (span / s) * minGap <= width) || 90 * DAY;
    const zone = -new Date(from).getTimezoneOffset() * MINUTE;
    const ticks = [];
    for (let t = Math.ceil((from + zone) / step) * step - zone; t <= to; t += step) ticks.push(t);
    const label = (t) => {
      const d = new Date(t);
      if (step < SECOND) return localTime(d) + "." + pad(d.getMilliseconds(), 3);
      if (step < MINUTE) return localTime(d);
      if (step >= DAY) return localDate(d);
      const hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
      return span < DAY ? hm : localDate(d).slice(5) + " " + hm;
    };
    return { ticks, label };
  }

  function drawScatter() {
    const canvas = $("scatter");
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px " + cssVar("--font", "sans-serif");
    const muted = cssVar("--muted", "#666");

    const sample = state.sample;
    const n = sample.length;
    $("scatter-title").textContent =
      n === SCATTER_LIMIT
        ? "Duration over time: the newest " + n + " matching traces"
        : "Duration over time";
    scatter.xs = new Float32Array(n);
    scatter.ys = new Float32Array(n);
    if (n === 0) {
      ctx.fillStyle = muted;
      ctx.textAlign = "center";
      ctx.fillText(state.loaded ? "no traces" : "loading…", width / 2, height / 2);
      return;
    }

    const plot = { left: 64, right: width - 16, top: 10, bottom: height - 22 };
    const times = sample.map((t) => parseUtc(t.timestamp));
    const durations = sample.map((t) => Math.max(0, +t.duration_ms || 0));
    let from = Math.min(...times.filter(Number.isFinite));
    let to = Math.max(...times.filter(Number.isFinite));
    // a little room at both ends; a single trace (no span) gets a minute around it
    const margin = to > from ? (to - from) * 0.03 : 30 * SECOND;
    from -= margin;
    to += margin;
    const x = (t) => plot.left + ((t - from) / (to - from)) * (plot.right - plot.left);
    const { y, ticks: yTicks } = yAxis(durations, plot.top, plot.bottom, state.query.scale === "log");

    // grid and axes
    ctx.strokeStyle = cssVar("--border-light", "#eee");
    ctx.fillStyle = muted;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of yTicks) {
      const py = Math.round(y(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plot.left, py);
      ctx.lineTo(plot.right, py);
      ctx.stroke();
      ctx.fillText(t === 0 ? "0" : OspModel.formatMs(t), plot.left - 6, py);
    }
    const { ticks: xTicks, label } = timeTicks(from, to, plot.right - plot.left, 110);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xTicks) {
      const px = Math.round(x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, plot.top);
      ctx.lineTo(px, plot.bottom);
      ctx.stroke();
      ctx.fillText(label(t), px, plot.bottom + 5);
    }
    ctx.strokeStyle = cssVar("--border", "#ccc");
    ctx.strokeRect(plot.left + 0.5, plot.top + 0.5, plot.right - plot.left, plot.bottom - plot.top);

    // dots: plain ones first, so errors and this page's traces stay visible on top
    const onPage = new Set(state.traces.map((t) => t.base_id));
    const accent = cssVar("--accent", "#1f6feb");
    const error = cssVar("--error", "#cf222e");
    const text = cssVar("--text", "#222");
    const order = [...sample.keys()].sort(
      (a, b) => rank(sample[a], onPage) - rank(sample[b], onPage)
    );
    for (const i of order) {
      const t = sample[i];
      const px = Number.isFinite(times[i]) ? x(times[i]) : -100;
      const py = y(durations[i]);
      scatter.xs[i] = px;
      scatter.ys[i] = py;
      ctx.globalAlpha = t.errors > 0 ? 0.9 : 0.55;
      ctx.fillStyle = t.errors > 0 ? error : accent;
      ctx.beginPath();
      ctx.arc(px, py, 3, 0, 2 * Math.PI);
      ctx.fill();
      ctx.globalAlpha = 1;
      if (onPage.has(t.base_id)) {
        ctx.strokeStyle = text;
        ctx.lineWidth = 1;
        ctx.stroke();
      }
    }
    const marked = sample.findIndex((t) => t.base_id === scatter.highlight);
    for (const i of [scatter.hover, marked]) {
      if (i < 0) continue;
      ctx.strokeStyle = text;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(scatter.xs[i], scatter.ys[i], 6, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  /** Drawing order: plain traces, then traces with errors, then those on this page. */
  function rank(trace, onPage) {
    return (onPage.has(trace.base_id) ? 2 : 0) + (trace.errors > 0 ? 1 : 0);
  }

  /** The sample trace whose dot is nearest the point (px, py), within HIT_RADIUS, or -1. */
  function dotAt(px, py) {
    let best = -1;
    let bestDistance = HIT_RADIUS * HIT_RADIUS;
    for (let i = 0; i < scatter.xs.length; i++) {
      const dx = scatter.xs[i] - px;
      const dy = scatter.ys[i] - py;
      const distance = dx * dx + dy * dy;
      if (distance <= bestDistance) {
        best = i;
        bestDistance = distance;
      }
    }
    return best;
  }

  function tipLine(parent, text, className) {
    const div = document.createElement("div");
    div.textContent = text;
    if (className) div.className = className;
    parent.appendChild(div);
  }

  function showTip(i) {
    const tip = $("scatter-tip");
    if (i < 0) {
      tip.classList.add("hidden");
      return;
    }
    const t = state.sample[i];
    tip.replaceChildren();
    tipLine(tip, t.base_id, "mono");
    tipLine(tip, formatLocal(parseUtc(t.timestamp)));
    tipLine(tip, OspModel.formatMs(t.duration_ms) + " · " + t.points + " points");
    if (t.errors > 0) tipLine(tip, t.errors + (t.errors === 1 ? " error" : " errors"), "error-text");
    if (t.services && t.services.length) tipLine(tip, t.services.join(", "));
    tip.classList.remove("hidden");
    const box = tip.parentElement;
    const right = scatter.xs[i] + 12;
    const left = right + tip.offsetWidth <= box.clientWidth ? right : scatter.xs[i] - 12 - tip.offsetWidth;
    tip.style.left = Math.max(0, left) + "px";
    const above = scatter.ys[i] - tip.offsetHeight - 8;
    tip.style.top = (above >= 0 ? above : scatter.ys[i] + 12) + "px";
  }

  function onScatterMove(event) {
    const rect = $("scatter").getBoundingClientRect();
    const i = dotAt(event.clientX - rect.left, event.clientY - rect.top);
    if (i === scatter.hover) return;
    scatter.hover = i;
    $("scatter").classList.toggle("pointing", i >= 0);
    showTip(i);
    drawScatter();
  }

  function onScatterLeave() {
    if (scatter.hover < 0) return;
    scatter.hover = -1;
    $("scatter").classList.remove("pointing");
    showTip(-1);
    drawScatter();
  }

  function onScatterClick(event) {
    const rect = $("scatter").getBoundingClientRect();
    const i = dotAt(event.clientX - rect.left, event.clientY - rect.top);
    if (i >= 0) location.href = OspApi.traceUrl(state.sample[i].base_id);
  }

  /** Rings the dot of the table row under the mouse. */
  function onRowHover(event) {
    const tr = event.target.closest("tr[data-base-id]");
    const id = tr ? tr.dataset.baseId : null;
    if (id === scatter.highlight) return;
    scatter.highlight = id;
    drawScatter();
  }

  // ---- wiring ---------------------------------------------------------------------------

  function start() {
    state.query = readUrl();
    writeForm(state.query);

    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      navigate({ ...state.query, filters: readForm(), offset: 0 });
    });
    $("clear").addEventListener("click", () => {
      navigate({ ...state.query, filters: {}, offset: 0 });
      writeForm(state.query);
    });
    $("prev-page").addEventListener("click", () => {
      const { limit, offset } = state.query;
      navigate({ ...state.query, offset: Math.max(0, offset - limit) });
    });
    $("next-page").addEventListener("click", () => {
      navigate({ ...state.query, offset: state.query.offset + state.query.limit });
    });
    $("page-size").addEventListener("change", () => {
      const limit = parseInt($("page-size").value, 10);
      navigate({ ...state.query, limit, offset: Math.floor(state.query.offset / limit) * limit });
    });
    $("scatter-scale").addEventListener("change", () => {
      state.query = { ...state.query, scale: $("scatter-scale").value };
      history.replaceState(null, "", pageUrl(state.query));
      drawScatter();
    });
    $("traces").tBodies[0].addEventListener("change", (event) => {
      const box = event.target;
      if (!box.classList.contains("pick")) return;
      setPicked(box.closest("tr").dataset.baseId, box.checked);
    });
    $("traces").tBodies[0].addEventListener("mouseover", onRowHover);
    $("traces").tBodies[0].addEventListener("mouseleave", onRowHover);
    $("compare").addEventListener("click", () => {
      if (state.picks.length === 2) location.href = OspApi.compareUrl(state.picks[0], state.picks[1]);
    });
    const canvas = $("scatter");
    canvas.addEventListener("mousemove", onScatterMove);
    canvas.addEventListener("mouseleave", onScatterLeave);
    canvas.addEventListener("click", onScatterClick);
    new ResizeObserver(() => drawScatter()).observe(canvas);
    window.addEventListener("popstate", () => {
      state.query = readUrl();
      writeForm(state.query);
      load();
    });

    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
