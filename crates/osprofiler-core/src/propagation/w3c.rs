//! W3C trace context from OSprofiler ids (`docs/wire.md`, section 9), with the id mapping of
//! the OTLP driver (Python's `osprofiler/drivers/otlp.py`): trace id = the 128 bits of
//! `base_id`, span id = the low 64 bits of a point's id.
//!
//! One mapping for both its users, so that they agree: `osprofiler-otlp` exports spans with
//! these ids, and `osprofiler-reqwest` sends a `traceparent` with them, so an
//! OpenTelemetry-instrumented callee continues the very trace the OTLP export shows.

use http::{HeaderName, HeaderValue};

use super::Injector;
use crate::{profiler, TraceId};

/// W3C trace context's `traceparent` header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C trace context's `tracestate` header.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Python's `uuid.UUID(id).int`: `urn:` then `uuid:` removed anywhere, braces stripped from
/// both ends, hyphens ignored, then exactly 32 hex digits (either case). `None` when `id` is
/// not a uuid in any spelling Python reads.
pub fn uuid_int(id: &str) -> Option<u128> {
    if id.contains(':') {
        return hex_int(&id.replace("urn:", "").replace("uuid:", ""));
    }
    hex_int(id)
}

/// Braces stripped from both ends, hyphens ignored, exactly 32 hex digits.
fn hex_int(s: &str) -> Option<u128> {
    let mut value: u128 = 0;
    let mut digits = 0;
    for c in s.trim_matches(|c| c == '{' || c == '}').chars() {
        if c == '-' {
            continue;
        }
        let d = c.to_digit(16)?;
        digits += 1;
        if digits > 32 {
            return None;
        }
        value = value << 4 | u128::from(d);
    }
    (digits == 32).then_some(value)
}

/// The bits of an id: its uuid's when it is one (our own ids, no parsing), else as
/// [`uuid_int`] reads its text.
fn id_int(id: &TraceId) -> Option<u128> {
    match id {
        TraceId::Uuid(u) => Some(u.as_u128()),
        TraceId::Text(text) => uuid_int(text),
    }
}

/// The W3C / OpenTelemetry trace id of a trace: the 128 bits of its `base_id` (Python's
/// `uuid_to_int128`); `None` when it is not a uuid.
pub fn trace_id(base_id: &str) -> Option<u128> {
    uuid_int(base_id)
}

/// The W3C / OpenTelemetry span id of a point: the low 64 bits of its id (Python's
/// `shorten_id`); `None` when it is not a uuid.
pub fn span_id(point_id: &str) -> Option<u64> {
    uuid_int(point_id).map(|n| n as u64)
}

/// `00-<trace id>-<span id>-01` for the point `point_id` of the trace `base_id` (sampled: a
/// profiled call is always recorded). `None` when an id is not a uuid (the OTLP driver then
/// makes random ids, which no header could repeat) or maps to the all-zero id W3C forbids.
pub fn traceparent(base_id: &TraceId, point_id: &TraceId) -> Option<String> {
    let trace_id = id_int(base_id)?;
    let span_id = id_int(point_id)? as u64;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(format!("00-{trace_id:032x}-{span_id:016x}-01"))
}

/// Writes the [`traceparent`] of the current profiler's current point into `injector`:
/// nothing without a profiler or when its ids are not uuids. Unlike the trace headers, it
/// does not depend on the HMAC key: it is not signed, and an OpenTelemetry callee only
/// continues the trace with it, it never starts profiling.
pub fn inject<I: Injector + ?Sized>(injector: &mut I) {
    if !profiler::is_active() {
        return;
    }
    let value = profiler::with_current(|p| p.and_then(|p| traceparent(p.base_id(), p.id())));
    if let Some(value) = value.and_then(|v| HeaderValue::try_from(v).ok()) {
        injector.set(&TRACEPARENT, value);
    }
}

/// W3C trace context's `traceparent` syntax: `version-traceid-parentid-flags`, lower-case
/// hex of 2, 32, 16 and 2 digits; version `ff` is invalid, all-zero ids are invalid, version
/// `00` has nothing after the flags and later versions may append `-...`.
pub fn is_valid_traceparent(s: &str) -> bool {
    fn hex(s: &str) -> bool {
        s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
    fn zeros(s: &str) -> bool {
        s.bytes().all(|b| b == b'0')
    }
    if s.len() < 55 || !s.is_char_boundary(55) {
        return false;
    }
    let (head, rest) = s.split_at(55);
    let b = head.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return false;
    }
    let (version, trace_id, span_id, flags) =
        (&head[..2], &head[3..35], &head[36..52], &head[53..]);
    if !(hex(version) && hex(trace_id) && hex(span_id) && hex(flags)) {
        return false;
    }
    if version == "ff" || zeros(trace_id) || zeros(span_id) {
        return false;
    }
    rest.is_empty() || (version != "00" && rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_pythons_uuid_ints() {
        let base = "58989008-6a17-49af-9b56-9643d037cdff";
        assert_eq!(trace_id(base), Some(0x58989008_6a17_49af_9b56_9643d037cdff));
        assert_eq!(span_id(base), Some(0x9b56_9643d037cdff));
        for spelling in [
            "{urn:uuid:58989008-6A17-49AF-9B56-9643D037CDFF}",
            "589890086a1749af9b569643d037cdff",
            "urn:uuid:58989008-6a17-49af-9b56-9643d037cdff",
            "5898-9008-6a17-49af-9b56-9643-d037-cdff",
            "uurn:uid:58989008-6a17-49af-9b56-9643d037cdff",
        ] {
            assert_eq!(uuid_int(spelling), uuid_int(base), "{spelling}");
        }
        for bad in [
            "not-a-uuid",
            "58989008-6a17-49af-9b56-9643d037cdfg",
            "58989008-6a17-49af-9b56-9643d037cdff0",
            "58989008-6a17-49af-9b56-9643d037cdf",
            "",
        ] {
            assert_eq!(uuid_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn traceparent_maps_ids_as_the_otlp_driver_does() {
        let base = TraceId::from("4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
        let point = TraceId::from("c386bbc4-cd61-4e30-00f0-67aa0ba902b7");
        let value = traceparent(&base, &point).unwrap();
        assert_eq!(
            value,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert!(is_valid_traceparent(&value));
        let upper = TraceId::from("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736");
        assert_eq!(traceparent(&upper, &point), Some(value));

        let point = TraceId::new_v4();
        assert!(traceparent(&TraceId::from("my-trace"), &point).is_none());
        let zero = TraceId::from("00000000-0000-0000-0000-000000000000");
        assert!(traceparent(&zero, &point).is_none());
    }

    #[test]
    fn inject_writes_the_current_points_traceparent() {
        let mut headers = http::HeaderMap::new();
        inject(&mut headers);
        assert!(headers.is_empty());
        let base = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736";
        let p = crate::Profiler::new("", Some(base), Some("c386bbc4-cd61-4e30-00f0-67aa0ba902b7"));
        profiler::with_profiler(Some(p), || inject(&mut headers));
        assert_eq!(
            headers[TRACEPARENT],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }

    #[test]
    fn traceparent_syntax() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "junk",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
        assert!(is_valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        ));
    }
}
