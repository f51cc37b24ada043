/*
 * OspModel: a Python OSprofiler report (`get_report` JSON, DESIGN.md section 6) as a flat list
 * of points, with what the pages compute from it: critical path, clock skew, self time, stats,
 * service map, search and the comparison of two traces. Pure data, no DOM, so that Node tests it
 * (crates/osprofiler-ui/tests/model.test.mjs) exactly as the browser runs it.
 *
 * Everything is linear or n log n and nothing recurses: a trace of 100,000 points, as deep or
 * as wide as it likes, must load in well under a second. docs/ui.md ("The model") is the
 * contract the pages are written against. Non-ASCII characters in strings are written as \u
 * escapes, so that the script is right whatever charset it is served with.
 */
(function () {
  'use strict';

  const RAW_PREFIX = 'meta.raw_payload.';

  // ---------------------------------------------------------------------------------------------
  // Timestamps

  /** `Date.UTC` of the last day seen: a trace's timestamps nearly all share one day. */
  let lastDayKey = -1;
  let lastDayMs = 0;

  /** Decimal digits s[from..to) as a number, or NaN when one is not a digit. */
  function digits(s, from, to) {
    let v = 0;
    for (let i = from; i < to; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return NaN;
      v = v * 10 + d;
    }
    return v;
  }

  /**
   * µs since the epoch of a notification timestamp, `2026-11-25T04:59:10.042722` (UTC, no zone,
   * Python's `%Y-%m-%dT%H:%M:%S.%f`), or NaN. Parsed by hand because `Date.parse` keeps only
   * milliseconds, and points of one request are often microseconds apart.
   */
  function parseTimestampUs(ts) {
    if (typeof ts !== 'string' || ts.length < 19) return NaN;
    const sep = ts.charCodeAt(10);
    if (ts[4] !== '-' || ts[7] !== '-' || (sep !== 84 /* T */ && sep !== 32) ||
        ts[13] !== ':' || ts[16] !== ':') {
      return NaN;
    }
    const year = digits(ts, 0, 4);
    const month = digits(ts, 5, 7);
    const day = digits(ts, 8, 10);
    const dayKey = (year * 100 + month) * 100 + day;
    if (dayKey !== lastDayKey) {
      lastDayMs = Date.UTC(year, month - 1, day);
      lastDayKey = dayKey;
    }
    const seconds = digits(ts, 11, 13) * 3600 + digits(ts, 14, 16) * 60 + digits(ts, 17, 19);
    let micros = 0;
    if (ts[19] === '.') {
      // Up to six fraction digits; fewer are scaled, more are dropped.
      let scale = 100000;
      for (let i = 20; i < ts.length && scale >= 1; i++, scale /= 10) {
        const d = ts.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        micros += d * scale;
      }
    }
    return (lastDayMs + seconds * 1000) * 1000 + micros;
  }

  // ---------------------------------------------------------------------------------------------
  // Labels and errors

  function text(v) {
    if (v === null || v === undefined) return '';
    return typeof v === 'string' ? v : String(v);
  }

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  const LABEL_MAX = 120;

  /** The first non-empty line of an SQL statement, white space squeezed, at most LABEL_MAX. */
  function statementLine(statement) {
    const all = text(statement).trimStart();
    const eol = all.indexOf('\n');
    let line = (eol < 0 ? all : all.slice(0, eol)).trimEnd();
    if (/\s\s|[^\S ]/.test(line)) line = line.replace(/\s+/g, ' ');
    return line.length > LABEL_MAX ? line.slice(0, LABEL_MAX - 1) + '\u2026' : line;
  }

  /**
   * One line saying what a point did, from its start info (DESIGN.md section 9 lists what each
   * kind of point carries): the request of `wsgi`, the outgoing request of `http(s)`, the SQL of
   * `db`, the function of `rpc`/`db`/`driver` and of any `#[trace]`; else the kind. The same
   * choices as the terminal tree (`osprofiler-cli/src/tree.rs`), except that function names stay
   * whole: the pages have room, and the comparison must not merge two functions of one name.
   */
  function labelOf(kind, info) {
    const request = info.request;
    if (isObject(request)) {
      const query = text(request.query);
      const line = (text(request.method) + ' ' + text(request.path)).trim();
      if (line) return query ? line + '?' + query : line;
    }
    const requests = info.requests;
    if (isObject(requests) && (requests.method || requests.hostname || requests.path)) {
      const scheme = text(requests.scheme) || kind;
      const port = text(requests.port);
      return (text(requests.method) + ' ' + scheme + '://' + text(requests.hostname) +
        (port ? ':' + port : '') + text(requests.path)).trim();
    }
    if (isObject(info.db) && info.db.statement) {
      const line = statementLine(info.db.statement);
      if (line) return line;
    }
    if (isObject(info.function) && info.function.name) return text(info.function.name);
    if (typeof info.method === 'string' && info.method) return info.method;
    return kind;
  }

  /** A stop's `message` as text: Python sends whatever the exception's first argument was. */
  function messageText(m) {
    if (m === null || m === undefined) return '';
    return typeof m === 'string' ? m : JSON.stringify(m);
  }

  // ---------------------------------------------------------------------------------------------
  // Points

  /**
   * Shared by every point without children or without a payload's info: most points are
   * leaves, and 100,000 empty arrays and objects cost the garbage collector. Frozen, so that
   * sharing them cannot leak a change from one point to another.
   */
  const NO_CHILDREN = Object.freeze([]);
  const NO_INFO = Object.freeze({});

  /** The raw payload keys of each kind, built once per kind instead of once per point. */
  const rawKeys = new Map();

  function rawKeysOf(kind) {
    let keys = rawKeys.get(kind);
    if (!keys) {
      keys = [RAW_PREFIX + kind + '-start', RAW_PREFIX + kind + '-stop'];
      rawKeys.set(kind, keys);
    }
    return keys;
  }

  /** One trace point; every field is set here so that all points share one shape. */
  function Point(index, node, parent, depth) {
    const info = isObject(node.info) ? node.info : NO_INFO;
    const kind = text(info.name);
    const keys = rawKeysOf(kind);
    let rawStart = info[keys[0]];
    let rawStop = info[keys[1]];
    if (rawStart === undefined && rawStop === undefined) {
      // Python names the point up to the first `-` of the notification name, so a name such
      // as `my-call-start` is stored under its whole name.
      for (const key in info) {
        if (!key.startsWith(RAW_PREFIX)) continue;
        if (key.endsWith('stop')) rawStop = info[key];
        else rawStart = info[key];
      }
    }
    rawStart = isObject(rawStart) ? rawStart : null;
    rawStop = isObject(rawStop) ? rawStop : null;
    const startInfo = rawStart && isObject(rawStart.info) ? rawStart.info : NO_INFO;
    const stopInfo = rawStop && isObject(rawStop.info) ? rawStop.info : NO_INFO;

    let errorType = text(stopInfo.etype);
    if (!errorType && info.exception !== undefined && info.exception !== null &&
        info.exception !== 'None') {
      errorType = text(info.exception);
    }

    this.index = index;
    this.traceId = text(node.trace_id);
    this.parentId = text(node.parent_id);
    this.parent = parent;
    this.depth = depth;
    this.children = NO_CHILDREN;
    this.kind = kind;
    this.label = labelOf(kind, startInfo);
    this.service = text(info.service);
    this.project = text(info.project);
    this.host = text(info.host);
    // Set by fromReport once every point is known. NaN, not 0, so that V8 stores these fields
    // as doubles from the start instead of migrating 100,000 objects when the first is set.
    this.start = NaN;
    this.end = NaN;
    this.duration = NaN;
    this.selfTime = NaN;
    this.unfinished = false;
    this.error = errorType !== '';
    this.errorType = errorType;
    this.errorMessage = messageText(stopInfo.message);
    this.startInfo = startInfo;
    this.stopInfo = stopInfo;
    this.rawStart = rawStart;
    this.rawStop = rawStop;
    this.skew = null;
    this.critical = false;
  }

  /**
   * The report's nodes in pre-order, children in report order, with an explicit stack; `nodes`
   * holds the report node of each point.
   */
  function flatten(report) {
    const points = [];
    const roots = [];
    const reportNodes = [];
    const top = report && Array.isArray(report.children) ? report.children : [];
    const stack = [];
    const parents = [];
    const depths = [];
    for (let i = top.length - 1; i >= 0; i--) {
      stack.push(top[i]);
      parents.push(-1);
      depths.push(0);
    }
    while (stack.length) {
      const node = stack.pop();
      const parent = parents.pop();
      const depth = depths.pop();
      if (!isObject(node)) continue;
      const index = points.length;
      points.push(new Point(index, node, parent, depth));
      reportNodes.push(node);
      if (parent < 0) roots.push(index);
      else if (points[parent].children === NO_CHILDREN) points[parent].children = [index];
      else points[parent].children.push(index);
      const kids = node.children;
      if (!Array.isArray(kids)) continue;
      for (let k = kids.length - 1; k >= 0; k--) {
        stack.push(kids[k]);
        parents.push(index);
        depths.push(depth + 1);
      }
    }
    return { points, roots, nodes: reportNodes };
  }

  /**
   * Sets start, end, duration and unfinished. Times come from the raw payloads' µs timestamps
   * when every point has one (Python's reports and ours always do), else from the report's
   * whole milliseconds. Returns the earliest start in µs since the epoch (0 without raw times).
   */
  function setTimes(points, nodes) {
    const n = points.length;
    const startUs = new Float64Array(n);
    const stopUs = new Float64Array(n);
    let raw = n > 0;
    for (let i = 0; i < n && raw; i++) {
      const p = points[i];
      stopUs[i] = p.rawStop ? parseTimestampUs(p.rawStop.timestamp) : NaN;
      const s = p.rawStart ? parseTimestampUs(p.rawStart.timestamp) : NaN;
      // A point seen only by its stop starts when it stops, as in Python's report.
      startUs[i] = Number.isFinite(s) ? s : stopUs[i];
      raw = Number.isFinite(startUs[i]);
    }
    let origin = Infinity;
    if (raw) {
      for (let i = 0; i < n; i++) if (startUs[i] < origin) origin = startUs[i];
      for (let i = 0; i < n; i++) {
        const p = points[i];
        p.start = (startUs[i] - origin) / 1000;
        p.unfinished = p.rawStop === null;
        p.end = p.unfinished ? p.start : Math.max(p.start, (stopUs[i] - origin) / 1000);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const info = isObject(nodes[i].info) ? nodes[i].info : NO_INFO;
        const finished = Number.isFinite(info.finished) ? info.finished : NaN;
        const started = Number.isFinite(info.started) ? info.started : finished;
        startUs[i] = Number.isFinite(started) ? started : 0;
        stopUs[i] = finished;
        if (startUs[i] < origin) origin = startUs[i];
      }
      for (let i = 0; i < n; i++) {
        const p = points[i];
        p.start = startUs[i] - origin;
        p.unfinished = Number.isNaN(stopUs[i]);
        p.end = p.unfinished ? p.start : Math.max(p.start, stopUs[i] - origin);
      }
    }
    extendUnfinished(points);
    for (let i = 0; i < n; i++) points[i].duration = points[i].end - points[i].start;
    return raw ? origin : 0;
  }

  /**
   * An unfinished point (no stop) ends when its last descendant ends, or at its start. In
   * pre-order every descendant has a larger index, so one backward pass sees them all first.
   */
  function extendUnfinished(points) {
    const latest = new Float64Array(points.length).fill(-Infinity);
    for (let i = points.length - 1; i >= 0; i--) {
      const p = points[i];
      if (p.unfinished && latest[i] > p.end) p.end = latest[i];
      const reach = Math.max(p.end, latest[i]);
      if (p.parent >= 0 && reach > latest[p.parent]) latest[p.parent] = reach;
    }
  }

  /**
   * Clock skew: a point on another host than its parent that starts before the parent or ends
   * after it. On one host both come from one clock, so such a point is real, not skew.
   */
  function setSkew(points) {
    for (const p of points) {
      if (p.parent < 0) continue;
      const parent = points[p.parent];
      if (!p.host || !parent.host || p.host === parent.host) continue;
      if (p.start < parent.start) {
        p.skew = { ms: parent.start - p.start, kind: 'before-parent' };
      } else if (p.end > parent.end) {
        p.skew = { ms: p.end - parent.end, kind: 'after-parent' };
      }
    }
  }

  /**
   * Self time: the duration minus the union of the children's intervals clipped to the point.
   * A union, not a sum, because children may run in parallel.
   */
  function setSelfTimes(points) {
    const starts = [];
    const ends = [];
    const order = [];
    for (const p of points) {
      const kids = p.children;
      if (kids.length === 0) {
        p.selfTime = p.duration;
        continue;
      }
      starts.length = 0;
      ends.length = 0;
      let sorted = true;
      for (const c of kids) {
        const child = points[c];
        const s = Math.max(child.start, p.start);
        const e = Math.min(child.end, p.end);
        if (e <= s) continue;
        if (starts.length && s < starts[starts.length - 1]) sorted = false;
        starts.push(s);
        ends.push(e);
      }
      let ids = null;
      if (!sorted) {
        order.length = 0;
        for (let k = 0; k < starts.length; k++) order.push(k);
        order.sort((a, b) => starts[a] - starts[b]);
        ids = order;
      }
      let covered = 0;
      let runStart = NaN;
      let runEnd = -Infinity;
      for (let k = 0; k < starts.length; k++) {
        const j = ids ? ids[k] : k;
        if (starts[j] > runEnd) {
          if (runEnd > runStart) covered += runEnd - runStart;
          runStart = starts[j];
          runEnd = ends[j];
        } else if (ends[j] > runEnd) {
          runEnd = ends[j];
        }
      }
      if (runEnd > runStart) covered += runEnd - runStart;
      p.selfTime = Math.max(0, p.duration - covered);
    }
  }

  /** The distinct services, projects, hosts and kinds, each in first-seen order. */
  function distinctValues(points) {
    const services = new Set();
    const projects = new Set();
    const hosts = new Set();
    const kinds = new Set();
    for (const p of points) {
      services.add(p.service);
      projects.add(p.project);
      hosts.add(p.host);
      kinds.add(p.kind);
    }
    return {
      services: Array.from(services),
      projects: Array.from(projects),
      hosts: Array.from(hosts),
      kinds: Array.from(kinds),
    };
  }

  /** The trace's base id, from the first raw payload that has one. */
  function baseIdOf(points) {
    for (const p of points) {
      const raw = p.rawStart || p.rawStop;
      if (raw && typeof raw.base_id === 'string' && raw.base_id) return raw.base_id;
    }
    return null;
  }

  /** A report (`get_report` JSON) as a Trace (docs/ui.md). Computes the critical path too. */
  function fromReport(report) {
    const { points, roots, nodes } = flatten(report);
    const startEpochUs = setTimes(points, nodes);
    setSkew(points);
    setSelfTimes(points);
    let last = 0;
    for (const p of points) if (p.end > last) last = p.end;
    const { services, projects, hosts, kinds } = distinctValues(points);
    const trace = {
      points,
      roots,
      startEpochUs,
      duration: last,
      services,
      projects,
      hosts,
      kinds,
      baseId: baseIdOf(points),
      searchText: null, // built by `match` on first use
    };
    criticalPath(trace);
    return trace;
  }

  // ---------------------------------------------------------------------------------------------
  // Critical path

  /**
   * Jaeger's critical path. Children are first clipped to their parent (dropped when wholly
   * outside it). From the end of each root, walk back: go into the child that finished last
   * before the current moment; when a point has no such child left, the time back to its start
   * is its own, and the walk returns to its parent at that start. Jaeger takes children that end
   * strictly before the moment; here "at or before", so that back-to-back children (common with
   * the whole milliseconds of reports without raw times) stay on the path.
   *
   * Marks every point the walk passes through (`point.critical`) and returns their indices in
   * start order.
   */
  function criticalPath(trace) {
    const points = trace.points;
    const n = points.length;
    const cs = new Float64Array(n);
    const ce = new Float64Array(n);
    const dropped = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = points[i];
      p.critical = false;
      if (p.parent < 0) {
        cs[i] = p.start;
        ce[i] = p.end;
        continue;
      }
      const q = p.parent;
      if (dropped[q] || p.start > ce[q] || p.end < cs[q]) {
        dropped[i] = 1;
        continue;
      }
      cs[i] = Math.max(p.start, cs[q]);
      ce[i] = Math.min(p.end, ce[q]);
    }

    // Per point, its kept children by clipped end, latest first, sorted on first visit; and a
    // cursor past the children already taken or too late: the moment only moves back in time.
    const byEnd = new Array(n);
    const cursor = new Uint32Array(n);
    const onPath = new Uint8Array(n);
    for (const root of trace.roots) {
      let cur = root;
      let moment = ce[root];
      for (;;) {
        onPath[cur] = 1;
        let kids = byEnd[cur];
        if (kids === undefined) {
          const children = points[cur].children;
          kids = children.length ? children.filter((c) => !dropped[c]) : NO_CHILDREN;
          if (kids.length > 1) kids.sort((a, b) => ce[b] - ce[a] || a - b);
          byEnd[cur] = kids;
        }
        let k = cursor[cur];
        while (k < kids.length && ce[kids[k]] > moment) k++;
        if (k < kids.length) {
          cursor[cur] = k + 1;
          cur = kids[k];
          moment = ce[cur];
        } else {
          cursor[cur] = k;
          if (cur === root) break;
          moment = cs[cur];
          cur = points[cur].parent;
        }
      }
    }
    // Pre-order is nearly start order already, which the sort's runs make cheap.
    const path = [];
    for (let i = 0; i < n; i++) {
      if (!onPath[i]) continue;
      points[i].critical = true;
      path.push(i);
    }
    path.sort((a, b) => points[a].start - points[b].start || a - b);
    return path;
  }

  // ---------------------------------------------------------------------------------------------
  // Stats and service map

  /** Rows `{ key, count, total, self }` grouped by `keyOf`, by total descending. */
  function aggregate(points, keyOf) {
    const rows = new Map();
    for (const p of points) {
      const key = keyOf(p);
      let row = rows.get(key);
      if (!row) {
        row = { key, count: 0, total: 0, self: 0 };
        rows.set(key, row);
      }
      row.count++;
      row.total += p.duration;
      row.self += p.selfTime;
    }
    return Array.from(rows.values()).sort((a, b) => b.total - a.total);
  }

  function stats(trace) {
    return {
      byKind: aggregate(trace.points, (p) => p.kind),
      byService: aggregate(trace.points, (p) => p.service),
    };
  }

  /**
   * Which service called which: a node per service (its points and their summed duration) and
   * an edge for each point whose parent runs in another service (summed over such points).
   * Both in first-seen order.
   */
  function serviceMap(trace) {
    const nodes = new Map();
    const edges = new Map();
    const points = trace.points;
    for (const p of points) {
      let node = nodes.get(p.service);
      if (!node) {
        node = { service: p.service, count: 0, total: 0 };
        nodes.set(p.service, node);
      }
      node.count++;
      node.total += p.duration;
      if (p.parent < 0) continue;
      const from = points[p.parent].service;
      if (from === p.service) continue;
      const key = from + '\n' + p.service;
      let edge = edges.get(key);
      if (!edge) {
        edge = { from, to: p.service, count: 0, total: 0 };
        edges.set(key, edge);
      }
      edge.count++;
      edge.total += p.duration;
    }
    return { nodes: Array.from(nodes.values()), edges: Array.from(edges.values()) };
  }

  // ---------------------------------------------------------------------------------------------
  // Search

  /** Lower-case text of each point that search looks in; built once per trace. */
  function searchTextOf(trace) {
    if (trace.searchText) return trace.searchText;
    trace.searchText = trace.points.map((p) =>
      [p.kind, p.label, p.service, p.project, p.host, p.traceId,
        JSON.stringify(p.startInfo), JSON.stringify(p.stopInfo)].join('\n').toLowerCase());
    return trace.searchText;
  }

  /**
   * 1 for each point whose kind, label, service, project, host, trace id or info (keys and
   * values, as JSON) holds `query`, case-insensitive, and that lasts at least `minDurationMs`.
   * Empty text matches every point.
   */
  function match(trace, query, minDurationMs) {
    const points = trace.points;
    const out = new Uint8Array(points.length);
    const needle = String(query || '').trim().toLowerCase();
    const min = Number(minDurationMs) || 0;
    const haystack = needle ? searchTextOf(trace) : null;
    for (let i = 0; i < points.length; i++) {
      if (points[i].duration < min) continue;
      if (haystack && !haystack[i].includes(needle)) continue;
      out[i] = 1;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Comparison

  const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b/gi;

  /**
   * A point's name for the comparison: its label with ids (UUIDs, 32-hex project ids) as `{id}`,
   * so that the same request on two instances is one name.
   */
  function nameOf(p) {
    return p.label.replace(UUID, '{id}');
  }

  function tally(points, keyOf) {
    const rows = new Map();
    for (const p of points) {
      const key = keyOf(p);
      let row = rows.get(key);
      if (!row) {
        row = { count: 0, total: 0 };
        rows.set(key, row);
      }
      row.count++;
      row.total += p.duration;
    }
    return rows;
  }

  /**
   * Rows `{ key, a: { count, total }, b: { count, total }, countDiff, totalDiff }` (diff = b - a)
   * for every key of either trace, the largest time difference first.
   */
  function compareBy(a, b, keyOf) {
    const ta = tally(a.points, keyOf);
    const tb = tally(b.points, keyOf);
    const keys = new Set([...ta.keys(), ...tb.keys()]);
    const rows = [];
    for (const key of keys) {
      const ra = ta.get(key) || { count: 0, total: 0 };
      const rb = tb.get(key) || { count: 0, total: 0 };
      rows.push({ key, a: ra, b: rb, countDiff: rb.count - ra.count, totalDiff: rb.total - ra.total });
    }
    return rows.sort((x, y) => Math.abs(y.totalDiff) - Math.abs(x.totalDiff));
  }

  /** Point names (`nameOf`) of `x` not found in `y`, in first-seen order. */
  function onlyIn(x, y) {
    const other = new Set(y.points.map(nameOf));
    const out = new Set();
    for (const p of x.points) {
      const name = nameOf(p);
      if (!other.has(name)) out.add(name);
    }
    return Array.from(out);
  }

  function compare(a, b) {
    return {
      byKind: compareBy(a, b, (p) => p.kind),
      byService: compareBy(a, b, (p) => p.service),
      byName: compareBy(a, b, nameOf),
      onlyInA: onlyIn(a, b),
      onlyInB: onlyIn(b, a),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Formatting

  /** `850 µs`, `12.3 ms`, `4.56 s`: three significant digits, whole µs at the bottom. */
  function formatMs(ms) {
    if (!Number.isFinite(ms)) return '\u2013';
    const abs = Math.abs(ms);
    const us = Math.round(abs * 1000);
    const sign = ms < 0 && us > 0 ? '-' : '';
    if (us < 1000) return sign + us + ' \u00b5s';
    const ms3 = threeDigits(abs);
    if (Number(ms3) < 1000) return sign + ms3 + ' ms';
    return sign + threeDigits(abs / 1000) + ' s';
  }

  /** A number ≥ 1 with three significant digits (whole above 100). */
  function threeDigits(v) {
    if (v < 9.995) return v.toFixed(2);
    if (v < 99.95) return v.toFixed(1);
    return v.toFixed(0);
  }

  const OspModel = {
    fromReport,
    criticalPath,
    stats,
    serviceMap,
    match,
    compare,
    formatMs,
  };

  globalThis.OspModel = OspModel;
  if (typeof module !== 'undefined') module.exports = OspModel;
})();
