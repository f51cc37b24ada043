#!/usr/bin/env bash
# The whole test suite: unit, integration, compile-fail (trybuild) and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features "$@"
