"""A Python WSGI service wrapped in Python OSprofiler 4.4.0's own WsgiMiddleware (the
python_services test runs it as a subprocess).

usage: wsgi_app.py CONNECTION_STRING PROJECT

Serves on a free loopback port (wsgiref, one request at a time) and prints `ready PORT` once
it listens, so the test waits for that line instead of sleeping. Its points go to Python's
own redis notifier (service "python-wsgi"). `GET /v1/items` records a `db` point inside the
middleware's `wsgi` point and answers JSON naming the trace it ran in.
"""

import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from oslo_config import cfg

from osprofiler import notifier, opts, profiler, web

KEY = "SECRET_KEY"


def app(environ, start_response):
    """The service itself: one `db` point per request, as a database call would make."""
    profiler.start("db", info={"db": {"statement": "SELECT id FROM items", "params": {}}})
    items = ["a", "b"]
    profiler.stop()
    p = profiler.get()
    body = json.dumps(
        {"items": items, "base_id": p.get_base_id() if p else None}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


class QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the test's output stays the test's."""

    def log_message(self, *args):
        pass


def main():
    connection_string, project = sys.argv[1], sys.argv[2]
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([])
    notifier.set(
        notifier.create(
            connection_string,
            project=project,
            service="python-wsgi",
            conf=conf,
        )
    )
    web.enable(KEY)
    server = make_server(
        "127.0.0.1",
        0,
        web.WsgiMiddleware(app, hmac_keys=KEY, enabled=True),
        handler_class=QuietHandler,
    )
    print("ready %d" % server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
