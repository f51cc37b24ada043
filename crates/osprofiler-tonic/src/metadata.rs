//! The trace in gRPC metadata: the same two values as the HTTP trace headers (`docs/wire.md`,
//! section 4), under the lower-case names that gRPC metadata (HTTP/2 headers) requires.
//!
//! A gRPC call is an HTTP/2 request, so a server that reads `X-Trace-Info` / `X-Trace-HMAC`
//! as HTTP headers (Python's `WsgiMiddleware` behind a gRPC-web proxy, or
//! `osprofiler-tower`'s layer) reads exactly these bytes. The names, the signing and the
//! checks are the core's [`propagation`]; this module only makes tonic's [`MetadataMap`] one
//! of its carriers ([`MetadataInjector`], [`MetadataExtractor`]: the orphan rule keeps the
//! core from implementing its traits for a tonic type).
//!
//! ```
//! use osprofiler::propagation::{self, ServerTraceConfig};
//! use osprofiler::{profiler, Profiler};
//! use osprofiler_tonic::metadata::{MetadataExtractor, MetadataInjector};
//!
//! let mut request = tonic::Request::new(());
//! profiler::with_profiler(Some(Profiler::new("SECRET_KEY", Some("b"), None)), || {
//!     propagation::inject(&mut MetadataInjector(request.metadata_mut()));
//! });
//! let config = ServerTraceConfig::new(["SECRET_KEY"]).enabled(true);
//! let callee = config.profiler_for(&MetadataExtractor(request.metadata())).unwrap();
//! assert_eq!(callee.base_id().to_text(), "b");
//! ```

use http::{HeaderMap, HeaderName, HeaderValue};
use osprofiler_core::propagation::{self, Extractor, Injector};
use osprofiler_core::signing;
use osprofiler_core::Profiler;
use tonic::metadata::MetadataMap;

pub use osprofiler_core::propagation::{TRACE_HMAC, TRACE_INFO};

/// Writes trace headers into outgoing gRPC metadata: a [`propagation::Injector`] over tonic's
/// [`MetadataMap`] (as opentelemetry-http's `HeaderInjector` is over a `HeaderMap`).
#[derive(Debug)]
pub struct MetadataInjector<'a>(pub &'a mut MetadataMap);

/// Reads trace headers from incoming gRPC metadata: a [`propagation::Extractor`] over
/// tonic's [`MetadataMap`].
#[derive(Debug, Clone, Copy)]
pub struct MetadataExtractor<'a>(pub &'a MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, name: &HeaderName, value: HeaderValue) {
        // A `MetadataMap` is a `HeaderMap` inside: insert there, so that the prepared name
        // is used as it is (`MetadataMap::insert` takes only `&'static str` or parsed keys).
        // Both conversions move the map, allocating nothing; the trace headers are valid
        // ASCII metadata.
        let mut headers = std::mem::take(self.0).into_headers();
        headers.insert(name.clone(), value);
        *self.0 = MetadataMap::from_headers(headers);
    }
}

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0.get(name.as_str())?.to_str().ok()
    }
}

/// The two values that continue `profiler`'s trace in a callee: its base id, its current
/// point as the parent, signed with its key. Byte for byte the HTTP headers Python sends.
#[deprecated(
    since = "0.1.0",
    note = "use `osprofiler::propagation::trace_headers_of`, which sends nothing for an empty key as Python does"
)]
pub fn trace_values(profiler: &Profiler) -> (String, String) {
    signing::pack_ids(
        &profiler.base_id().to_text(),
        &profiler.id().to_text(),
        profiler.hmac_key(),
    )
}

/// Adds the trace of `profiler` to outgoing gRPC metadata (replacing any there); nothing
/// when its key is empty, as Python's `get_trace_id_headers`.
#[deprecated(
    since = "0.1.0",
    note = "use `osprofiler::propagation::inject_from(profiler, &mut MetadataInjector(metadata))`"
)]
pub fn inject(metadata: &mut MetadataMap, profiler: &Profiler) {
    propagation::inject_from(profiler, &mut MetadataInjector(metadata));
}

/// Adds the trace of `profiler` to the headers of an outgoing HTTP/2 request; nothing when
/// its key is empty, as Python's `get_trace_id_headers`.
#[deprecated(
    since = "0.1.0",
    note = "use `osprofiler::propagation::inject_from(profiler, headers)`"
)]
pub fn inject_headers(headers: &mut HeaderMap, profiler: &Profiler) {
    propagation::inject_from(profiler, headers);
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::propagation::ServerTraceConfig;
    use osprofiler_core::signing::signed_pack;
    use serde_json::json;

    fn config() -> ServerTraceConfig {
        ServerTraceConfig::new(["old", "new"]).enabled(true)
    }

    #[test]
    fn round_trip_continues_the_trace_with_the_matching_key() {
        let caller = Profiler::new("new", Some("base"), Some("point"));
        let mut metadata = MetadataMap::new();
        propagation::inject_from(&caller, &mut MetadataInjector(&mut metadata));
        let callee = config()
            .profiler_for(&MetadataExtractor(&metadata))
            .unwrap();
        assert_eq!(callee.base_id().to_text(), "base");
        assert_eq!(callee.id().to_text(), "point");
        assert_eq!(callee.hmac_key(), "new");

        // The bytes are the HTTP headers'.
        let mut headers = HeaderMap::new();
        propagation::inject_from(&caller, &mut headers);
        assert_eq!(
            headers.get(TRACE_INFO).unwrap().to_str().unwrap(),
            metadata.get(TRACE_INFO.as_str()).unwrap().to_str().unwrap()
        );
        let expected = signed_pack(&json!({"base_id": "base", "parent_id": "point"}), "new");
        assert_eq!(
            metadata.get(TRACE_HMAC.as_str()).unwrap().to_str().unwrap(),
            expected.unwrap().1
        );
        assert!(config().profiler_for(&headers).is_some());
    }

    #[test]
    fn injection_replaces_and_keeps_other_metadata() {
        let mut metadata = MetadataMap::new();
        metadata.insert("x-request-id", "r-1".parse().unwrap());
        metadata.insert("x-trace-info", "stale".parse().unwrap());
        propagation::inject_from(
            &Profiler::new("k", Some("b"), None),
            &mut MetadataInjector(&mut metadata),
        );
        assert_eq!(metadata.len(), 3);
        assert_eq!(metadata.get("x-request-id").unwrap(), "r-1");
        assert_ne!(metadata.get("x-trace-info").unwrap(), "stale");
    }

    #[test]
    fn an_empty_key_sends_no_metadata() {
        let mut metadata = MetadataMap::new();
        propagation::inject_from(
            &Profiler::new("", Some("b"), Some("p")),
            &mut MetadataInjector(&mut metadata),
        );
        assert!(metadata.is_empty());
    }

    #[test]
    fn rejects_what_the_http_middleware_rejects() {
        let metadata = |(info, hmac): (String, String)| {
            let mut m = MetadataMap::new();
            m.insert("x-trace-info", info.parse().unwrap());
            m.insert("x-trace-hmac", hmac.parse().unwrap());
            m
        };
        let sign = |data: serde_json::Value, key: &str| signed_pack(&data, key).unwrap();
        let accepts = |m: &MetadataMap| config().profiler_for(&MetadataExtractor(m)).is_some();
        assert!(accepts(&metadata(sign(
            json!({"base_id": "b", "parent_id": "p"}),
            "old"
        ))));
        for (data, key) in [
            (json!({"base_id": "b", "parent_id": "p"}), "other"),
            (json!({"base_id": "b", "parent_id": "p", "x": 1}), "old"),
            (json!({"parent_id": "p"}), "old"),
            (json!({"base_id": 1, "parent_id": "p"}), "old"),
            (json!(["b"]), "old"),
        ] {
            assert!(!accepts(&metadata(sign(data.clone(), key))), "{data}");
        }
        assert!(!accepts(&MetadataMap::new()));
    }
}
