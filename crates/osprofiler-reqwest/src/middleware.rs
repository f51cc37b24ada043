//! [`ClientTrace`]: the reqwest-middleware `Middleware` that traces outgoing calls and
//! passes the trace on.

use http::Extensions;
use osprofiler_core::propagation::{self, w3c, PointFuture};
use osprofiler_core::{profiler, ProfilerConfig, ProfilerExt, Trace};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use crate::info;

/// Traces outgoing HTTP calls made in a profiled task, as Python OSprofiler's `requests`
/// patching does, and signs the trace headers so the callee joins the trace.
///
/// When a profiler is current where the request is sent:
/// - it opens an `http` (or `https`: the URL's scheme) point with start info `{"requests":
///   {"method", "query", "path", "hostname", "port", "scheme"}}`;
/// - it sets `X-Trace-Info` / `X-Trace-HMAC` (replacing any already there) signed with the
///   profiler's key, whose `parent_id` is that point, so the callee's points are its children
///   (none when the key is empty, as Python's `get_trace_id_headers`: the core's
///   [`propagation::inject`]);
/// - it stops the point with `{"requests": {"status_code": ...}}`, or, when the request
///   fails, with `{"etype", "message"}` (Python leaves the point open then; a stop with the
///   error is more useful and reads the same in reports), or, when the call is dropped before
///   its response, with the core's
///   [`cancelled_info`](osprofiler_core::propagation::cancelled_info).
///
/// Without a current profiler it adds nothing: no point, no header.
///
/// Each call runs in a fork of the caller's profiler, so calls sent concurrently from one
/// task (`join!`) are siblings under the caller's current point.
///
/// Options: [`record_points`](Self::record_points) (off: headers only, as `keystoneauth`
/// sends them when `trace_requests` is off) and [`traceparent`](Self::traceparent) (also send
/// a W3C `traceparent` for OpenTelemetry-instrumented callees).
///
/// Named as the gRPC client service of `osprofiler-tonic` (`ClientTrace`); the server side
/// of HTTP is `osprofiler-tower`'s `ServerTraceLayer`.
#[derive(Debug, Clone)]
pub struct ClientTrace {
    record_points: bool,
    traceparent: bool,
}

/// The old name of [`ClientTrace`].
#[deprecated(since = "0.1.0", note = "renamed `ClientTrace`")]
pub type ProfilerMiddleware = ClientTrace;

impl Default for ClientTrace {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientTrace {
    /// Records a point per call and signs trace headers; no `traceparent`.
    pub fn new() -> Self {
        ClientTrace {
            record_points: true,
            traceparent: false,
        }
    }

    /// As the `[profiler]` options say: a point per call only with `trace_requests` (Python's
    /// default is off; trace headers are passed on either way, so the callee still joins),
    /// and a `traceparent` with `w3c_traceparent` (ours).
    pub fn from_config(conf: &ProfilerConfig) -> Self {
        Self::new()
            .record_points(conf.trace_requests)
            .traceparent(conf.w3c_traceparent)
    }

    /// Whether each call gets its own `http`/`https` point (default: true). When false, the
    /// trace headers name the point current at the call as the parent.
    pub fn record_points(mut self, on: bool) -> Self {
        self.record_points = on;
        self
    }

    /// Also sends a W3C `traceparent` (default: false) made from the OSprofiler ids with the
    /// OTLP driver's mapping: trace id = the 128 bits of `base_id`, span id = the low 64 bits
    /// of the call's point (of the current point with `record_points(false)`), flags `01`.
    /// An OpenTelemetry-instrumented callee then continues the very trace that our OTLP
    /// export shows. Nothing is sent when `base_id` is not a uuid.
    pub fn traceparent(mut self, on: bool) -> Self {
        self.traceparent = on;
        self
    }

    /// Sets the headers that carry the current profiler's trace (whose current point is the
    /// parent).
    fn sign(&self, req: &mut Request) {
        let headers = req.headers_mut();
        propagation::inject(headers);
        if self.traceparent {
            w3c::inject(headers);
        }
    }
}

/// Stops the call's point with `{"requests": {"status_code": ...}}`, or with the error.
fn stop_point(result: Result<Response>, point: Trace) -> Result<Response> {
    match &result {
        Ok(response) => point.stop_with(info::stop_info(response.status())),
        Err(e) => point.fail(e),
    }
    result
}

#[async_trait::async_trait]
impl Middleware for ClientTrace {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        // Unprofiled: one thread-local read, then straight on.
        let Some(fork) = profiler::is_active().then(profiler::get).flatten() else {
            return next.run(req, extensions).await;
        };
        // The call runs in a fork of the caller's profiler: calls sent concurrently from one
        // task (`join!`) are then siblings under the caller's point, not nested in each
        // other, and a call dropped half-way leaves nothing open in the caller's context.
        async move {
            if !self.record_points {
                self.sign(&mut req);
                return next.run(req, extensions).await;
            }
            let url = req.url();
            let point = Trace::start(
                info::point_name(url),
                Some(info::start_info(req.method(), url)),
            );
            self.sign(&mut req);
            PointFuture::with_stop(next.run(req, extensions), point, stop_point).await
        }
        .with_profiler(Some(fork))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn the_old_name_still_builds_the_middleware() {
        let old: ProfilerMiddleware = ProfilerMiddleware::default().traceparent(true);
        assert!(old.traceparent && old.record_points);
    }
}
