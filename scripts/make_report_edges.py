#!/usr/bin/env python3
"""Regenerates crates/osprofiler/tests/conformance/report_edges.json with Python OSprofiler.

Each case's `report` is what Python OSprofiler 4.4.0 builds from its `notifications`:
`Driver._append_results` called as the Redis driver calls it, then `_parse_results`.

Usage: .venv-bench/bin/python scripts/make_report_edges.py \
           > crates/osprofiler/tests/conformance/report_edges.json
(.venv-bench is made by scripts/bench_report_vs_python.sh: osprofiler==4.4.0.)
"""

import json
import sys

from osprofiler.drivers import base


def n(name, tid, par, ts, info, project="p", service="s"):
    return {"name": name, "base_id": "B", "trace_id": tid, "parent_id": par,
            "timestamp": ts, "info": info, "project": project, "service": service}


def report(notifications):
    d = base.Driver("redis://localhost")
    for x in notifications:
        d._append_results(x["trace_id"], x["parent_id"], x["name"], x["project"],
                          x["service"], x["info"]["host"], x["timestamp"], x)
    return d._parse_results()


cases = []


def case(why, notifications):
    cases.append({"why": why, "notifications": notifications, "report": report(notifications)})


case("stop only with a null etype; repeated start overwrites in place; names without '-'; "
     "'nonstop' ends with 'stop'; self parent and a parent cycle leave the tree but count in stats", [
    n("a-stop", "A", "B", "2020-01-01T00:00:00.002", {"host": "h", "etype": None}),
    n("b-start", "Bn", "A", "2020-01-01T00:00:00.001", {"host": "h", "k": 1}),
    n("b-stop", "Bn", "A", "2020-01-01T00:00:00.005", {"host": "h", "etype": "E"}),
    n("b-start", "Bn", "A", "2020-01-01T00:00:00.003", {"host": "h2", "k": 2}),
    n("odd", "C", "A", "2020-01-01T00:00:00.0045", {"host": "h"}),
    n("nonstop", "C", "A", "2020-01-01T00:00:00.0049", {"host": "h"}),
    n("self-start", "S", "S", "2020-01-01T00:00:00.000", {"host": "h"}),
    n("cyc-start", "X", "Y", "2020-01-01T00:00:00.006", {"host": "h"}),
    n("cyc-start", "Y", "X", "2020-01-01T00:00:00.007", {"host": "h"}),
])
case("one node with many distinct notification names, repeated", [
    n(f"m{i % 11}-x{i % 11}", "M", "A", f"2020-01-01T00:00:00.00{i % 10}", {"host": "h"})
    for i in range(30)
] + [n("m-stop", "M", "A", "2020-01-01T00:00:00.0091", {"host": "h"})])
case("strptime leniency: short fields, a space-padded day, lower-case t, short fractions; "
     "non-string project/service/host/etype; non-ASCII; a null parent_id", [
    n("wsgi-start", "W", None, "2020-1-2T3:4:5.6", {"host": {"name": "h", "ip": [10, 0, 0, 1]}},
      project=7, service=None),
    n("db-start", "D", "W", "2020-01- 2t03:04:05.600999",
      {"host": "höst-ß", "args": "(ünïcode, \"q\")"}, project="prøj", service=[1, 2]),
    n("db-stop", "D", "W", "2020-01-02T03:04:05.61", {"host": "x", "etype": {"type": "E", "code": 3}}),
    n("wsgi-stop", "W", None, "2020-01-02T03:04:06.000001", {"host": "h", "etype": 12, "message": None}),
    n("late-start", "L", "W", "2020-01-02T03:04:06.0000",
      {"host": "h", "f": 1.5, "big": 12345678901234567, "neg": -0.25}),
])
case("siblings started in the same millisecond keep store order; roots sorted by start", [
    n("k-start", "k3", "R", "2020-01-01T00:00:00.0005", {"host": "h"}),
    n("k-start", "k1", "R", "2020-01-01T00:00:00.0001", {"host": "h"}),
    n("k-start", "k2", "R", "2020-01-01T00:00:00.0009", {"host": "h"}),
    n("j-start", "j1", "k1", "2020-01-01T00:00:00.0019", {"host": "h"}),
    n("j-start", "j0", "k1", "2020-01-01T00:00:00.0011", {"host": "h"}),
    n("r-start", "r0", "Q", "2020-01-01T00:00:00.0000", {"host": "h"}),
])
case("no starts at all: last_trace_started is null", [
    n("x-stop", "X", "B", "2020-01-01T00:00:00.5", {"host": "h"}),
    n("y-stop", "Y", "X", "2020-01-01T00:00:01.5", {"host": "h", "etype": "E"}),
])
case("no notifications", [])
json.dump(cases, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
