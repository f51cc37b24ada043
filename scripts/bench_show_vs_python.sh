#!/usr/bin/env bash
# `osprofiler trace show ID --json` on a trace of N notifications in Redis (default 100,000):
# ours against Python OSprofiler 4.4.0's CLI, whole commands timed (process start, reading
# Redis, building the report, printing the JSON), RUNS interleaved runs each (default 5),
# medians compared. The two outputs must be byte for byte the same.
#
#   scripts/bench_show_vs_python.sh [N] [RUNS]     # Redis at $REDIS_URL (redis://127.0.0.1:6379)
set -euo pipefail
N="${1:-100000}"
RUNS="${2:-5}"
URL="${REDIS_URL:-redis://127.0.0.1:6379}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/osprofiler-show-bench.XXXXXX")"
"$ROOT/scripts/python-venv.sh" >/dev/null
cargo build --release -q -p osprofiler-cli
cargo build --release -q -p osprofiler-bench --bin redis_report
ID="$(KEEP=1 "$TARGET/release/redis_report" "$URL" "$N" 1 2>&1 | sed -n "s/^trace \([^ ]*\) written.*/\1/p")"
[ -n "$ID" ] || { echo "could not write the trace" >&2; exit 1; }
cleanup() { redis-cli -u "$URL" DEL "osprofiler_opt:$ID" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), trace $ID of $N notifications in $URL"
secs() { /usr/bin/time -f "%e" -o "$WORK/t" "$@" > "$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }; cat "$WORK/t"; }
: > "$WORK/rs"; : > "$WORK/py"
for i in $(seq 1 "$RUNS"); do
  secs "$TARGET/release/osprofiler" trace show "$ID" --json --connection-string "$URL" >> "$WORK/rs"
  mv "$WORK/out" "$WORK/rs.json"
  secs "$ROOT/.venv-interop/bin/osprofiler" trace show "$ID" --json --connection-string "$URL" >> "$WORK/py"
  mv "$WORK/out" "$WORK/py.json"
  echo "run $i: rust $(tail -n1 "$WORK/rs") s, python $(tail -n1 "$WORK/py") s"
done
cmp -s "$WORK/rs.json" "$WORK/py.json" && echo "outputs: byte for byte the same" || { echo "outputs differ" >&2; exit 1; }
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
awk -v r="$(median "$WORK/rs")" -v p="$(median "$WORK/py")" 'BEGIN {
  printf "medians: rust %.2f s, python %.2f s: x%.1f (target x10)\n", r, p, p / r }'
