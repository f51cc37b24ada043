#!/usr/bin/env python3
"""Seeds each fuzz target's corpus (fuzz/corpus/<target>/) from the conformance cases made by
Python OSprofiler (crates/osprofiler/tests/conformance/), the web UI's report fixtures and a
few hand-written edge cases. Deterministic; files are named by their content's hash, so
running it again adds nothing new. Input layouts are those the targets document.

Usage: python3 fuzz/seed.py [CORPUS_DIR]   (default: fuzz/corpus)
"""

import base64
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFORMANCE = os.path.join(ROOT, "crates", "osprofiler", "tests", "conformance")
UI_FIXTURES = os.path.join(ROOT, "crates", "osprofiler-ui", "tests", "fixtures")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def py_dumps(v):
    """Python's json.dumps text, as OSprofiler writes it."""
    return json.dumps(v)


class Corpus:
    def __init__(self, root):
        self.root = root
        self.counts = {}

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        path = os.path.join(d, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.counts[target] = self.counts.get(target, 0) + 1


def cases():
    out = []
    for name in ("reports.json", "report_edges.json"):
        path = os.path.join(CONFORMANCE, name)
        if os.path.exists(path):
            out.extend(load(path))
    return out


def seed_trace_headers(c, signing):
    for case in signing.get("pack", []):
        key = case["key"]
        payload = py_dumps(case["data"]).encode()
        # Signed mode: the payload is signed here with the key (mode byte: lower-case hex).
        c.add("trace_headers", bytes([0]) + key.encode() + b"\0" + payload + b"\0")
        # Raw mode: the header values Python made.
        c.add("trace_headers", bytes([0]) + key.encode() + b"\0" +
              case["x_trace_info"].encode() + b"\0" + case["x_trace_hmac"].encode())
    for case in signing.get("unpack", []):
        keys = "\n".join(case["keys"]).encode()
        c.add("trace_headers", bytes([0]) + keys + b"\0" + case["x_trace_info"].encode() +
              b"\0" + case["x_trace_hmac"].encode())
        try:
            payload = base64.urlsafe_b64decode(case["x_trace_info"])
        except Exception:
            continue
        c.add("trace_headers", bytes([8]) + keys + b"\0" + payload + b"\0")
    for payload in ('{"base_id": "b", "parent_id": "p"}', '{"base_id": null}',
                    '{"base_id": "", "parent_id": null, "hmac_key": 1}',
                    '{"base_id": "7e13d441-f3c6-4c58-9ef1-0d59a888cbcd", "parent_id": 5}',
                    '{"base_id": "a", "base_id": "b"}', '{"base_id": "a", "x": 1}', '[]', '1e400'):
        for mode in (0, 1, 2, 3):
            c.add("trace_headers", bytes([mode]) + b"SECRET_KEY\nk\0" + payload.encode() + b"\0")


def seed_report_list(c, all_cases):
    for case in all_cases:
        ns = case.get("notifications", [])
        for text in (py_dumps(ns), json.dumps(ns, separators=(",", ":")),
                     json.dumps(ns, indent=2), json.dumps(ns, ensure_ascii=False)):
            c.add("report_list", b"\0" + text.encode())
        if ns:
            inner = json.dumps(ns, separators=(",", ":"))[1:-1]
            c.add("report_list", b"\x0e" + inner.encode())
            c.add("report_list", b"\x0f" + inner.encode())
        if "report" in case:
            c.add("report_list", b"\0" + json.dumps(case["report"], indent=2).encode())
    for name in ("python-skew.json", "python-nested.json"):
        path = os.path.join(UI_FIXTURES, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                c.add("report_list", b"\0" + f.read())
    for text in ('[]', ' [ ] ', '[1, "a", null, [], {}]', '{}', '[{"name": "a-start"}]',
                 '[{"name":"x-start","trace_id":"t","parent_id":null,'
                 '"timestamp":"2020-01-01T00:00:00.1","info":{"s":"},{\\"name\\""}}]'):
        c.add("report_list", b"\0" + text.encode())


def timestamps(all_cases):
    out = set()
    for case in all_cases:
        for n in case.get("notifications", []):
            if isinstance(n, dict) and isinstance(n.get("timestamp"), str):
                out.add(n["timestamp"])
    return out


def seed_timestamp(c, all_cases):
    for ts in sorted(timestamps(all_cases)):
        c.add("timestamp", ts)
    for ts in ("2026-11-25T04:59:10.042928", "2024-02-29t23:59:59.9", "1-1-1T1:1:1.1",
               "0001-01-01T00:00:00.000000", "9999-12-31T23:59:59.999999",
               "2026-1- 5T0:0:60.0", "2026-11-25T04:59:10.0429281", "2026-11-25T04:59:10."):
        c.add("timestamp", ts)


def seed_messaging(c, all_cases):
    n_seen = 0
    for case in all_cases:
        for n in case.get("notifications", [])[:4]:
            msg = {"message_id": "5c329c6d-d5a8-4f3b-8b2d-0f4e43c1a8a1", "publisher_id": "h",
                   "event_type": "profiler.%s" % (n.get("service") if isinstance(n, dict) else None),
                   "priority": "INFO", "payload": n, "timestamp": "2026-11-25 04:59:10.042928",
                   "_unique_id": "0f4e43c1a8a14f3b8b2d5c329c6dd5a8"}
            c.add("messaging_message", py_dumps(msg))
            c.add("messaging_message", py_dumps({"oslo.version": "2.0",
                                                 "oslo.message": py_dumps(msg)}))
            c.add("messaging_message", py_dumps(n))
            n_seen += 1
    for text in ('{"priority": "INFO"}', '[1, 2]', '{"payload": null}',
                 '{"oslo.version": "2.0", "oslo.message": "{\\"payload\\": {}}"}',
                 '{"oslo.version": null, "payload": {"base_id": 7}}'):
        c.add("messaging_message", text)


def seed_collector(c, all_cases):
    for case in all_cases:
        ns = case.get("notifications", [])
        c.add("collector_body", py_dumps(ns))
        for n in ns[:3]:
            c.add("collector_body", json.dumps(n, separators=(",", ":")))
    for text in ('[]', '{}', '"x"', ' [ {"name": "a"} ] ', 'nul'):
        c.add("collector_body", text)


INI = [
    "[profiler]\nenabled = true\nhmac_keys = SECRET_KEY, old-key\n",
    "[DEFAULT]\ntransport_url = rabbit://guest:guest@localhost:5672/\ndebug = true\n"
    "[profiler]\nenabled = True\nhmac_keys = SECRET_KEY,other\n"
    "connection_string = redis://localhost:6379\ntrace_sqlalchemy = yes\n"
    "socket_timeout = 0.5\n[profiler_otlp]\nservice_name_prefix = os\n[other]\nenabled = false\n",
    "[profiler]\nes_scroll_size = 12\nidle_timeout = 1e3\nfilter_error_trace = off\n"
    "w3c_traceparent = 1\n; comment\n# comment\n",
]
TOML = [
    '[profiler]\nenabled = true\nhmac_keys = ["SECRET_KEY", "old"]\nsocket_timeout = 0.5\n',
    'transport_url = "rabbit://h"\ncontrol_exchange = "x"\n[profiler_otlp]\n'
    'service_name_prefix = "p"\n[profiler]\nes_scroll_size = 3\nenabled = "yes"\n',
]


def seed_config(c):
    for text in INI:
        c.add("config", b"\0" + text.encode())
    for text in TOML:
        c.add("config", b"\1" + text.encode())


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")
    c = Corpus(root)
    all_cases = cases()
    signing_path = os.path.join(CONFORMANCE, "signing.json")
    signing = load(signing_path) if os.path.exists(signing_path) else {}
    seed_trace_headers(c, signing)
    seed_report_list(c, all_cases)
    seed_timestamp(c, all_cases)
    seed_messaging(c, all_cases)
    seed_collector(c, all_cases)
    seed_config(c)
    for target in ("trace_headers", "report_list", "timestamp", "messaging_message",
                   "collector_body", "config"):
        os.makedirs(os.path.join(root, target), exist_ok=True)
        print("seeded %-18s %4d new" % (target, c.counts.get(target, 0)))


if __name__ == "__main__":
    main()
