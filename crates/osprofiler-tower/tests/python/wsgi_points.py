"""Python OSprofiler's own WsgiMiddleware on the requests the Rust test sends to our layer.

Reads a JSON list of {"method", "target", "base_id", "parent_id", "key"} on stdin; for each,
signs the trace headers with Python's signed_pack, sends the request through
osprofiler.web.WsgiMiddleware (hmac_keys "k1,k2", enabled) with webob, and prints a JSON
list of the notifications Python sent for it (names, ids, and info without the host).
"""

import json
import sys

import webob
import webob.dec

from osprofiler import _utils, notifier, web

sent = []
notifier.set(sent.append)


@webob.dec.wsgify
def app(request):
    return webob.Response("ok")


middleware = web.WsgiMiddleware(app, hmac_keys="k1,k2", enabled=True)
out = []
for case in json.load(sys.stdin):
    sent.clear()
    data = {"base_id": case["base_id"], "parent_id": case["parent_id"]}
    info, hmac = _utils.signed_pack(data, case["key"])
    request = webob.Request.blank(
        case["target"],
        method=case["method"],
        headers={"X-Trace-Info": info, "X-Trace-HMAC": hmac},
    )
    response = request.get_response(middleware)
    assert response.status_int == 200, response.status
    points = []
    for n in sent:
        n_info = dict(n["info"])
        n_info.pop("host", None)
        points.append(
            {
                "name": n["name"],
                "base_id": n["base_id"],
                "parent_id": n["parent_id"],
                "info": n_info,
            }
        )
    out.append(points)
print(json.dumps(out))
