"""Prints what Python OSprofiler's redis driver lists: {"traces": list_traces(),
"errors": list_error_traces()} as JSON (the interop test runs it).

usage: list_traces.py CONNECTION_STRING
"""

import json
import sys

from oslo_config import cfg

from osprofiler import opts
from osprofiler.drivers import base


def main() -> None:
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    driver = base.get_driver(sys.argv[1], conf=conf)
    print(
        json.dumps(
            {
                "traces": driver.list_traces(),
                "errors": driver.list_error_traces(),
            }
        )
    )


if __name__ == "__main__":
    main()
