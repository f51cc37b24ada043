//! SQLite: parameters read from `SqliteArguments`, errors as `sqlite3`'s message.

use std::any::type_name;
use std::error::Error as _;

use osprofiler_core::Info;
use serde_json::Value;
use sqlx::sqlite::{SqliteArguments, SqliteError};
use sqlx::Sqlite;

use crate::debug_repr::{float_json, hex_bytes, split_top_level, Cursor};
use crate::info::{error_info, generic_error_info, source_text};
use crate::TracedDatabase;

impl TracedDatabase for Sqlite {
    /// A JSON list of the values, as Python's `sqlite3` parameters (a tuple) are recorded:
    /// integers and floats as numbers, text as strings, `NULL` as `null`, blobs as `\x` and
    /// hex. If sqlx's arguments ever stop reading, the list is replaced by their `Debug` text.
    fn params_json(arguments: &SqliteArguments<'_>) -> Value {
        let debug = format!("{arguments:?}");
        match read_values(&debug) {
            Some(values) => Value::Array(values),
            None => Value::String(debug),
        }
    }

    /// A database error as Python's `sqlite3` reports it: `message` and
    /// `original_exception` are SQLite's own message (`UNIQUE constraint failed: t.id`);
    /// `etype` is the Rust type (`sqlx_sqlite::error::SqliteError`), where Python names the
    /// DB-API class (`sqlite3.IntegrityError`), which sqlx does not distinguish.
    fn error_info(error: &sqlx::Error, _statement: &str) -> Info {
        if let sqlx::Error::Database(db) = error {
            if let Some(e) = db.try_downcast_ref::<SqliteError>() {
                return error_info(
                    type_name::<SqliteError>(),
                    sqlx::error::DatabaseError::message(e).to_owned(),
                    source_text(e.source()),
                );
            }
        }
        generic_error_info(error)
    }
}

/// Reads `SqliteArguments { values: [Int(1), Text("a"), Null, ...] }`.
fn read_values(debug: &str) -> Option<Vec<Value>> {
    let mut c = Cursor::new(debug);
    c.seek("values: [")?;
    let list = c.balanced('[', ']')?;
    split_top_level(list).into_iter().map(read_value).collect()
}

fn read_value(item: &str) -> Option<Value> {
    let mut c = Cursor::new(item);
    let variant = c.ident();
    if variant == "Null" {
        return Some(Value::Null);
    }
    c.expect("(")?;
    let value = match variant {
        "Text" => Value::String(c.string()?),
        "Blob" => Value::String(hex_bytes(&c.bytes()?)),
        "Double" => float_json(c.until(')')?.parse().ok()?),
        "Int" | "Int64" => Value::from(c.until(')')?.parse::<i64>().ok()?),
        _ => return None,
    };
    c.expect(")")?;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Arguments as _;

    #[test]
    fn reads_real_arguments() {
        let mut a = SqliteArguments::default();
        a.add(1_i32).unwrap();
        a.add(5_000_000_000_i64).unwrap();
        a.add("it's \"quoted\", [x]").unwrap();
        a.add(Option::<i32>::None).unwrap();
        a.add(1.5_f64).unwrap();
        a.add(f64::INFINITY).unwrap();
        a.add(vec![0_u8, 255]).unwrap();
        a.add(true).unwrap();
        assert_eq!(
            Sqlite::params_json(&a),
            serde_json::json!([
                1,
                5_000_000_000_i64,
                "it's \"quoted\", [x]",
                null,
                1.5,
                "Infinity",
                "\\x00ff",
                1
            ])
        );
        assert_eq!(
            Sqlite::params_json(&SqliteArguments::default()),
            serde_json::json!([])
        );
    }

    #[test]
    fn unreadable_text_is_kept_verbatim() {
        assert_eq!(read_values("SqliteArguments { values: [Odd(1)] }"), None);
        assert_eq!(read_values("something else"), None);
    }
}
