"""Publishes one notification with Python OSprofiler's messaging driver, as a profiler's
start or stop does: `Messaging.notify(info)`.

Usage: publish_notification.py TRANSPORT_URL NOTIFICATION_JSON

The driver is made with project "proj", service "svc", host "rust-host" (it adds `project`
and `service` to the notification, as for every point).
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

from oslo_config import cfg  # noqa: E402
from osprofiler.drivers import base  # noqa: E402


def main():
    url, notification = sys.argv[1], json.loads(sys.argv[2])
    conf = cfg.ConfigOpts()
    conf([])
    driver = base.get_driver(
        "messaging://", context={}, conf=conf, transport_url=url,
        project="proj", service="svc", host="rust-host",
    )
    driver.notify(notification)


if __name__ == "__main__":
    main()
