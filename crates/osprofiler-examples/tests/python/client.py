"""A Python client that starts a trace with Python OSprofiler 4.4.0 and calls a service
(the python_services test runs it as a subprocess).

Reads {"url", "connection_string", "project", "base_id"} as JSON on stdin. Starts a trace
with that base_id (profiler.init with the key "SECRET_KEY"), opens a `client` point, sends
`GET url` with `requests` and the headers of `osprofiler.web.get_trace_id_headers()` (so the
callee's points are children of `client`), stops the point, and prints
{"base_id", "client_id", "status", "body"} as JSON. Its points go to Python's own redis
notifier (service "python-client").
"""

import json
import sys

import requests
from oslo_config import cfg

from osprofiler import notifier, opts, profiler, web

KEY = "SECRET_KEY"


def main():
    args = json.load(sys.stdin)
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    notifier.set(
        notifier.create(
            args["connection_string"],
            project=args["project"],
            service="python-client",
            conf=conf,
        )
    )
    p = profiler.init(KEY, base_id=args["base_id"])
    profiler.start("client", info={"call": {"url": args["url"]}})
    client_id = p.get_id()
    headers = web.get_trace_id_headers()
    response = requests.get(args["url"], headers=headers, timeout=60)
    profiler.stop(info={"status_code": response.status_code})
    print(
        json.dumps(
            {
                "base_id": p.get_base_id(),
                "client_id": client_id,
                "status": response.status_code,
                "body": response.json(),
            }
        )
    )


if __name__ == "__main__":
    main()
