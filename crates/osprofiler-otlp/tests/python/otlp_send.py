"""Send notifications through Python OSprofiler's own otlp driver (4.4.0).

Usage: otlp_send.py CONNECTION_STRING PREFIX PROJECT SERVICE NOTIFICATIONS.json

The notifications (a JSON list, in the order the Rust notifier sent them) go one by one to
``OTLP.notify``, exactly as Python's profiler hands them to its notifier; then the
OpenTelemetry SDK's batch processor is flushed so that every ended span is exported before
the script exits. An empty PREFIX means no ``[profiler_otlp] service_name_prefix``.
"""

import json
import sys

from oslo_config import cfg

from osprofiler import opts  # noqa: F401  (registers [profiler] and [profiler_otlp])
from osprofiler.drivers import base


def main():
    connection_string, prefix, project, service, path = sys.argv[1:6]
    conf = cfg.CONF
    conf([], project="osprofiler-otlp-interop")
    if prefix:
        conf.set_override("service_name_prefix", prefix, group="profiler_otlp")
    driver = base.get_driver(
        connection_string, project=project, service=service, host="python", conf=conf
    )
    with open(path) as f:
        notifications = json.load(f)
    for notification in notifications:
        driver.notify(notification)
    provider = driver.trace_api.get_tracer_provider()
    flushed = provider.force_flush(10000)
    provider.shutdown()
    if not flushed:
        print("the OTel SDK did not flush within 10 s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
