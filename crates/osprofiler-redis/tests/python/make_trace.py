"""Makes one trace with Python OSprofiler's own redis driver (the interop test runs it).

usage: make_trace.py CONNECTION_STRING BASE_ID

A service's trace: wsgi > db, rpc (fails), and three driver calls that start in the same
millisecond (their order in the report depends on the store's order). filter_error_trace is
on, so the failure also writes osprofiler_error:<BASE_ID>.
"""

import sys

from oslo_config import cfg

from osprofiler import notifier, opts, profiler


def main() -> None:
    connection_string, base_id = sys.argv[1], sys.argv[2]
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    conf.set_override("filter_error_trace", True, "profiler")
    notifier.set(
        notifier.create(
            connection_string,
            project="python-project",
            service="python-api",
            host="python-host",
            conf=conf,
        )
    )
    profiler.init("SECRET_KEY", base_id=base_id)
    profiler.start(
        "wsgi",
        info={"request": {"path": "/v2/servers", "query": "a=\u00e9", "method": "GET", "scheme": "http"}},
    )
    profiler.start("db", info={"db": {"statement": "SELECT 1", "params": {}}})
    profiler.stop()
    profiler.start(
        "rpc",
        info={"function": {"name": "compute.build", "args": "(1,)", "kwargs": "{}"}},
    )
    profiler.stop(info={"etype": "ValueError", "message": "bo\u00e9m"})
    for i in range(3):
        profiler.start("driver", info={"i": i, "nothing": None, "ratio": 0.5})
        profiler.stop()
    profiler.stop()


if __name__ == "__main__":
    main()
