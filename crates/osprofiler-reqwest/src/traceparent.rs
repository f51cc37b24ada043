//! The W3C `traceparent` that continues an OSprofiler trace in OpenTelemetry, with the id
//! mapping of the OTLP driver (Python's `osprofiler/drivers/otlp.py`): trace id = the 128 bits
//! of `base_id`, span id = the low 64 bits of the point's id.

use osprofiler_core::TraceId;
use uuid::Uuid;

/// The header name.
pub(crate) const TRACEPARENT: &str = "traceparent";

/// `00-<trace id>-<span id>-01` for the point `point_id` of the trace `base_id` (sampled: a
/// profiled call is always recorded). `None` when an id is not a uuid (the OTLP driver then
/// makes random ids, which no header could repeat) or maps to the all-zero id W3C forbids.
pub(crate) fn traceparent(base_id: &TraceId, point_id: &TraceId) -> Option<String> {
    let trace_id = uuid_of(base_id)?.as_u128();
    let span_id = uuid_of(point_id)?.as_u128() as u64;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(format!("00-{trace_id:032x}-{span_id:016x}-01"))
}

/// The uuid an id stands for, in any of the spellings Python's `uuid.UUID` reads (our own
/// ids are uuids already; incoming ones may be upper-case, unhyphenated or braced).
fn uuid_of(id: &TraceId) -> Option<Uuid> {
    match id.as_uuid() {
        Some(u) => Some(*u),
        None => Uuid::try_parse(&id.to_string()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ids_as_the_otlp_driver_does() {
        let base = TraceId::from("4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
        let point = TraceId::from("c386bbc4-cd61-4e30-00f0-67aa0ba902b7");
        assert_eq!(
            traceparent(&base, &point).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let upper = TraceId::from("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736");
        assert_eq!(traceparent(&upper, &point), traceparent(&base, &point));
    }

    #[test]
    fn ids_that_are_not_uuids_give_none() {
        let point = TraceId::new_v4();
        assert!(traceparent(&TraceId::from("my-trace"), &point).is_none());
        let zero = TraceId::from("00000000-0000-0000-0000-000000000000");
        assert!(traceparent(&zero, &point).is_none());
    }
}
