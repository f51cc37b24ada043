//! What the layer adds to one request, called in-process (no socket): an untraced request
//! (target: next to nothing), and a traced one, whose header verification and `wsgi` point
//! (start and stop into the real queue pipeline) should add at most 5 microseconds.
//!
//! `cargo bench -p osprofiler-tower --bench middleware`
//!
//! The inner service answers at once, so the future is ready on its first poll: it is polled
//! with a no-op waker, and what is measured is the middleware, not an executor. Requests are
//! built outside the timed part. Compare `layer/signed_*` with `no_layer/signed` (the same
//! request through the bare service): the difference is what tracing a request costs.
//!
//! The signed cases run in chunks that fit the notifier's queue, flushed (untimed) between
//! chunks, and the bench asserts that no point was dropped: a full queue would time the
//! cheap drop path instead of the hand-off a served request pays.

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{Request, Response};
use osprofiler::driver::memory::NullDriver;
use osprofiler::notifier::{BatchConfig, BatchNotifier, NoopNotifier};
use osprofiler::signing::pack_ids;
use osprofiler_tower::ServerTraceLayer;
use tower::{service_fn, Service, ServiceExt};
use tower_layer::Layer;

/// Polls a future that must be ready at once.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the benchmarked service is always ready"),
    }
}

fn unsigned() -> Request<()> {
    Request::get("/v2/servers/detail?limit=10")
        .header("accept", "application/json")
        .header("user-agent", "bench")
        .body(())
        .unwrap()
}

fn signed(key: &str) -> Request<()> {
    let (info, hmac) = pack_ids(
        "0b21fbac-7825-4d68-8792-3986bb968a43",
        "c324c985-9b81-4e76-aec9-d28663ca828d",
        key,
    );
    let mut req = unsigned();
    req.headers_mut()
        .insert("x-trace-info", info.parse().unwrap());
    req.headers_mut()
        .insert("x-trace-hmac", hmac.parse().unwrap());
    req
}

fn run<S>(svc: &S, req: Request<()>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone,
{
    ready(svc.clone().oneshot(req)).unwrap()
}

/// Room for the points of one chunk of traced requests (two per request), with margin.
const CAPACITY: usize = 1 << 16;

/// Times `iters` signed requests through `svc`, built and flushed outside the timing.
fn timed_in_chunks<S>(iters: u64, svc: &S, pipeline: &BatchNotifier) -> Duration
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone,
{
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(CAPACITY as u64 / 4);
        let requests: Vec<_> = (0..chunk).map(|_| signed("SECRET_KEY")).collect();
        let began = Instant::now();
        for r in requests {
            black_box(run(svc, r));
        }
        total += began.elapsed();
        left -= chunk;
        pipeline.flush(Duration::from_secs(60));
    }
    total
}

fn bench(c: &mut Criterion) {
    let inner = service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let pipeline = BatchNotifier::start(
        Arc::new(NullDriver),
        BatchConfig {
            queue_capacity: CAPACITY,
            ..BatchConfig::default()
        },
    );
    let layer = |keys: &[&str]| {
        ServerTraceLayer::new(keys.iter().copied())
            .enabled(true)
            .notifier(pipeline.clone())
    };
    let one_key = layer(&["SECRET_KEY"]).layer(inner);
    // The same work with a notifier that drops every point: what the middleware itself costs,
    // apart from handing two points to the queue.
    let noop = ServerTraceLayer::new(["old-key-1", "old-key-2", "SECRET_KEY"])
        .enabled(true)
        .notifier(Arc::new(NoopNotifier))
        .layer(inner);
    // Rotation: the matching key is the last of three, so all three are tried.
    let three_keys = layer(&["old-key-1", "old-key-2", "SECRET_KEY"]).layer(inner);

    let mut g = c.benchmark_group("server_middleware");
    g.bench_function("no_layer/unsigned", |b| {
        b.iter_batched(
            unsigned,
            |r| black_box(run(&inner, r)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("layer/unsigned", |b| {
        b.iter_batched(
            unsigned,
            |r| black_box(run(&three_keys, r)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("no_layer/signed", |b| {
        b.iter_batched(
            || signed("SECRET_KEY"),
            |r| black_box(run(&inner, r)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("layer/signed_1_key", |b| {
        b.iter_custom(|iters| timed_in_chunks(iters, &one_key, &pipeline))
    });
    g.bench_function("layer/signed_3_keys", |b| {
        b.iter_custom(|iters| timed_in_chunks(iters, &three_keys, &pipeline))
    });
    g.bench_function("layer/signed_3_keys_noop_notifier", |b| {
        b.iter_batched(
            || signed("SECRET_KEY"),
            |r| black_box(run(&noop, r)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    pipeline.flush(Duration::from_secs(60));
    let stats = pipeline.stats();
    println!("pipeline after the benchmark: {stats:?}");
    assert_eq!(stats.dropped, 0, "the bench timed dropped points");
}

criterion_group!(benches, bench);
criterion_main!(benches);
