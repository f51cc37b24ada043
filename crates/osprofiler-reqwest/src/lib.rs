//! # osprofiler-reqwest
//!
//! The HTTP client middleware of `osprofiler` for [reqwest](https://docs.rs/reqwest),
//! through [reqwest-middleware](https://docs.rs/reqwest-middleware): what Python OSprofiler's
//! `requests` patching (`trace_requests`) and `web.get_trace_id_headers` do together.
//!
//! A call sent from a profiled task gets an `http` (or `https`) point with Python's
//! `requests` info and status code, and carries `X-Trace-Info` / `X-Trace-HMAC` signed with
//! the profiler's key whose parent is that point: a service behind the `osprofiler-tower`
//! layer (or Python's `WsgiMiddleware`) continues the same trace. A call from an unprofiled
//! task is sent as it is; a profiler whose HMAC key is empty records its point but sends no
//! trace headers, as Python's `get_trace_id_headers`.
//!
//! Named in the scheme of its siblings (tower-http's): [`ClientTrace`], as the gRPC client
//! service of `osprofiler-tonic`; the server side is `osprofiler-tower`'s
//! `ServerTraceLayer`. Headers, signing and the call's point come from the core's
//! [`propagation`](osprofiler_core::propagation) toolkit.
//!
//! ```
//! use osprofiler_reqwest::ClientTrace;
//! use reqwest_middleware::ClientBuilder;
//!
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(ClientTrace::new())
//!     .build();
//! # let _ = client;
//! ```
//!
//! `examples/traced_call.rs` runs a whole round trip: a traced task calls a server that has
//! the tower layer, and both halves land in one trace.
//!
//! With [`ClientTrace::traceparent`] the call also carries a W3C `traceparent` made from the
//! OSprofiler ids with the OTLP driver's mapping
//! ([`propagation::w3c`](osprofiler_core::propagation::w3c), `docs/wire.md` section 9), so an
//! OpenTelemetry-instrumented callee continues the trace our OTLP export shows.

#![forbid(unsafe_code)]

mod info;
mod middleware;

pub use middleware::ClientTrace;

#[allow(deprecated)]
pub use middleware::ProfilerMiddleware;
