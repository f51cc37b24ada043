//! [`ResponseBody`]: the response body of both layers, which keeps a call's `rpc` point open
//! until the response has been streamed to its end.
//!
//! A unary call's reply is in its body, and a streaming call does its work while its body is
//! polled (a server's stream produces its messages then), so the point ends with the body:
//! at its last frame (the trailers, whose `grpc-status` says how the call ended), or when the
//! body is dropped unread. While the body is polled, the call's profiler is current, so the
//! points of the work a stream does are children of the call's point.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use osprofiler_core::{profiler, Info, Profiler, Trace};
use pin_project_lite::pin_project;

use crate::future::error_info;

pin_project! {
    /// The response body of [`ClientTrace`](crate::ClientTrace) and
    /// [`ServerTrace`](crate::ServerTrace): the inner body, and the call's open point when
    /// the call is traced (see the module).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        open: Option<OpenPoint>,
    }
}

/// The old name of [`ResponseBody`].
#[deprecated(since = "0.1.0", note = "renamed `ResponseBody`")]
pub type TracedBody<B> = ResponseBody<B>;

impl<B> ResponseBody<B> {
    /// A body with no point: an untraced call, or one whose point already ended.
    pub(crate) fn untraced(inner: B) -> Self {
        ResponseBody { inner, open: None }
    }

    /// A body that ends `point`, which lives in `profiler`, when it ends.
    pub(crate) fn traced(inner: B, point: Trace, profiler: Option<Profiler>) -> Self {
        ResponseBody {
            inner,
            open: Some(OpenPoint {
                point: Some(point),
                profiler,
            }),
        }
    }

    /// Whether the call's point is still open (until the body's end).
    pub fn is_traced(&self) -> bool {
        self.open.is_some()
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(open) = this.open.as_mut() else {
            return this.inner.poll_frame(cx);
        };
        let mut inner = this.inner;
        let polled = open.entered(|| inner.as_mut().poll_frame(cx));
        match &polled {
            Poll::Pending => {}
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    open.end(error_info(trailers));
                    *this.open = None;
                } else if inner.is_end_stream() {
                    // The last frame: a server may stop polling here, without asking for
                    // the `None` that would end the point.
                    open.end(None);
                    *this.open = None;
                }
            }
            Poll::Ready(Some(Err(e))) => {
                open.end(Some(osprofiler_core::error_info(
                    std::any::type_name::<B::Error>(),
                    e.to_string(),
                )));
                *this.open = None;
            }
            Poll::Ready(None) => {
                open.end(None);
                *this.open = None;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("traced", &self.open.is_some())
            .finish_non_exhaustive()
    }
}

/// The call's open point and the profiler it lives in (taken out of the call's future when
/// the response arrived). Dropped before the body's end, it ends the point as a call whose
/// response was not read to its end.
struct OpenPoint {
    point: Option<Trace>,
    profiler: Option<Profiler>,
}

impl OpenPoint {
    /// Runs `f` with the call's profiler current, then restores the thread's own.
    fn entered<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _entered = profiler::enter(&mut self.profiler);
        f()
    }

    /// Stops the point, with `info` (an error) when given.
    fn end(&mut self, info: Option<Info>) {
        if let Some(point) = self.point.take() {
            self.entered(|| match info {
                Some(info) => point.stop_with(info),
                None => drop(point),
            });
        }
    }
}

impl Drop for OpenPoint {
    fn drop(&mut self) {
        if self.point.is_some() {
            self.end(Some(osprofiler_core::error_info(
                "cancelled",
                "the response body was dropped before its end".to_owned(),
            )));
        }
    }
}
