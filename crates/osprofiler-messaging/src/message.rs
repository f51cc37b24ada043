//! The bytes of one notification on the bus, both ways.
//!
//! Writing: the oslo.messaging 1.0 message (no envelope) that Python OSprofiler's messaging
//! driver sends through `Notifier.info(ctxt, "profiler.<service>", notification)`, with
//! `ctxt = {}` (an empty context adds no `_context_*` keys): keys in oslo's order,
//! written as kombu writes it, Python's `json.dumps` (`", "` / `": "` separators, non-ASCII
//! escaped as `\uXXXX`).
//!
//! Reading: the 1.0 message, or the 2.0 envelope `{"oslo.version": "2.0", "oslo.message":
//! "<json>"}` (oslo's `deserialize_msg`), of which a report needs the priority and the
//! payload.

use std::borrow::Cow;

use osprofiler_core::pyjson::to_writer as write_json;
use osprofiler_core::timestamp::Timestamp;
use osprofiler_core::{Notification, TraceId};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Appends the 1.0 message of `n` to `out`:
/// `{"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp",
/// "_unique_id"}`.
///
/// `publisher_id` is the driver's host, `event_type` is `profiler.<service>` (Python formats
/// a missing service as `None`), `timestamp` is the send time as Python's
/// `str(datetime.utcnow())` prints it.
pub fn write_message(
    out: &mut Vec<u8>,
    n: &Notification,
    publisher_id: &str,
    now: Timestamp,
) -> Result<(), serde_json::Error> {
    let message_id = TraceId::new_v4().to_string();
    let unique = TraceId::new_v4();
    out.extend_from_slice(b"{\"message_id\": \"");
    out.extend_from_slice(message_id.as_bytes());
    out.extend_from_slice(b"\", \"publisher_id\": ");
    write_json(&mut *out, publisher_id)?;
    out.extend_from_slice(b", \"event_type\": ");
    let service = n.service.as_deref().unwrap_or("None");
    let mut event_type = String::with_capacity(9 + service.len());
    event_type.push_str("profiler.");
    event_type.push_str(service);
    write_json(&mut *out, &event_type)?;
    out.extend_from_slice(b", \"priority\": \"INFO\", \"payload\": ");
    write_json(&mut *out, n)?;
    out.extend_from_slice(b", \"timestamp\": \"");
    out.extend_from_slice(python_str_datetime(now).as_bytes());
    out.extend_from_slice(b"\", \"_unique_id\": \"");
    match unique.as_uuid() {
        Some(u) => out.extend_from_slice(u.simple().to_string().as_bytes()),
        None => out.extend_from_slice(unique.to_string().replace('-', "").as_bytes()),
    }
    out.extend_from_slice(b"\"}");
    Ok(())
}

/// Python's `str(datetime)`: `YYYY-MM-DD HH:MM:SS.ffffff`, without the fraction when it is
/// zero.
fn python_str_datetime(t: Timestamp) -> String {
    let mut s = t.format_messaging();
    if s.ends_with(".000000") {
        s.truncate(s.len() - 7);
    }
    s
}

/// What a reader needs of one message: its priority and its payload.
#[derive(Debug)]
pub struct Received {
    /// `priority` (`INFO`, `WARN`, ...), as sent.
    pub priority: Option<String>,
    /// The payload's `base_id`, when it has a string one.
    pub base_id: Option<String>,
    /// The payload, as its JSON text.
    pub payload: Box<RawValue>,
}

#[derive(Deserialize)]
struct Message {
    priority: Option<String>,
    payload: Option<Box<RawValue>>,
    #[serde(rename = "oslo.version")]
    version: Option<Box<RawValue>>,
    #[serde(rename = "oslo.message")]
    message: Option<String>,
}

#[derive(Deserialize)]
struct PayloadHead<'a> {
    #[serde(borrow)]
    base_id: Option<Cow<'a, str>>,
}

/// Reads a message body: the 1.0 message, or the 2.0 envelope around it. `None` when it is
/// neither (not JSON, not an object, no payload).
pub fn read_message(body: &[u8]) -> Option<Received> {
    // From text, not bytes: serde_json checks the UTF-8 of skipped strings only then.
    let outer: Message = serde_json::from_str(std::str::from_utf8(body).ok()?).ok()?;
    let inner = match (&outer.version, outer.message) {
        (Some(_), Some(text)) => serde_json::from_str::<Message>(&text).ok()?,
        (_, message) => Message { message, ..outer },
    };
    let payload = inner.payload?;
    let base_id = serde_json::from_str::<PayloadHead<'_>>(payload.get())
        .ok()
        .and_then(|h| h.base_id.map(Cow::into_owned));
    Some(Received {
        priority: inner.priority,
        base_id,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::Info;
    use serde_json::Value;

    fn notification() -> Notification {
        let mut info = Info::new();
        info.insert("a".into(), Value::from("é\u{1F600}\"\n"));
        info.insert("f".into(), Value::from(1.5));
        info.insert("host".into(), Value::from("vm"));
        Notification {
            name: "db-start".into(),
            base_id: "7e13d441-f3c6-4c58-9ef1-0d59a888cbcd".into(),
            trace_id: "7f632fe5-0581-4dc7-8e33-0b20e6acd541".into(),
            parent_id: "7e13d441-f3c6-4c58-9ef1-0d59a888cbcd".into(),
            timestamp: "2026-11-25T10:01:10.523880".into(),
            info,
            project: Some("proj".into()),
            service: Some("svc".into()),
        }
    }

    #[test]
    fn writes_the_bytes_python_sends() {
        let mut out = Vec::new();
        let now = Timestamp::parse("2026-11-25T10:01:10.523923").unwrap();
        write_message(&mut out, &notification(), "hostx", now).unwrap();
        let text = String::from_utf8(out).unwrap();
        // The message Python OSprofiler 4.4.0 sent for the same notification (captured from
        // RabbitMQ), with its random ids cut out.
        let python = r#"{"message_id": "<id>", "publisher_id": "hostx", "event_type": "profiler.svc", "priority": "INFO", "payload": {"name": "db-start", "base_id": "7e13d441-f3c6-4c58-9ef1-0d59a888cbcd", "trace_id": "7f632fe5-0581-4dc7-8e33-0b20e6acd541", "parent_id": "7e13d441-f3c6-4c58-9ef1-0d59a888cbcd", "timestamp": "2026-11-25T10:01:10.523880", "info": {"a": "\u00e9\ud83d\ude00\"\n", "f": 1.5, "host": "vm"}, "project": "proj", "service": "svc"}, "timestamp": "2026-11-25 10:01:10.523923", "_unique_id": "<hex>"}"#;
        let id = &text[16..52];
        assert!(
            osprofiler_core::TraceId::from(id).as_uuid().is_some(),
            "{id}"
        );
        let hex = &text[text.len() - 34..text.len() - 2];
        assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(text.replace(id, "<id>").replace(hex, "<hex>"), python);
    }

    #[test]
    fn missing_service_and_whole_seconds_as_python_prints_them() {
        let mut n = notification();
        n.service = None;
        n.info.insert("g".into(), serde_json::json!(1e16));
        let mut out = Vec::new();
        let now = Timestamp::parse("2026-11-25T10:01:10.000000").unwrap();
        write_message(&mut out, &n, "h", now).unwrap();
        // Floats as Python's `json.dumps` writes them.
        assert!(String::from_utf8_lossy(&out).contains(r#""g": 1e+16"#));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event_type"], "profiler.None");
        assert_eq!(v["timestamp"], "2026-11-25 10:01:10");
        assert_eq!(v["payload"]["service"], Value::Null);
    }

    #[test]
    fn reads_both_formats() {
        let mut v1 = Vec::new();
        write_message(&mut v1, &notification(), "h", Timestamp::now()).unwrap();
        let r = read_message(&v1).unwrap();
        assert_eq!(r.priority.as_deref(), Some("INFO"));
        assert_eq!(
            r.base_id.as_deref(),
            Some("7e13d441-f3c6-4c58-9ef1-0d59a888cbcd")
        );
        let back: Notification = serde_json::from_str(r.payload.get()).unwrap();
        assert_eq!(back, notification());

        let envelope = serde_json::json!({
            "oslo.version": "2.0",
            "oslo.message": String::from_utf8(v1).unwrap(),
        });
        let r2 = read_message(envelope.to_string().as_bytes()).unwrap();
        assert_eq!(r2.payload.get(), r.payload.get());
        assert_eq!(r2.priority.as_deref(), Some("INFO"));

        assert!(read_message(b"not json").is_none());
        assert!(read_message(b"[1, 2]").is_none());
        assert!(read_message(br#"{"priority": "INFO"}"#).is_none());
        let odd = read_message(br#"{"priority": "INFO", "payload": {"base_id": 7}}"#).unwrap();
        assert_eq!(odd.base_id, None);
    }

    /// Found by the `messaging_message` fuzz target: serde_json does not check the UTF-8 of
    /// a string it skips, so a body that is not UTF-8 in a field the reader ignores was
    /// read; oslo.messaging (kombu decoding the body) refuses it.
    #[test]
    fn refuses_a_body_that_is_not_utf8() {
        assert!(read_message(b"{\"message_id\": \"\xff\", \"payload\": {}}").is_none());
        let inner = b"{\"oslo.version\": \"2.0\", \"x\": \"\xfe\", \"oslo.message\": \"{\\\"payload\\\": 1}\"}";
        assert!(read_message(inner).is_none());
    }
}
