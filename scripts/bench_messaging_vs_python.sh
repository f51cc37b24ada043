#!/usr/bin/env bash
# Publishing notifications to RabbitMQ with publisher confirms: our messaging driver (through
# the BatchNotifier, as a traced service publishes) against Python OSprofiler 4.4.0's
# messaging driver (oslo.messaging, rabbit driver), on the same broker, in the same run.
#
#   scripts/bench_messaging_vs_python.sh [RUST_N] [PY_N]
#
# - Needs the local RabbitMQ (127.0.0.1:5672, guest) and `rabbitmqctl` (a private virtual
#   host is made for the run and deleted at the end, so no one's `profiler.info` queue is
#   touched), and the interop virtualenv (scripts/python-venv.sh).
# - Rust: `messaging_publish` (crates/osprofiler-bench), RUST_N notifications (default 100,000), timed from the
#   first trace point until the broker confirmed the last message.
# - Python: scripts/bench_messaging_python.py, PY_N notifications (default 5,000), timed over
#   the `notify` calls (each returns once oslo.messaging has published it with a confirm).
# - The machine is shared and noisy: runs interleaved (RS_RUNS, PY_RUNS), queue purged
#   between runs, medians compared.
set -euo pipefail

RUST_N="${1:-100000}"
PY_N="${2:-5000}"
RS_RUNS="${RS_RUNS:-5}"
PY_RUNS="${PY_RUNS:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${OSPROFILER_TEST_PYTHON:-$ROOT/.venv-interop/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/messaging_publish"
BROKER="${BROKER:-127.0.0.1:5672}"
VHOST="osp-bench-$$"
URL="rabbit://guest:guest@$BROKER/$VHOST"

[ -x "$PY" ] || { echo "missing $PY: run scripts/python-venv.sh" >&2; exit 1; }
cargo build --release -q -p osprofiler-bench --bin messaging_publish

rabbitmqctl -q add_vhost "$VHOST" >/dev/null
trap 'rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true' EXIT
rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
purge() { rabbitmqctl -q purge_queue -p "$VHOST" profiler.info >/dev/null 2>&1 || true; }

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(uname -sr)"
echo "== RabbitMQ $(rabbitmqctl -q version 2>/dev/null || echo '?') at $BROKER, private vhost $VHOST"
echo "== Rust: $RUST_N notifications x $RS_RUNS runs; Python: $PY_N notifications x $PY_RUNS runs"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the broker shares the 2 cores with whatever else runs)"

rate() { sed -n 's/.*rate=\([0-9]*\).*/\1/p'; }
RS=(); PYR=()
for i in $(seq 1 "$RS_RUNS"); do
    r=$("$BIN" --transport-url "$URL" --count "$RUST_N" | rate)
    echo "rust   run $i: $r notifications/s"; RS+=("$r"); purge
    if [ "$i" -le "$PY_RUNS" ]; then
        p=$("$PY" scripts/bench_messaging_python.py "$URL" "$PY_N" | rate)
        echo "python run $i: $p notifications/s"; PYR+=("$p"); purge
    fi
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
RM=$(median "${RS[@]}"); PM=$(median "${PYR[@]}")
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== median: rust $RM notifications/s, python $PM notifications/s"
awk -v r="$RM" -v p="$PM" 'BEGIN {printf "== ratio: %.1fx Python\n", r / p}'
