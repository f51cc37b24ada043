#!/usr/bin/env bash
# Report building, Python OSprofiler 4.4.0 against ours, on the same trace of N notifications
# (default 1,000,000; pass N as the first argument or in $N).
#
#   scripts/bench_report_vs_python.sh [N]
#
# - Makes a virtualenv in .venv-bench with osprofiler==4.4.0 (once).
# - Generates the trace once with `report_bench gen` (crates/osprofiler-bench)
#   (a JSON list, one notification per line; see crates/osprofiler-bench/src/report_gen.rs).
# - Checks first, on 20,000 notifications, that both build the very same report (values and
#   key order).
# - Python: `_append_results` for each notification as the Redis driver calls it, then
#   `_parse_results`; the file's JSON parsing is EXCLUDED from its time. Fresh process; peak
#   memory from getrusage (ru_maxrss), parsed notifications included.
# - Ours: `report_from_json_text` on the file's text, i.e. INCLUDING parsing (and validating)
#   the JSON list from text (reading the file into memory is timed apart), on all cores (2
#   here). Fresh process; peak memory is VmHWM, the file's text included. Also the build
#   alone from notifications already in memory (`report_bench mem`).
set -euo pipefail

N="${1:-${N:-1000000}}"
CHECK_N=20000
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-bench"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/report_bench"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/osprofiler-report-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check "osprofiler==4.4.0"
cargo build --release -q -p osprofiler-bench --bin report_bench

val() { sed -n "s/^$1=//p" "$2" | head -n1; }

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(uname -sr)"

echo "== correctness: $CHECK_N notifications"
"$BIN" gen "$CHECK_N" "$WORK/check.json" >/dev/null
"$VENV/bin/python" scripts/bench_report_python.py "$WORK/check.json" --dump "$WORK/check.py.json" >/dev/null
"$BIN" file "$WORK/check.json" "$WORK/check.rs.json" >/dev/null
"$VENV/bin/python" - "$WORK/check.py.json" "$WORK/check.rs.json" <<'PY'
import json, sys
py, rs = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
assert py == rs, "the reports differ"
assert json.dumps(py) == json.dumps(rs), "the reports differ in key order"
print("same report (values and key order)")
PY

echo "== timing: $N notifications"
"$BIN" gen "$N" "$WORK/trace.json"
ls -l "$WORK/trace.json" | awk '{printf "file size: %.1f MiB\n", $5/1048576}'
# The machine is shared and noisy: several runs of each side, interleaved, medians compared.
PY_RUNS=${PY_RUNS:-3}
RS_RUNS=${RS_RUNS:-5}
: > "$WORK/py_s"; : > "$WORK/py_kib"; : > "$WORK/rs_s"; : > "$WORK/rs_kib"
for i in $(seq 1 "$RS_RUNS"); do
    if [ "$i" -le "$PY_RUNS" ]; then
        "$VENV/bin/python" scripts/bench_report_python.py "$WORK/trace.json" > "$WORK/py.txt"
        val python_report_seconds "$WORK/py.txt" >> "$WORK/py_s"
        val python_peak_kib "$WORK/py.txt" >> "$WORK/py_kib"
        echo "python run $i: $(val python_report_seconds "$WORK/py.txt") s"
    fi
    "$BIN" file "$WORK/trace.json" > "$WORK/rs.txt"
    val rust_parse_and_build_seconds "$WORK/rs.txt" >> "$WORK/rs_s"
    val rust_peak_kib "$WORK/rs.txt" >> "$WORK/rs_kib"
    echo "rust run $i: $(val rust_parse_and_build_seconds "$WORK/rs.txt") s"
done
MEM_RUNS=${MEM_RUNS:-3}
: > "$WORK/mem_s"; : > "$WORK/mem_kib"
for i in $(seq 1 "$MEM_RUNS"); do
    "$BIN" mem "$N" > "$WORK/mem.txt"
    val rust_build_seconds "$WORK/mem.txt" >> "$WORK/mem_s"
    val rust_peak_kib "$WORK/mem.txt" >> "$WORK/mem_kib"
    echo "rust in-memory run $i: $(val rust_build_seconds "$WORK/mem.txt") s"
done
cat "$WORK/mem.txt"

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
py_s=$(median "$WORK/py_s")
py_kib=$(median "$WORK/py_kib")
rs_s=$(median "$WORK/rs_s")
rs_kib=$(median "$WORK/rs_kib")
mem_s=$(median "$WORK/mem_s")
mem_kib=$(median "$WORK/mem_kib")
echo "python seconds: $(tr '\n' ' ' < "$WORK/py_s")"
echo "rust seconds:   $(tr '\n' ' ' < "$WORK/rs_s")"
echo "rust in-memory: $(tr '\n' ' ' < "$WORK/mem_s")"
awk -v n="$N" -v ps="$py_s" -v pk="$py_kib" -v rs="$rs_s" -v rk="$rs_kib" -v ms="$mem_s" -v mk="$mem_kib" 'BEGIN {
    printf "\n== %d notifications (medians)\n", n
    printf "Python 4.4.0 _append_results+_parse_results (JSON parsing excluded): %7.2f s  peak %7.0f MiB\n", ps, pk/1024
    printf "Rust, JSON list text -> report (parsing included):                  %7.2f s  peak %7.0f MiB\n", rs, rk/1024
    printf "Rust, notifications in memory -> report:                            %7.2f s  peak %7.0f MiB\n", ms, mk/1024
    printf "Python / Rust (parsing included): time x%.1f, peak memory x%.1f\n", ps/rs, pk/rk
}'
