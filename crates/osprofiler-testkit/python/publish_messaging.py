"""Publishes many notifications with Python OSprofiler's messaging driver (oslo.messaging on
RabbitMQ), as Python services' profilers do: `Messaging.notify(info)` for each point's start
and stop.

Usage: publish_messaging.py TRANSPORT_URL COUNT [TAG]

COUNT notifications in traces of 10 (5 points, each a start and a stop: the last trace may be
shorter), base ids prefixed by TAG so a test can tell them apart. Prints the number
published.
"""

import sys
import uuid
import warnings

warnings.filterwarnings("ignore")

from oslo_config import cfg  # noqa: E402
from osprofiler.drivers import base  # noqa: E402


def main():
    url, count = sys.argv[1], int(sys.argv[2])
    tag = sys.argv[3] if len(sys.argv) > 3 else "py"
    conf = cfg.ConfigOpts()
    conf([])
    driver = base.get_driver(
        "messaging://", context={}, conf=conf, transport_url=url,
        project="pyproj", service="pysvc", host="py-host",
    )
    sent = 0
    while sent < count:
        base_id = "%s-%s" % (tag, uuid.uuid4())
        for point in range(5):
            trace_id = str(uuid.uuid4())
            for phase in ("start", "stop"):
                if sent == count:
                    break
                driver.notify({
                    "name": "db-%s" % phase,
                    "base_id": base_id,
                    "trace_id": trace_id,
                    "parent_id": base_id,
                    "timestamp": "2026-12-06T10:00:00.%06d" % (sent % 1000000),
                    "info": {"host": "py-host", "point": point},
                })
                sent += 1
    print(sent)


if __name__ == "__main__":
    main()
