//! What the layers add to one call, in process (no network): the inner service answers at
//! once with a one-frame body, and each call's response is read to its end (where a traced
//! call's point ends), so the figures are the layers' own cost. `direct` is the inner
//! service alone.
//!
//! `cargo bench -p osprofiler-tonic --bench layers`

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, Criterion};
use http_body::Body;
use osprofiler::notifier::NoopNotifier;
use osprofiler::propagation::{self, ServerTraceConfig};
use osprofiler::{profiler, Profiler};
use osprofiler_tonic::{ClientTraceLayer, ServerTraceLayer};
use tower_layer::Layer;
use tower_service::Service;

#[derive(Clone)]
struct Answer;

impl Service<http::Request<()>> for Answer {
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<http::Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        ready(Ok(http::Response::new(String::from("reply"))))
    }
}

/// Calls `service` and reads the response's body to its end (all ready at once).
fn run<S, B>(service: &mut S, request: http::Request<()>)
where
    S: Service<http::Request<()>, Response = http::Response<B>>,
    B: Body,
{
    let mut cx = Context::from_waker(Waker::noop());
    let future = pin!(service.call(request));
    let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
        panic!("the benchmarked service answers at once");
    };
    let mut body = pin!(response.into_body());
    while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
        black_box(frame.is_ok());
    }
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
    let config = ServerTraceConfig::new(keys)
        .enabled(true)
        .notifier(noop.clone());
    let mut signed = request();
    let caller = Profiler::new("SECRET_KEY", Some("b"), Some("p"));
    propagation::inject_from(&caller, signed.headers_mut());

    let mut direct = Answer;
    let mut server = ServerTraceLayer::with_config(config).layer(Answer);
    let mut server_disabled =
        ServerTraceLayer::with_config(ServerTraceConfig::disabled()).layer(Answer);
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
