#!/usr/bin/env bash
# What the OSprofiler server middleware (crates/osprofiler-tower) costs an UNPROFILED request,
# measured end to end with a real load generator against the axum example on loopback.
#
# Two servers run the same app (examples/axum_server.rs, release build, one worker thread):
# one with the layer (enabled, keys set, so every request is checked for trace headers), one
# without it (--no-layer). wrk loads each in turn, in pairs whose order alternates (so drift
# in the machine's speed hits both sides alike); the figure is the median over the pairs of
# (with layer / without layer) requests per second. Target: within 3% (ratio >= 0.97).
# It also prints the server's CPU time per request (from /proc/PID/task/*/schedstat), whose
# ratio is far less disturbed by other load on the machine than throughput is.
#
# Usage: scripts/bench_http_middleware.sh [PAIRS (default 11)] [SECONDS per run (default 3)]
#   CONNECTIONS=32   wrk connections
#   CRITERION=1      also run the in-process criterion bench of the traced path
#                    (cargo bench -p osprofiler-tower --bench middleware)
#
# Needs wrk (Debian: apt-get install -y wrk). Sends traffic to 127.0.0.1 only; every run is
# bounded in time, and the servers it started are stopped on exit.
set -euo pipefail

PAIRS=${1:-11}
SECONDS_PER_RUN=${2:-3}
CONNECTIONS=${CONNECTIONS:-32}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if ! command -v wrk >/dev/null; then
    echo "wrk is missing: apt-get install -y wrk" >&2
    exit 2
fi
if [ "$PAIRS" -lt 5 ]; then
    echo "use at least 5 pairs" >&2
    exit 2
fi

cargo build --release -q -p osprofiler-tower --example axum_server
BIN="$ROOT/target/release/examples/axum_server"

# Two cores: the servers on one, wrk on the other, when taskset is there.
SERVER_CPU=()
WRK_CPU=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU=(taskset -c 0)
    WRK_CPU=(taskset -c 1)
fi

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() { # $1 = port, rest = extra args
    local port=$1
    shift
    OSPROFILER_ENABLED=true OSPROFILER_HMAC_KEYS="SECRET_KEY,old-key" \
        OSPROFILER_CONNECTION_STRING="memory://" \
        "${SERVER_CPU[@]}" "$BIN" --addr "127.0.0.1:$port" --threads 1 "$@" >/dev/null &
    PIDS+=($!)
    for _ in $(seq 50); do
        if curl -sf -m 1 "http://127.0.0.1:$port/" >/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "the server on port $port did not start" >&2
    exit 1
}

# CPU time the server process has used so far, in ns (all its threads).
cpu_ns() { # $1 = pid
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'
}

# One wrk run: prints "requests/s  server-CPU-ns-per-request".
run() { # $1 = port, $2 = server pid, $3 = seconds
    local before after out
    before=$(cpu_ns "$2")
    out=$("${WRK_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"${3}s" --timeout 5s "http://127.0.0.1:$1/")
    after=$(cpu_ns "$2")
    echo "$out" | awk -v cpu=$((after - before)) '
        / requests in / {n = $1}
        /^Requests\/sec:/ {r = $2}
        END {printf "%s %.0f\n", r, cpu / n}'
}

WITH=$(free_port)
start_server "$WITH"
WITH_PID=${PIDS[-1]}
WITHOUT=$(free_port)
start_server "$WITHOUT" --no-layer
WITHOUT_PID=${PIDS[-1]}

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) cores, $(uname -sr); wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s; $PAIRS pairs"
echo "warming up..."
run "$WITH" "$WITH_PID" 2 >/dev/null
run "$WITHOUT" "$WITHOUT_PID" 2 >/dev/null

median() {
    sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else printf "%.4f\n", (v[NR/2]+v[NR/2+1])/2}'
}

RATIOS=()
CPU_RATIOS=()
printf '%-5s %12s %12s %8s   %14s %14s %8s\n' pair "req/s with" "without" ratio \
    "CPU ns/req with" "without" ratio
for i in $(seq "$PAIRS"); do
    if [ $((i % 2)) -eq 1 ]; then
        read -r a ca < <(run "$WITH" "$WITH_PID" "$SECONDS_PER_RUN")
        read -r b cb < <(run "$WITHOUT" "$WITHOUT_PID" "$SECONDS_PER_RUN")
    else
        read -r b cb < <(run "$WITHOUT" "$WITHOUT_PID" "$SECONDS_PER_RUN")
        read -r a ca < <(run "$WITH" "$WITH_PID" "$SECONDS_PER_RUN")
    fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f", a / b}')
    cr=$(awk -v a="$ca" -v b="$cb" 'BEGIN {printf "%.4f", a / b}')
    RATIOS+=("$r")
    CPU_RATIOS+=("$cr")
    printf '%-5s %12s %12s %8s   %14s %14s %8s\n' "$i" "$a" "$b" "$r" "$ca" "$cb" "$cr"
done

MEDIAN=$(printf '%s\n' "${RATIOS[@]}" | median)
CPU_MEDIAN=$(printf '%s\n' "${CPU_RATIOS[@]}" | median)
OVERHEAD=$(awk -v m="$MEDIAN" 'BEGIN {printf "%.2f", (1 - m) * 100}')
CPU_OVERHEAD=$(awk -v m="$CPU_MEDIAN" 'BEGIN {printf "%.2f", (m - 1) * 100}')
VERDICT=$(awk -v m="$MEDIAN" 'BEGIN {print (m >= 0.97) ? "within 3%: PASS" : "over 3%: FAIL"}')
echo "median throughput ratio (with / without): $MEDIAN; cost of the layer: ${OVERHEAD}% ($VERDICT)"
echo "median server CPU per request ratio (with / without): $CPU_MEDIAN; cost: ${CPU_OVERHEAD}%"
echo "(the CPU-per-request figure is the steadier one on a shared machine: other processes"
echo " slow both the server and wrk, but barely change what one request costs the server)"

if [ "${CRITERION:-0}" = 1 ]; then
    cleanup
    PIDS=()
    cargo bench -p osprofiler-tower --bench middleware -- --noplot 2>&1 |
        grep -E '^(server_middleware|pipeline)|time:'
fi
