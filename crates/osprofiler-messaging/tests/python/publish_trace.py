"""Writes one trace with Python OSprofiler's messaging driver (oslo.messaging on RabbitMQ).

Usage: publish_trace.py TRANSPORT_URL [TRANSPORT_URL...]

Every notification goes to each transport URL (one messaging driver per URL), so that the
same trace can be read by two readers that each destroy what they read. Prints the base_id.
"""

import copy
import sys
import time
import warnings

warnings.filterwarnings("ignore")

from oslo_config import cfg  # noqa: E402
from osprofiler import notifier, profiler  # noqa: E402
from osprofiler.drivers import base  # noqa: E402


def main():
    urls = sys.argv[1:]
    conf = cfg.ConfigOpts()
    conf([])
    # One driver per URL: `notifier.create` would cache the first by connection string.
    drivers = [
        base.get_driver(
            "messaging://",
            context={},
            conf=conf,
            transport_url=url,
            project="pyproj",
            service="pysvc",
            host="py-host",
        ).notify
        for url in urls
    ]

    def fan_out(info, context=None):
        for d in drivers:
            d(copy.deepcopy(info))

    notifier.set(fan_out)
    profiler.init("SECRET_KEY")
    with profiler.Trace("wsgi", info={"request": {"path": "/v2/servers", "query": "",
                                                  "method": "POST", "scheme": "http"}}):
        with profiler.Trace("rpc", info={"function": {"name": "compute.build",
                                                      "args": "(1,)", "kwargs": "{}"}}):
            with profiler.Trace("db", info={"db": {"statement": "SELECT 'é'",
                                                   "params": {"id": 7}}}):
                time.sleep(0.003)
        try:
            with profiler.Trace("driver"):
                time.sleep(0.002)
                raise ValueError("boom")
        except ValueError:
            pass
    print(profiler.get().get_base_id())


if __name__ == "__main__":
    main()
