//! The collector's ingest body parser (crates/osprofiler-collector/src/lib.rs,
//! `parse_body`, with `osprofiler_sql::store::Incoming::parse` for each notification), what
//! `POST /api/v1/notifications` runs on every body. Never panics; agrees with a model over
//! `serde_json::Value`: the body is UTF-8 ("not UTF-8" otherwise) JSON ("not JSON"), a list of notification objects or one
//! object; each must hold non-empty strings `name`, `base_id`, `trace_id`, a string
//! `timestamp` that Python's `strptime` reads (osprofiler_fuzz::py_strptime), `parent_id` a
//! string or null, `info` an object when present, `project`, `service`, `info.host` strings
//! or null when present, and every one of these strings at most 255 characters. Accepted:
//! the same notifications in the same order (their base ids and their text as received).
//! Refused: the same class of error, "not JSON" (the whole body) or a named place.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprofiler_collector::parse_body;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let ours = parse_body(data);
    let model = model(data);
    match (&ours, &model) {
        (Ok(list), Ok(expected)) => {
            let got: Vec<(String, String)> = list
                .iter()
                .map(|n| (n.base_id().to_owned(), n.raw().get().to_owned()))
                .collect();
            assert_eq!(&got, expected);
            for n in list {
                // The `data` column is a JSON string of a JSON object.
                let inner: String = serde_json::from_str(n.data_column()).expect("data column");
                let v: Value = serde_json::from_str(&inner).expect("data column's object");
                assert!(v.is_object());
            }
        }
        (Err(e), Err(class)) => {
            let not_json = e.at.is_empty() && e.message.starts_with("not JSON");
            let not_utf8 = e.at.is_empty() && e.message.starts_with("the body is not UTF-8");
            let whole = e.at.is_empty();
            match class {
                Refused::NotUtf8 => assert!(not_utf8, "expected not UTF-8, got {e}"),
                Refused::NotJson => assert!(not_json, "expected not JSON, got {e}"),
                Refused::Whole => assert!(whole && !not_json, "expected the body refused, got {e}"),
                Refused::At(at) => assert_eq!(&e.at, at, "{e}"),
            }
        }
        (Ok(list), Err(class)) => panic!("accepted {} notifications; model: {class:?}", list.len()),
        (Err(e), Ok(list)) => panic!("refused ({e}); model accepts {} notifications", list.len()),
    }
});

#[derive(Debug)]
enum Refused {
    /// Not UTF-8.
    NotUtf8,
    /// Not JSON.
    NotJson,
    /// JSON, but neither a list nor an object.
    Whole,
    /// This element (`[3]`, or empty for a single object) or a field of it.
    At(String),
}

const MAX: usize = 255;

/// The strptime model for ASCII text; other text (digits of other scripts) as
/// `Timestamp::parse` reads it (its own target checks it).
fn strptime_reads(s: &str) -> bool {
    if s.is_ascii() {
        osprofiler_fuzz::py_strptime(s).is_some()
    } else {
        osprofiler_core::timestamp::Timestamp::parse(s).is_ok()
    }
}

fn text(o: &Map<String, Value>, key: &str, nullable: bool) -> Result<(), ()> {
    match o.get(key) {
        None | Some(Value::Null) if nullable => Ok(()),
        Some(Value::String(s)) if s.chars().count() <= MAX => Ok(()),
        _ => Err(()),
    }
}

/// `Ok(())` for a valid notification, `Err(field)` naming what is wrong.
fn notification(v: &Value) -> Result<(), &'static str> {
    let Value::Object(o) = v else {
        return Err("");
    };
    for key in ["name", "base_id", "trace_id"] {
        match o.get(key) {
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX => {}
            _ => return Err(key),
        }
    }
    match o.get("timestamp") {
        Some(Value::String(s)) if s.chars().count() <= MAX && strptime_reads(s) => {}
        _ => return Err("timestamp"),
    }
    if !o.contains_key("parent_id") {
        return Err("parent_id");
    }
    for key in ["parent_id", "project", "service"] {
        text(o, key, true).map_err(|_| key)?;
    }
    match o.get("info") {
        None => {}
        Some(Value::Object(info)) => text(info, "host", true).map_err(|_| "info.host")?,
        Some(_) => return Err("info"),
    }
    Ok(())
}

fn at(index: Option<usize>, field: &str) -> String {
    match (index, field) {
        (None, f) => f.to_owned(),
        (Some(i), "") => format!("[{i}]"),
        (Some(i), f) => format!("[{i}].{f}"),
    }
}

fn model(body: &[u8]) -> Result<Vec<(String, String)>, Refused> {
    let text = std::str::from_utf8(body).map_err(|_| Refused::NotUtf8)?;
    // JSON by its grammar (serde_json reading it as anything): a number out of f64's range
    // is JSON, only not a value `serde_json::Value` holds.
    serde_json::from_str::<IgnoredAny>(text).map_err(|_| Refused::NotJson)?;
    let items: Vec<(Option<usize>, Box<RawValue>)> =
        match text.trim_start_matches(JSON_WS).chars().next() {
            Some('[') => serde_json::from_str::<Vec<Box<RawValue>>>(text)
                .map_err(|_| Refused::NotJson)?
                .into_iter()
                .enumerate()
                .map(|(i, r)| (Some(i), r))
                .collect(),
            Some('{') => vec![(
                None,
                serde_json::from_str(text).map_err(|_| Refused::NotJson)?,
            )],
            _ => return Err(Refused::Whole),
        };
    let mut out = Vec::new();
    for (index, raw) in items {
        // An element serde_json::Value cannot hold (a number out of range) is refused there.
        let v: Value = serde_json::from_str(raw.get()).map_err(|_| Refused::At(at(index, "")))?;
        notification(&v).map_err(|field| Refused::At(at(index, field)))?;
        out.push((
            v["base_id"].as_str().unwrap_or_default().to_owned(),
            raw.get().to_owned(),
        ));
    }
    Ok(out)
}

const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];
