#!/usr/bin/env bash
# The whole test suite: unit, integration, compile-fail (trybuild) and doc tests; then, alone,
# the test that restarts the shared RabbitMQ (it would cut the others' connections).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features "$@"
cargo test -p osprofiler-cli --all-features --test serve -- --ignored broker_restart_under_a_running_collector
