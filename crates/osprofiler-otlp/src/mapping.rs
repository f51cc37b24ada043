//! Python OSprofiler's otlp mapping (`osprofiler/drivers/otlp.py`, 4.4.0): how one
//! notification becomes span ids, a span name, a span kind, attributes and error events.
//!
//! Every rule here is Python's, quirks included, so that a Rust service and a Python service
//! sending the same points to one collector produce the same spans:
//! - the point name is cut with Python's `str.rstrip("-start")`, which strips any trailing
//!   characters of the *set* `{-, s, t, a, r}`: `driver-start` becomes `drive`, `test-start`
//!   becomes `te`;
//! - the kind looks for `wsgi`, `db`, `http` or `api` anywhere in the notification name;
//! - the name rules and the attribute rules test `request`, `db`, `requests` in different
//!   orders.
//!
//! Where Python would raise (a field missing, a value of the wrong type) and so lose the span,
//! this module skips the rule or the attribute instead, and the span is still sent.

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use osprofiler_core::propagation::w3c;
use osprofiler_core::pyjson::python_str as py_str;
use serde_json::{Map, Value};

/// The instrumentation scope Python's driver reports (`get_tracer(__name__)`): backends that
/// filter on it see both languages' spans.
pub const SCOPE_NAME: &str = "osprofiler.drivers.otlp";

/// Python's `uuid.UUID(s).int`: `urn:` and `uuid:` removed anywhere, braces stripped from
/// both ends, hyphens ignored, then exactly 32 hex digits. The core's
/// [`w3c::uuid_int`], which also maps the ids of
/// the `traceparent` that `osprofiler-reqwest` sends, so both agree.
pub fn parse_uuid_int(s: &str) -> Option<u128> {
    w3c::uuid_int(s)
}

/// The OTel trace id of a `base_id`: its 128 bits (Python's `uuid_to_int128`,
/// [`w3c::trace_id`]). An id that is not a uuid gets a fresh random id, as in Python (so
/// such a trace is split in OTel).
pub fn trace_id(base_id: &str) -> u128 {
    w3c::trace_id(base_id).unwrap_or_else(|| rand::random::<u128>() | 1)
}

/// The OTel span id of a `trace_id` or `parent_id`: its low 64 bits (Python's
/// `shorten_id`, [`w3c::span_id`]); an id that is not a uuid gets a fresh random id, as in
/// Python.
pub fn span_id(id: &str) -> u64 {
    w3c::span_id(id).unwrap_or_else(|| rand::random::<u64>() | 1)
}

/// The parent span id: none for a root point (`parent_id == base_id`), else the low 64 bits
/// of `parent_id`.
pub fn parent_span_id(base_id: &str, parent_id: &str) -> Option<u64> {
    (base_id != parent_id).then(|| span_id(parent_id))
}

/// Whether a notification starts a span: Python tests `name.endswith("start")`; anything
/// else is a stop.
pub fn is_start(notification_name: &str) -> bool {
    notification_name.ends_with("start")
}

/// Python's `_kind(payload["name"])`, on the whole notification name.
pub fn span_kind(notification_name: &str) -> SpanKind {
    let n = notification_name;
    if n.contains("wsgi") {
        SpanKind::Server
    } else if n.contains("db") || n.contains("http") || n.contains("api") {
        SpanKind::Client
    } else {
        SpanKind::Internal
    }
}

/// Python's `_name(payload)`: `WSGI_<method>_<path>`, `SQL_<VERB>`,
/// `REQUESTS_<method>_<hostname>`, else the notification name cut by `rstrip("-start")`.
pub fn span_name(notification_name: &str, info: &Map<String, Value>) -> String {
    if let Some(request) = truthy_get(info, "request") {
        if let (Some(method), Some(path)) = (field(request, "method"), field(request, "path")) {
            return format!("WSGI_{}_{}", py_str(method), py_str(path));
        }
    } else if let Some(db) = truthy_get(info, "db") {
        if let Some(Value::String(statement)) = field(db, "statement") {
            let verb = statement.split(' ').next().unwrap_or("");
            return format!("SQL_{}", verb.to_uppercase());
        }
    } else if let Some(requests) = truthy_get(info, "requests") {
        if let (Some(method), Some(host)) = (field(requests, "method"), field(requests, "hostname"))
        {
            return format!("REQUESTS_{}_{}", py_str(method), py_str(host));
        }
    }
    rstrip_chars(notification_name, "-start").to_owned()
}

/// Python's `create_span_tags(payload)`: the span's attributes from its start notification.
pub fn start_attributes(info: &Map<String, Value>) -> Vec<KeyValue> {
    let mut attrs = Vec::new();
    let copy = |attrs: &mut Vec<KeyValue>, key: &str, from: &Value, name: &str| {
        if let Some(v) = field(from, name) {
            set_attribute(attrs, key, v);
        }
    };
    if let Some(db) = truthy_get(info, "db") {
        copy(&mut attrs, "db.statement", db, "statement");
        if let Some(params) = field(db, "params") {
            if let Ok(text) = osprofiler_core::pyjson::to_string(params) {
                set_attribute(&mut attrs, "db.params", &Value::String(text));
            }
        }
    } else if let Some(request) = truthy_get(info, "request") {
        for name in ["path", "query", "method", "scheme"] {
            copy(&mut attrs, &format!("http.{name}"), request, name);
        }
    } else if let Some(requests) = truthy_get(info, "requests") {
        for name in ["path", "query", "method", "scheme", "hostname", "port"] {
            copy(&mut attrs, &format!("http.{name}"), requests, name);
        }
    } else if let Some(function) = truthy_get(info, "function") {
        copy(&mut attrs, "args", function, "args");
        copy(&mut attrs, "kwargs", function, "kwargs");
        copy(&mut attrs, "name", function, "name");
    }
    attrs
}

/// What Python's driver adds at the stop: `result` (of `db`, then `function`),
/// `status_code` (of `requests`), and for an error the attribute `error = true` plus the
/// returned `log` event (`error.kind`, `message`), stamped `time_unix_nano`.
pub fn apply_stop(
    info: &Map<String, Value>,
    attrs: &mut Vec<KeyValue>,
    time_unix_nano: u64,
) -> Option<Event> {
    for call in ["db", "function"] {
        if let Some(result) = info.get(call).and_then(|c| c.get("result")) {
            if truthy(result) {
                set_attribute(attrs, "result", result);
            }
        }
    }
    if let Some(requests) = truthy_get(info, "requests") {
        if let Some(code) = field(requests, "status_code") {
            set_attribute(attrs, "status_code", code);
        }
    }
    let etype = truthy_get(info, "etype")?;
    set_attribute(attrs, "error", &Value::Bool(true));
    let mut event_attrs = Vec::new();
    set_attribute(&mut event_attrs, "error.kind", etype);
    if let Some(message) = info.get("message") {
        set_attribute(&mut event_attrs, "message", message);
    }
    Some(Event {
        time_unix_nano,
        name: "log".to_owned(),
        attributes: event_attrs,
        dropped_attributes_count: 0,
    })
}

/// The resource's `service.name`: `<prefix>-<project>-<service>`, or `<project>-<service>`
/// without a prefix; a missing project or service reads `None`, as Python's f-string prints it.
pub fn service_name(prefix: Option<&str>, project: Option<&str>, service: Option<&str>) -> String {
    let project = project.unwrap_or("None");
    let service = service.unwrap_or("None");
    match prefix.filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix}-{project}-{service}"),
        None => format!("{project}-{service}"),
    }
}

/// Python's `attrs[key] = value` on the span's attribute dict: a key already there keeps its
/// place and takes the new value. A value the OTLP encoder cannot take (an integer beyond
/// 64 bits) is left out, as Python's encoder logs and drops it.
pub fn set_attribute(attrs: &mut Vec<KeyValue>, key: &str, value: &Value) {
    let Some(value) = any_value(value) else {
        return;
    };
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(value),
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

/// A JSON value as Python's OTLP encoder (opentelemetry 1.45) writes the same Python value:
/// `None` as an empty value, lists as arrays, dicts as key-value lists. `None` when it has an
/// integer that does not fit in 64 bits (Python's encoder drops that attribute).
pub fn any_value(v: &Value) -> Option<AnyValue> {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
        Value::Number(n) => Some(if n.is_f64() {
            any_value::Value::DoubleValue(n.as_f64()?)
        } else {
            any_value::Value::IntValue(n.as_i64()?)
        }),
        Value::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect::<Option<_>>()?,
        })),
        Value::Object(map) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: map
                .iter()
                .map(|(k, v)| {
                    Some(KeyValue {
                        key: k.clone(),
                        value: Some(any_value(v)?),
                        ..Default::default()
                    })
                })
                .collect::<Option<_>>()?,
        })),
    };
    Some(AnyValue { value })
}

/// `info.get(key)` when Python would find it truthy.
fn truthy_get<'a>(info: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    info.get(key).filter(|v| truthy(v))
}

/// `value[name]` when `value` is an object holding `name` (where Python would index it).
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object()?.get(name)
}

/// Python's truth value of the same value: `None`, `False`, `0`, `0.0`, `""`, `[]`, `{}` are
/// false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `s.rstrip(chars)`: removes trailing characters that are in the set `chars`.
fn rstrip_chars<'a>(s: &'a str, chars: &str) -> &'a str {
    s.trim_end_matches(|c| chars.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn attrs_json(attrs: &[KeyValue]) -> Vec<(String, Option<any_value::Value>)> {
        attrs
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().and_then(|v| v.value)))
            .collect()
    }

    #[test]
    fn ids_are_pythons_uuid_ints() {
        let base = "58989008-6a17-49af-9b56-9643d037cdff";
        assert_eq!(trace_id(base), 0x58989008_6a17_49af_9b56_9643d037cdff);
        assert_eq!(span_id(base), 0x9b56_9643d037cdff);
        assert_eq!(
            parse_uuid_int("{urn:uuid:58989008-6A17-49AF-9B56-9643D037CDFF}"),
            Some(0x58989008_6a17_49af_9b56_9643d037cdff)
        );
        assert_eq!(
            parse_uuid_int("589890086a1749af9b569643d037cdff"),
            parse_uuid_int(base)
        );
        assert_eq!(parse_uuid_int("not-a-uuid"), None);
        assert_eq!(parse_uuid_int("58989008-6a17-49af-9b56-9643d037cdfg"), None);
        // Not a uuid: random, never zero (an invalid OTel id).
        assert_ne!(span_id("x"), 0);
        assert_ne!(trace_id("x"), 0);
        assert_eq!(parent_span_id(base, base), None);
        assert_eq!(
            parent_span_id(base, "88fdac2c-75ab-4581-88be-09e16e8d8930"),
            Some(0x88be_09e16e8d8930)
        );
    }

    #[test]
    fn names_follow_python_including_rstrip() {
        let empty = Map::new();
        assert_eq!(span_name("db-start", &empty), "db");
        assert_eq!(span_name("rpc-start", &empty), "rpc");
        assert_eq!(span_name("driver-start", &empty), "drive");
        assert_eq!(span_name("test-start", &empty), "te");
        assert_eq!(span_name("stats-start", &empty), "");
        assert_eq!(
            span_name(
                "wsgi-start",
                &info(json!({"request": {"method": "GET", "path": "/v2/servers"}}))
            ),
            "WSGI_GET_/v2/servers"
        );
        assert_eq!(
            span_name(
                "db-start",
                &info(json!({"db": {"statement": "select * from t", "params": {}}}))
            ),
            "SQL_SELECT"
        );
        assert_eq!(
            span_name(
                "db-start",
                &info(json!({"db": {"statement": "", "params": {}}}))
            ),
            "SQL_"
        );
        assert_eq!(
            span_name(
                "http-start",
                &info(json!({"requests": {"method": "POST", "hostname": "nova"}}))
            ),
            "REQUESTS_POST_nova"
        );
        // `request` wins over `db` for the name; a falsy value is skipped.
        assert_eq!(
            span_name(
                "x-start",
                &info(json!({"request": {}, "db": {"statement": "DELETE x"}}))
            ),
            "SQL_DELETE"
        );
        // Python would raise here; the point name is used instead.
        assert_eq!(
            span_name("wsgi-start", &info(json!({"request": "GET /"}))),
            "wsgi"
        );
        assert_eq!(
            span_name(
                "wsgi-start",
                &info(json!({"request": {"method": null, "path": 3}}))
            ),
            "WSGI_None_3"
        );
        // Lists and dicts as Python's `str()` prints them (its repr), not as JSON.
        assert_eq!(
            span_name(
                "wsgi-start",
                &info(json!({"request": {"method": ["GET", true], "path": {"p": "é's"}}}))
            ),
            r#"WSGI_['GET', True]_{'p': "é's"}"#
        );
    }

    #[test]
    fn kinds_follow_python() {
        assert_eq!(span_kind("wsgi-start"), SpanKind::Server);
        assert_eq!(span_kind("db-start"), SpanKind::Client);
        assert_eq!(span_kind("https-start"), SpanKind::Client);
        assert_eq!(span_kind("compute_api-start"), SpanKind::Client);
        assert_eq!(span_kind("rpc-start"), SpanKind::Internal);
        assert!(is_start("rpc-start"));
        assert!(!is_start("rpc-stop"));
        assert!(!is_start("rpc"));
    }

    #[test]
    fn attributes_follow_python() {
        let a = start_attributes(&info(json!({
            "db": {"statement": "SELECT 1", "params": {"a": "é", "b": [1, 2]}},
            "request": {"path": "/"},
        })));
        assert_eq!(
            attrs_json(&a),
            vec![
                (
                    "db.statement".into(),
                    Some(any_value::Value::StringValue("SELECT 1".into()))
                ),
                (
                    "db.params".into(),
                    Some(any_value::Value::StringValue(
                        r#"{"a": "\u00e9", "b": [1, 2]}"#.into()
                    ))
                ),
            ]
        );
        let a = start_attributes(&info(json!({
            "requests": {"path": "/p", "query": "", "method": "GET", "scheme": "http",
                         "hostname": "h", "port": 8774},
        })));
        let keys: Vec<_> = a.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "http.path",
                "http.query",
                "http.method",
                "http.scheme",
                "http.hostname",
                "http.port"
            ]
        );
        assert_eq!(
            a[5].value.clone().unwrap().value,
            Some(any_value::Value::IntValue(8774))
        );
        let a = start_attributes(&info(json!({
            "function": {"name": "m.f", "args": "(1,)", "kwargs": "{}"},
        })));
        let keys: Vec<_> = a.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["args", "kwargs", "name"]);
        assert!(start_attributes(&info(json!({"host": "h"}))).is_empty());
    }

    #[test]
    fn stop_adds_result_status_and_error_event() {
        let mut attrs = start_attributes(&info(json!({"function": {"name": "f"}})));
        let event = apply_stop(
            &info(json!({
                "function": {"result": "42"},
                "etype": "ValueError",
                "message": "bad",
            })),
            &mut attrs,
            7,
        )
        .unwrap();
        let keys: Vec<_> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["name", "result", "error"]);
        assert_eq!(event.name, "log");
        assert_eq!(event.time_unix_nano, 7);
        assert_eq!(
            attrs_json(&event.attributes),
            vec![
                (
                    "error.kind".into(),
                    Some(any_value::Value::StringValue("ValueError".into()))
                ),
                (
                    "message".into(),
                    Some(any_value::Value::StringValue("bad".into()))
                ),
            ]
        );
        // Falsy results and no error: nothing added.
        let mut attrs = Vec::new();
        assert!(apply_stop(
            &info(json!({"function": {"result": ""}, "etype": null})),
            &mut attrs,
            0
        )
        .is_none());
        assert!(attrs.is_empty());
        // A non-object `db` (Python would raise) is skipped.
        assert!(apply_stop(&info(json!({"db": "x"})), &mut attrs, 0).is_none());
        // requests: status_code.
        apply_stop(
            &info(json!({"requests": {"status_code": 200}})),
            &mut attrs,
            0,
        );
        assert_eq!(
            attrs_json(&attrs),
            vec![("status_code".into(), Some(any_value::Value::IntValue(200)))]
        );
    }

    #[test]
    fn values_as_pythons_encoder_writes_them() {
        assert_eq!(any_value(&json!(null)), Some(AnyValue { value: None }));
        assert_eq!(
            any_value(&json!(1.5)).unwrap().value,
            Some(any_value::Value::DoubleValue(1.5))
        );
        assert_eq!(any_value(&json!(u64::MAX)), None);
        assert_eq!(any_value(&json!([1, u64::MAX])), None);
        let kv = any_value(&json!({"a": [true, "x"]})).unwrap();
        assert!(matches!(kv.value, Some(any_value::Value::KvlistValue(_))));
        let mut attrs = Vec::new();
        set_attribute(&mut attrs, "big", &json!(u64::MAX));
        assert!(attrs.is_empty());
    }

    #[test]
    fn service_names() {
        assert_eq!(service_name(None, Some("nova"), Some("api")), "nova-api");
        assert_eq!(
            service_name(Some("os"), Some("nova"), Some("api")),
            "os-nova-api"
        );
        assert_eq!(service_name(Some(""), None, None), "None-None");
    }
}
