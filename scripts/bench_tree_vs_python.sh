#!/usr/bin/env bash
# `osprofiler trace show FILE` (the default tree) and `trace show FILE --json --out OUT` on
# generated realistic traces of 10^4, 10^5 and 10^6 notifications (a JSON list, as
# `report_bench gen` writes it; crates/osprofiler-bench/src/report_gen.rs), against Python
# OSprofiler 4.4.0's whole process on the same file: `json.load` of the list, the report as
# its Redis driver builds it (`_append_results` per notification, `_parse_results`), then
# `json.dumps(report, indent=2, separators=(",", ": "))` written to a file, as its CLI's
# `trace show --json --out` writes it.
#
#   scripts/bench_tree_vs_python.sh                 # SIZES="10000 100000 1000000"
#   SIZES="10000 100000" ROUNDS=5 BIG_ROUNDS=3 scripts/bench_tree_vs_python.sh
#
# Every command is a fresh process timed whole by /usr/bin/time (wall seconds, peak RSS
# "%M"); per size the three run interleaved (ours tree, ours --json, Python), ROUNDS rounds
# (BIG_ROUNDS from 10^6 on), and medians are compared. Our --json output must be Python's
# byte for byte (checked on the first round of every size). Outputs are deleted before each
# run, so no run pays for truncating the previous one's file. The physical floor of each size
# is printed next to it: reading the input from the page cache (`cat FILE > /dev/null`) and
# writing as many bytes as the JSON output (`dd` from /dev/zero, no sync, as none of the
# commands syncs).
set -euo pipefail
SIZES="${SIZES:-10000 100000 1000000}"
ROUNDS="${ROUNDS:-5}"
BIG_ROUNDS="${BIG_ROUNDS:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/osprofiler-tree-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$ROOT/scripts/python-venv.sh" >/dev/null
PY="$ROOT/.venv-interop/bin/python"
# OSPROFILER_BIN and REPORT_BENCH_BIN: binaries built already (nothing is built then).
if [ -z "${OSPROFILER_BIN:-}" ]; then
    cargo build --release -q -p osprofiler-cli --bin osprofiler
fi
if [ -z "${REPORT_BENCH_BIN:-}" ]; then
    cargo build --release -q -p osprofiler-bench --bin report_bench
fi
OSP="${OSPROFILER_BIN:-$TARGET/release/osprofiler}"
GEN="${REPORT_BENCH_BIN:-$TARGET/release/report_bench}"

cat > "$WORK/python_whole.py" <<'PY'
"""Python OSprofiler's whole `trace show --json --out`, on a file of notifications."""
import json
import sys

from osprofiler.drivers import base

src, out = sys.argv[1:3]
with open(src, encoding="utf-8") as f:
    notifications = json.load(f)
driver = base.Driver("redis://localhost:6379")
for n in notifications:
    driver._append_results(n["trace_id"], n["parent_id"], n["name"], n["project"],
                           n["service"], n["info"]["host"], n["timestamp"], n)
report = driver._parse_results()
output = json.dumps(report, separators=(",", ": "), indent=2)
with open(out, "w+") as f:
    f.write(output)
PY

# timed OUT_FILE CMD...: runs CMD, prints "wall_seconds peak_kib cpu_seconds" (cpu: user +
# system, all threads); stdout to OUT_FILE.
timed() {
    local out="$1"; shift
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@" > "$out" 2> "$WORK/err" || {
        cat "$WORK/err" >&2; exit 1; }
    awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$WORK/time"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(uname -sr)"
echo "== load: $(uptime)"
REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')"
git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || REV="$REV, with uncommitted changes"
echo "== ours: $OSP ($REV); Python: $("$PY" -c 'import importlib.metadata as m, sys; print("OSprofiler", m.version("osprofiler"), "on Python", sys.version.split()[0])')"
SUMMARY="$WORK/summary"
: > "$SUMMARY"
for N in $SIZES; do
    FILE="$WORK/trace-$N.json"
    "$GEN" gen "$N" "$FILE" > /dev/null
    R="$ROUNDS"
    [ "$N" -ge 1000000 ] && R="$BIG_ROUNDS"
    IN_MIB=$(awk -v b="$(stat -c %s "$FILE")" 'BEGIN { printf "%.1f", b / 1048576 }')
    echo
    echo "== $N notifications: $FILE, $IN_MIB MiB, $R rounds"
    : > "$WORK/tree"; : > "$WORK/json"; : > "$WORK/py"; : > "$WORK/cat"; : > "$WORK/dd"
    for r in $(seq 1 "$R"); do
        cat "$FILE" > /dev/null  # the input in the page cache for everyone
        rm -f "$WORK/tree.txt"
        t_tree=$(timed "$WORK/tree.txt" "$OSP" trace show "$FILE")
        rm -f "$WORK/rs.json"
        t_json=$(timed /dev/null "$OSP" trace show "$FILE" --json --out "$WORK/rs.json")
        rm -f "$WORK/py.json"
        t_py=$(timed /dev/null "$PY" "$WORK/python_whole.py" "$FILE" "$WORK/py.json")
        if [ "$r" = 1 ]; then
            cmp -s "$WORK/rs.json" "$WORK/py.json" || { echo "--json output differs from Python's" >&2; exit 1; }
            OUT_BYTES=$(stat -c %s "$WORK/rs.json")
            echo "--json output: byte for byte Python's ($(awk -v b="$OUT_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB); tree: $(wc -l < "$WORK/tree.txt") lines, $(stat -c %s "$WORK/tree.txt") bytes"
        fi
        t_cat=$(timed /dev/null cat "$FILE")
        rm -f "$WORK/dd.out"
        t_dd=$(timed /dev/null dd if=/dev/zero of="$WORK/dd.out" bs=1M count="$(( (OUT_BYTES + 1048575) / 1048576 ))" status=none)
        rm -f "$WORK/dd.out" "$WORK/py.json"
        echo "$t_tree" >> "$WORK/tree"; echo "$t_json" >> "$WORK/json"; echo "$t_py" >> "$WORK/py"
        echo "$t_cat" >> "$WORK/cat"; echo "$t_dd" >> "$WORK/dd"
        echo "round $r: tree $t_tree | --json $t_json | python $t_py | cat $t_cat | dd $t_dd   (wall s, peak KiB, cpu s)"
    done
    for k in tree json py cat dd; do
        eval "${k}_s=\$(cut -d' ' -f1 < \"\$WORK/\$k\" | median)"
        eval "${k}_k=\$(cut -d' ' -f2 < \"\$WORK/\$k\" | median)"
        eval "${k}_c=\$(cut -d' ' -f3 < \"\$WORK/\$k\" | median)"
    done
    awk -v n="$N" -v ts="$tree_s" -v tk="$tree_k" -v tc="$tree_c" -v js="$json_s" -v jk="$json_k" -v jc="$json_c" \
        -v ps="$py_s" -v pk="$py_k" -v pc="$py_c" -v cs="$cat_s" -v ds="$dd_s" -v inm="$IN_MIB" -v outb="$OUT_BYTES" 'BEGIN {
        printf "medians, %d notifications (wall, peak RSS, cpu = user+sys of all threads):\n", n
        printf "  python whole process (load+get_report+dumps+write) %7.2f s  peak %6.0f MiB  cpu %6.2f s\n", ps, pk / 1024, pc
        printf "  ours, tree to a file                               %7.2f s  peak %6.0f MiB  cpu %6.2f s  wall 1/%.1f of python (cpu 1/%.1f), %.2f us/notification\n", ts, tk / 1024, tc, ps / ts, pc / tc, ts / n * 1e6
        printf "  ours, --json --out                                 %7.2f s  peak %6.0f MiB  cpu %6.2f s  wall x%.1f faster (cpu x%.1f), peak %.2f of python, %.2f us/notification\n", js, jk / 1024, jc, ps / js, pc / jc, jk / pk, js / n * 1e6
        printf "  floor: cat of the input (%s MiB) %.2f s; dd write of the JSON size (%.1f MiB) %.2f s\n", inm, cs, outb / 1048576, ds
    }' | tee -a "$SUMMARY"
done
echo
echo "== summary"
cat "$SUMMARY"
echo "== load after: $(uptime)"
