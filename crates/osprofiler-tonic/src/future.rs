//! The response future of both layers: the call's future, run under the call's profiler,
//! with its `rpc` point open until the response is there, then handed to the response's
//! [`ResponseBody`] (or stopped at once when the response is an error without a body).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use osprofiler_core::propagation::{PointFuture, StopPoint};
use osprofiler_core::{profiler, Info, Profiled, Profiler, ProfilerExt, Trace};
use pin_project_lite::pin_project;
use serde_json::{Map, Value};

use crate::body::ResponseBody;

/// The name of the points the layers record: OpenStack's name for RPC (nova traces both its
/// RPC client API and its managers with `trace_cls("rpc")`).
pub const POINT_NAME: &str = "rpc";

/// The start info of a call's point: `{"function": {"name": "/package.Service/Method"}}`,
/// the shape of Python's `@trace` info with its arguments hidden (they are encoded in the
/// body, out of a layer's reach). The full gRPC method name is what names a method across
/// languages.
pub(crate) fn start_info(path: &str) -> Info {
    let mut function = Map::with_capacity(1);
    function.insert("name".to_owned(), Value::String(path.to_owned()));
    let mut info = Info::with_capacity(1);
    info.insert("function".to_owned(), Value::Object(function));
    info
}

/// The stop info for a response whose headers carry a gRPC error (a "trailers-only"
/// response, which is how tonic and most servers answer a failed unary call): Python's
/// exception info, with the type name that `#[trace]` records for a `tonic::Status` error.
pub(crate) fn error_info(headers: &http::HeaderMap) -> Option<Info> {
    let status = tonic::Status::from_header_map(headers)?;
    if status.code() == tonic::Code::Ok {
        return None;
    }
    Some(osprofiler_core::error_info(
        std::any::type_name::<tonic::Status>(),
        format!("{:?}: {}", status.code(), status.message()),
    ))
}

/// Opens the point in `profiler` and makes the call with it current, so that whatever the
/// inner service does when called belongs to the point; returns the future to poll.
///
/// The point is a [`Trace`] guard (stopped exactly, even out of order) held by the core's
/// [`PointFuture`], which stops it as cancelled when the call is dropped first; the future
/// carries the call's profiler, current on every poll and while it is dropped.
pub(crate) fn call_in<F, B, E>(
    profiler: Profiler,
    info: Info,
    call: impl FnOnce() -> F,
) -> Profiled<PointFuture<F, StopRpc>>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: fmt::Display,
{
    let mut slot = Some(profiler);
    let (point, inner) = {
        let _entered = profiler::enter(&mut slot);
        let point = Trace::start(POINT_NAME, Some(info));
        (point, call())
    };
    // `slot` holds the call's profiler again, with the point open on its stack.
    PointFuture::with_stop(inner, point, StopRpc).with_profiler(slot)
}

/// How the layers end a call's point when its response arrives: at once for an error (in the
/// `Err`, or a gRPC error in the headers of a trailers-only response), else handed with the
/// call's profiler to the [`ResponseBody`], which ends it with the body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopRpc;

impl<B, E: fmt::Display> StopPoint<Result<http::Response<B>, E>> for StopRpc {
    type Output = Result<http::Response<ResponseBody<B>>, E>;

    fn stop(self, output: Result<http::Response<B>, E>, point: Trace) -> Self::Output {
        match output {
            Ok(response) => match error_info(response.headers()) {
                // A trailers-only response: the call failed, and its body is empty.
                Some(info) => {
                    point.stop_with(info);
                    Ok(response.map(ResponseBody::untraced))
                }
                // The point ends with the body. It lives in the call's profiler, current
                // here (the `Profiled` around the `PointFuture`): the body takes both along,
                // and the `Profiled` is left with none.
                None => {
                    let profiler = profiler::set_current(None);
                    Ok(response.map(|body| ResponseBody::traced(body, point, profiler)))
                }
            },
            Err(e) => {
                point.fail(&e);
                Err(e)
            }
        }
    }
}

pin_project! {
    /// The response future of [`crate::ClientTrace`] and [`crate::ServerTrace`]: the inner
    /// future untouched for an unprofiled call, or run under the call's profiler with its
    /// `rpc` point.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Unprofiled {
            #[pin]
            inner: F,
        },
        Profiled {
            #[pin]
            inner: Profiled<PointFuture<F, StopRpc>>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn unprofiled(inner: F) -> Self {
        ResponseFuture {
            state: State::Unprofiled { inner },
        }
    }

    pub(crate) fn profiled(inner: Profiled<PointFuture<F, StopRpc>>) -> Self {
        ResponseFuture {
            state: State::Profiled { inner },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: fmt::Display,
{
    type Output = Result<http::Response<ResponseBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Unprofiled { inner } => inner
                .poll(cx)
                .map(|output| output.map(|r| r.map(ResponseBody::untraced))),
            StateProj::Profiled { inner } => inner.poll(cx),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Unprofiled { .. } => f.write_str("ResponseFuture::Unprofiled"),
            State::Profiled { inner } => f
                .debug_tuple("ResponseFuture::Profiled")
                .field(inner)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    #[test]
    fn start_info_names_the_method() {
        assert_eq!(
            serde_json::to_string(&start_info("/pkg.Svc/Do")).unwrap(),
            r#"{"function":{"name":"/pkg.Svc/Do"}}"#
        );
    }

    #[test]
    fn error_info_only_for_a_grpc_error() {
        let mut headers = HeaderMap::new();
        assert!(error_info(&headers).is_none());
        headers.insert("grpc-status", "0".parse().unwrap());
        assert!(error_info(&headers).is_none());
        headers.insert("grpc-status", "5".parse().unwrap());
        headers.insert("grpc-message", "no%20such%20thing".parse().unwrap());
        let info = error_info(&headers).unwrap();
        assert_eq!(info["etype"], "tonic::status::Status");
        assert_eq!(info["message"], "NotFound: no such thing");
    }
}
