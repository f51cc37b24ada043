//! Span fields as trace point info.
//!
//! Every field becomes a JSON value of the point's info, keeping its type where JSON has one
//! (strings, integers, booleans, floats) and its `Debug` text otherwise (`?value`; `%value`
//! arrives as `Debug` that prints `Display`). Dotted names nest, so that `db.statement` and
//! `db.params` make Python's `db: {statement, params}` info of a SQL point.

use std::fmt;

use osprofiler_core::Info;
use serde_json::{Map, Number, Value};
use tracing_core::field::{Field, Visit};

/// The field that names the point instead of the span's name (not itself recorded).
pub const NAME_FIELD: &str = "osprofiler.name";

/// Collects span fields into an info map (and the [`NAME_FIELD`] override).
pub(crate) struct FieldVisitor<'a> {
    info: &'a mut Info,
    name: Option<String>,
}

impl<'a> FieldVisitor<'a> {
    pub(crate) fn new(info: &'a mut Info) -> Self {
        FieldVisitor { info, name: None }
    }

    /// The point name given by a [`NAME_FIELD`] field, if any.
    pub(crate) fn into_name(self) -> Option<String> {
        self.name
    }

    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == NAME_FIELD {
            self.name = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
            return;
        }
        insert_dotted(self.info, field.name(), value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value = i64::try_from(value)
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(value.to_string()));
        self.put(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value = u64::try_from(value)
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(value.to_string()));
        self.put(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity (Python would write the invalid token `NaN`, which
        // other readers refuse): those are kept as text.
        let value = Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.to_string()));
        self.put(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

/// Inserts `value` at the dotted path `name` (`a.b.c` -> `{"a": {"b": {"c": value}}}`).
///
/// When a prefix of the path already holds something that is not an object (a field `db`
/// and a field `db.statement`), the value goes in under the whole name instead, flat: a
/// field is never lost.
pub(crate) fn insert_dotted(info: &mut Info, name: &str, value: Value) {
    if !name.contains('.') || name.split('.').any(str::is_empty) {
        info.insert(name.to_owned(), value);
        return;
    }
    if !path_is_free(info, name) {
        info.insert(name.to_owned(), value);
        return;
    }
    let mut map: &mut Map<String, Value> = info;
    let mut parts = name.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        let slot = map
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(m) => m,
            // `path_is_free` checked every prefix.
            _ => return,
        };
    }
}

/// True when every proper prefix of the dotted `name` is absent or an object.
fn path_is_free(info: &Info, name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    let mut map = info;
    for part in &parts[..parts.len() - 1] {
        match map.get(*part) {
            None => return true,
            Some(Value::Object(m)) => map = m,
            Some(_) => return false,
        }
    }
    true
}

/// What an error event says: its `error` field (as `#[instrument(err)]` records it) or its
/// message, and an `error.type` field if it has one.
#[derive(Default)]
pub(crate) struct ErrorVisitor {
    pub(crate) error: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) etype: Option<String>,
}

impl ErrorVisitor {
    fn set(&mut self, field: &Field, text: String) {
        match field.name() {
            "error" => self.error = Some(text),
            "message" => self.message = Some(text),
            "error.type" => self.etype = Some(text),
            _ => {}
        }
    }
}

impl Visit for ErrorVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "error" | "message" | "error.type") {
            self.set(field, format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field, value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_names_nest() {
        let mut info = Info::new();
        insert_dotted(&mut info, "db.statement", json!("SELECT 1"));
        insert_dotted(&mut info, "db.params", json!({}));
        insert_dotted(&mut info, "plain", json!(1));
        assert_eq!(
            Value::Object(info),
            json!({"db": {"statement": "SELECT 1", "params": {}}, "plain": 1})
        );
    }

    #[test]
    fn a_scalar_prefix_keeps_the_dotted_field_flat() {
        let mut info = Info::new();
        insert_dotted(&mut info, "db", json!(1));
        insert_dotted(&mut info, "db.statement", json!("x"));
        insert_dotted(&mut info, "a..b", json!(2));
        assert_eq!(
            Value::Object(info),
            json!({"db": 1, "db.statement": "x", "a..b": 2})
        );
    }

    #[test]
    fn a_later_value_replaces_an_earlier_one() {
        let mut info = Info::new();
        insert_dotted(&mut info, "a.b", json!(1));
        insert_dotted(&mut info, "a.b", json!(2));
        insert_dotted(&mut info, "a.c", json!(3));
        assert_eq!(Value::Object(info), json!({"a": {"b": 2, "c": 3}}));
    }
}
