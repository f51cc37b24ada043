//! [`PointFuture`]: a call's future with its open point, stopped when the call completes or
//! when the future is dropped first.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::notification::Info;
use crate::profiler::Trace;

/// The stop info of a point whose future was dropped before it completed (a client that went
/// away, a `select!` branch that lost, a timeout): `{"etype": "cancelled", "message": "the
/// future was dropped before it completed"}`. One message for every integration and for
/// `#[trace]`ed async fns, so reports and error-trace listings show cancellations alike.
pub fn cancelled_info() -> Info {
    crate::error_info(
        "cancelled",
        "the future was dropped before it completed".to_owned(),
    )
}

/// What a [`PointFuture`] does with its point when its future completes: stop it, with the
/// info the output calls for, or hand it on (a response body that ends the point later).
///
/// Called where the future is polled, so inside the profiler the point lives in. Closures
/// `FnOnce(T, Trace) -> O` are `StopPoint`s; [`StopOnResult`] is the default.
pub trait StopPoint<T> {
    /// What the future yields.
    type Output;

    /// Ends (or hands on) `point` for `output`.
    fn stop(self, output: T, point: Trace) -> Self::Output;
}

impl<T, O, C: FnOnce(T, Trace) -> O> StopPoint<T> for C {
    type Output = O;

    #[inline]
    fn stop(self, output: T, point: Trace) -> O {
        self(output, point)
    }
}

/// The default [`StopPoint`] for a `Result`: `Ok` stops the point with no info (Python's
/// `with Trace(...)` when the block returns), `Err(e)` with Python's exception info
/// (`{"etype": <type name of E>, "message": <Display>}`, [`Trace::fail`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct StopOnResult;

impl<T, E: fmt::Display> StopPoint<Result<T, E>> for StopOnResult {
    type Output = Result<T, E>;

    #[inline]
    fn stop(self, output: Result<T, E>, point: Trace) -> Result<T, E> {
        match &output {
            Ok(_) => drop(point),
            Err(e) => point.fail(e),
        }
        output
    }
}

pin_project! {
    /// A future and the point open around it: when the future completes, its [`StopPoint`]
    /// stops the point (by default [`StopOnResult`]); when it is dropped before, the point
    /// stops with [`cancelled_info`] (with `etype` `panic` when dropped while unwinding).
    ///
    /// The point is a [`Trace`] guard, which stops in the profiler current where it stops:
    /// poll and drop this future where the point's profiler is current, that is inside the
    /// [`Profiled`](crate::Profiled) future that carries that profiler
    /// (`PointFuture::new(call, point).with_profiler(profiler)`). The HTTP and gRPC layers
    /// and the reqwest middleware all time their calls with it.
    ///
    /// (`#[trace]`ed async fns have their own future, which forks the profiler at the call,
    /// catches panics and hands the output to code that knows its type; it stops a dropped
    /// call with the same [`cancelled_info`].)
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct PointFuture<F, S = StopOnResult> {
        #[pin]
        inner: F,
        // After `inner`, so dropped after it: the points opened inside the future stop
        // before this one, as they would have on completion.
        open: OpenPoint<S>,
    }
}

/// The open point and how to stop it; stops it as cancelled when dropped with it open.
struct OpenPoint<S>(Option<(Trace, S)>);

impl<S> Drop for OpenPoint<S> {
    fn drop(&mut self) {
        if let Some((point, _)) = self.0.take() {
            if std::thread::panicking() {
                // The `Trace` records the panic itself.
                drop(point);
            } else {
                point.stop_with(cancelled_info());
            }
        }
    }
}

impl<F> PointFuture<F> {
    /// `inner`, with `point` (already started) stopped as [`StopOnResult`] says.
    pub fn new(inner: F, point: Trace) -> Self {
        Self::with_stop(inner, point, StopOnResult)
    }
}

impl<F, S> PointFuture<F, S> {
    /// `inner`, with `point` (already started) handed to `stop` when `inner` completes.
    pub fn with_stop(inner: F, point: Trace, stop: S) -> Self {
        PointFuture {
            inner,
            open: OpenPoint(Some((point, stop))),
        }
    }

    /// Whether the point is still open (until the future completes).
    pub fn is_open(&self) -> bool {
        self.open.0.is_some()
    }

    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.inner
    }
}

impl<F, S> Future for PointFuture<F, S>
where
    F: Future,
    S: StopPoint<F::Output>,
{
    type Output = S::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        let (point, stop) = this
            .open
            .0
            .take()
            .expect("PointFuture polled after completion");
        Poll::Ready(stop.stop(output, point))
    }
}

impl<F, S> fmt::Debug for PointFuture<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PointFuture")
            .field("point", &self.open.0.as_ref().map(|(p, _)| p))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::notifier::CollectingNotifier;
    use crate::{Profiler, ProfilerExt};

    fn profiler() -> (Profiler, Arc<CollectingNotifier>) {
        let points = Arc::new(CollectingNotifier::new());
        (
            Profiler::with_notifier("k", None, None, points.clone()),
            points,
        )
    }

    /// Starts `name` in `p` and returns the point and the profiler with it open.
    fn started(p: Profiler, name: &'static str) -> (Trace, Option<Profiler>) {
        let mut slot = Some(p);
        let point = {
            let _entered = crate::profiler::enter(&mut slot);
            Trace::start(name, None)
        };
        (point, slot)
    }

    #[tokio::test]
    async fn stops_on_result() {
        let (p, points) = profiler();
        let (point, slot) = started(p.clone(), "ok");
        let fut = PointFuture::new(async { Ok::<_, std::io::Error>(1) }, point);
        assert!(fut.is_open());
        assert_eq!(fut.with_profiler(slot).await.unwrap(), 1);
        let (point, slot) = started(p, "err");
        let fut = PointFuture::new(async { Err::<(), _>(std::io::Error::other("boom")) }, point);
        assert!(fut.with_profiler(slot).await.is_err());
        let n = points.notifications();
        let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ok-start", "ok-stop", "err-start", "err-stop"]);
        assert!(n[1].info.get("etype").is_none());
        assert_eq!(n[3].info["message"], "boom");
    }

    #[tokio::test]
    async fn a_closure_chooses_the_stop() {
        let (p, points) = profiler();
        let (point, slot) = started(p, "call");
        let fut = PointFuture::with_stop(async { 204 }, point, |status: u16, point: Trace| {
            let mut info = crate::Info::new();
            info.insert("status".into(), status.into());
            point.stop_with(info);
            status
        });
        assert_eq!(fut.with_profiler(slot).await, 204);
        assert_eq!(points.notifications()[1].info["status"], 204);
    }

    #[test]
    fn a_dropped_future_stops_its_point_as_cancelled_after_the_points_inside() {
        let (p, points) = profiler();
        let (point, slot) = started(p, "outer");
        let inner = async {
            let _inner = Trace::start("inner", None);
            std::future::pending::<Result<(), std::io::Error>>().await
        };
        let mut fut = Box::pin(PointFuture::new(inner, point).with_profiler(slot));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(fut);
        let n = points.notifications();
        let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["outer-start", "inner-start", "inner-stop", "outer-stop"]
        );
        assert_eq!(n[3].info["etype"], "cancelled");
        assert_eq!(
            n[3].info["message"],
            "the future was dropped before it completed"
        );
        assert!(!crate::profiler::is_active());
    }
}
