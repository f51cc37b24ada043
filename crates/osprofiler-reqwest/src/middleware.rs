//! [`ProfilerMiddleware`]: the reqwest-middleware `Middleware` that traces outgoing calls
//! and passes the trace on.

use http::Extensions;
use osprofiler_core::signing::pack_ids;
use osprofiler_core::{profiler, Profiler, ProfilerConfig, ProfilerExt, Trace};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use crate::info;
use crate::traceparent::{traceparent, TRACEPARENT};

/// `X-Trace-Info` (`osprofiler::signing::X_TRACE_INFO`) as a ready header name.
const X_TRACE_INFO: HeaderName = HeaderName::from_static("x-trace-info");
/// `X-Trace-HMAC`.
const X_TRACE_HMAC: HeaderName = HeaderName::from_static("x-trace-hmac");

/// Traces outgoing HTTP calls made in a profiled task, as Python OSprofiler's `requests`
/// patching does, and signs the trace headers so the callee joins the trace.
///
/// When a profiler is current where the request is sent:
/// - it opens an `http` (or `https`: the URL's scheme) point with start info `{"requests":
///   {"method", "query", "path", "hostname", "port", "scheme"}}`;
/// - it sets `X-Trace-Info` / `X-Trace-HMAC` (replacing any already there) signed with the
///   profiler's key, whose `parent_id` is that point, so the callee's points are its children;
/// - it stops the point with `{"requests": {"status_code": ...}}`, or, when the request
///   fails, with `{"etype", "message"}` (Python leaves the point open then; a stop with the
///   error is more useful and reads the same in reports).
///
/// Without a current profiler it adds nothing: no point, no header.
///
/// Each call runs in a fork of the caller's profiler, so calls sent concurrently from one
/// task (`join!`) are siblings under the caller's current point.
///
/// Options: [`record_points`](Self::record_points) (off: headers only, as `keystoneauth`
/// sends them when `trace_requests` is off) and [`traceparent`](Self::traceparent) (also send
/// a W3C `traceparent` for OpenTelemetry-instrumented callees).
#[derive(Debug, Clone)]
pub struct ProfilerMiddleware {
    record_points: bool,
    traceparent: bool,
}

impl Default for ProfilerMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl ProfilerMiddleware {
    /// Records a point per call and signs trace headers; no `traceparent`.
    pub fn new() -> Self {
        ProfilerMiddleware {
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

    /// Sets the headers that carry the trace of `p` (whose current point is the parent).
    fn sign(&self, req: &mut Request, p: &Profiler) {
        let headers = req.headers_mut();
        // Python's `get_trace_id_headers`: nothing without a key.
        if !p.hmac_key().is_empty() {
            let (info, hmac) =
                pack_ids(&p.base_id().to_string(), &p.id().to_string(), p.hmac_key());
            // Base64 and hex are always valid header values; the checks cost nothing.
            if let (Ok(info), Ok(hmac)) = (HeaderValue::try_from(info), HeaderValue::try_from(hmac))
            {
                headers.insert(X_TRACE_INFO, info);
                headers.insert(X_TRACE_HMAC, hmac);
            }
        }
        if self.traceparent {
            if let Some(value) =
                traceparent(p.base_id(), p.id()).and_then(|v| HeaderValue::try_from(v).ok())
            {
                headers.insert(HeaderName::from_static(TRACEPARENT), value);
            }
        }
    }
}

#[async_trait::async_trait]
impl Middleware for ProfilerMiddleware {
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
            let point = self.record_points.then(|| {
                let url = req.url();
                Trace::start(
                    info::point_name(url),
                    Some(info::start_info(req.method(), url)),
                )
            });
            if let Some(p) = profiler::get() {
                self.sign(&mut req, &p);
            }
            let result = next.run(req, extensions).await;
            if let Some(point) = point {
                match &result {
                    Ok(response) => point.stop_with(info::stop_info(response.status())),
                    Err(e) => point.fail(e),
                }
            }
            result
        }
        .with_profiler(Some(fork))
        .await
    }
}
