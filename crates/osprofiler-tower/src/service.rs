//! [`ProfilerService`]: decides per request whether it is traced, and if so makes its
//! profiler and opens its `wsgi` point.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use osprofiler_core::{profiler, Profiler, ProfilerExt, Trace};
use tower_service::Service;

use crate::extract::{self, X_TRACE_HMAC, X_TRACE_INFO};
use crate::future::{ResponseFuture, WsgiPoint};
use crate::layer::Config;

/// The name of the point recorded for every traced request (Python's `WsgiMiddleware.name`).
pub const POINT_NAME: &str = "wsgi";

/// Traces requests signed with one of the service's keys; made by
/// [`ProfilerLayer`](crate::ProfilerLayer).
///
/// A request without `X-Trace-Info` costs one header lookup. A request whose headers verify
/// gets its own profiler (from the headers' `base_id`, `parent_id` and the key that matched),
/// current while the inner service's `call` runs and on every poll of its response future,
/// and a `wsgi` point that stops when the response is ready (before its body is sent, as in
/// Python's WSGI middleware). Anything wrong with the headers leaves the request untraced
/// and untouched: the middleware never answers an error of its own.
#[derive(Clone)]
pub struct ProfilerService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> ProfilerService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        ProfilerService { inner, config }
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

    /// The profiler for this request, when its trace headers verify.
    fn profiler_for<B>(&self, req: &Request<B>) -> Option<Profiler> {
        if !self.config.enabled {
            return None;
        }
        // The only work an untraced request pays for: one lookup by a prepared name.
        let info = req.headers().get(X_TRACE_INFO)?;
        let trace = extract::verify(
            info,
            req.headers().get(X_TRACE_HMAC),
            &self.config.hmac_keys,
        )?;
        Some(trace.into_profiler(self.config.notifier.clone()))
    }
}

impl<S, B> Service<Request<B>> for ProfilerService<S>
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
        let Some(profiler) = self.profiler_for(&req) else {
            return ResponseFuture::unprofiled(self.inner.call(req));
        };
        let info = extract::request_info(&req, &self.config.default_scheme);
        let mut slot = Some(profiler);
        let (point, future) = {
            let _entered = Entered::new(&mut slot);
            let point = Trace::start(POINT_NAME, Some(info));
            (point, self.inner.call(req))
        };
        ResponseFuture::profiled(WsgiPoint::new(future, point).with_profiler(slot))
    }
}

impl<S: fmt::Debug> fmt::Debug for ProfilerService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfilerService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

/// Makes the profiler in `slot` current until dropped (also while unwinding), then puts the
/// (possibly changed) profiler back into `slot` and restores the thread's previous one.
struct Entered<'a> {
    slot: &'a mut Option<Profiler>,
    previous: Option<Profiler>,
}

impl<'a> Entered<'a> {
    fn new(slot: &'a mut Option<Profiler>) -> Self {
        let previous = profiler::set_current(slot.take());
        Entered { slot, previous }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        *self.slot = profiler::set_current(self.previous.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProfilerLayer;
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
        let svc = ProfilerLayer::new(["k"])
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
        let svc = ProfilerLayer::new(["k"])
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
    async fn the_profiler_is_current_in_call_and_not_after() {
        let points = Arc::new(CollectingNotifier::new());
        let svc = ProfilerLayer::new(["k"])
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
        let off = ProfilerLayer::new(["k"]).notifier(points.clone());
        assert!(!off.layer(inner).oneshot(signed("/", "k")).await.unwrap());
        let on = ProfilerLayer::new(["k"])
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
