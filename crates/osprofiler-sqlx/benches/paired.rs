//! Paired, interleaved runs of the `overhead` bench's cases, for a figure that holds on a
//! busy machine: each round runs a batch of statements per case, in rotating order, and
//! the report gives the median over rounds of each case's mean and of its difference from
//! the plain pool in the same round.
//!
//!     cargo bench -p osprofiler-sqlx --bench paired [-- ROUNDS BATCH]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use osprofiler::notifier::NoopNotifier;
use osprofiler::{profiler, Profiler};
use osprofiler_sqlx::SqlTracing;

mod common;
use common::{one_statement, SQL};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; numbers after it are ROUNDS and BATCH.
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let rounds = nums.first().copied().unwrap_or(31);
    let batch = nums.get(1).copied().unwrap_or(2000);
    let (rt, pool) = common::runtime_and_pool();
    let traced = SqlTracing::enabled().pool(pool.clone());
    let off = SqlTracing::disabled().pool(pool.clone());
    let profiled = Profiler::with_notifier("SECRET_KEY", None, None, Arc::new(NoopNotifier));
    let names = [
        "plain pool, no profiler",
        "traced pool, no profiler",
        "traced pool, profiler current",
        "plain pool, profiler current",
        "tracing off, profiler current",
    ];
    let mut means: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        let mut this_round = [0.0; 5];
        for k in 0..names.len() {
            let case = (k + round) % names.len();
            if case >= 2 {
                profiler::set_current(Some(profiled.clone()));
            }
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..batch {
                    black_box(match case {
                        0 | 3 => one_statement(&pool).await,
                        4 => one_statement(&off).await,
                        _ => one_statement(&traced).await,
                    });
                }
            });
            this_round[case] = start.elapsed().as_secs_f64() * 1e6 / batch as f64;
            profiler::clean();
        }
        for (m, v) in means.iter_mut().zip(this_round) {
            m.push(v);
        }
    }
    println!("{rounds} rounds of {batch} statements per case (SQLite in memory, `{SQL}`, 2 binds)");
    let plain = means[0].clone();
    for (name, m) in names.iter().zip(&means) {
        let diffs: Vec<f64> = m.iter().zip(&plain).map(|(a, b)| a - b).collect();
        println!(
            "{name:32} median {:7.2} us/statement, paired difference from plain {:+6.2} us",
            median(m.clone()),
            median(diffs)
        );
    }
}
