//! What the layers add to one call, in process (no network): the inner service answers at
//! once, so the figures are the layers' own cost. `direct` is the inner service alone.
//!
//! `cargo bench -p osprofiler-tonic --bench layers`

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, Criterion};
use osprofiler::notifier::NoopNotifier;
use osprofiler::{profiler, Profiler};
use osprofiler_tonic::{metadata, ClientTraceLayer, ServerTraceLayer, Verifier};
use tower_layer::Layer;
use tower_service::Service;

#[derive(Clone)]
struct Answer;

impl Service<http::Request<()>> for Answer {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<http::Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        ready(Ok(http::Response::new(())))
    }
}

fn run<S: Service<http::Request<()>>>(service: &mut S, request: http::Request<()>) {
    let mut cx = Context::from_waker(Waker::noop());
    let future = pin!(service.call(request));
    assert!(black_box(future.poll(&mut cx)).is_ready());
}

fn request() -> http::Request<()> {
    http::Request::builder()
        .uri("http://127.0.0.1/pkg.Svc/Do")
        .body(())
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let noop = Arc::new(NoopNotifier);
    let keys = ["old-key", "older-key", "SECRET_KEY"];
    let verifier = Verifier::new(keys).with_notifier(noop.clone());
    let mut signed = request();
    let caller = Profiler::new("SECRET_KEY", Some("b"), Some("p"));
    metadata::inject_headers(signed.headers_mut(), &caller);

    let mut direct = Answer;
    let mut server = ServerTraceLayer::new(verifier).layer(Answer);
    let mut server_disabled = ServerTraceLayer::new(Verifier::disabled()).layer(Answer);
    let mut client = ClientTraceLayer.layer(Answer);

    let mut g = c.benchmark_group("call");
    g.bench_function("direct", |b| b.iter(|| run(&mut direct, request())));
    g.bench_function("server/no keys", |b| {
        b.iter(|| run(&mut server_disabled, request()))
    });
    g.bench_function("server/unsigned", |b| {
        b.iter(|| run(&mut server, request()))
    });
    g.bench_function("server/signed (3 keys, last matches)", |b| {
        b.iter(|| run(&mut server, signed.clone()))
    });
    g.bench_function("client/no profiler", |b| {
        b.iter(|| run(&mut client, request()))
    });
    profiler::set_current(Some(Profiler::with_notifier(
        "SECRET_KEY",
        None,
        None,
        noop,
    )));
    g.bench_function("client/profiled", |b| {
        b.iter(|| run(&mut client, request()))
    });
    profiler::clean();
    g.finish();
}

criterion_group!(layers, benches);
criterion_main!(layers);
