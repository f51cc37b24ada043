//! The client side: pass the current trace on in every outgoing call.
//!
//! Two shapes, for two needs:
//!
//! - [`TraceInterceptor`], a plain [`tonic::service::Interceptor`]: adds the signed trace
//!   metadata, parent = the caller's current point. It records nothing itself: an interceptor
//!   sees the request only, never the response, so it cannot time the call. Use it when the
//!   calling code already records its own point (a `#[trace_impl(name = "rpc")]` client API,
//!   as nova's `ComputeAPI`).
//! - [`ClientTraceLayer`], a tower layer for the channel: records an `rpc` point around the
//!   call (start `{"function": {"name": "/package.Service/Method"}}`, stop with Python's
//!   `etype`/`message` when the answer is a gRPC error), and sends the metadata with that
//!   point as the parent, so the server's points are its children.
//!
//! Both do nothing (no metadata, no point, one thread-local read) when no profiler is
//! current. The layer's point stops when the response has been read to its end (its
//! [`TracedBody`] ends it at the trailers, with the error when their `grpc-status` is one),
//! or at once for an error answered in the headers; a streaming response is timed to its
//! last message.

use std::task::{Context, Poll};

use osprofiler_core::profiler;
use tonic::service::Interceptor;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::TracedBody;
use crate::future::{call_in, start_info, ResponseFuture};
use crate::metadata;

/// A client interceptor that adds the current trace to a call's metadata (see the module).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use osprofiler_tonic::TraceInterceptor;
/// let channel = tonic::transport::Channel::from_static("http://[::1]:50051").connect().await?;
/// let traced = tonic::service::interceptor::InterceptedService::new(channel, TraceInterceptor);
/// // generated clients: `GreeterClient::with_interceptor(channel, TraceInterceptor)`
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceInterceptor;

impl Interceptor for TraceInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        // The interceptor runs when the call is made, inside the caller's task: the caller's
        // profiler is current here.
        if profiler::is_active() {
            if let Some(p) = profiler::get() {
                metadata::inject(request.metadata_mut(), &p);
            }
        }
        Ok(request)
    }
}

/// A tower layer for a tonic client channel that records an `rpc` point per call and passes
/// the trace on (see the module).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use osprofiler_tonic::ClientTraceLayer;
/// use tower_layer::Layer;
/// let channel = tonic::transport::Channel::from_static("http://[::1]:50051").connect().await?;
/// let traced = ClientTraceLayer.layer(channel);
/// // generated clients: `GreeterClient::new(traced)`, or `tonic::client::Grpc::new(traced)`
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTraceLayer;

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTrace<S>;

    fn layer(&self, inner: S) -> ClientTrace<S> {
        ClientTrace::new(inner)
    }
}

/// The service of [`ClientTraceLayer`].
#[derive(Debug, Clone)]
pub struct ClientTrace<S> {
    inner: S,
}

impl<S> ClientTrace<S> {
    /// Wraps a channel (or any HTTP/2 client service).
    pub fn new(inner: S) -> Self {
        ClientTrace { inner }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ClientTrace<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: std::fmt::Display,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let Some(caller) = profiler::is_active().then(profiler::get).flatten() else {
            return ResponseFuture::unprofiled(self.inner.call(request));
        };
        let info = start_info(request.uri().path());
        let inner = &mut self.inner;
        ResponseFuture::profiled(call_in(caller, info, move || {
            // The point just opened is the current one: the callee's parent.
            if let Some(p) = profiler::get() {
                metadata::inject_headers(request.headers_mut(), &p);
            }
            inner.call(request)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::Profiler;

    #[test]
    fn interceptor_adds_metadata_only_when_profiling() {
        profiler::clean();
        let request = TraceInterceptor.call(tonic::Request::new(())).unwrap();
        assert!(request.metadata().is_empty());

        profiler::set_current(Some(Profiler::new("k", Some("b"), Some("p"))));
        let request = TraceInterceptor.call(tonic::Request::new(())).unwrap();
        profiler::clean();
        let callee = metadata::Verifier::new(["k"])
            .verify_metadata(request.metadata())
            .unwrap();
        assert_eq!(callee.base_id().to_text(), "b");
        assert_eq!(callee.id().to_text(), "p");
    }
}
