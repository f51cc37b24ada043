//! PostgreSQL: parameters decoded from `PgArguments` (binary format), errors as libpq
//! (hence psycopg2) prints them.

use std::any::type_name;
use std::error::Error as _;
use std::fmt::Write as _;

use osprofiler_core::Info;
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgDatabaseError, PgErrorPosition};
use sqlx::Postgres;

use crate::debug_repr::{float_json, hex_bytes, split_top_level, Cursor};
use crate::info::{error_info, generic_error_info, source_text};
use crate::TracedDatabase;

impl TracedDatabase for Postgres {
    /// A JSON list of the values in `$1, $2, ...` order (Python's psycopg2 records a dict
    /// keyed by its `%(name)s` placeholders; sqlx's are positional). Decoded from their
    /// binary form: booleans and numbers as JSON numbers (`numeric` as a decimal string),
    /// text, `uuid`, dates and times as strings (Python's `str()` of the value), `json` and
    /// `jsonb` as JSON, `bytea` as `\x` and hex, `NULL` as `null`; any other type as
    /// `"<TypeName>"`. If sqlx's arguments ever stop reading, the list is replaced by their
    /// `Debug` text.
    fn params_json(arguments: &PgArguments) -> Value {
        let debug = format!("{arguments:?}");
        match read_arguments(&debug) {
            Some(values) => Value::Array(values),
            None => Value::String(debug),
        }
    }

    /// A database error as psycopg2 reports it: `message` and `original_exception` are the
    /// server's error as libpq formats it (the message, the `LINE n:` excerpt with its caret,
    /// `DETAIL:`, `HINT:`, `QUERY:`, `CONTEXT:` lines). `etype` is the Rust type
    /// (`sqlx_postgres::error::PgDatabaseError`) where Python names psycopg2's class for the
    /// SQLSTATE (`psycopg2.errors.UniqueViolation`).
    fn error_info(error: &sqlx::Error, statement: &str) -> Info {
        if let sqlx::Error::Database(db) = error {
            if let Some(e) = db.try_downcast_ref::<PgDatabaseError>() {
                let message = libpq_message(e, statement);
                return error_info(
                    type_name::<PgDatabaseError>(),
                    message,
                    source_text(e.source()),
                );
            }
        }
        generic_error_info(error)
    }
}

/// Reads `PgArguments { types: [PgTypeInfo(Int4), ...], buffer: PgArgumentBuffer { buffer:
/// [0, 0, 0, 4, ...], ... } }` and decodes each value (`i32` length, `-1` for NULL, then
/// the bytes).
fn read_arguments(debug: &str) -> Option<Vec<Value>> {
    let mut c = Cursor::new(debug);
    c.seek("types: [")?;
    let types = c.balanced('[', ']')?;
    c.seek("buffer: PgArgumentBuffer { buffer: ")?;
    let buffer = c.bytes()?;
    let mut rest = buffer.as_slice();
    split_top_level(types)
        .into_iter()
        .map(|t| {
            let name = t.strip_prefix("PgTypeInfo(")?.strip_suffix(')')?;
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = i32::from_be_bytes(*len);
            if len < 0 {
                rest = tail;
                return Some(Value::Null);
            }
            let len = usize::try_from(len).ok()?;
            if tail.len() < len {
                return None;
            }
            let (value, tail) = tail.split_at(len);
            rest = tail;
            Some(decode(name, value))
        })
        .collect()
}

/// One value in PostgreSQL's binary format, by its sqlx type name.
fn decode(type_name: &str, v: &[u8]) -> Value {
    let unknown = || Value::String(format!("<{type_name}>"));
    let decoded = match type_name {
        "Bool" => v.first().map(|b| Value::Bool(*b != 0)),
        "Char" => v.first().map(|b| Value::from(*b as i8)),
        "Int2" => v
            .try_into()
            .ok()
            .map(|b| Value::from(i16::from_be_bytes(b))),
        "Int4" => v
            .try_into()
            .ok()
            .map(|b| Value::from(i32::from_be_bytes(b))),
        "Oid" => v
            .try_into()
            .ok()
            .map(|b| Value::from(u32::from_be_bytes(b))),
        "Int8" => v
            .try_into()
            .ok()
            .map(|b| Value::from(i64::from_be_bytes(b))),
        "Float4" => v
            .try_into()
            .ok()
            .map(|b| float_json(f32::from_be_bytes(b).into())),
        "Float8" => v.try_into().ok().map(|b| float_json(f64::from_be_bytes(b))),
        "Text" | "Varchar" | "Bpchar" | "Name" | "Unknown" => {
            Some(Value::String(String::from_utf8_lossy(v).into_owned()))
        }
        "Bytea" => Some(Value::String(hex_bytes(v))),
        "Uuid" => <[u8; 16]>::try_from(v)
            .ok()
            .map(|b| Value::String(uuid_text(&b))),
        "Json" => Some(json_text(v)),
        "Jsonb" => v
            .split_first()
            .and_then(|(version, text)| (*version == 1).then(|| json_text(text))),
        "Date" => v
            .try_into()
            .ok()
            .map(|b| Value::String(date_text(i32::from_be_bytes(b).into()))),
        "Time" => v
            .try_into()
            .ok()
            .map(|b| Value::String(time_text(i64::from_be_bytes(b)))),
        "Timestamp" | "Timestamptz" => v.try_into().ok().map(|b| {
            let micros = i64::from_be_bytes(b);
            let days = micros.div_euclid(86_400_000_000);
            let mut s = date_text(days);
            s.push(' ');
            s.push_str(&time_text(micros.rem_euclid(86_400_000_000)));
            if type_name == "Timestamptz" {
                s.push_str("+00:00");
            }
            Value::String(s)
        }),
        "Numeric" => numeric_text(v).map(Value::String),
        _ => None,
    };
    decoded.unwrap_or_else(unknown)
}

fn json_text(text: &[u8]) -> Value {
    let text = String::from_utf8_lossy(text);
    serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
}

fn uuid_text(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// `YYYY-MM-DD` of `days` since 2000-01-01 (PostgreSQL's epoch), proleptic Gregorian.
fn date_text(days: i64) -> String {
    // Howard Hinnant's civil_from_days, shifted from 1970 to 2000.
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `HH:MM:SS[.ffffff]` of microseconds since midnight, as Python's `str(time)`.
fn time_text(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let mut s = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac != 0 {
        let _ = write!(s, ".{frac:06}");
    }
    s
}

/// A `numeric` in binary form (`ndigits`, `weight`, `sign`, `dscale`, base-10000 digits)
/// as decimal text with its scale, as Python's `str(Decimal)` would print it.
fn numeric_text(v: &[u8]) -> Option<String> {
    let word =
        |i: usize| -> Option<i16> { Some(i16::from_be_bytes(v.get(i..i + 2)?.try_into().ok()?)) };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i64::from(word(2)?);
    let sign = word(4)? as u16;
    let dscale = usize::try_from(word(6)?).ok()?;
    let digits: Vec<i64> = (0..ndigits)
        .map(|i| word(8 + 2 * i).map(i64::from))
        .collect::<Option<_>>()?;
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        _ => {}
    }
    let digit = |power: i64| -> i64 {
        usize::try_from(weight - power)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        let _ = write!(s, "{}", digit(weight));
        for power in (0..weight).rev() {
            let _ = write!(s, "{:04}", digit(power));
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut power = -1;
        while frac.len() < dscale {
            let _ = write!(frac, "{:04}", digit(power));
            power -= 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

/// The error text libpq builds (psycopg2's `str(exc)` is this without the `ERROR:  `
/// prefix): the message, the statement excerpt with a caret at the error position, then the
/// `DETAIL:`, `HINT:`, `QUERY:` and `CONTEXT:` fields, each line ending in `\n`.
fn libpq_message(e: &PgDatabaseError, statement: &str) -> String {
    let mut s = String::with_capacity(e.message().len() + 64);
    s.push_str(e.message());
    s.push('\n');
    if let Some(PgErrorPosition::Original(position)) = e.position() {
        error_position(&mut s, statement, position);
    }
    for (label, value) in [
        ("DETAIL", e.detail()),
        ("HINT", e.hint()),
        (
            "QUERY",
            match e.position() {
                Some(PgErrorPosition::Internal { query, .. }) => Some(query),
                _ => None,
            },
        ),
        ("CONTEXT", e.r#where()),
    ] {
        if let Some(value) = value {
            let _ = writeln!(s, "{label}:  {value}");
        }
    }
    s
}

/// libpq's `reportErrorPosition` for lines that fit its 60-column window: `LINE n: <the
/// line>` and a caret under the character at `position` (1-based, in characters). Longer
/// lines, which libpq cuts around the caret with `...`, are left out.
fn error_position(out: &mut String, statement: &str, position: usize) {
    const DISPLAY_SIZE: usize = 60;
    let Some(loc) = position.checked_sub(1) else {
        return;
    };
    let chars: Vec<char> = statement.chars().collect();
    if loc > chars.len() {
        return;
    }
    let (mut line_no, mut line_start) = (1, 0);
    let mut i = 0;
    while i < loc {
        match chars[i] {
            '\r' if chars.get(i + 1) == Some(&'\n') && i + 1 < loc => {
                i += 1;
                line_no += 1;
                line_start = i + 1;
            }
            '\n' | '\r' => {
                line_no += 1;
                line_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let line_end = chars[line_start..]
        .iter()
        .position(|c| matches!(c, '\n' | '\r'))
        .map_or(chars.len(), |n| line_start + n);
    if line_end - line_start > DISPLAY_SIZE {
        return;
    }
    let line: String = chars[line_start..line_end]
        .iter()
        .map(|&c| if c == '\t' { ' ' } else { c })
        .collect();
    let prefix = format!("LINE {line_no}: ");
    let caret_at = prefix.len() + (loc - line_start);
    let _ = writeln!(out, "{prefix}{line}");
    let _ = writeln!(out, "{}^", " ".repeat(caret_at));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sqlx::Arguments as _;

    #[test]
    fn reads_real_arguments() {
        let mut a = PgArguments::default();
        a.add(1_i32).unwrap();
        a.add(7_i64).unwrap();
        a.add("it's \"x\"").unwrap();
        a.add(Option::<String>::None).unwrap();
        a.add(true).unwrap();
        a.add(2.5_f64).unwrap();
        a.add(-3_i16).unwrap();
        a.add(vec![1_u8, 2]).unwrap();
        a.add(vec![1_i32, 2]).unwrap();
        assert_eq!(
            Postgres::params_json(&a),
            json!([
                1,
                7,
                "it's \"x\"",
                null,
                true,
                2.5,
                -3,
                "\\x0102",
                "<Int4Array>"
            ])
        );
        assert_eq!(Postgres::params_json(&PgArguments::default()), json!([]));
    }

    #[test]
    fn dates_times_and_numerics() {
        assert_eq!(date_text(0), "2000-01-01");
        assert_eq!(date_text(-1), "1999-12-31");
        assert_eq!(date_text(9825), "2026-11-25");
        assert_eq!(time_text(3_723_000_042), "01:02:03.000042");
        assert_eq!(time_text(0), "00:00:00");
        // 12345.678 = digits [1, 2345, 6780], weight 1, scale 3
        let mut n = Vec::new();
        for w in [3_i16, 1, 0, 3, 1, 2345, 6780] {
            n.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_text(&n).as_deref(), Some("12345.678"));
        // -0.05 = digits [500], weight -1, scale 2
        let mut n = Vec::new();
        for w in [1_i16, -1, 0x4000, 2, 500] {
            n.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_text(&n).as_deref(), Some("-0.05"));
        assert_eq!(
            decode("Uuid", &[0x12; 16]),
            json!("12121212-1212-1212-1212-121212121212")
        );
        assert_eq!(decode("Jsonb", b"\x01{\"a\": 1}"), json!({"a": 1}));
        assert_eq!(decode("Interval", &[0; 16]), json!("<Interval>"));
    }

    #[test]
    fn caret_under_the_error_position() {
        let mut s = String::new();
        error_position(&mut s, "SELEC 1", 1);
        assert_eq!(s, "LINE 1: SELEC 1\n        ^\n");
        let mut s = String::new();
        // Texts printed by psycopg2 for the same statements.
        error_position(&mut s, "SELECT 1,\n  2 +", 16);
        assert_eq!(s, "LINE 2:   2 +\n             ^\n");
        let mut s = String::new();
        error_position(&mut s, "SELECT\t1 frm\tx", 14);
        assert_eq!(s, "LINE 1: SELECT 1 frm x\n                     ^\n");
        let mut s = String::new();
        error_position(&mut s, &"x".repeat(80), 3);
        assert_eq!(s, "");
    }
}
