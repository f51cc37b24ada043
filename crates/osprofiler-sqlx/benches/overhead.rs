//! What statement tracing adds to a statement on SQLite in memory: a plain pool, the traced
//! pool with tracing off, with no profiler current, and with a profiler current (points go
//! to a no-op notifier, so this is the wrapper's own cost: the fork, the start info with its
//! rendered parameters, the start and stop records).
//!
//!     cargo bench -p osprofiler-sqlx --bench overhead

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use osprofiler::notifier::NoopNotifier;
use osprofiler::{profiler, Profiler};
use osprofiler_sqlx::SqlTracing;

mod common;
use common::one_statement;

fn overhead(c: &mut Criterion) {
    let (rt, pool) = common::runtime_and_pool();
    let traced = SqlTracing::enabled().pool(pool.clone());
    let off = SqlTracing::disabled().pool(pool.clone());

    let mut g = c.benchmark_group("sqlite_memory_statement");
    g.measurement_time(Duration::from_secs(5));
    profiler::clean();
    g.bench_function("plain_pool", |b| {
        b.to_async(&rt).iter(|| one_statement(&pool))
    });
    g.bench_function("traced_pool_no_profiler", |b| {
        b.to_async(&rt).iter(|| one_statement(&traced))
    });
    profiler::set_current(Some(Profiler::with_notifier(
        "SECRET_KEY",
        None,
        None,
        Arc::new(NoopNotifier),
    )));
    g.bench_function("plain_pool_profiler_current", |b| {
        b.to_async(&rt).iter(|| one_statement(&pool))
    });
    g.bench_function("traced_pool_tracing_off_profiler_current", |b| {
        b.to_async(&rt).iter(|| one_statement(&off))
    });
    g.bench_function("traced_pool_profiler_current", |b| {
        b.to_async(&rt).iter(|| one_statement(&traced))
    });
    profiler::clean();
    g.finish();
}

/// The part of a traced statement's cost that is this crate's own work beyond a trace point:
/// reading the bound values back into JSON.
fn params(c: &mut Criterion) {
    use osprofiler_sqlx::TracedDatabase as _;
    use sqlx::Arguments as _;
    let mut args = sqlx::sqlite::SqliteArguments::default();
    args.add(41_i64).expect("an integer binds");
    args.add("text").expect("a string binds");
    c.bench_function("params_json_sqlite_2_values", |b| {
        b.iter(|| sqlx::Sqlite::params_json(black_box(&args)))
    });
}

criterion_group!(benches, overhead, params);
criterion_main!(benches);
