#!/usr/bin/env bash
# The whole test suite: the web UI's model (Node's test runner, no packages); unit,
# integration, compile-fail (trybuild), doc and browser tests; then, alone, the test that
# restarts the shared RabbitMQ (it would cut the others' connections).
set -euo pipefail
cd "$(dirname "$0")/.."
node --test crates/osprofiler-ui/tests/
cargo test --workspace --all-features "$@"
cargo test -p osprofiler-cli --all-features --test serve -- --ignored broker_restart_under_a_running_collector
