"""Throughput of Python OSprofiler 4.4.0's redis driver: `notify` of N notifications into
Redis, one call each, as a Python service's notifier makes them. The Python half of
scripts/bench_redis_vs_python.sh (run with the interop virtualenv's interpreter).

usage: bench_redis_python.py [REDIS_URL] [NOTIFICATIONS]

The payloads are built before the clock starts (Python's profiler work is not counted: this
is the driver's `notify` alone); traces of 200 notifications, as the Rust side writes.
Prints one line: `python notifications_per_sec=<n> notifications=<n> seconds=<s>`; the keys
written (base ids `pybench-<pid>-<n>`) are deleted afterwards.
"""

import datetime
import os
import socket
import sys
import time
import uuid

from oslo_config import cfg

from osprofiler import opts
from osprofiler.drivers import base

PAIRS_PER_TRACE = 100


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379"
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    driver = base.get_driver(url, project=None, service=None, conf=conf)
    prefix = f"pybench-{os.getpid()}"
    host = socket.gethostname()
    payloads = []
    for n in range(total):
        trace = n // (2 * PAIRS_PER_TRACE)
        base_id = f"{prefix}-{trace}"
        payloads.append(
            {
                "name": "db-start" if n % 2 == 0 else "db-stop",
                "base_id": base_id,
                "trace_id": str(uuid.uuid4()),
                "parent_id": base_id,
                "timestamp": datetime.datetime.utcnow().strftime(
                    "%Y-%m-%dT%H:%M:%S.%f"
                ),
                "info": {"host": host},
            }
        )
    started = time.perf_counter()
    for payload in payloads:
        driver.notify(payload)
    seconds = time.perf_counter() - started
    print(
        f"python notifications_per_sec={total / seconds:.0f} "
        f"notifications={total} seconds={seconds:.3f}"
    )
    keys = list(driver.db.scan_iter(match=f"osprofiler_opt:{prefix}-*"))
    for i in range(0, len(keys), 1000):
        driver.db.delete(*keys[i : i + 1000])


if __name__ == "__main__":
    main()
