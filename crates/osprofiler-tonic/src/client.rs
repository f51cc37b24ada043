//! The client side: pass the current trace on in every outgoing call.
//!
//! Two shapes, for two needs:
//!
//! - [`ClientTraceInterceptor`], a plain [`tonic::service::Interceptor`]: adds the signed trace
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
//! current, and send no metadata when the profiler's key is empty (Python's
//! `get_trace_id_headers`, through the core's [`propagation::inject`]). The layer's point
//! stops when the response has been read to its end (its [`ResponseBody`] ends it at the
//! trailers, with the error when their `grpc-status` is one), or at once for an error
//! answered in the headers; a call dropped before its response stops it as cancelled
//! ([`PointFuture`](osprofiler_core::propagation::PointFuture)). A streaming response is
//! timed to its last message.

use std::task::{Context, Poll};

use osprofiler_core::{profiler, propagation};
use tonic::service::Interceptor;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::{call_in, start_info, ResponseFuture};
use crate::metadata::MetadataInjector;

/// A client interceptor that adds the current trace to a call's metadata (see the module).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use osprofiler_tonic::ClientTraceInterceptor;
/// let channel = tonic::transport::Channel::from_static("http://[::1]:50051").connect().await?;
/// let traced =
///     tonic::service::interceptor::InterceptedService::new(channel, ClientTraceInterceptor);
/// // generated clients: `GreeterClient::with_interceptor(channel, ClientTraceInterceptor)`
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTraceInterceptor;

/// The old name of [`ClientTraceInterceptor`].
#[deprecated(since = "0.1.0", note = "renamed `ClientTraceInterceptor`")]
pub type TraceInterceptor = ClientTraceInterceptor;

/// The old name of [`ClientTraceInterceptor`], as a value (`with_interceptor(channel,
/// TraceInterceptor)`): a unit struct is a type and a value, an alias only a type.
#[deprecated(since = "0.1.0", note = "renamed `ClientTraceInterceptor`")]
#[allow(non_upper_case_globals)]
pub const TraceInterceptor: ClientTraceInterceptor = ClientTraceInterceptor;

impl Interceptor for ClientTraceInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        // The interceptor runs when the call is made, inside the caller's task: the caller's
        // profiler is current here.
        propagation::inject(&mut MetadataInjector(request.metadata_mut()));
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
    type Response = http::Response<ResponseBody<ResBody>>;
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
            propagation::inject(request.headers_mut());
            inner.call(request)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::MetadataExtractor;
    use osprofiler_core::propagation::ServerTraceConfig;
    use osprofiler_core::Profiler;

    #[test]
    fn interceptor_adds_metadata_only_when_profiling() {
        profiler::clean();
        let request = ClientTraceInterceptor
            .call(tonic::Request::new(()))
            .unwrap();
        assert!(request.metadata().is_empty());

        profiler::set_current(Some(Profiler::new("k", Some("b"), Some("p"))));
        let request = ClientTraceInterceptor
            .call(tonic::Request::new(()))
            .unwrap();
        profiler::clean();
        let callee = ServerTraceConfig::new(["k"])
            .enabled(true)
            .profiler_for(&MetadataExtractor(request.metadata()))
            .unwrap();
        assert_eq!(callee.base_id().to_text(), "b");
        assert_eq!(callee.id().to_text(), "p");
    }

    /// Answers at once whether the request carried trace headers.
    struct SeesHeaders;

    impl Service<http::Request<()>> for SeesHeaders {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<http::Response<()>, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            let traced = request.headers().contains_key(propagation::TRACE_INFO);
            let mut response = http::Response::new(());
            response
                .headers_mut()
                .insert("x-traced", if traced { "1" } else { "0" }.parse().unwrap());
            std::future::ready(Ok(response))
        }
    }

    #[test]
    fn the_layer_records_its_point_but_sends_no_headers_for_an_empty_key() {
        use osprofiler_core::notifier::CollectingNotifier;
        use std::future::Future;
        use std::sync::Arc;

        let points = Arc::new(CollectingNotifier::new());
        let mut client = ClientTraceLayer.layer(SeesHeaders);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for (key, sent) in [("k", "1"), ("", "0")] {
            let caller = Profiler::with_notifier(key, Some("b"), None, points.clone());
            let future = profiler::with_profiler(Some(caller), || {
                client.call(http::Request::get("/pkg.Svc/Do").body(()).unwrap())
            });
            let Poll::Ready(Ok(response)) = std::pin::pin!(future).poll(&mut cx) else {
                panic!("answered at once");
            };
            assert_eq!(response.headers()["x-traced"], sent, "key {key:?}");
        }
        // Both calls were timed (the bodies, dropped unread, ended the points).
        assert_eq!(points.points().len(), 4);
    }

    #[test]
    fn an_empty_key_sends_no_metadata() {
        // Python's `get_trace_id_headers`: a profiler without a key passes nothing on.
        profiler::set_current(Some(Profiler::new("", Some("b"), Some("p"))));
        let request = ClientTraceInterceptor
            .call(tonic::Request::new(()))
            .unwrap();
        profiler::clean();
        assert!(request.metadata().is_empty());
    }
}
