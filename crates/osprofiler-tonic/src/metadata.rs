//! The trace in gRPC metadata: the same two values as the HTTP trace headers (DESIGN section
//! 4), under the lower-case names that gRPC metadata (HTTP/2 headers) requires.
//!
//! A gRPC call is an HTTP/2 request, so a server that reads `X-Trace-Info` / `X-Trace-HMAC`
//! as HTTP headers (Python's `WsgiMiddleware` behind a gRPC-web proxy, or our HTTP layer)
//! reads exactly these bytes.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use osprofiler_core::notifier::Notifier;
use osprofiler_core::signing;
use osprofiler_core::Profiler;
use tonic::metadata::{MetadataMap, MetadataValue};

/// The metadata key of the signed trace ids (`X-Trace-Info` in lower case).
pub const TRACE_INFO: &str = "x-trace-info";
/// The metadata key of the signature (`X-Trace-HMAC` in lower case).
pub const TRACE_HMAC: &str = "x-trace-hmac";

/// The two values that continue `profiler`'s trace in a callee: its base id, its current
/// point as the parent, signed with its key. Byte for byte the HTTP headers Python sends.
pub fn trace_values(profiler: &Profiler) -> (String, String) {
    signing::pack_ids(
        &profiler.base_id().to_text(),
        &profiler.id().to_text(),
        profiler.hmac_key(),
    )
}

/// Adds the trace of `profiler` to outgoing gRPC metadata (replacing any there).
pub fn inject(metadata: &mut MetadataMap, profiler: &Profiler) {
    let (info, hmac) = trace_values(profiler);
    // Both values are base64 / hex text: always valid ASCII metadata.
    if let (Ok(info), Ok(hmac)) = (
        MetadataValue::try_from(info.as_str()),
        MetadataValue::try_from(hmac.as_str()),
    ) {
        metadata.insert(TRACE_INFO, info);
        metadata.insert(TRACE_HMAC, hmac);
    }
}

/// Adds the trace of `profiler` to the headers of an outgoing HTTP/2 request (what a tower
/// layer under the tonic client sees).
pub fn inject_headers(headers: &mut HeaderMap, profiler: &Profiler) {
    let (info, hmac) = trace_values(profiler);
    if let (Ok(info), Ok(hmac)) = (HeaderValue::try_from(info), HeaderValue::try_from(hmac)) {
        headers.insert(TRACE_INFO, info);
        headers.insert(TRACE_HMAC, hmac);
    }
}

/// Verifies incoming trace metadata with a service's HMAC keys and makes the callee's
/// profiler: what the server layer and the server interceptor share.
///
/// The rules are the HTTP server middleware's (DESIGN section 4,
/// [`osprofiler::signing::Verifier::verify_trace`]): the HMAC must match one of the keys
/// (rotation), and the decoded object must hold `base_id` and nothing else but `parent_id`
/// (strings, or `null`: a `null` base id starts a new trace, as Python's `WsgiMiddleware`
/// does). Anything else (no keys, missing or empty values, a wrong signature, an unknown
/// key, a malformed payload) gives `None`: the call runs unprofiled, and never fails
/// because of its metadata.
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<signing::Verifier>,
    notifier: Option<Arc<dyn Notifier>>,
}

impl Verifier {
    /// Accepts traces signed with any of `hmac_keys`; an empty list accepts none (profiling
    /// off). The profilers report to the process-wide notifier.
    pub fn new<I, K>(hmac_keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        Verifier {
            keys: Arc::new(signing::Verifier::new(hmac_keys)),
            notifier: None,
        }
    }

    /// Accepts nothing: every call runs unprofiled.
    pub fn disabled() -> Self {
        Self::new(Vec::<String>::new())
    }

    /// The keys of a service set up with [`osprofiler::init_from_conf`]: its `hmac_keys`
    /// when profiling is enabled, none otherwise.
    pub fn from_profiling(profiling: &osprofiler_core::Profiling) -> Self {
        if profiling.enabled() {
            Self::new(&profiling.hmac_keys)
        } else {
            Self::disabled()
        }
    }

    /// Makes the profilers report to `notifier` instead of the process-wide one (tests, or a
    /// service that runs several pipelines).
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// True when no key is configured: the fast path that skips the header lookup.
    pub fn is_disabled(&self) -> bool {
        self.keys.is_empty()
    }

    /// The callee's profiler for a request with these headers, or `None` (see the type).
    pub fn verify_headers(&self, headers: &HeaderMap) -> Option<Profiler> {
        if self.is_disabled() {
            return None;
        }
        let info = headers.get(TRACE_INFO)?.to_str().ok()?;
        let hmac = headers.get(TRACE_HMAC)?.to_str().ok()?;
        self.verify(info, hmac)
    }

    /// [`Verifier::verify_headers`] for tonic's metadata (in an interceptor).
    pub fn verify_metadata(&self, metadata: &MetadataMap) -> Option<Profiler> {
        if self.is_disabled() {
            return None;
        }
        let info = metadata.get(TRACE_INFO)?.to_str().ok()?;
        let hmac = metadata.get(TRACE_HMAC)?.to_str().ok()?;
        self.verify(info, hmac)
    }

    /// Verifies the two values; the callee's profiler, or `None` (see the type).
    pub fn verify(&self, info: &str, hmac: &str) -> Option<Profiler> {
        let trace = self.keys.verify_trace(info, hmac)?;
        Some(trace.into_profiler(self.notifier.clone()))
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys.
        f.debug_struct("Verifier")
            .field("keys", &self.keys.len())
            .field("notifier", &self.notifier)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::signing::signed_pack;
    use serde_json::json;

    fn verifier() -> Verifier {
        Verifier::new(["old", "new"])
    }

    #[test]
    fn round_trip_continues_the_trace_with_the_matching_key() {
        let caller = Profiler::new("new", Some("base"), Some("point"));
        let mut metadata = MetadataMap::new();
        inject(&mut metadata, &caller);
        let callee = verifier().verify_metadata(&metadata).unwrap();
        assert_eq!(callee.base_id().to_text(), "base");
        assert_eq!(callee.id().to_text(), "point");
        assert_eq!(callee.hmac_key(), "new");

        let mut headers = HeaderMap::new();
        inject_headers(&mut headers, &caller);
        assert_eq!(
            headers.get(TRACE_INFO).unwrap().to_str().unwrap(),
            metadata.get(TRACE_INFO).unwrap().to_str().unwrap()
        );
        assert!(verifier().verify_headers(&headers).is_some());
    }

    #[test]
    fn the_bytes_are_the_http_headers() {
        let caller = Profiler::new("k", Some("b"), Some("p"));
        let expected = signed_pack(&json!({"base_id": "b", "parent_id": "p"}), "k").unwrap();
        assert_eq!(trace_values(&caller), expected);
    }

    #[test]
    fn rejects_what_the_http_middleware_rejects() {
        let v = verifier();
        let sign = |data: serde_json::Value, key: &str| signed_pack(&data, key).unwrap();
        let ok = sign(json!({"base_id": "b", "parent_id": "p"}), "old");
        assert!(v.verify(&ok.0, &ok.1).is_some());
        let no_parent = sign(json!({"base_id": "b"}), "old");
        assert_eq!(
            v.verify(&no_parent.0, &no_parent.1).unwrap().id().to_text(),
            "b"
        );

        let unknown_key = sign(json!({"base_id": "b", "parent_id": "p"}), "other");
        let extra_field = sign(json!({"base_id": "b", "parent_id": "p", "x": 1}), "old");
        let no_base = sign(json!({"parent_id": "p"}), "old");
        let not_string = sign(json!({"base_id": 1, "parent_id": "p"}), "old");
        let not_object = sign(json!(["b"]), "old");
        for (info, hmac) in [unknown_key, extra_field, no_base, not_string, not_object] {
            assert!(v.verify(&info, &hmac).is_none(), "{info}");
        }
        assert!(v.verify(&ok.0, "").is_none());
        assert!(v.verify("", &ok.1).is_none());
        assert!(v.verify(&ok.0, "not hex").is_none());
        assert!(Verifier::disabled()
            .verify_headers(&HeaderMap::new())
            .is_none());
        assert!(v.verify_metadata(&MetadataMap::new()).is_none());
    }

    #[test]
    fn debug_hides_the_keys() {
        assert!(!format!("{:?}", verifier()).contains("old"));
    }
}
