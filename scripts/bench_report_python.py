#!/usr/bin/env python3
"""Times Python OSprofiler's report building on a file of notifications.

Feeds each notification to ``Driver._append_results`` exactly as the Redis driver's
``get_report`` does (host = n["info"]["host"], raw payload = the notification), then calls
``_parse_results``. The JSON parsing of the file is timed apart and NOT included in
``python_report_seconds``. Run it in a fresh process: the peak RSS it prints is the whole
process's (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), parsed notifications included.

Usage: bench_report_python.py FILE [--dump OUT.json]
"""

import argparse
import json
import resource
import sys
import time
from importlib import metadata

from osprofiler.drivers import base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a JSON list of notifications")
    parser.add_argument("--dump", help="also write the report here, as json.dump writes it")
    args = parser.parse_args()

    t0 = time.perf_counter()
    with open(args.file, encoding="utf-8") as f:
        notifications = json.load(f)
    t1 = time.perf_counter()

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
    report = driver._parse_results()
    t2 = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(f"python_version={sys.version.split()[0]}")
    print(f"osprofiler_version={metadata.version('osprofiler')}")
    print(f"notifications={len(notifications)}")
    print(f"python_json_load_seconds={t1 - t0:.3f}")
    print(f"python_report_seconds={t2 - t1:.3f}")
    print(f"python_peak_kib={peak_kib}")
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()
