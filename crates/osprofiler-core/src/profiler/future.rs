//! [`Profiled`]: a future that carries its own profiler and makes it current on every poll,
//! as `tracing`'s `Instrumented` does with spans.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::{enter, Profiler};

pin_project! {
    /// A future with its own profiler context (see [`ProfilerExt`]).
    ///
    /// Whatever the future does to the profiler (start and stop points, `init`, `clean`) stays
    /// with the future, on whichever worker thread it is polled. It is also current while the
    /// future is dropped, so guards inside it stop their points in the right trace.
    pub struct Profiled<F> {
        // `ManuallyDrop` so that `drop` can run the inner future's destructor while the
        // profiler is current (drop glue would run it after `PinnedDrop::drop` returns).
        #[pin]
        inner: ManuallyDrop<F>,
        profiler: Option<Profiler>,
    }

    impl<F> PinnedDrop for Profiled<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let _entered = enter(this.profiler);
            // SAFETY: `inner` is pinned and never used again; dropping it in place keeps the
            // pinning guarantee (it is not moved before its destructor runs).
            unsafe { ManuallyDrop::drop(this.inner.get_unchecked_mut()) };
        }
    }
}

impl<F> Profiled<F> {
    /// The profiler this future carries (between polls).
    pub fn profiler(&self) -> Option<&Profiler> {
        self.profiler.as_ref()
    }
}

impl<F: Future> Future for Profiled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = enter(this.profiler);
        // SAFETY: projecting through `ManuallyDrop` keeps the future pinned where it is.
        let inner = unsafe { this.inner.map_unchecked_mut(|f| &mut **f) };
        inner.poll(cx)
    }
}

impl<F> fmt::Debug for Profiled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiled")
            .field("profiler", &self.profiler)
            .finish_non_exhaustive()
    }
}

/// Attaches a profiler context to a future.
pub trait ProfilerExt: Sized {
    /// Runs this future with `profiler` as its own context (`None`: unprofiled, even if the
    /// spawning code is profiled).
    fn with_profiler(self, profiler: Option<Profiler>) -> Profiled<Self> {
        Profiled {
            inner: ManuallyDrop::new(self),
            profiler,
        }
    }

    /// Runs this future with a fork of the profiler current *now* (where the future is made),
    /// the way to carry a trace into `tokio::spawn` or `join!`ed branches.
    fn in_current_profiler(self) -> Profiled<Self> {
        self.with_profiler(super::get())
    }
}

impl<F: Future> ProfilerExt for F {}
