//! # osprofiler-tower
//!
//! The HTTP server middleware of `osprofiler`: a tower [`Layer`](tower_layer::Layer),
//! [`ServerTraceLayer`], that does what Python OSprofiler's `osprofiler.web.WsgiMiddleware`
//! does, for any server built on tower and `http` (axum, hyper through `hyper-util`).
//!
//! Its siblings pass the trace on and use the same names: `osprofiler-reqwest`'s
//! `ClientTrace` signs outgoing HTTP calls, and `osprofiler-tonic` has a `ServerTraceLayer`
//! and a `ClientTraceLayer` for gRPC (its server layer takes the same
//! [`ServerTraceConfig`]). All three are built on the core's
//! [`propagation`](osprofiler_core::propagation) toolkit.
//!
//! A request whose `X-Trace-Info` / `X-Trace-HMAC` headers are signed with one of the
//! service's HMAC keys (several: key rotation) is traced: it gets a profiler of its own, made
//! from the headers' `base_id` and `parent_id`, current in that request's task only (across
//! `.await`, on any worker thread; carry it into spawned tasks with
//! [`osprofiler::profiler::spawn`](osprofiler_core::profiler::spawn)), and a `wsgi` point
//! with Python's info `{"request": {"path", "query", "method", "scheme"}}`. Onward calls are
//! signed with the key that matched.
//!
//! Every other request (no headers, a bad signature, an unknown key, a malformed payload, or
//! the layer disabled) runs unprofiled and unchanged, at the cost of one header lookup; the
//! middleware never answers an error because of trace headers.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use http::{Request, Response};
//! use osprofiler::notifier::CollectingNotifier;
//! use osprofiler_tower::ServerTraceLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let points = Arc::new(CollectingNotifier::new());
//! let service = ServiceBuilder::new()
//!     .layer(ServerTraceLayer::new(["SECRET_KEY"]).enabled(true).notifier(points.clone()))
//!     .service(service_fn(|_req: Request<String>| async {
//!         // The handler runs in the request's trace.
//!         let _db = osprofiler::Trace::start("db", None);
//!         Ok::<_, Infallible>(Response::new(String::from("ok")))
//!     }));
//!
//! // What a caller sends (`osprofiler trace start`, or `osprofiler_reqwest::ClientTrace`).
//! let (info, hmac) = osprofiler::signing::pack_ids("my-trace", "my-trace", "SECRET_KEY");
//! let request = Request::get("/servers?limit=1")
//!     .header("X-Trace-Info", info)
//!     .header("X-Trace-HMAC", hmac)
//!     .body(String::new())
//!     .unwrap();
//! service.oneshot(request).await.unwrap();
//!
//! let names: Vec<_> = points.notifications().into_iter().map(|n| n.name).collect();
//! assert_eq!(names, ["wsgi-start", "db-start", "db-stop", "wsgi-stop"]);
//! let start = &points.notifications()[0];
//! assert_eq!(start.base_id, "my-trace");
//! assert_eq!(start.info["request"]["query"], "limit=1");
//! # }
//! ```
//!
//! In a real service, set profiling up from the `[profiler]` options and build the layer from
//! what that returns (`examples/axum_server.rs` is a complete one). With axum, wrap the whole
//! router, as Python's middleware wraps the whole WSGI app: every request then goes through
//! it (unmatched routes too), and axum's per-route boxing of `Router::layer` is not paid.
//!
//! ```no_run
//! use axum::extract::Request;
//! use axum::ServiceExt;
//! use tower_layer::Layer;
//!
//! # async fn run(router: axum::Router) -> std::io::Result<()> {
//! let conf = osprofiler::ProfilerConfig::from_env().unwrap();
//! let profiling = osprofiler::init_from_conf(&conf, Some("demo"), Some("api")).await;
//! let app = osprofiler_tower::ServerTraceLayer::from_profiling(&profiling).layer(router);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
//! # }
//! ```
//!
//! ## What is recorded, exactly
//!
//! - `wsgi-start`: `{"request": {"path": <the path as sent>, "query": <the raw query string,
//!   "" when none>, "method": ..., "scheme": <the URI's, else "http">}}` (plus `host`). When
//!   the request also carries a well-formed W3C `traceparent`, it is recorded under
//!   [`TRACEPARENT_KEY`] (and `tracestate` under [`TRACESTATE_KEY`]), so a trace that came
//!   through OpenTelemetry-instrumented services can be tied to ours.
//! - `wsgi-stop`: when the inner service's response is ready (the body is then streamed
//!   outside the trace, as with Python's WSGI middleware); with `{"etype", "message"}` when
//!   the inner service returned an error. A future dropped before the response (the client
//!   went away) still stops the point, with `{"etype": "cancelled", "message": ...}` (the
//!   core's [`cancelled_info`](osprofiler_core::propagation::cancelled_info)).
//!
//! The response type is the inner service's own: the layer changes nothing in what a client
//! receives.

#![forbid(unsafe_code)]

mod future;
mod info;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use info::{TRACEPARENT_KEY, TRACESTATE_KEY};
pub use layer::ServerTraceLayer;
pub use osprofiler_core::propagation::ServerTraceConfig;
pub use service::{ServerTrace, POINT_NAME};

#[allow(deprecated)]
pub use layer::ProfilerLayer;
#[allow(deprecated)]
pub use service::ProfilerService;
