//! The point of one statement, and the future and stream wrappers that open it when the
//! statement first runs and close it when it ends.
//!
//! The point lives in a fork of the profiler that was current where the statement was
//! *made* (the caller's task), so it gets the right parent and records its stop in that trace
//! wherever and whenever the future or stream is polled or dropped. The fork is also current
//! while the statement is polled, so anything traced inside it nests under the point.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::future::BoxFuture;
use futures_core::stream::{BoxStream, Stream};
use osprofiler_core::{profiler, Info, PointName, Profiler};
use serde_json::{Map, Value};

/// Makes the stop info of a failed statement (see [`crate::TracedDatabase::error_info`]).
pub(crate) type DescribeError = fn(&sqlx::Error, &str) -> Info;

/// One statement's point: not started until the statement is first polled.
pub(crate) struct Point<'e> {
    /// The fork the point lives in; `None` once it is stopped.
    profiler: Option<Profiler>,
    name: PointName,
    /// The start info until the point starts.
    start_info: Option<Info>,
    statement: &'e str,
    describe_error: DescribeError,
}

impl<'e> Point<'e> {
    pub(crate) fn new(
        profiler: Profiler,
        name: PointName,
        start_info: Info,
        statement: &'e str,
        describe_error: DescribeError,
    ) -> Self {
        Point {
            profiler: Some(profiler),
            name,
            start_info: Some(start_info),
            statement,
            describe_error,
        }
    }

    /// Sends the start, the first time only.
    fn begin(&mut self) {
        if let (Some(p), Some(info)) = (self.profiler.as_mut(), self.start_info.take()) {
            p.start(self.name.clone(), Some(info));
        }
    }

    /// Sends the stop (once) if the point was started.
    fn finish(&mut self, info: Option<Info>) {
        if let Some(mut p) = self.profiler.take() {
            if self.start_info.is_none() {
                p.stop(info);
            }
        }
    }

    fn fail(&mut self, error: &sqlx::Error) {
        if self.profiler.is_some() {
            let info = (self.describe_error)(error, self.statement);
            self.finish(Some(info));
        }
    }

    /// True between the start and the stop.
    fn is_open(&self) -> bool {
        self.profiler.is_some() && self.start_info.is_none()
    }

    /// Runs one poll of the statement with the point's fork current.
    fn enter<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        if self.profiler.is_none() {
            return poll();
        }
        // Puts the fork back into its point and the task's profiler back in place, also
        // when the poll panics.
        let _entered = profiler::enter(&mut self.profiler);
        poll()
    }

    /// Stops an open point whose future or stream is dropped: with the panic's info while
    /// unwinding, else with `dropped`.
    fn drop_with(&mut self, dropped: impl FnOnce() -> Info) {
        if self.is_open() {
            let info = if std::thread::panicking() {
                osprofiler_core::error_info("panic", "panicked while the statement ran".to_owned())
            } else {
                dropped()
            };
            self.finish(Some(info));
        }
    }
}

/// The stop info of a statement future dropped before it completed: the one every point
/// cut off this way gets (`etype` `cancelled`), because the statement may have been cut off.
pub(crate) use osprofiler_core::propagation::cancelled_info;

/// The stop info of a row stream dropped before its end: `{"db": {"dropped": true}}`, no
/// `etype`, because reading only the first rows of a result is normal use, not an error.
pub(crate) fn dropped_info() -> Info {
    let mut db = Map::new();
    db.insert("dropped".to_owned(), Value::Bool(true));
    let mut info = Info::new();
    info.insert("db".to_owned(), Value::Object(db));
    info
}

/// A statement's future with its point.
pub(crate) struct TracedFuture<'e, T> {
    inner: BoxFuture<'e, Result<T, sqlx::Error>>,
    point: Point<'e>,
}

impl<'e, T> TracedFuture<'e, T> {
    pub(crate) fn new(inner: BoxFuture<'e, Result<T, sqlx::Error>>, point: Point<'e>) -> Self {
        TracedFuture { inner, point }
    }
}

impl<T> Future for TracedFuture<'_, T> {
    type Output = Result<T, sqlx::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.point.begin();
        let inner = &mut this.inner;
        let polled = this.point.enter(|| inner.as_mut().poll(cx));
        match &polled {
            Poll::Pending => {}
            // `fetch_one` found no row: the statement itself ran fine (Python raises
            // `NoResultFound` after the cursor's work, outside the point).
            Poll::Ready(Ok(_)) | Poll::Ready(Err(sqlx::Error::RowNotFound)) => {
                this.point.finish(None)
            }
            Poll::Ready(Err(e)) => this.point.fail(e),
        }
        polled
    }
}

impl<T> Drop for TracedFuture<'_, T> {
    fn drop(&mut self) {
        self.point.drop_with(cancelled_info);
    }
}

/// A statement's row stream with its point: it stops when the stream ends (no info), at its
/// first error (the error info), or when it is dropped before its end ([`dropped_info`]).
pub(crate) struct TracedStream<'e, T> {
    inner: BoxStream<'e, Result<T, sqlx::Error>>,
    point: Point<'e>,
}

impl<'e, T> TracedStream<'e, T> {
    pub(crate) fn new(inner: BoxStream<'e, Result<T, sqlx::Error>>, point: Point<'e>) -> Self {
        TracedStream { inner, point }
    }
}

impl<T> Stream for TracedStream<'_, T> {
    type Item = Result<T, sqlx::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.point.begin();
        let inner = &mut this.inner;
        let polled = this.point.enter(|| inner.as_mut().poll_next(cx));
        match &polled {
            Poll::Pending | Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(None) => this.point.finish(None),
            Poll::Ready(Some(Err(e))) => this.point.fail(e),
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<T> Drop for TracedStream<'_, T> {
    fn drop(&mut self) {
        self.point.drop_with(dropped_info);
    }
}
