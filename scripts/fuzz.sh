#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read bytes from the network or from other
# people's files (docs/fuzzing.md): builds the cargo-fuzz targets of fuzz/ with nightly,
# seeds their corpora, runs each for N seconds and prints, per target, the executions, the
# corpus size and the result. Exits non-zero if any target crashed (printing the reproducer).
#
#   bash scripts/fuzz.sh [--seconds N] [TARGET...]     # default: 30 s, every target
#
# Works on a clean clone with only the toolchains (stable and nightly) installed: installs
# cargo-fuzz when missing. Builds go to $CARGO_TARGET_DIR when set, else fuzz/target.
# Corpora grow in fuzz/corpus/<target>/, crashes land in fuzz/artifacts/<target>/ (both
# ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=30
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_TARGET="${2:?--seconds needs a number}"; shift 2 ;;
    --seconds=*) SECONDS_PER_TARGET="${1#--seconds=}"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
case "$SECONDS_PER_TARGET" in
  ''|*[!0-9]*) echo "fuzz.sh: --seconds takes a whole number" >&2; exit 2 ;;
esac

ALL_TARGETS=(trace_headers report_list timestamp messaging_message collector_body config)
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=("${ALL_TARGETS[@]}")
fi
for t in "${TARGETS[@]}"; do
  if [ ! -f "fuzz/fuzz_targets/$t.rs" ]; then
    echo "fuzz.sh: no target $t (have: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done

export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0

echo "== toolchain"
if ! cargo +nightly --version; then
  echo "fuzz.sh: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  # Its own target dir, so the fuzz build's flags never touch it.
  CARGO_TARGET_DIR="${TMPDIR:-/tmp}/cargo-fuzz-install" cargo install cargo-fuzz --locked
fi
cargo fuzz --version

echo "== seeding corpora"
mkdir -p fuzz/corpus fuzz/artifacts
if command -v python3 >/dev/null 2>&1; then
  python3 fuzz/seed.py fuzz/corpus
else
  echo "python3 not found: the targets start from empty corpora"
fi

# cargo fuzz adds its flags (sanitizer, coverage) to RUSTFLAGS; linking with mold works
# with them (checked), so a RUSTFLAGS that picks mold is kept.
BUILD_FLAGS=(--fuzz-dir fuzz --release --debug-assertions)

echo "== building ${TARGETS[*]}"
if [ ${#TARGETS[@]} -eq ${#ALL_TARGETS[@]} ]; then
  cargo +nightly fuzz build "${BUILD_FLAGS[@]}"
else
  for t in "${TARGETS[@]}"; do
    cargo +nightly fuzz build "${BUILD_FLAGS[@]}" "$t"
  done
fi

LOGS="$(mktemp -d "${TMPDIR:-/tmp}/osprofiler-fuzz.XXXXXX")"
SUMMARY=()
FAILED=0
for t in "${TARGETS[@]}"; do
  echo "== fuzzing $t for ${SECONDS_PER_TARGET}s"
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="$LOGS/$t.log"
  set +e
  cargo +nightly fuzz run "${BUILD_FLAGS[@]}" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=60 -rss_limit_mb=4096 \
    -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  units="$(grep -o 'corp: [0-9]*' "$log" | tail -1 | sed 's/corp: //')"
  files="$(find "fuzz/corpus/$t" -type f | wc -l | tr -d ' ')"
  if [ "$rc" -eq 0 ]; then
    result="ok"
  else
    FAILED=1
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    result="FAILED (exit $rc)${artifact:+, reproducer: $artifact}"
    echo "---- $t: last lines of the log ($log)"
    grep -v "^\s*\[[0-9, ]*\]\?$" "$log" | tail -n 40 | cut -c1-400
    if [ -n "$artifact" ]; then
      echo "---- reproduce: cargo +nightly fuzz run ${BUILD_FLAGS[*]} $t $artifact"
    fi
  fi
  line="$(printf '%-18s %10s execs  corpus %5s files (%s units)  %s' \
    "$t" "${execs:-?}" "$files" "${units:-?}" "$result")"
  echo "$line"
  SUMMARY+=("$line")
done

echo "== summary (${SECONDS_PER_TARGET}s per target; logs in $LOGS)"
printf '%s\n' "${SUMMARY[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "fuzz.sh: a target crashed (reproducers above, in fuzz/artifacts/)" >&2
  exit 1
fi
