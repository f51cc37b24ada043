//! # osprofiler-tonic
//!
//! OSprofiler traces across gRPC calls made and served with [tonic]: the caller sends its
//! trace in the call's metadata, signed as OSprofiler signs HTTP trace headers, and the
//! callee verifies it with its own HMAC keys and continues the same trace, so the callee's
//! points are children of the caller's point, under one `base_id`.
//!
//! | side | what | records |
//! |---|---|---|
//! | client | [`ClientTraceInterceptor`] | nothing; adds `x-trace-info` / `x-trace-hmac`, parent = the current point |
//! | client | [`ClientTraceLayer`] (tower layer on the channel) | an `rpc` point around the call; the metadata's parent is that point |
//! | server | [`ServerTraceLayer`] (tower layer on `Server::builder()`) | verifies, runs the handler under the callee's profiler, an `rpc` point around it |
//! | server | [`ServerTraceInterceptor`] | nothing; verifies and leaves the [`osprofiler::Profiler`](osprofiler_core::Profiler) in the request's extensions ([`profiler_of`]) |
//!
//! The metadata values are byte for byte the `X-Trace-Info` / `X-Trace-HMAC` headers of
//! Python OSprofiler (`docs/wire.md`, section 4): a gRPC call is an HTTP/2 request, and
//! HTTP/2 header names are lower case. Verification follows the HTTP server middleware: any
//! of the keys (rotation), exactly `base_id` and optionally `parent_id` in the payload;
//! anything else runs the call unprofiled and unchanged, never fails it. Without a current
//! profiler, or with a profiler whose key is empty, the client side adds nothing (Python's
//! `get_trace_id_headers`).
//!
//! The names follow tower-http's, as `osprofiler-tower` (the HTTP server layer, which takes
//! the same [`ServerTraceConfig`]) and `osprofiler-reqwest` (`ClientTrace`, for HTTP calls)
//! do: `XxxLayer`, the service `Xxx`, [`ResponseFuture`], [`ResponseBody`]. Headers,
//! signing, verification and the call's point come from the core's
//! [`propagation`](osprofiler_core::propagation) toolkit; [`metadata`] makes tonic's
//! `MetadataMap` one of its carriers.
//!
//! The points are named `rpc`, as OpenStack names RPC points on both sides (nova traces its
//! RPC client API and its managers with `trace_cls("rpc")`), with the info of Python's
//! `@trace` with hidden arguments: `{"function": {"name": "/package.Service/Method"}}`. A
//! layer cannot see the decoded messages; trace the handler methods with
//! `#[osprofiler::trace_impl(name = "rpc")]` to record their arguments.
//!
//! ```no_run
//! # async fn f(profiling: osprofiler::Profiling) -> Result<(), Box<dyn std::error::Error>> {
//! use osprofiler_tonic::{ClientTraceLayer, ServerTraceLayer};
//! use tower_layer::Layer;
//!
//! // Server: trace calls signed with one of the service's keys.
//! let server = tonic::transport::Server::builder()
//!     .layer(ServerTraceLayer::from_profiling(&profiling));
//!
//! // Client: an `rpc` point per call, and the trace passed on.
//! let channel = tonic::transport::Channel::from_static("http://127.0.0.1:50051").connect().await?;
//! let client = tonic::client::Grpc::new(ClientTraceLayer.layer(channel));
//! # Ok(()) }
//! ```
//!
//! [tonic]: https://docs.rs/tonic

#![forbid(unsafe_code)]

mod body;
mod client;
mod future;
pub mod metadata;
mod server;

pub use body::ResponseBody;
pub use client::{ClientTrace, ClientTraceInterceptor, ClientTraceLayer};
pub use future::{ResponseFuture, POINT_NAME};
pub use metadata::{MetadataExtractor, MetadataInjector, TRACE_HMAC, TRACE_INFO};
pub use osprofiler_core::propagation::ServerTraceConfig;
pub use server::{profiler_of, ServerTrace, ServerTraceInterceptor, ServerTraceLayer};

#[allow(deprecated)]
pub use body::TracedBody;
#[allow(deprecated)]
pub use client::TraceInterceptor;
