"""Prints Python OSprofiler's report of one trace from a SQLite store, as its CLI's
`trace show --json` would (the CLI cannot open `sqlite://`: Python's get_driver has no such
scheme, so its SQL driver is made directly).

Usage: sql_show.py CONNECTION_STRING BASE_ID
"""
import json
import sys

from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver


def main():
    cs, base_id = sys.argv[1], sys.argv[2]
    report = SQLAlchemyDriver(cs).get_report(base_id)
    if not report or not report.get("children"):
        sys.exit("Trace with UUID %s not found" % base_id)
    print(json.dumps(report, separators=(",", ": "), indent=2))


if __name__ == "__main__":
    main()
