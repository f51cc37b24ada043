// Tests of assets/model.js, the UI's data model (docs/ui.md, "The model").
// Run: node --test crates/osprofiler-ui/tests/
//
// fixtures/*.json are reports made by Python OSprofiler (copied from the conformance cases, each
// file says which); the other reports are built here, with timestamps in µs so that every
// expected value below can be worked out by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const OspModel = require('../assets/model.js');

function fixture(name) {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')).report;
}

/** Float comparison: times are sums and differences of µs in ms. */
function near(actual, expected, what) {
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} != ${expected}`);
}

// 2026-01-01T00:00:00 UTC in µs since the epoch.
const EPOCH_US = Date.UTC(2026, 0, 1) * 1000;

/** A notification timestamp as Python writes it, `offsetUs` µs after EPOCH_US. */
function timestamp(offsetUs) {
  const us = EPOCH_US + offsetUs;
  const seconds = new Date(Math.floor(us / 1e6) * 1000).toISOString().slice(0, 19);
  return `${seconds}.${String(us % 1e6).padStart(6, '0')}`;
}

let nextId = 0;

/**
 * A report node as Python's get_report builds it. `start`/`stop` are µs offsets (null: that
 * notification is missing); `info`/`stopInfo` go into the start/stop notifications' `info`.
 */
function node(kind, opts, children = []) {
  const { start = 0, stop = null, host = 'h1', service = 'api', project = 'nova' } = opts;
  const traceId = opts.traceId || `t-${++nextId}`;
  const info = { name: kind, project, service, host };
  const payload = (suffix, at, extra) => ({
    name: `${kind}-${suffix}`, base_id: 'base-1', trace_id: traceId, parent_id: 'p',
    timestamp: timestamp(at), info: { ...extra, host }, project, service,
  });
  if (start !== null) info[`meta.raw_payload.${kind}-start`] = payload('start', start, opts.info || {});
  if (stop !== null) {
    info[`meta.raw_payload.${kind}-stop`] = payload('stop', stop, opts.stopInfo || {});
    info.exception = (opts.stopInfo && opts.stopInfo.etype) || 'None';
  }
  for (const c of children) c.parent_id = traceId;
  return { info, trace_id: traceId, parent_id: 'p', children };
}

function report(...roots) {
  return { info: { name: 'total', started: 0, finished: 0 }, children: roots };
}

/** The points' labels by index, to name them in assertions. */
function byLabel(trace) {
  return Object.fromEntries(trace.points.map((p) => [p.label, p]));
}

test('a real Python report: tree, µs times, labels, errors', () => {
  const trace = OspModel.fromReport(fixture('python-nested.json'));
  const p = trace.points;
  assert.equal(p.length, 9);
  assert.deepEqual(p.map((x) => x.kind), ['wsgi', 'vm', 'wsgi', 'db', 'rpc', 'http', 'db', 'wsgi', 'db']);
  assert.deepEqual(p.map((x) => x.depth), [0, 1, 2, 3, 1, 2, 3, 2, 3]);
  assert.deepEqual(p.map((x) => x.parent), [-1, 0, 1, 2, 0, 4, 5, 4, 7]);
  assert.deepEqual(trace.roots, [0]);
  assert.deepEqual(p[0].children, [1, 4]);
  assert.deepEqual(p[4].children, [5, 7]);
  assert.equal(trace.baseId, '8cfe5cd1-2d5d-479b-a2a7-ae1f3ac7652c');
  assert.equal(p[0].traceId, 'dc0df156-99e6-4f70-aa61-09f0ea060fd3');
  assert.equal(p[1].parentId, 'dc0df156-99e6-4f70-aa61-09f0ea060fd3');
  // The report says every point took 0 ms; the raw timestamps say otherwise.
  assert.equal(trace.startEpochUs, Date.UTC(2026, 10, 25, 4, 59, 10) * 1000 + 43059);
  near(trace.duration, 0.473, 'duration');
  near(p[0].start, 0, 'root start');
  near(p[0].end, 0.473, 'root end');
  near(p[3].start, 0.117, 'db start');
  near(p[3].duration, 0.033, 'db duration');
  near(p[8].end, 0.420, 'last db end');
  // Self time of the root: 0.473 minus its children [0.046, 0.185] and [0.218, 0.456].
  near(p[0].selfTime, 0.473 - 0.139 - 0.238, 'root self time');
  near(p[3].selfTime, 0.033, 'leaf self time');

  assert.equal(p[0].label, 'GET /v2/x');
  assert.equal(p[3].label, '__main__.real_run.<locals>.db_call');
  assert.equal(p[1].label, 'vm');
  assert.equal(p[0].service, 'conductor');
  assert.equal(p[0].project, 'proj');
  assert.equal(p[0].host, 'vm');
  assert.deepEqual(p[0].startInfo, { request: { path: '/v2/x', method: 'GET' }, host: 'vm' });
  assert.deepEqual(p[0].stopInfo, { host: 'vm' });
  assert.equal(p[0].rawStart.name, 'wsgi-start');
  assert.equal(p[0].rawStop.timestamp, '2026-11-25T04:59:10.043532');

  assert.deepEqual(p.map((x) => x.error), [false, false, false, false, false, false, true, false, true]);
  assert.equal(p[6].errorType, 'ValueError');
  assert.equal(p[6].errorMessage, 'db failure 2');
  assert.equal(p[3].errorType, '');
  assert.equal(p[3].errorMessage, '');
  assert.ok(p.every((x) => !x.unfinished && x.skew === null));

  assert.deepEqual(trace.services, ['conductor', 'api', 'compute']);
  assert.deepEqual(trace.kinds, ['wsgi', 'vm', 'db', 'rpc', 'http']);
  assert.deepEqual(trace.hosts, ['vm']);
  assert.deepEqual(trace.projects, ['proj']);

  // One thread of work: every point is on the critical path, in start order.
  assert.deepEqual(OspModel.criticalPath(trace), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(p.every((x) => x.critical));
});

test('a real Python report: two hosts, unfinished points, null service', () => {
  const trace = OspModel.fromReport(fixture('python-skew.json'));
  const p = trace.points;
  assert.equal(p.length, 10);
  assert.deepEqual(trace.roots, [0, 4, 5, 7, 9]);
  near(trace.duration, 45, 'duration');

  // http on h2 under a db on h1 ends 18.701 ms after it: skew.
  assert.equal(p[2].kind, 'http');
  near(p[2].start, 1.7, 'http start');
  near(p[2].end, 40.8, 'http end');
  assert.equal(p[2].skew.kind, 'after-parent');
  near(p[2].skew.ms, 40.8 - 22.099, 'skew');
  // rpc on h2 starts exactly with its parent: no skew.
  assert.equal(p[1].skew, null);

  // The unfinished rpc a4ba3161 ends when its unfinished child starts (45 ms).
  assert.ok(p[5].traceId.startsWith('a4ba3161'));
  assert.ok(p[5].unfinished);
  near(p[5].start, 35.3, 'unfinished start');
  near(p[5].end, 45, 'unfinished end');
  assert.ok(p[6].unfinished);
  near(p[6].duration, 0, 'unfinished leaf');
  assert.equal(p[5].rawStop, null);
  assert.deepEqual(p[5].stopInfo, {});

  assert.equal(p[0].errorType, 'nova.exception.NotFound');
  assert.equal(p[1].service, '');
  assert.deepEqual(trace.services, ['worker', '', 'api']);
  assert.deepEqual(trace.hosts, ['h1', 'h2']);

  // The db on h1 under http (dropped: it starts after its clipped parent ends) is the only
  // point off the path; each root has its own path.
  assert.deepEqual(OspModel.criticalPath(trace), [0, 1, 2, 4, 5, 7, 8, 9, 6]);
  assert.equal(p[3].critical, false);

  const { byKind, byService } = OspModel.stats(trace);
  assert.deepEqual(byKind.map((r) => [r.key, r.count]), [['http', 1], ['db', 4], ['rpc', 5]]);
  near(byKind[1].total, 22.099 + 0.4, 'db total');
  // The unfinished db 0581f255 ends when its child starts, 0.4 ms later, all its own.
  near(byKind[1].self, 0.4, 'db self');
  near(byKind[0].self, 39.1, 'http self');
  // worker: 22.099 + 39.1 + 9.7 + 0; no service: 1.7 + 0; api: 0.4 and zeros.
  assert.deepEqual(byService.map((r) => r.key), ['worker', '', 'api']);
  near(byService[0].total, 70.899, 'worker total');
});

test('nesting: pre-order, depth, parents and children across several roots', () => {
  const r = report(
    node('wsgi', { start: 0, stop: 100, traceId: 'a' }, [
      node('rpc', { start: 10, stop: 50, traceId: 'b' }, [node('db', { start: 20, stop: 30, traceId: 'c' })]),
      node('db', { start: 60, stop: 90, traceId: 'd' }),
    ]),
    node('wsgi', { start: 200, stop: 300, traceId: 'e' }),
  );
  const trace = OspModel.fromReport(r);
  assert.deepEqual(trace.points.map((p) => p.traceId), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(trace.points.map((p) => p.depth), [0, 1, 2, 1, 0]);
  assert.deepEqual(trace.points.map((p) => p.parent), [-1, 0, 1, 0, -1]);
  assert.deepEqual(trace.points.map((p) => p.parentId), ['p', 'a', 'b', 'a', 'p']);
  assert.deepEqual(trace.points[0].children, [1, 3]);
  assert.deepEqual(trace.roots, [0, 4]);
  assert.equal(trace.startEpochUs, EPOCH_US);
  near(trace.duration, 0.3, 'duration');
  near(trace.points[1].start, 0.01, 'start');
  near(trace.points[1].end, 0.05, 'end');
  near(trace.points[1].selfTime, 0.03, 'self');
  near(trace.points[0].selfTime, 0.1 - 0.04 - 0.03, 'self');
});

test('parallel children: the critical path takes the last finisher, self time the union', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: 100_000, traceId: 'parent' }, [
      node('db', { start: 0, stop: 5_000, traceId: 'early' }),
      node('rpc', { start: 10_000, stop: 60_000, traceId: 'a' }),
      node('rpc', { start: 20_000, stop: 90_000, traceId: 'last' }),
      node('rpc', { start: 30_000, stop: 50_000, traceId: 'inner' }),
    ]),
  ));
  const ids = (indices) => indices.map((i) => trace.points[i].traceId);
  // From 100 ms back: `last` (ends at 90), back to its start at 20; `a` and `inner` end after
  // 20, so they did not hold the request up; `early` ends at 5.
  assert.deepEqual(ids(OspModel.criticalPath(trace)), ['parent', 'early', 'last']);
  assert.deepEqual(trace.points.map((p) => p.critical), [true, true, false, true, false]);
  // Children cover [0, 5] and [10, 90]: 85 of 100 ms. Their plain sum (145 ms) would be wrong.
  near(trace.points[0].selfTime, 15, 'self time');
  const { byKind } = OspModel.stats(trace);
  assert.deepEqual(byKind.map((r) => r.key), ['rpc', 'wsgi', 'db']);
  near(byKind[0].total, 50 + 70 + 20, 'rpc total');
  near(byKind[1].self, 15, 'wsgi self');
});

test('critical path: a child ending after its parent is clipped, a nested chain is followed', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: 100, traceId: 'root' }, [
      node('rpc', { start: 10, stop: 40, traceId: 'first' }, [
        node('db', { start: 15, stop: 35, traceId: 'deep' }),
      ]),
      node('rpc', { start: 40, stop: 80, traceId: 'second' }),
      // Runs past the root (another host's clock): clipped to end at 100, so it is last.
      node('http', { start: 60, stop: 150, traceId: 'overflow', host: 'h2' }),
    ]),
  ));
  const ids = OspModel.criticalPath(trace).map((i) => trace.points[i].traceId);
  // From 100: overflow (clipped end 100) back to 60; second ends 80 > 60, skipped; first ends
  // at 40 <= 60, into it; deep; back to first's start at 10.
  assert.deepEqual(ids, ['root', 'first', 'deep', 'overflow']);
  assert.equal(trace.points[4].skew.kind, 'after-parent');
  near(trace.points[4].skew.ms, 0.05, 'skew');
});

test('unfinished points end with their last descendant, or at their start', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: null, traceId: 'open' }, [
      node('rpc', { start: 10_000, stop: 30_000 }, [
        node('db', { start: 12_000, stop: 55_000, host: 'h2' }),
      ]),
      node('rpc', { start: 20_000, stop: 50_000 }),
      node('db', { start: 40_000, stop: null, traceId: 'open-leaf' }),
    ]),
  ));
  const [open, , grandchild, , leaf] = trace.points;
  assert.ok(open.unfinished);
  near(open.end, 55, 'ends with the grandchild');
  near(open.duration, 55, 'duration');
  // Its children cover [10, 50] (each clipped to itself: the grandchild's 50..55 is not theirs).
  near(open.selfTime, 15, 'self');
  assert.equal(open.rawStop, null);
  assert.ok(!grandchild.unfinished);
  assert.ok(leaf.unfinished);
  near(leaf.start, 40, 'leaf start');
  near(leaf.end, 40, 'leaf ends at its start');
  near(trace.duration, 55, 'trace duration');
});

test('a point seen only by its stop starts when it stops', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: null, stop: 7_000 }),
    node('rpc', { start: 3_000, stop: 9_000 }),
  ));
  const [stopOnly, rpc] = trace.points;
  assert.equal(trace.startEpochUs, EPOCH_US + 3_000);
  near(stopOnly.start, 4, 'start');
  near(stopOnly.end, 4, 'end');
  assert.ok(!stopOnly.unfinished);
  assert.equal(stopOnly.rawStart, null);
  assert.equal(stopOnly.label, 'wsgi');
  near(rpc.start, 0, 'rpc start');
});

test('errors: type and message from the stop, whatever the message is', () => {
  const trace = OspModel.fromReport(report(
    node('rpc', { start: 0, stop: 10, stopInfo: { etype: 'nova.exception.NotFound', message: 'boom' } }),
    node('rpc', { start: 0, stop: 10, stopInfo: { etype: 'ValueError', message: { code: 404 } } }),
    node('rpc', { start: 0, stop: 10, stopInfo: { etype: 'KeyError', message: null } }),
    node('rpc', { start: 0, stop: 10 }),
    node('rpc', { start: 0, stop: null }),
  ));
  const p = trace.points;
  assert.deepEqual(p.map((x) => x.error), [true, true, true, false, false]);
  assert.deepEqual(p.map((x) => x.errorType), ['nova.exception.NotFound', 'ValueError', 'KeyError', '', '']);
  assert.deepEqual(p.map((x) => x.errorMessage), ['boom', '{"code":404}', '', '', '']);
});

test('a report without raw payloads: whole ms from the report, exception from the node', () => {
  const trace = OspModel.fromReport({
    info: { name: 'total', started: 0, finished: 12 },
    children: [{
      info: { name: 'wsgi', service: 's', project: 'p', host: 'h', started: 2, finished: 12, exception: 'None' },
      trace_id: 'x', parent_id: 'b',
      children: [{
        info: { name: 'db', service: 's', project: 'p', host: 'h', started: 4, finished: 9, exception: 'KeyError' },
        trace_id: 'y', parent_id: 'x', children: [],
      }],
    }],
  });
  const [wsgi, db] = trace.points;
  assert.equal(trace.startEpochUs, 0);
  assert.equal(trace.baseId, null);
  assert.equal(wsgi.start, 0);
  assert.equal(wsgi.end, 10);
  assert.equal(db.start, 2);
  assert.equal(db.duration, 5);
  assert.equal(wsgi.selfTime, 5);
  assert.equal(db.error, true);
  assert.equal(db.errorType, 'KeyError');
  assert.equal(wsgi.error, false);
  assert.deepEqual(wsgi.startInfo, {});
  assert.equal(trace.duration, 10);
});

test('skew: only against a parent on another host', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: 10_000, stop: 100_000, host: 'h1' }, [
      node('rpc', { start: 5_000, stop: 40_000, host: 'h2', traceId: 'early' }),
      node('rpc', { start: 90_000, stop: 130_000, host: 'h2', traceId: 'late' }),
      node('rpc', { start: 2_000, stop: 120_000, host: 'h1', traceId: 'same-host' }),
      node('rpc', { start: 20_000, stop: 30_000, host: 'h2', traceId: 'inside' }),
    ]),
  ));
  const skew = Object.fromEntries(trace.points.map((p) => [p.traceId, p.skew]));
  assert.equal(skew.early.kind, 'before-parent');
  near(skew.early.ms, 5, 'before');
  assert.equal(skew.late.kind, 'after-parent');
  near(skew.late.ms, 30, 'after');
  assert.equal(skew['same-host'], null);
  assert.equal(skew.inside, null);
  assert.equal(trace.points[0].skew, null);
});

test('labels: request, outgoing request, SQL, function, rpc method, else the kind', () => {
  const longSql = `  \n  SELECT instances.id,   instances.uuid\n  FROM instances WHERE ${'x = 1 AND '.repeat(20)}y = 2`;
  const trace = OspModel.fromReport(report(
    node('wsgi', { info: { request: { method: 'GET', path: '/v2.1/servers', query: 'limit=5', scheme: 'http' } } }),
    node('wsgi', { info: { request: { method: 'POST', path: '/v2.1/servers', query: '' } } }),
    node('https', { info: { requests: { method: 'GET', scheme: 'https', hostname: 'neutron', port: 9696, path: '/v2.0/ports' } } }),
    node('http', { info: { requests: { method: 'PUT', hostname: 'glance', path: '/v2/images' } } }),
    node('db', { info: { db: { statement: 'SELECT 1\nFROM dual', params: {} } } }),
    node('db', { info: { db: { statement: longSql } } }),
    node('driver', { info: { function: { name: 'nova.virt.libvirt.driver.LibvirtDriver.spawn', args: '()' } } }),
    node('rpc', { info: { method: 'build_and_run_instance' } }),
    node('vm', { info: { k: 1 } }),
  ));
  const labels = trace.points.map((p) => p.label);
  assert.deepEqual(labels.slice(0, 5), [
    'GET /v2.1/servers?limit=5',
    'POST /v2.1/servers',
    'GET https://neutron:9696/v2.0/ports',
    'PUT http://glance/v2/images',
    'SELECT 1',
  ]);
  assert.equal(labels[5], 'SELECT instances.id, instances.uuid');
  assert.deepEqual(labels.slice(6), ['nova.virt.libvirt.driver.LibvirtDriver.spawn', 'build_and_run_instance', 'vm']);

  const oneLong = OspModel.fromReport(report(node('db', { info: { db: { statement: `SELECT ${'a, '.repeat(100)}b` } } })));
  const label = oneLong.points[0].label;
  assert.equal(label.length, 120);
  assert.ok(label.startsWith('SELECT a, a, '));
  assert.ok(label.endsWith('…'));
});

test('search: case-insensitive over kind, label, service, host and info, with a minimum duration', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: 50_000, service: 'nova-api', info: { request: { method: 'GET', path: '/v2.1/Servers' } } }, [
      node('db', { start: 1_000, stop: 3_000, host: 'db-1', info: { db: { statement: 'SELECT 1', params: { uuid: 'ABC-123' } } } }),
      node('rpc', { start: 5_000, stop: 45_000, service: 'nova-compute', stopInfo: { etype: 'TimeoutError', message: 'slow' } }),
    ]),
  ));
  const m = (text, min) => Array.from(OspModel.match(trace, text, min));
  assert.ok(OspModel.match(trace, 'x', 0) instanceof Uint8Array);
  assert.deepEqual(m('servers', 0), [1, 0, 0]);
  assert.deepEqual(m('NOVA', 0), [1, 1, 1]); // project nova everywhere
  assert.deepEqual(m('nova-compute', 0), [0, 0, 1]);
  assert.deepEqual(m('DB-1', 0), [0, 1, 0]);
  assert.deepEqual(m('abc-123', 0), [0, 1, 0]); // a parameter in the start info
  assert.deepEqual(m('timeouterror', 0), [0, 0, 1]); // the stop info
  assert.deepEqual(m('rpc', 0), [0, 0, 1]);
  assert.deepEqual(m('nothing like it', 0), [0, 0, 0]);
  assert.deepEqual(m('', 0), [1, 1, 1]);
  assert.deepEqual(m('', 10), [1, 0, 1]);
  assert.deepEqual(m('nova', 45), [1, 0, 0]);
  assert.deepEqual(m('  Servers ', undefined), [1, 0, 0]);
  // The search text is built once and kept on the trace.
  const cached = trace.searchText;
  assert.equal(cached.length, 3);
  m('again', 0);
  assert.equal(trace.searchText, cached);
});

test('service map: nodes per service, edges where the caller is another service', () => {
  const trace = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: 100_000, service: 'api' }, [
      node('rpc', { start: 10_000, stop: 30_000, service: 'compute' }, [
        node('db', { start: 12_000, stop: 14_000, service: 'compute' }),
        node('db', { start: 15_000, stop: 19_000, service: 'conductor' }),
      ]),
      node('rpc', { start: 40_000, stop: 60_000, service: 'compute' }),
    ]),
  ));
  const map = OspModel.serviceMap(trace);
  assert.deepEqual(map.nodes.map((n) => [n.service, n.count]), [['api', 1], ['compute', 3], ['conductor', 1]]);
  near(map.nodes[1].total, 20 + 2 + 20, 'compute total');
  assert.deepEqual(map.edges.map((e) => [e.from, e.to, e.count]), [['api', 'compute', 2], ['compute', 'conductor', 1]]);
  near(map.edges[0].total, 40, 'api -> compute');
  near(map.edges[1].total, 4, 'compute -> conductor');
});

test('compare: per kind, service and name, with the names found in one trace only', () => {
  const a = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: 100_000, service: 'api', info: { request: { method: 'GET', path: '/servers/3c5f1a2e-8b7d-4f3e-9c1a-2b6d8e0f4a7c' } } }, [
      node('db', { start: 10_000, stop: 20_000, service: 'api', info: { db: { statement: 'SELECT 1' } } }),
      node('db', { start: 30_000, stop: 40_000, service: 'api', info: { db: { statement: 'SELECT 1' } } }),
    ]),
  ));
  const b = OspModel.fromReport(report(
    node('wsgi', { start: 0, stop: 250_000, service: 'api', info: { request: { method: 'GET', path: '/servers/0b7e4a1c-1111-4222-8333-944455556666' } } }, [
      node('db', { start: 10_000, stop: 15_000, service: 'api', info: { db: { statement: 'SELECT 1' } } }),
      node('rpc', { start: 20_000, stop: 220_000, service: 'compute', info: { function: { name: 'compute.Manager.build' } } }),
    ]),
  ));
  const c = OspModel.compare(a, b);
  const row = (rows, key) => rows.find((r) => r.key === key);

  assert.deepEqual(c.byKind.map((r) => r.key), ['rpc', 'wsgi', 'db']);
  const db = row(c.byKind, 'db');
  assert.deepEqual(db.a, { count: 2, total: 20 });
  assert.deepEqual(db.b, { count: 1, total: 5 });
  assert.equal(db.countDiff, -1);
  assert.equal(db.totalDiff, -15);
  const rpc = row(c.byKind, 'rpc');
  assert.deepEqual(rpc.a, { count: 0, total: 0 });
  assert.deepEqual(rpc.b, { count: 1, total: 200 });
  assert.equal(rpc.totalDiff, 200);

  const api = row(c.byService, 'api');
  assert.deepEqual([api.a.count, api.b.count], [3, 2]);
  near(api.totalDiff, 255 - 120, 'api diff');
  assert.equal(row(c.byService, 'compute').a.count, 0);

  // The two requests differ only by the server's UUID: one name.
  const get = row(c.byName, 'GET /servers/{id}');
  assert.deepEqual(get.a, { count: 1, total: 100 });
  assert.deepEqual(get.b, { count: 1, total: 250 });
  assert.equal(get.totalDiff, 150);
  assert.deepEqual(row(c.byName, 'SELECT 1').a, { count: 2, total: 20 });

  assert.deepEqual(c.onlyInA, []);
  assert.deepEqual(c.onlyInB, ['compute.Manager.build']);
  const swapped = OspModel.compare(b, a);
  assert.deepEqual(swapped.onlyInA, ['compute.Manager.build']);
  assert.deepEqual(swapped.onlyInB, []);
});

test('formatMs: µs, ms and s with three significant digits', () => {
  const f = OspModel.formatMs;
  assert.equal(f(0), '0 µs');
  assert.equal(f(0.85), '850 µs');
  assert.equal(f(0.0004), '0 µs');
  assert.equal(f(0.9996), '1.00 ms');
  assert.equal(f(1.234), '1.23 ms');
  assert.equal(f(12.34), '12.3 ms');
  assert.equal(f(123.4), '123 ms');
  assert.equal(f(999.96), '1.00 s');
  assert.equal(f(4560), '4.56 s');
  assert.equal(f(45_600), '45.6 s');
  assert.equal(f(456_000), '456 s');
  assert.equal(f(-12.34), '-12.3 ms');
  assert.equal(f(-0.0001), '0 µs');
  assert.equal(f(NaN), '–');
});

test('an empty report', () => {
  const trace = OspModel.fromReport({ info: { name: 'total', started: 0, finished: 0 }, children: [] });
  assert.deepEqual(trace.points, []);
  assert.deepEqual(trace.roots, []);
  assert.equal(trace.duration, 0);
  assert.equal(trace.startEpochUs, 0);
  assert.deepEqual(OspModel.criticalPath(trace), []);
  assert.deepEqual(OspModel.stats(trace), { byKind: [], byService: [] });
  assert.equal(OspModel.match(trace, 'x', 0).length, 0);
});

// --- 100,000 points -----------------------------------------------------------------------------

/**
 * 1,000 requests one after the other under one root, each an rpc with 99 db calls in sequence:
 * request r runs over [r * 1000, r * 1000 + 990] µs, its call k over [+ 10 k, + 10 k + 8].
 */
function largeReport() {
  const requests = [];
  for (let r = 0; r < 1000; r++) {
    const base = r * 1000;
    const calls = [];
    for (let k = 0; k < 99; k++) {
      calls.push(node('db', { start: base + 10 * k, stop: base + 10 * k + 8, host: 'db', service: 'db',
        info: { db: { statement: `SELECT ${k}` } } }));
    }
    requests.push(node('rpc', { start: base, stop: base + 990, service: `worker-${r % 3}` }, calls));
  }
  return report(node('wsgi', { start: 0, stop: 1_000_000, traceId: 'root' }, requests));
}

test('100,000 points: correct, and timed (see the diagnostics)', (t) => {
  const r = largeReport();
  const t0 = performance.now();
  const trace = OspModel.fromReport(r);
  const t1 = performance.now();
  const path = OspModel.criticalPath(trace);
  const t2 = performance.now();
  const s = OspModel.stats(trace);
  const t3 = performance.now();
  OspModel.match(trace, 'select 42', 0);
  const t4 = performance.now();
  OspModel.match(trace, 'select 43', 0);
  const t5 = performance.now();
  t.diagnostic(`fromReport ${(t1 - t0).toFixed(1)} ms, criticalPath ${(t2 - t1).toFixed(1)} ms, ` +
    `stats ${(t3 - t2).toFixed(1)} ms, first match ${(t4 - t3).toFixed(1)} ms, next ${(t5 - t4).toFixed(1)} ms`);

  const p = trace.points;
  assert.equal(p.length, 1 + 1000 * 100);
  // Request 500 is point 1 + 500 * 100; its call 7 follows it by 8.
  const req = p[1 + 500 * 100];
  assert.equal(req.kind, 'rpc');
  assert.equal(req.service, 'worker-2');
  near(req.start, 500, 'request start');
  near(req.duration, 0.99, 'request duration');
  near(req.selfTime, 0.99 - 99 * 0.008, 'request self');
  const call = p[1 + 500 * 100 + 1 + 7];
  assert.equal(call.label, 'SELECT 7');
  assert.equal(call.parent, 1 + 500 * 100);
  assert.equal(call.depth, 2);
  near(call.start, 500.07, 'call start');
  near(trace.duration, 1000, 'duration');
  near(p[0].selfTime, 1000 - 1000 * 0.99, 'root self');

  // Every point is in a chain that is all on the critical path.
  assert.equal(path.length, p.length);
  assert.equal(s.byKind[0].key, 'wsgi');
  assert.equal(s.byKind.find((row) => row.key === 'db').count, 99_000);
  const hits = OspModel.match(trace, 'select 42', 0);
  assert.equal(hits.reduce((a, b) => a + b, 0), 1000);
});

test('100,000 points in one chain or under one parent: no stack overflow', () => {
  const n = 100_000;
  // One chain: point i over [i, 2n - i] µs.
  let chain = node('db', { start: n - 1, stop: n + 1 });
  for (let i = n - 2; i >= 0; i--) chain = node('db', { start: i, stop: 2 * n - i }, [chain]);
  const deep = OspModel.fromReport(report(chain));
  assert.equal(deep.points.length, n);
  assert.equal(deep.points[n - 1].depth, n - 1);
  assert.equal(deep.points[n - 1].parent, n - 2);
  near(deep.points[1234].selfTime, 0.002, 'self time in the chain');
  near(deep.points[0].duration, 0.2 * 1000, 'outer duration');
  assert.equal(OspModel.criticalPath(deep).length, n);

  const kids = [];
  for (let i = 0; i < n - 1; i++) kids.push(node('db', { start: i * 10, stop: i * 10 + 5 }));
  const wide = OspModel.fromReport(report(node('wsgi', { start: 0, stop: n * 10 }, kids)));
  assert.equal(wide.points.length, n);
  assert.equal(wide.points[0].children.length, n - 1);
  near(wide.points[0].selfTime, (n * 10 - (n - 1) * 5) / 1000, 'wide self time');
  // The last child ends at 999,985 µs; back from there every child is on the path.
  assert.equal(OspModel.criticalPath(wide).length, n);
});
