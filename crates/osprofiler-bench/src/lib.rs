//! # osprofiler-bench
//!
//! The benchmark harnesses of the project, kept out of `examples/` (where users look for
//! usage): the programs that `scripts/bench_*_vs_python.sh` run against Python OSprofiler
//! (`src/bin/`), and the synthetic traces they and the criterion benches share
//! ([`report_gen`]). Results, with date, machine and command, are in `BENCHMARKS.md`.

#![forbid(unsafe_code)]

pub mod report_gen;
