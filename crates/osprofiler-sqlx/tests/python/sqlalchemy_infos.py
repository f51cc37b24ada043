"""Runs SQL statements through SQLAlchemy with Python OSprofiler's SQL tracing and prints
the notifications it records, for the Rust tests to compare with.

Usage: sqlalchemy_infos.py URL < steps.json, where steps.json is a list of
{"sql": "... :name ...", "params": {"name": value}}. Prints a JSON list of
{"name": ..., "info": {...}} (info without "host"), in order. Failing statements are
expected: their errors are swallowed after the profiler recorded them.
"""
import json
import sys

import sqlalchemy
from osprofiler import notifier, profiler
from osprofiler import sqlalchemy as ossql

got = []
notifier.set(lambda info, context=None: got.append(info))
profiler.init("SECRET_KEY")
engine = sqlalchemy.create_engine(sys.argv[1])
ossql.add_tracing(sqlalchemy, engine, "db")
for step in json.load(sys.stdin):
    with engine.connect() as conn:
        try:
            conn.execute(sqlalchemy.text(step["sql"]), step.get("params", {}))
        except sqlalchemy.exc.DBAPIError:
            pass
out = []
for n in got:
    info = {k: v for k, v in n["info"].items() if k != "host"}
    out.append({"name": n["name"], "info": info})
print(json.dumps(out))
