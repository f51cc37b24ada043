"""Python OSprofiler 4.4.0 as the oracle of the property tests in
`crates/osprofiler/tests/python_oracle.rs`: one process answers a whole batch of generated
cases, so that a test starts Python once.

Usage: oracle.py SUB-COMMAND CASES.json

CASES.json is a JSON list; the answer, printed on standard output, is a JSON list with one
element per case, in the same order.

  report     each case is a list of notifications (Redis driver layout: the whole
             notification is the raw payload, host from `info.host`), added in list order with
             `Driver._append_results`, then `Driver._parse_results`. A notification whose
             `_append_results` raises ValueError (a timestamp `strptime` refuses) is left out
             and its position listed, as our builder skips it (docs/wire.md, 6.6); Python
             raises there, before changing anything. Answer:
             {"report": <json.dumps(report, indent=2, separators=(",", ": "))>,
              "skipped": [positions]}.
  signing    each case is {"info", "hmac", "keys"} (optionally "pack": [data, key]):
             `osprofiler._utils.signed_unpack(info, hmac, keys)`. Answer: {"unpacked":
             json.dumps(result) or null} or {"raised": "<exception type>"}; with "beyond":
             "<why>" when the accepted object holds what serde_json cannot hold (non-finite
             floats, integers beyond 64 bits, lone surrogates); with "pack": [info, hmac], the
             text `signed_pack(data, key)` returns.
  timestamp  each case is a string: `datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")`,
             as `Driver._append_results` parses notification timestamps. Answer: microseconds
             since 1970-01-01T00:00:00 (an integer), or null when strptime refuses.
"""
import base64
import datetime
import json
import math
import sys

from osprofiler import _utils
from osprofiler.drivers import base

FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
EPOCH = datetime.datetime(1970, 1, 1)
MICROSECOND = datetime.timedelta(microseconds=1)


def report(case):
    driver = base.Driver("redis://localhost:6379")
    skipped = []
    for position, n in enumerate(case):
        try:
            driver._append_results(
                n["trace_id"],
                n["parent_id"],
                n["name"],
                n["project"],
                n["service"],
                n["info"]["host"],
                n["timestamp"],
                n,
            )
        except ValueError:
            skipped.append(position)
    trace = driver._parse_results()
    return {
        "report": json.dumps(trace, separators=(",", ": "), indent=2),
        "skipped": skipped,
    }


def beyond_serde(value):
    """Why serde_json (without arbitrary precision) cannot hold `value`, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            return "an integer beyond 64 bits"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "a non-finite float"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate"
        return None
    if isinstance(value, list):
        items = value
    else:
        items = [k for k in value] + list(value.values())
    for item in items:
        why = beyond_serde(item)
        if why:
            return why
    return None


def signing(case):
    answer = {}
    try:
        result = _utils.signed_unpack(case["info"], case["hmac"], case["keys"])
    except Exception as e:  # noqa: BLE001 - what Python raises is the answer
        answer["raised"] = type(e).__name__
    else:
        if result is None:
            answer["unpacked"] = None
        else:
            # Before `signed_unpack` replaced `hmac_key`: a lone surrogate there is gone from
            # the result, but serde_json refuses the whole text for it.
            decoded = json.loads(
                base64.urlsafe_b64decode(case["info"]).decode("utf-8")
            )
            why = beyond_serde(decoded) or beyond_serde(result)
            if why:
                answer["beyond"] = why
                answer["unpacked"] = None
            else:
                answer["unpacked"] = json.dumps(result)
    if "pack" in case:
        data, key = case["pack"]
        info, hmac = _utils.signed_pack(data, key)
        answer["pack"] = [info.decode("ascii"), hmac]
    return answer


def timestamp(case):
    try:
        dt = datetime.datetime.strptime(case, FORMAT)
    except ValueError:
        return None
    return (dt - EPOCH) // MICROSECOND


COMMANDS = {"report": report, "signing": signing, "timestamp": timestamp}


def main():
    command, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)
    answers = [COMMANDS[command](case) for case in cases]
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
