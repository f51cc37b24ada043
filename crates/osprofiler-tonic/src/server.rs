//! The server side: run each traced call under the caller's trace.
//!
//! - [`ServerTraceLayer`], a tower layer for `tonic::transport::Server::builder().layer(..)`:
//!   verifies the trace metadata with the service's HMAC keys, runs the handler under the
//!   callee's profiler (on whichever worker thread polls it), and records an `rpc` point
//!   around it, start `{"function": {"name": "/package.Service/Method"}}`, stop with
//!   Python's `etype`/`message` when the handler answers a gRPC error. A call without valid
//!   metadata goes to the service unchanged; an unprofiled call costs one header lookup
//!   (none when the layer is disabled or has no key).
//! - [`ServerTraceInterceptor`], a [`tonic::service::Interceptor`]: an interceptor cannot
//!   wrap the handler's future, so it only verifies and puts the callee's [`Profiler`] into
//!   the request's extensions; the handler enters it itself ([`profiler_of`] +
//!   [`osprofiler::ProfilerExt::with_profiler`]) and records its own points, typically with
//!   `#[trace_impl(name = "rpc")]` on the service implementation, as OpenStack managers do.
//!
//! The layer runs the handler's response future under the callee's profiler, and then the
//! response body ([`crate::ResponseBody`]): a streaming response does its work while its
//! body is read, so that work is profiled too, its points are children of the call's point,
//! and the point ends with the stream (at the trailers, with the error when their
//! `grpc-status` is one).
//!
//! Both take a [`ServerTraceConfig`], the configuration `osprofiler-tower`'s HTTP server
//! layer takes too: Python's `enabled` and `hmac_keys`, and where the points go.

use std::task::{Context, Poll};

use std::sync::Arc;

use osprofiler_core::propagation::ServerTraceConfig;
use osprofiler_core::{Profiler, ProfilerConfig, Profiling};
use tonic::service::Interceptor;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::{call_in, start_info, ResponseFuture};
use crate::metadata::MetadataExtractor;

/// A tower layer for a tonic server that traces signed calls (see the module).
///
/// ```no_run
/// # async fn f(profiling: osprofiler::Profiling) -> Result<(), Box<dyn std::error::Error>> {
/// use osprofiler_tonic::ServerTraceLayer;
/// let layer = ServerTraceLayer::from_profiling(&profiling);
/// tonic::transport::Server::builder()
///     .layer(layer)
///     // .add_service(GreeterServer::new(MyGreeter))
/// #   .add_routes(Default::default())
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServerTraceLayer {
    config: Arc<ServerTraceConfig>,
}

impl ServerTraceLayer {
    /// Traces calls whose metadata `config` accepts (a [`ServerTraceConfig`]).
    pub fn new(config: impl Into<ServerTraceConfig>) -> Self {
        Self::with_config(config.into())
    }

    /// Traces calls whose metadata `config` accepts: the constructor both server layers
    /// (this one and `osprofiler-tower`'s) have.
    pub fn with_config(config: ServerTraceConfig) -> Self {
        ServerTraceLayer {
            config: Arc::new(config),
        }
    }

    /// As the `[profiler]` options say: `enabled` and `hmac_keys`.
    pub fn from_config(conf: &ProfilerConfig) -> Self {
        Self::with_config(ServerTraceConfig::from_config(conf))
    }

    /// For what `osprofiler::init_from_conf` set up: enabled when its pipeline runs, with its
    /// `hmac_keys`.
    pub fn from_profiling(profiling: &Profiling) -> Self {
        Self::with_config(ServerTraceConfig::from_profiling(profiling))
    }

    /// The configuration: keys, `enabled`, notifier.
    pub fn config(&self) -> &ServerTraceConfig {
        &self.config
    }
}

impl From<ServerTraceConfig> for ServerTraceLayer {
    fn from(config: ServerTraceConfig) -> Self {
        Self::with_config(config)
    }
}

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;

    fn layer(&self, inner: S) -> ServerTrace<S> {
        ServerTrace {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`ServerTraceLayer`].
#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
    config: Arc<ServerTraceConfig>,
}

impl<S> ServerTrace<S> {
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

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ServerTrace<S>
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

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let Some(callee) = self.config.profiler_for(request.headers()) else {
            return ResponseFuture::unprofiled(self.inner.call(request));
        };
        let info = start_info(request.uri().path());
        let inner = &mut self.inner;
        ResponseFuture::profiled(call_in(callee, info, move || inner.call(request)))
    }
}

/// A server interceptor that verifies the trace metadata and leaves the callee's profiler in
/// the request's extensions (see the module); it never rejects a call.
///
/// ```
/// use osprofiler::ProfilerExt;
/// use osprofiler::propagation::ServerTraceConfig;
/// use osprofiler_tonic::{profiler_of, ServerTraceInterceptor};
///
/// let config = ServerTraceConfig::new(["SECRET_KEY"]).enabled(true);
/// let interceptor = ServerTraceInterceptor::new(config);
/// // GreeterServer::with_interceptor(MyGreeter, interceptor), and in the handler:
/// async fn say_hello(request: tonic::Request<String>) -> Result<tonic::Response<String>, tonic::Status> {
///     let profiler = profiler_of(&request);
///     async move { Ok(tonic::Response::new(request.into_inner())) }
///         .with_profiler(profiler)
///         .await
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ServerTraceInterceptor {
    config: Arc<ServerTraceConfig>,
}

impl ServerTraceInterceptor {
    /// Accepts calls whose metadata `config` accepts (a [`ServerTraceConfig`]).
    pub fn new(config: impl Into<ServerTraceConfig>) -> Self {
        ServerTraceInterceptor {
            config: Arc::new(config.into()),
        }
    }
}

impl Interceptor for ServerTraceInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(p) = self
            .config
            .profiler_for(&MetadataExtractor(request.metadata()))
        {
            request.extensions_mut().insert(p);
        }
        Ok(request)
    }
}

/// The callee's profiler that [`ServerTraceInterceptor`] left in a request, if the call was
/// traced.
pub fn profiler_of<T>(request: &tonic::Request<T>) -> Option<Profiler> {
    request.extensions().get::<Profiler>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::MetadataInjector;
    use osprofiler_core::propagation;

    fn signed(key: &str) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        propagation::inject_from(
            &Profiler::new(key, Some("b"), None),
            &mut MetadataInjector(request.metadata_mut()),
        );
        request
    }

    #[test]
    fn interceptor_leaves_the_profiler_only_for_valid_metadata() {
        let mut interceptor =
            ServerTraceInterceptor::new(ServerTraceConfig::new(["k"]).enabled(true));
        let unsigned = interceptor.call(tonic::Request::new(())).unwrap();
        assert!(profiler_of(&unsigned).is_none());

        let signed_ok = interceptor.call(signed("k")).unwrap();
        assert_eq!(profiler_of(&signed_ok).unwrap().base_id().to_text(), "b");

        assert!(profiler_of(&interceptor.call(signed("x")).unwrap()).is_none());

        // Off until enabled, as the HTTP layer and Python's middleware.
        #[allow(deprecated)]
        let _old_names: (crate::TraceInterceptor, Option<crate::TracedBody<()>>) =
            (crate::TraceInterceptor, None);
        let mut off = ServerTraceInterceptor::new(ServerTraceConfig::new(["k"]));
        assert!(profiler_of(&off.call(signed("k")).unwrap()).is_none());
    }
}
