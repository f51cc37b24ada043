"""Python OSprofiler's requests patching (trace_requests) on the calls the Rust test makes.

Reads a JSON list of {"method", "url"} on stdin; for each, calls it with `requests` in a
profiled context (osprofiler.requests.enable(), profiler.init("client-key")) and prints a JSON
list of the notifications Python sent for it (names and info without the host).
"""

import json
import sys

import requests

from osprofiler import notifier, profiler
from osprofiler import requests as os_requests

sent = []
notifier.set(sent.append)
os_requests.enable()

out = []
for case in json.load(sys.stdin):
    sent.clear()
    profiler.init("client-key")
    try:
        requests.request(case["method"], case["url"], timeout=5)
    finally:
        profiler.clean()
    points = []
    for n in sent:
        info = dict(n["info"])
        info.pop("host", None)
        points.append({"name": n["name"], "info": info})
    out.append(points)
print(json.dumps(out))
