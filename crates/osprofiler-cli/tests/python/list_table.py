"""Runs Python OSprofiler's real `osprofiler trace list` command on given rows.

Usage: list_table.py ROWS.json [osprofiler CLI arguments...]

ROWS.json is {"traces": [...], "error_traces": [...]}: what the driver's `list_traces` and
`list_error_traces` return. The driver lookup is replaced by one that answers with these rows,
so that Python's own command code (prettytable and all) prints the table.
"""
import json
import sys

from osprofiler.cmd import shell
from osprofiler.drivers import base


class RowsEngine:
    def __init__(self, rows):
        self.rows = rows

    def list_traces(self, fields=None):
        return self.rows["traces"]

    def list_error_traces(self):
        return self.rows["error_traces"]


def main():
    with open(sys.argv[1]) as f:
        rows = json.load(f)
    base.get_driver = lambda *args, **kwargs: RowsEngine(rows)
    return shell.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
