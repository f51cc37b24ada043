"""Builds Python OSprofiler's report of the notifications given on stdin (a JSON list).

Each notification goes to ``Driver._append_results`` as the Redis driver's ``get_report``
feeds it (host from ``info.host``, the notification itself as raw payload); the report of
``_parse_results`` is written to stdout as JSON.
"""

import json
import sys

from osprofiler.drivers import base


def main() -> None:
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
    json.dump(driver._parse_results(), sys.stdout)


if __name__ == "__main__":
    main()
