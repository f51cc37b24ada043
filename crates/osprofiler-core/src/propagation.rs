//! Passing a trace on: the trace headers in and out of HTTP headers and gRPC metadata, one
//! way for every integration (`osprofiler-tower`, `osprofiler-tonic`, `osprofiler-reqwest`).
//! The header bytes are Python's (`docs/wire.md`, section 4).
//!
//! - Sending: [`inject`] writes `X-Trace-Info` / `X-Trace-HMAC` for the current profiler (its
//!   current point is the callee's parent) into any [`Injector`]; [`trace_headers`] gives the
//!   two values. Both follow Python's `osprofiler.web.get_trace_id_headers`: no profiler, or a
//!   profiler with an empty HMAC key, sends nothing.
//! - Receiving: [`extract`] reads the two headers from any [`Extractor`] and verifies them
//!   with the service's keys under Python's `WsgiMiddleware` rules
//!   ([`Verifier::verify_trace`]); [`ServerTraceConfig`] is what a server layer is configured
//!   with (Python's `enabled` and `hmac_keys`) and makes the callee's profiler.
//! - Running the work: [`profiler::enter`](crate::profiler::enter()) makes a profiler current
//!   for a scope, [`PointFuture`] keeps a call's point open until its future completes and
//!   stops it when the future is dropped first.
//! - [`w3c`]: the W3C `traceparent` made from OSprofiler ids, with the OTLP driver's mapping.
//!
//! Carriers: [`http::HeaderMap`] is one (both traits), so are tonic's `MetadataMap` through
//! `osprofiler-tonic`'s `MetadataInjector` / `MetadataExtractor`. The traits are keyed by
//! [`HeaderName`] rather than by text, as opentelemetry's are, so that the lookup an
//! unprofiled request pays for is one hash of a prepared name.
//!
//! ```
//! use http::HeaderMap;
//! use osprofiler_core::propagation::{self, ServerTraceConfig};
//! use osprofiler_core::{profiler, Profiler, Trace};
//!
//! // The caller: the current profiler's trace, its current point as the parent.
//! let mut headers = HeaderMap::new();
//! profiler::with_profiler(Some(Profiler::new("SECRET_KEY", Some("base"), None)), || {
//!     let _call = Trace::start("http", None);
//!     propagation::inject(&mut headers);
//! });
//! assert!(headers.contains_key(propagation::TRACE_INFO));
//!
//! // The callee: verified with its own keys, the same trace continues.
//! let config = ServerTraceConfig::new(["old-key", "SECRET_KEY"]).enabled(true);
//! let callee = config.profiler_for(&headers).unwrap();
//! assert_eq!(callee.base_id().to_text(), "base");
//! assert_eq!(callee.hmac_key(), "SECRET_KEY");
//! ```

mod future;
mod server;
pub mod w3c;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::profiler::{self, Profiler};
use crate::signing::{self, SignedTrace, Verifier};

pub use future::{cancelled_info, PointFuture, StopOnResult, StopPoint};
pub use server::ServerTraceConfig;

/// `X-Trace-Info`, lower-cased as HTTP/2 and gRPC metadata carry it (HTTP/1 header names are
/// case-insensitive). [`signing::X_TRACE_INFO`] is Python's spelling, for display.
pub const TRACE_INFO: HeaderName = HeaderName::from_static("x-trace-info");
/// `X-Trace-HMAC`, lower-cased as HTTP/2 and gRPC metadata carry it.
/// [`signing::X_TRACE_HMAC`] is Python's spelling, for display.
pub const TRACE_HMAC: HeaderName = HeaderName::from_static("x-trace-hmac");

/// Where trace headers are written: an outgoing request's headers or metadata.
///
/// Implemented for [`http::HeaderMap`]; `osprofiler-tonic` implements it for tonic's
/// `MetadataMap`. Learnt from opentelemetry's `propagation::Injector`, keyed by a prepared
/// [`HeaderName`] instead of text.
pub trait Injector {
    /// Sets the header `name` to `value`, replacing any value it had.
    fn set(&mut self, name: &HeaderName, value: HeaderValue);
}

/// Where trace headers are read from: an incoming request's headers or metadata.
///
/// Implemented for [`http::HeaderMap`]; `osprofiler-tonic` implements it for tonic's
/// `MetadataMap`. Learnt from opentelemetry's `propagation::Extractor`.
pub trait Extractor {
    /// The value of the header `name` as text: `None` when it is absent or not visible ASCII
    /// (no trace header value can then verify).
    fn get(&self, name: &HeaderName) -> Option<&str>;
}

impl Injector for HeaderMap {
    #[inline]
    fn set(&mut self, name: &HeaderName, value: HeaderValue) {
        self.insert(name.clone(), value);
    }
}

impl Extractor for HeaderMap {
    #[inline]
    fn get(&self, name: &HeaderName) -> Option<&str> {
        HeaderMap::get(self, name)?.to_str().ok()
    }
}

impl<T: Injector + ?Sized> Injector for &mut T {
    #[inline]
    fn set(&mut self, name: &HeaderName, value: HeaderValue) {
        (**self).set(name, value);
    }
}

impl<T: Extractor + ?Sized> Extractor for &T {
    #[inline]
    fn get(&self, name: &HeaderName) -> Option<&str> {
        (**self).get(name)
    }
}

/// The two trace header values that continue a profiler's trace in a callee: its `base_id`,
/// its current point as the `parent_id`, signed with its key (`docs/wire.md`, 4.1 and 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeaders {
    /// The value of `X-Trace-Info` ([`TRACE_INFO`]).
    pub info: String,
    /// The value of `X-Trace-HMAC` ([`TRACE_HMAC`]).
    pub hmac: String,
}

impl TraceHeaders {
    /// Writes both headers into `injector`, replacing any there.
    pub fn inject_into<I: Injector + ?Sized>(self, injector: &mut I) {
        // Base64 and hex are always valid header values; the checks cost nothing.
        if let (Ok(info), Ok(hmac)) = (
            HeaderValue::try_from(self.info),
            HeaderValue::try_from(self.hmac),
        ) {
            injector.set(&TRACE_INFO, info);
            injector.set(&TRACE_HMAC, hmac);
        }
    }
}

/// The trace headers of `profiler`, as Python's `get_trace_id_headers` makes them for the
/// current one: `None` when its HMAC key is empty (Python sends no headers then, and a
/// callee would reject a trace signed with no key anyway).
pub fn trace_headers_of(profiler: &Profiler) -> Option<TraceHeaders> {
    if profiler.hmac_key().is_empty() {
        return None;
    }
    let (info, hmac) = signing::pack_ids(
        &profiler.base_id().to_text(),
        &profiler.id().to_text(),
        profiler.hmac_key(),
    );
    Some(TraceHeaders { info, hmac })
}

/// The trace headers of the current profiler (Python's `osprofiler.web.get_trace_id_headers`):
/// `None` without a profiler or with an empty HMAC key. Costs one thread-local read when
/// profiling is off.
#[inline]
pub fn trace_headers() -> Option<TraceHeaders> {
    if !profiler::is_active() {
        return None;
    }
    profiler::with_current(|p| p.and_then(|p| trace_headers_of(p)))
}

/// Writes the current profiler's trace headers into `injector` (see [`trace_headers`]: nothing
/// without a profiler or with an empty key). The callee's parent is the current point, so
/// open the call's own point first.
#[inline]
pub fn inject<I: Injector + ?Sized>(injector: &mut I) {
    if let Some(headers) = trace_headers() {
        headers.inject_into(injector);
    }
}

/// Writes `profiler`'s trace headers into `injector` (nothing with an empty key): for a
/// profiler held rather than current.
pub fn inject_from<I: Injector + ?Sized>(profiler: &Profiler, injector: &mut I) {
    if let Some(headers) = trace_headers_of(profiler) {
        headers.inject_into(injector);
    }
}

/// Reads the trace headers from `extractor` and verifies them with `verifier` under Python's
/// `WsgiMiddleware` rules ([`Verifier::verify_trace`], `docs/wire.md` 4.5): the HMAC matches
/// one of the keys, and the signed object holds `base_id` and nothing else but `parent_id`.
///
/// `None` for anything else (no key, no `X-Trace-Info`, a value that is not visible ASCII, a
/// missing or wrong signature, a malformed payload): the request then runs unprofiled, and
/// never fails because of its headers (4.4). Without keys it reads no header at all.
#[inline]
pub fn extract<E: Extractor + ?Sized>(extractor: &E, verifier: &Verifier) -> Option<SignedTrace> {
    if verifier.is_empty() {
        return None;
    }
    // The only work an unprofiled request pays for: one lookup by a prepared name.
    let info = extractor.get(&TRACE_INFO)?;
    let hmac = extractor.get(&TRACE_HMAC).unwrap_or("");
    verifier.verify_trace(info, hmac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::pack_ids;

    #[test]
    fn headers_are_pythons_and_absent_without_a_key_or_a_profiler() {
        profiler::clean();
        assert_eq!(trace_headers(), None);
        let mut headers = HeaderMap::new();
        inject(&mut headers);
        assert!(headers.is_empty());

        let p = Profiler::new("k", Some("b"), Some("p"));
        let (info, hmac) = pack_ids("b", "p", "k");
        assert_eq!(trace_headers_of(&p), Some(TraceHeaders { info, hmac }));
        profiler::with_profiler(Some(p), || inject(&mut headers));
        assert_eq!(headers.len(), 2);

        // Python's `get_trace_id_headers`: a profiler with an empty key sends nothing.
        let unkeyed = Profiler::new("", Some("b"), Some("p"));
        assert_eq!(trace_headers_of(&unkeyed), None);
        let mut headers = HeaderMap::new();
        profiler::with_profiler(Some(unkeyed.clone()), || inject(&mut headers));
        inject_from(&unkeyed, &mut headers);
        assert!(headers.is_empty());
    }

    #[test]
    fn extract_round_trips_and_rejects_as_the_middleware_does() {
        let verifier = Verifier::new(["old", "new"]);
        let mut headers = HeaderMap::new();
        inject_from(&Profiler::new("new", Some("b"), Some("p")), &mut headers);
        let trace = extract(&headers, &verifier).unwrap();
        assert_eq!(&*trace.hmac_key, "new");
        assert_eq!(trace.base_id.unwrap().to_text(), "b");
        assert_eq!(trace.parent_id.unwrap().to_text(), "p");

        assert!(extract(&headers, &Verifier::new(["other"])).is_none());
        assert!(extract(&headers, &Verifier::new(Vec::<String>::new())).is_none());
        let mut unsigned = headers.clone();
        unsigned.remove(TRACE_HMAC);
        assert!(extract(&unsigned, &verifier).is_none());
        assert!(extract(&HeaderMap::new(), &verifier).is_none());
        // Through a trait object, as a carrier of another crate is passed.
        let dynamic: &dyn Extractor = &headers;
        assert!(extract(dynamic, &verifier).is_some());
    }

    fn headers(info: &str, hmac: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TRACE_INFO, HeaderValue::from_str(info).unwrap());
        if let Some(hmac) = hmac {
            headers.insert(TRACE_HMAC, HeaderValue::from_str(hmac).unwrap());
        }
        headers
    }

    #[test]
    fn accepts_python_headers_with_a_rotated_key() {
        let (info, hmac) = pack_ids("b", "p", "old");
        let got = extract(&headers(&info, Some(&hmac)), &Verifier::new(["new", "old"]));
        assert_eq!(
            got,
            Some(SignedTrace {
                hmac_key: "old".into(),
                base_id: Some("b".into()),
                parent_id: Some("p".into())
            })
        );
    }

    #[test]
    fn rejects_objects_python_middleware_rejects() {
        let k = Verifier::new(["k"]);
        for data in [
            serde_json::json!({"parent_id": "p"}),
            serde_json::json!({"base_id": "b", "extra": 1}),
            serde_json::json!({"base_id": "b", "hmac_key": "forged"}),
            serde_json::json!({"base_id": 5}),
            serde_json::json!({"base_id": "b", "parent_id": ["p"]}),
        ] {
            let (info, hmac) = signing::signed_pack(&data, "k").unwrap();
            // A sender's own `hmac_key` is overwritten by the server key that matched, as
            // in Python: never trusted, never a reason to reject.
            let got = extract(&headers(&info, Some(&hmac)), &k);
            if data.get("hmac_key").is_some() {
                assert_eq!(got.map(|g| g.hmac_key), Some("k".into()), "{data}");
            } else {
                assert!(got.is_none(), "{data}");
            }
        }
        let (info, _) = pack_ids("b", "p", "k");
        assert!(extract(&headers(&info, None), &k).is_none());
    }

    #[test]
    fn null_ids_mean_a_new_trace() {
        let data = serde_json::json!({"base_id": null, "parent_id": null});
        let (info, hmac) = signing::signed_pack(&data, "k").unwrap();
        let got = extract(&headers(&info, Some(&hmac)), &Verifier::new(["k"])).unwrap();
        assert_eq!((got.base_id, got.parent_id), (None, None));
    }
}
