//! The hot path: trace points with and without a profiler, and the trace-header round trip.
//!
//! Targets (issue 2): a `#[trace]` fn with no profiler at most 5 ns over the plain fn; a
//! start+stop pair into the queue pipeline at most 500 ns; `signed_pack` and `signed_unpack`
//! (3 keys, the last matching) at most 3 us each.

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use osprofiler::driver::memory::NullDriver;
use osprofiler::notifier::{BatchConfig, BatchNotifier, NoopNotifier};
use osprofiler::signing::{signed_pack, signed_unpack};
use osprofiler::{profiler, Profiler};

#[inline(never)]
fn plain(a: u64, b: u64) -> u64 {
    black_box(a).wrapping_mul(black_box(b))
}

#[osprofiler::trace(name = "bench")]
#[inline(never)]
fn traced(a: u64, b: u64) -> u64 {
    black_box(a).wrapping_mul(black_box(b))
}

fn disabled(c: &mut Criterion) {
    profiler::clean();
    let mut g = c.benchmark_group("no_profiler");
    g.bench_function("plain_fn", |b| b.iter(|| plain(black_box(3), black_box(4))));
    g.bench_function("trace_attr_fn", |b| {
        b.iter(|| traced(black_box(3), black_box(4)))
    });
    g.bench_function("start_stop", |b| {
        b.iter(|| {
            profiler::start("bench", None);
            profiler::stop(None);
        })
    });
    g.finish();
}

fn enabled(c: &mut Criterion) {
    let mut g = c.benchmark_group("profiler");
    profiler::set_current(Some(Profiler::with_notifier(
        "key",
        None,
        None,
        Arc::new(NoopNotifier),
    )));
    g.bench_function("start_stop_noop_notifier", |b| {
        b.iter(|| {
            profiler::start("bench", None);
            profiler::stop(None);
        })
    });
    // The pipeline's queue must never fill during a measurement, or the bench would time the
    // (cheaper) drop path: time chunks that fit in the queue, flush between chunks untimed.
    const CAPACITY: usize = 1 << 16;
    let pipeline = BatchNotifier::start(
        Arc::new(NullDriver),
        BatchConfig {
            queue_capacity: CAPACITY,
            ..BatchConfig::default()
        },
    );
    profiler::set_current(Some(Profiler::with_notifier(
        "key",
        None,
        None,
        pipeline.clone(),
    )));
    let timed_in_chunks = |iters: u64, f: &dyn Fn()| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let chunk = left.min(CAPACITY as u64 / 4);
            let began = Instant::now();
            for _ in 0..chunk {
                f();
            }
            total += began.elapsed();
            left -= chunk;
            pipeline.flush(Duration::from_secs(60));
        }
        total
    };
    g.bench_function("start_stop_batch_pipeline", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, &|| {
                profiler::start("bench", None);
                profiler::stop(None);
            })
        })
    });
    g.bench_function("trace_attr_fn_batch_pipeline", |b| {
        b.iter_custom(|iters| {
            timed_in_chunks(iters, &|| {
                black_box(traced(black_box(3), black_box(4)));
            })
        })
    });
    profiler::clean();
    pipeline.flush(Duration::from_secs(60));
    let stats = pipeline.stats();
    eprintln!("pipeline after the benches: {stats:?}");
    assert_eq!(stats.dropped, 0, "the bench timed dropped points");
    pipeline.shutdown(Duration::from_secs(10));
    g.finish();
}

fn signing(c: &mut Criterion) {
    let mut g = c.benchmark_group("signing");
    let data = serde_json::json!({
        "base_id": "c386bbc4-cd61-4e30-98f1-6adf91b7584a",
        "parent_id": "06839eb9-05b6-46e3-87d4-bedc51431193",
    });
    g.bench_function("signed_pack", |b| {
        b.iter(|| signed_pack(black_box(&data), black_box("SECRET_KEY")).unwrap())
    });
    g.bench_function("pack_ids", |b| {
        b.iter(|| {
            osprofiler::signing::pack_ids(
                black_box("c386bbc4-cd61-4e30-98f1-6adf91b7584a"),
                black_box("06839eb9-05b6-46e3-87d4-bedc51431193"),
                black_box("SECRET_KEY"),
            )
        })
    });
    let (info, hmac) = signed_pack(&data, "SECRET_KEY").unwrap();
    let keys = ["old-key-1", "old-key-2", "SECRET_KEY"];
    g.bench_function("signed_unpack_3_keys_last_matches", |b| {
        b.iter(|| signed_unpack(black_box(&info), black_box(&hmac), black_box(&keys)).unwrap())
    });
    // What the HTTP and gRPC middleware run per traced request: prepared keys, ids read
    // straight from the payload.
    let verifier = osprofiler::signing::Verifier::new(keys);
    g.bench_function("verifier_unpack_3_keys_last_matches", |b| {
        b.iter(|| verifier.unpack(black_box(&info), black_box(&hmac)).unwrap())
    });
    g.bench_function("verify_trace_3_keys_last_matches", |b| {
        b.iter(|| {
            verifier
                .verify_trace(black_box(&info), black_box(&hmac))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, disabled, enabled, signing);
criterion_main!(benches);
