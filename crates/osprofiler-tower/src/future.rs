//! [`ResponseFuture`]: the inner service's future, run in the request's profiler with its
//! `wsgi` point when the request is traced.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use osprofiler_core::propagation::PointFuture;
use osprofiler_core::Profiled;
use pin_project_lite::pin_project;

pin_project! {
    /// The response future of [`ServerTrace`](crate::ServerTrace).
    ///
    /// Untraced, it is the inner future and nothing else. Traced, the request's profiler is
    /// current on every poll (so the handler sees it across `.await`, on whichever worker
    /// thread polls it) and while the future is dropped; the `wsgi` point stops when the
    /// response is ready, with Python's error info when the inner service fails, or, when the
    /// future is dropped unfinished (the client went away), with the core's
    /// [`cancelled_info`](osprofiler_core::propagation::cancelled_info)
    /// ([`PointFuture`]).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Unprofiled { #[pin] future: F },
        Profiled { #[pin] future: Profiled<PointFuture<F>> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn unprofiled(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Unprofiled { future },
        }
    }

    pub(crate) fn profiled(future: Profiled<PointFuture<F>>) -> Self {
        ResponseFuture {
            kind: Kind::Profiled { future },
        }
    }

    /// Whether this request is traced.
    pub fn is_profiled(&self) -> bool {
        matches!(self.kind, Kind::Profiled { .. })
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: fmt::Display,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Unprofiled { future } => future.poll(cx),
            KindProj::Profiled { future } => future.poll(cx),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("profiled", &self.is_profiled())
            .finish_non_exhaustive()
    }
}
