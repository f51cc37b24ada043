"""Prints the rows of Python OSprofiler's `SQLAlchemyDriver.list_traces` (the rows its CLI's
`trace list` prints as a table) as a JSON list, fields `base_id` and `timestamp`.

Usage: sql_list.py CONNECTION_STRING
"""
import json
import sys

from osprofiler.drivers.sqlalchemy_driver import SQLAlchemyDriver


def main():
    rows = SQLAlchemyDriver(sys.argv[1]).list_traces({"base_id", "timestamp"})
    print(json.dumps([{"base_id": r["base_id"], "timestamp": r["timestamp"]} for r in rows]))


if __name__ == "__main__":
    main()
