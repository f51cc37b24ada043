//! The infos of a statement's point, in Python's `osprofiler.sqlalchemy` shapes:
//! start `{"db": {"statement", "params"}}`; stop on error `{"etype", "message", "db":
//! {"original_exception", "chained_exception"}}` (Python's `handle_error`).

use std::error::Error as _;

use osprofiler_core::Info;
use serde_json::{Map, Value};

/// `{"db": {"statement": <sql>, "params": <params>}}`, as Python's `_before_cursor_execute`.
pub(crate) fn start_info(statement: &str, params: Value) -> Info {
    let mut db = Map::with_capacity(2);
    db.insert("statement".to_owned(), Value::String(statement.to_owned()));
    db.insert("params".to_owned(), params);
    let mut info = Info::new();
    info.insert("db".to_owned(), Value::Object(db));
    info
}

/// Python's `handle_error` info: `etype` is the failed exception's class, `message` and
/// `db.original_exception` its text, `db.chained_exception` the text of its cause (`""` when
/// it has none).
pub fn error_info(etype: &str, original: String, chained: String) -> Info {
    let mut db = Map::with_capacity(2);
    db.insert(
        "original_exception".to_owned(),
        Value::String(original.clone()),
    );
    db.insert("chained_exception".to_owned(), Value::String(chained));
    let mut info = osprofiler_core::error_info(etype, original);
    info.insert("db".to_owned(), Value::Object(db));
    info
}

/// The error info of any sqlx error, for databases without a better one: `etype`
/// `sqlx::Error::<Variant>` (the database error's type name can't be read from a `dyn`), the
/// message of a database error as the server gave it (else the error's `Display`), and the
/// error's source as the chained exception.
pub fn generic_error_info(error: &sqlx::Error) -> Info {
    match error {
        sqlx::Error::Database(db) => error_info(
            "sqlx::Error::Database",
            db.message().to_owned(),
            source_text(db.source()),
        ),
        other => error_info(
            &variant_etype(other),
            other.to_string(),
            source_text(other.source()),
        ),
    }
}

/// `sqlx::Error::<Variant>`, the variant read from the derived `Debug` (sqlx has no accessor).
pub(crate) fn variant_etype(error: &sqlx::Error) -> String {
    let debug = format!("{error:?}");
    let variant: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if variant.is_empty() {
        "sqlx::Error".to_owned()
    } else {
        format!("sqlx::Error::{variant}")
    }
}

/// Python's `str(cause) if cause else ''`.
pub(crate) fn source_text(source: Option<&(dyn std::error::Error + 'static)>) -> String {
    source.map(|s| s.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_info_has_pythons_nesting() {
        let info = start_info("SELECT ?", Value::from(vec![1]));
        assert_eq!(
            Value::Object(info).to_string(),
            r#"{"db":{"statement":"SELECT ?","params":[1]}}"#
        );
    }

    #[test]
    fn error_info_has_pythons_keys_in_order() {
        let info = error_info("sqlite3.OperationalError", "boom".into(), String::new());
        assert_eq!(
            Value::Object(info).to_string(),
            r#"{"etype":"sqlite3.OperationalError","message":"boom","db":{"original_exception":"boom","chained_exception":""}}"#
        );
    }

    #[test]
    fn other_errors_name_their_variant_and_cause() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        let info = generic_error_info(&io);
        assert_eq!(info["etype"], "sqlx::Error::Io");
        assert_eq!(info["message"], io.to_string());
        assert_eq!(info["db"]["chained_exception"], "reset");
        let info = generic_error_info(&sqlx::Error::PoolTimedOut);
        assert_eq!(info["etype"], "sqlx::Error::PoolTimedOut");
        assert_eq!(info["db"]["chained_exception"], "");
    }
}
