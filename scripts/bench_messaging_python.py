"""Python OSprofiler 4.4.0's messaging driver: N notifications published to RabbitMQ
(oslo.messaging, rabbit driver, publisher confirms), timed from the first until the last
`notify` returned. Run with the interop virtualenv's python:

    bench_messaging_python.py TRANSPORT_URL COUNT

Prints `count=... seconds=... rate=...` (notifications per second). The connection is made
(one warm-up notification) before the clock starts, as the Rust side connects before its.
"""

import datetime
import logging
import sys
import time
import uuid
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

from oslo_config import cfg  # noqa: E402
from osprofiler import notifier  # noqa: E402


def point(base_id, i):
    # What osprofiler.profiler sends for one start or stop.
    return {
        "name": "bench-start" if i % 2 == 0 else "bench-stop",
        "base_id": base_id,
        "trace_id": str(uuid.uuid4()),
        "parent_id": base_id,
        "timestamp": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "info": {"host": "bench-host"},
    }


def main():
    url, count = sys.argv[1], int(sys.argv[2])
    conf = cfg.ConfigOpts()
    conf([])
    notify = notifier.create(
        "messaging://", context={}, conf=conf, transport_url=url,
        project="bench", service="api", host="bench-host",
    )
    base_id = str(uuid.uuid4())
    notify(point(base_id, 0))  # connect
    infos = [point(base_id, i) for i in range(count)]
    start = time.perf_counter()
    for info in infos:
        notify(info)
    seconds = time.perf_counter() - start
    print(f"count={count} seconds={seconds:.3f} rate={count / seconds:.0f}")


if __name__ == "__main__":
    main()
