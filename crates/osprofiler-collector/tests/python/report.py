"""Prints Python OSprofiler's report of the notifications in a JSON file (a list), exactly as
its CLI's `trace show ID --json` prints the report of a store that keeps notifications whole
(the Redis driver's `get_report`: host from `info.host`, the notification as raw payload,
in the order given).

Usage: report.py NOTIFICATIONS.json
"""
import json
import sys

from osprofiler.drivers import base


def main():
    with open(sys.argv[1]) as f:
        notifications = json.load(f)
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
