"""Prints Python OSprofiler's report of a JSON list of notifications, exactly as its CLI's
`trace show ID --json` prints the report of a store that keeps notifications whole (the
Redis driver's `get_report`: host from `info.host`, the notification as raw payload, in the
order given). The oracle of the interop tests (see `osprofiler_testkit::python_report_script`).

Usage: report.py [NOTIFICATIONS.json]   (standard input without a file)
"""
import json
import sys

from osprofiler.drivers import base


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            notifications = json.load(f)
    else:
        notifications = json.load(sys.stdin)
    driver = base.Driver("redis://localhost:6379")
    for n in notifications:
        driver._append_results(
            n["trace_id"],
            n["parent_id"],
            n["name"],
            n["project"],
            n["service"],
            n["info"]["host"],
            n["timestamp"],
            n,
        )
    trace = driver._parse_results()
    print(json.dumps(trace, separators=(",", ": "), indent=2))


if __name__ == "__main__":
    main()
