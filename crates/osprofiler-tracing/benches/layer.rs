//! The layer's cost: an `#[instrument]`ed fn with no profiler (registry alone against
//! registry plus the layer), and with a profiler (a point per call into a no-op notifier);
//! and re-entering a profiled span (what each poll of an instrumented future costs).
//!
//! After criterion's groups, `paired` times the unprofiled fn with and without the layer in
//! alternating rounds (so that load from other processes hits both alike) and prints the
//! medians and the median of the per-round differences.

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use osprofiler::notifier::NoopNotifier;
use osprofiler::{profiler, Profiler};
use tracing_subscriber::layer::{Identity, SubscriberExt};

#[tracing::instrument]
#[inline(never)]
fn instrumented(a: u64, b: u64) -> u64 {
    black_box(a).wrapping_mul(black_box(b))
}

#[osprofiler::trace(name = "bench")]
#[inline(never)]
fn traced(a: u64, b: u64) -> u64 {
    black_box(a).wrapping_mul(black_box(b))
}

fn call(b: &mut criterion::Bencher<'_>) {
    b.iter(|| instrumented(black_box(3), black_box(4)))
}

fn no_profiler(c: &mut Criterion) {
    profiler::clean();
    let mut g = c.benchmark_group("no_profiler");
    g.bench_function("instrument_fn_no_subscriber", call);
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        g.bench_function("instrument_fn_registry", call);
    });
    // What any layer costs (tracing-subscriber's `Layered` plumbing), ours aside.
    let with_noop = tracing_subscriber::registry().with(Identity::new());
    tracing::subscriber::with_default(with_noop, || {
        g.bench_function("instrument_fn_registry_with_noop_layer", call);
    });
    let with_layer = tracing_subscriber::registry().with(osprofiler_tracing::layer());
    tracing::subscriber::with_default(with_layer, || {
        g.bench_function("instrument_fn_registry_with_layer", call);
    });
    g.finish();
}

fn with_profiler(c: &mut Criterion) {
    let mut g = c.benchmark_group("profiler_noop_notifier");
    profiler::set_current(Some(Profiler::with_notifier(
        "key",
        None,
        None,
        Arc::new(NoopNotifier),
    )));
    g.bench_function("trace_attr_fn", |b| {
        b.iter(|| traced(black_box(3), black_box(4)))
    });
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        g.bench_function("instrument_fn_registry", call);
    });
    let with_layer = tracing_subscriber::registry().with(osprofiler_tracing::layer());
    tracing::subscriber::with_default(with_layer, || {
        g.bench_function("instrument_fn_registry_with_layer", call);
        let span = tracing::info_span!("poll");
        g.bench_function("reenter_profiled_span", |b| {
            b.iter(|| span.in_scope(|| black_box(1)))
        });
    });
    profiler::clean();
    g.finish();
}

/// Nanoseconds per call of `instrumented` over `calls` calls under `dispatch`.
fn per_call(dispatch: &tracing::Dispatch, calls: u32) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let began = Instant::now();
        for _ in 0..calls {
            black_box(instrumented(black_box(3), black_box(4)));
        }
        began.elapsed().as_nanos() as f64 / f64::from(calls)
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn paired() {
    const ROUNDS: usize = 21;
    const CALLS: u32 = 200_000;
    profiler::clean();
    let arms = [
        (
            "registry",
            tracing::Dispatch::new(tracing_subscriber::registry()),
        ),
        (
            "registry + no-op layer",
            tracing::Dispatch::new(tracing_subscriber::registry().with(Identity::new())),
        ),
        (
            "registry + osprofiler layer",
            tracing::Dispatch::new(
                tracing_subscriber::registry().with(osprofiler_tracing::layer()),
            ),
        ),
    ];
    for (_, d) in &arms {
        per_call(d, CALLS);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); arms.len()];
    let mut diffs: Vec<Vec<f64>> = vec![Vec::new(); arms.len()];
    for round in 0..ROUNDS {
        // Rotate the order each round so that no arm always runs first.
        let mut this = vec![0.0; arms.len()];
        for k in 0..arms.len() {
            let i = (round + k) % arms.len();
            this[i] = per_call(&arms[i].1, CALLS);
        }
        for i in 0..arms.len() {
            times[i].push(this[i]);
            diffs[i].push(this[i] - this[0]);
        }
    }
    println!("paired/no_profiler ({ROUNDS} rotated rounds of {CALLS} calls each, medians):");
    let base = median(times[0].clone());
    for (i, (name, _)) in arms.iter().enumerate() {
        let diff = median(diffs[i].clone());
        println!(
            "  {name:<28} {:>7.1} ns/call  {diff:+6.1} ns vs registry ({:+.1}%)",
            median(times[i].clone()),
            100.0 * diff / base
        );
    }
}

criterion_group!(benches, no_profiler, with_profiler);

fn main() {
    benches();
    // Only when benchmarking, not when `cargo test --benches` runs the bench once.
    if std::env::args().any(|a| a == "--bench") {
        paired();
    }
    Criterion::default().configure_from_args().final_summary();
}
