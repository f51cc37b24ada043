#!/usr/bin/env bash
# Writing notifications into Redis: our pipeline against Python OSprofiler 4.4.0's redis
# driver, on the same server in the same run (issue 3: at least 100,000 notifications/s, and
# at least 10 times Python's).
#
#   scripts/bench_redis_vs_python.sh [REDIS_URL]      (default redis://127.0.0.1:6379)
#
# - Ours: `crates/osprofiler-bench/src/bin/redis_notify.rs`, release build: RS_N
#   notifications (default 200,000) made by a profiler's start/stop, queued by the
#   BatchNotifier, encoded and written by RedisDriver in pipelined batches; timed from the
#   first start to the end of the flush (every notification stored).
# - Python: `scripts/bench_redis_python.py` with the interop virtualenv's interpreter
#   (scripts/python-venv.sh makes it): PY_N notifications (default 20,000) through the redis
#   driver's `notify`, one call each; payloads built before the clock starts, so Python's
#   profiler is NOT counted (in Python's favour).
# - RUNS runs of each (default 5), interleaved; medians and their ratio are printed.
# Both delete the keys they wrote.
set -euo pipefail

URL="${1:-${REDIS_URL:-redis://127.0.0.1:6379}}"
RUNS="${RUNS:-5}"
RS_N="${RS_N:-200000}"
PY_N="${PY_N:-20000}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${OSPROFILER_TEST_PYTHON:-$ROOT/.venv-interop/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/redis_notify"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/osprofiler-redis-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$PYTHON" ]; then
    echo "no Python interop virtualenv at $PYTHON: run scripts/python-venv.sh" >&2
    exit 1
fi
cargo build --release -q -p osprofiler-bench --bin redis_notify

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(uname -sr)"
echo "== $(redis-cli -u "$URL" INFO server 2>/dev/null | sed -n 's/^redis_version:/redis /p' | tr -d '\r'), $URL; $RUNS runs each, interleaved"

rate() { sed -n 's/.*notifications_per_sec=\([0-9.]*\).*/\1/p'; }
: > "$WORK/rs"; : > "$WORK/py"
for i in $(seq 1 "$RUNS"); do
    rs_line="$("$BIN" "$URL" "$RS_N")"
    echo "run $i: $rs_line"
    echo "$rs_line" | rate >> "$WORK/rs"
    py_line="$("$PYTHON" scripts/bench_redis_python.py "$URL" "$PY_N")"
    echo "run $i: $py_line"
    echo "$py_line" | rate >> "$WORK/py"
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
RS_MED="$(median "$WORK/rs")"
PY_MED="$(median "$WORK/py")"
echo "== medians: rust $RS_MED notifications/s, python $PY_MED notifications/s"
awk -v r="$RS_MED" -v p="$PY_MED" 'BEGIN {
    printf "== ratio: %.1fx (targets: rust >= 100000/s: %s; ratio >= 10: %s)\n",
        r / p, (r >= 100000 ? "met" : "NOT met"), (r / p >= 10 ? "met" : "NOT met")
}'
