//! The oslo.messaging message reader (crates/osprofiler-messaging/src/message.rs,
//! `read_message`): the 1.0 message and the 2.0 envelope `{"oslo.version": ...,
//! "oslo.message": "<json>"}`. Never panics; agrees with a model over `serde_json::Value`
//! (oslo's `deserialize_msg`): the body must be a JSON object; with a non-null
//! `oslo.version` and a string `oslo.message`, the message is that string read as JSON (an
//! object), else the body itself; the message must have a non-null `payload`; `priority` is
//! a string or absent/null, `oslo.message` a string or absent/null (the reader's types);
//! `base_id` is the payload's `base_id` when the payload is an object holding a string
//! there. Also: what `write_message` writes reads back to the notification it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprofiler_core::timestamp::Timestamp;
use osprofiler_core::Notification;
use osprofiler_fuzz::has_duplicate_keys;
use osprofiler_messaging::{read_message, write_message};
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let got = read_message(data);
    let Some(model) = model(data) else {
        return;
    };
    match (&got, &model) {
        (None, None) => {}
        (Some(r), Some((priority, base_id, payload))) => {
            assert_eq!(&r.priority, priority, "priority");
            assert_eq!(&r.base_id, base_id, "base_id");
            let p: Value = serde_json::from_str(r.payload.get()).expect("the payload is JSON");
            assert_eq!(&p, payload, "payload");
        }
        (Some(r), None) => panic!("read a message the model refuses: {r:?}"),
        (None, Some(m)) => panic!("refused a message the model reads: {m:?}"),
    }

    // A notification made of the input (when it is one) written and read back.
    if let Ok(n) = serde_json::from_slice::<Notification>(data) {
        let mut out = Vec::new();
        if write_message(&mut out, &n, "host", Timestamp::from_micros(0)).is_ok() {
            let r = read_message(&out).expect("our own message reads back");
            assert_eq!(r.priority.as_deref(), Some("INFO"));
            let back: Notification = serde_json::from_str(r.payload.get()).expect("payload");
            assert_eq!(back, n, "written and read back");
            assert_eq!(r.base_id.as_deref(), Some(n.base_id.as_str()));
        }
    }
});

type Model = (Option<String>, Option<String>, Value);

fn string_or_absent(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ()> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// JSON text `serde_json::Value` cannot hold although it is JSON: a number out of f64's
/// range (Python reads it as infinity). The model says nothing about such messages.
fn out_of_range(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_err() && serde_json::from_str::<IgnoredAny>(text).is_ok()
}

/// `None`: the model cannot tell; `Some(None)`: refused.
fn model(body: &[u8]) -> Option<Option<Model>> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Some(None);
    };
    // A key twice anywhere (the payload's `base_id`, say): serde's structs refuse it (the
    // reader's `base_id` is then None), Python keeps the last.
    if out_of_range(text) || has_duplicate_keys(text) {
        return None;
    }
    let unknown = |t: &str| out_of_range(t) || has_duplicate_keys(t);
    if let Ok(Value::Object(outer)) = serde_json::from_str::<Value>(text) {
        if let (Some(v), Some(Value::String(inner))) =
            (outer.get("oslo.version"), outer.get("oslo.message"))
        {
            if !v.is_null() && unknown(inner) {
                return None;
            }
        }
    }
    Some(model_of(text))
}

fn model_of(text: &str) -> Option<Model> {
    let Ok(Value::Object(outer)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let message = string_or_absent(&outer, "oslo.message").ok()?;
    string_or_absent(&outer, "priority").ok()?;
    let version = outer.get("oslo.version").filter(|v| !v.is_null());
    let inner = match (version, message) {
        (Some(_), Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(inner)) => {
                string_or_absent(&inner, "oslo.message").ok()?;
                inner
            }
            _ => return None,
        },
        _ => outer,
    };
    let priority = string_or_absent(&inner, "priority").ok()?;
    let payload = inner.get("payload").filter(|p| !p.is_null())?.clone();
    let base_id = match &payload {
        Value::Object(p) => p.get("base_id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    Some((priority, base_id, payload))
}
