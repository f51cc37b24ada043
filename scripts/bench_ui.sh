#!/usr/bin/env bash
# The web UI's trace page in headless Chromium (issue 10, point 5 and "Speed"), for BENCHMARKS.md.
#
#   scripts/bench_ui.sh            # RUNS=5 loads of each page
#   RUNS=3 OUT=/tmp/bench-ui scripts/bench_ui.sh
#
# 1. Builds target/release/osprofiler and report_bench if they are missing (set REBUILD=1 to
#    build them anyway: cargo decides then whether anything changed).
# 2. Makes four traces with report_bench's generator (crates/osprofiler-bench/src/report_gen.rs:
#    one trace shaped like OpenStack's: wsgi requests into 4 API services calling db, driver,
#    http and rpc into 5 worker services, up to 7 levels, 9 hosts, ~2% errors, raw payloads as
#    Python OSprofiler sends them): 2,000, 20,000 and 200,000 notifications (1,000, 10,000
#    and 100,000 points) and 100,000 notifications (50,000 points: the issue's --html target).
# 3. Writes each offline page with `osprofiler trace show FILE --html --out PAGE`, 5 times,
#    and prints the median wall time (and min-max) and the page's size.
# 4. Runs crates/osprofiler-ui/e2e/perf.mjs on the pages (needs `npm ci` in that folder, and
#    Chromium: CHROMIUM, default /usr/bin/chromium).
#
# Exits non-zero if a step fails. Traces and pages are kept in OUT (default target/bench-ui).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/target/bench-ui}
RUNS=${RUNS:-5}
WRITES=${WRITES:-5}
BIN=$ROOT/target/release/osprofiler
GEN=$ROOT/target/release/report_bench
E2E=$ROOT/crates/osprofiler-ui/e2e
mkdir -p "$OUT"

if [[ ! -x $BIN || -n ${REBUILD:-} ]]; then
  cargo build --release -p osprofiler-cli
fi
if [[ ! -x $GEN || -n ${REBUILD:-} ]]; then
  cargo build --release -p osprofiler-bench --bin report_bench
fi
if [[ ! -d $E2E/node_modules/playwright-core ]]; then
  echo "playwright-core is not installed: run 'npm ci' in $E2E" >&2
  exit 1
fi

# name notifications
TRACES=(
  "points-1k 2000"
  "points-10k 20000"
  "points-100k 200000"
  "notifications-100k 100000"
)

# Median of the numbers on stdin (one a line).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "## Offline page (trace show --html), median of $WRITES writes"
echo
echo "| trace | notifications | points | JSON list, MB | page, bytes | page, MB | write, s: median (min–max) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
PAGES=()
for t in "${TRACES[@]}"; do
  read -r name n <<<"$t"
  json=$OUT/$name.json
  page=$OUT/$name.html
  if [[ ! -s $json ]]; then
    "$GEN" gen "$n" "$json" >/dev/null
  fi
  points=$(grep -c -- '-start",' "$json" || true)
  times=()
  for _ in $(seq "$WRITES"); do
    rm -f "$page"
    start=$(date +%s%N)
    "$BIN" trace show "$json" --html --out "$page" >/dev/null
    end=$(date +%s%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
  done
  med=$(printf '%s\n' "${times[@]}" | median)
  min=$(printf '%s\n' "${times[@]}" | sort -g | head -1)
  max=$(printf '%s\n' "${times[@]}" | sort -g | tail -1)
  bytes=$(stat -c %s "$page")
  json_mb=$(awk -v b="$(stat -c %s "$json")" 'BEGIN { printf "%.1f", b / 1e6 }')
  page_mb=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e6 }')
  printf '| %s | %s | %s | %s | %s | %s | %.3f (%s–%s) |\n' "$name" "$n" "$points" "$json_mb" "$bytes" "$page_mb" "$med" "$min" "$max"
  PAGES+=("$page")
done
echo
echo "## Trace page in Chromium"
echo
node "$E2E/perf.mjs" --runs "$RUNS" --json "$OUT/perf.json" "${PAGES[@]}"
