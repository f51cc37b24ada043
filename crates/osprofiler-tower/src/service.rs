//! [`ServerTrace`]: decides per request whether it is traced, and if so makes its profiler
//! and opens its `wsgi` point.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use osprofiler_core::propagation::PointFuture;
use osprofiler_core::{profiler, ProfilerExt, Trace};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::info;
use crate::layer::Config;

/// The name of the point recorded for every traced request (Python's `WsgiMiddleware.name`).
pub const POINT_NAME: &str = "wsgi";

/// Traces requests signed with one of the service's keys; made by
/// [`ServerTraceLayer`](crate::ServerTraceLayer).
///
/// A request without `X-Trace-Info` costs one header lookup. A request whose headers verify
/// gets its own profiler (from the headers' `base_id`, `parent_id` and the key that matched),
/// current while the inner service's `call` runs and on every poll of its response future,
/// and a `wsgi` point that stops when the response is ready (before its body is sent, as in
/// Python's WSGI middleware). Anything wrong with the headers leaves the request untraced
/// and untouched: the middleware never answers an error of its own.
#[derive(Clone)]
pub struct ServerTrace<S> {
    inner: S,
    config: Arc<Config>,
}

/// The old name of [`ServerTrace`].
#[deprecated(since = "0.1.0", note = "renamed `ServerTrace`")]
pub type ProfilerService<S> = ServerTrace<S>;

impl<S> ServerTrace<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        ServerTrace { inner, config }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for ServerTrace<S>
where
    S: Service<Request<B>>,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Disabled, or no valid trace headers: the inner service's own future, untouched.
        let Some(profiler) = self.config.trace.profiler_for(req.headers()) else {
            return ResponseFuture::unprofiled(self.inner.call(req));
        };
        let info = info::request_info(&req, &self.config.default_scheme);
        let mut slot = Some(profiler);
        let (point, future) = {
            // The handler's synchronous part runs in the request's trace too, under its point.
            let _entered = profiler::enter(&mut slot);
            let point = Trace::start(POINT_NAME, Some(info));
            (point, self.inner.call(req))
        };
        ResponseFuture::profiled(PointFuture::new(future, point).with_profiler(slot))
    }
}

impl<S: fmt::Debug> fmt::Debug for ServerTrace<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTrace")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerTraceLayer;
    use osprofiler_core::notifier::CollectingNotifier;
    use osprofiler_core::signing::pack_ids;
    use tower::{service_fn, ServiceExt};
    use tower_layer::Layer;

    fn signed(path: &str, key: &str) -> Request<()> {
        let (info, hmac) = pack_ids("base", "parent", key);
        Request::get(path)
            .header("X-Trace-Info", info)
            .header("X-Trace-HMAC", hmac)
            .body(())
            .unwrap()
    }

    #[tokio::test]
    async fn an_error_of_the_inner_service_stops_the_point_with_its_info() {
        let points = Arc::new(CollectingNotifier::new());
        let svc = ServerTraceLayer::new(["k"])
            .enabled(true)
            .notifier(points.clone())
            .layer(service_fn(|_req: Request<()>| async {
                assert!(profiler::is_active());
                Err::<(), _>(std::io::Error::other("backend down"))
            }));
        let err = svc.oneshot(signed("/x", "k")).await.unwrap_err();
        assert_eq!(err.to_string(), "backend down");
        let n = points.notifications();
        assert_eq!(n.len(), 2);
        assert_eq!(n[1].name, "wsgi-stop");
        assert_eq!(n[1].info["message"], "backend down");
        assert_eq!(n[1].info["etype"], "std::io::error::Error");
        assert!(!profiler::is_active());
    }

    #[tokio::test]
    async fn a_panicking_handler_still_stops_the_point() {
        let points = Arc::new(CollectingNotifier::new());
        let svc = ServerTraceLayer::new(["k"])
            .enabled(true)
            .notifier(points.clone())
            .layer(service_fn(|_req: Request<()>| async {
                tokio::task::yield_now().await;
                panic!("handler bug");
                #[allow(unreachable_code)]
                Ok::<(), std::convert::Infallible>(())
            }));
        let join = tokio::spawn(svc.oneshot(signed("/", "k"))).await;
        assert!(join.unwrap_err().is_panic());
        let n = points.notifications();
        let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["wsgi-start", "wsgi-stop"]);
        assert_eq!(n[1].info["etype"], "panic");
    }

    #[tokio::test]
    async fn a_request_dropped_before_its_response_stops_the_point_as_cancelled() {
        let points = Arc::new(CollectingNotifier::new());
        let mut svc = ServerTraceLayer::new(["k"])
            .enabled(true)
            .notifier(points.clone())
            .layer(service_fn(|_req: Request<()>| async {
                let _db = Trace::start("db", None);
                std::future::pending::<Result<(), std::convert::Infallible>>().await
            }));
        let mut future = Box::pin(svc.call(signed("/", "k")));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(std::future::Future::poll(future.as_mut(), &mut cx).is_pending());
        drop(future); // the client went away
        let n = points.notifications();
        let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["wsgi-start", "db-start", "db-stop", "wsgi-stop"]);
        assert_eq!(n[3].info["etype"], "cancelled");
        assert!(!profiler::is_active());
    }

    #[tokio::test]
    async fn the_profiler_is_current_in_call_and_not_after() {
        let points = Arc::new(CollectingNotifier::new());
        let svc = ServerTraceLayer::new(["k"])
            .enabled(true)
            .notifier(points.clone())
            .layer(tower::service_fn(|_req: Request<()>| {
                // Synchronous part of `call`: the request's profiler is already current.
                let p = profiler::get().expect("profiled in call");
                assert_eq!(p.base_id().to_string(), "base");
                std::future::ready(Ok::<_, std::convert::Infallible>(()))
            }));
        svc.oneshot(signed("/", "k")).await.unwrap();
        assert!(!profiler::is_active());
        assert_eq!(points.points().len(), 2);
    }

    #[tokio::test]
    async fn disabled_or_unsigned_requests_are_passed_through() {
        let points = Arc::new(CollectingNotifier::new());
        let inner = service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(profiler::is_active())
        });
        let off = ServerTraceLayer::new(["k"]).notifier(points.clone());
        assert!(!off.layer(inner).oneshot(signed("/", "k")).await.unwrap());
        let on = ServerTraceLayer::new(["k"])
            .enabled(true)
            .notifier(points.clone());
        assert!(!on.layer(inner).oneshot(signed("/", "other")).await.unwrap());
        let plain = Request::get("/").body(()).unwrap();
        assert!(!on.layer(inner).oneshot(plain).await.unwrap());
        assert!(points.points().is_empty());
        assert!(on.layer(inner).oneshot(signed("/", "k")).await.unwrap());
        assert_eq!(points.points().len(), 2);
    }
}
