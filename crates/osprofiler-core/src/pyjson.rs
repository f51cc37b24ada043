//! JSON written as Python's `json.dumps` writes it, so that what we sign, store and print is
//! byte for byte what a Python service or Python's CLI makes of the same value.
//!
//! Two layouts: the compact default of `json.dumps(v)` (`", "` and `": "` separators: signed
//! trace headers, Redis entries, SQL `data`, oslo.messaging bodies) and the indented one of
//! `json.dumps(v, indent=N, separators=(",", ": "))` (the CLI's `trace show --json`). Both
//! escape as `ensure_ascii=True` does (everything outside `' '..='~'`, DEL included, as
//! `\uXXXX`, surrogate pairs above the BMP) and write floats as Python's `repr(float)`
//! (`1e+16`, `1e-05`, `100.0`), where serde_json would write `1e16`, `1e-5`, `100.0`.
//!
//! And a JSON value as Python prints what `json.loads` makes of it: [`python_str`] (`str()`,
//! what Python's CLI and drivers print into tables, labels and span names) and
//! [`python_repr`].

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// Serializes `value` as Python's `json.dumps(value)`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    // The formatter writes ASCII only.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// Writes `value` as Python's `json.dumps(value)` to `out`.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut ser = Serializer::with_formatter(out, PythonFormatter);
    value.serialize(&mut ser)
}

/// Writes `value` as Python's `json.dumps(value, indent=indent, separators=(",", ": "))`.
pub fn write_pretty<W: Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
    indent: usize,
) -> Result<(), serde_json::Error> {
    let mut ser = Serializer::with_formatter(out, PythonPretty::new(indent));
    value.serialize(&mut ser)
}

/// [`write_pretty`] into a string.
pub fn to_string_pretty<T: Serialize + ?Sized>(
    value: &T,
    indent: usize,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write_pretty(&mut out, value, indent)?;
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// Appends `s` as a Python JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)` as `json.dumps` writes it: the shortest digits that read back to
/// the same float and, of those, the closest to it (a tie to the even digit, as Python's
/// `repr` rounds), in exponent form (`1e+16`, `1e-05`) below 1e-4 and from 1e16 on, else fixed
/// with at least one fraction digit (`100.0`); `NaN`, `Infinity`, `-Infinity` as Python allows
/// them.
pub fn python_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's shortest digits read back, but of two equally short ones they need not be the
    // closest (`1438200321905892.25` gives `...892.3`, Python `...892.2`): the correctly
    // rounded digits of the same length are Python's whenever they read back too.
    let shortest = format!("{v:e}");
    let digits = shortest
        .split('e')
        .next()
        .unwrap_or("")
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    let rounded = format!("{:.*e}", digits.saturating_sub(1), v);
    let sci = if rounded != shortest && rounded.parse::<f64>() == Ok(v) {
        rounded
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if v != 0.0 && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    // Fixed notation from the digits and the exponent.
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Python's `str()` of the value `json.loads` gives for `value`: what `"%s" % v`, `str(v)`,
/// an f-string or `str.format` print, so what Python's CLI and drivers print for a JSON
/// value. A string is itself; `null` is `None`, booleans `True` / `False`; integers as
/// written; floats as Python's `repr(float)` (`1.5`, `100.0`, `1e+16`, `1e-05`); lists and
/// objects as Python's `repr` of a list or dict: `[1, 'a', None]`, `{'k': 'v'}`, strings in
/// them quoted as [`python_repr`] quotes them.
///
/// Integers beyond 64 bits reach here as floats (serde_json reads them so), where Python
/// would print every digit.
pub fn python_str(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of the value `json.loads` gives for `value`: as [`python_str`], but a
/// string is quoted and escaped as Python's `repr(str)` does it: in single quotes, or double
/// quotes when it holds a `'` and no `"`; `\\`, the quote, `\t`, `\n`, `\r` escaped;
/// other characters that are not printable (`str.isprintable()`: Unicode's control, format,
/// private-use, unassigned and separator characters, the space excepted) as `\xNN`,
/// `\uNNNN` or `\UNNNNNNNN`; every other character, non-ASCII included, as it is.
///
/// Printable means printable in the Unicode version of the Rust toolchain that built this:
/// a character assigned after Python's Unicode version (3.11: Unicode 14) is printed as it
/// is, where that Python escapes it.
pub fn python_repr(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&python_float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(str)` (CPython's `unicode_repr`).
fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                let escaped = if n <= 0xff {
                    format!("\\x{n:02x}")
                } else if n <= 0xffff {
                    format!("\\u{n:04x}")
                } else {
                    format!("\\U{n:08x}")
                };
                out.push_str(&escaped);
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable()` of one character: false for Unicode's categories Cc, Cf,
/// Cs, Co, Cn, Zl, Zp and Zs, the ASCII space excepted.
///
/// Rust's `Debug` escaping has the same definition of printable, and escapes a printable
/// character only when it is a grapheme extender (a combining mark, ...) at the start of a
/// string: so `c` is printable exactly when `"a"` followed by `c` comes out unescaped.
fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let mut buf = [0u8; 5];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    std::str::from_utf8(&buf[..len]).is_ok_and(|s| s.escape_debug().count() == 2)
}

/// Writes a run of plain string characters, escaping what `ensure_ascii` escapes (serde_json
/// hands control characters, quotes and backslashes to [`write_escape`]).
fn write_fragment<W: ?Sized + Write>(w: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        if (c as u32) <= 0x7e {
            continue;
        }
        w.write_all(&fragment.as_bytes()[start..i])?;
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            write!(w, "\\u{unit:04x}")?;
        }
        start = i + c.len_utf8();
    }
    w.write_all(&fragment.as_bytes()[start..])
}

fn write_escape<W: ?Sized + Write>(w: &mut W, escape: CharEscape) -> io::Result<()> {
    match escape {
        CharEscape::Quote => w.write_all(b"\\\""),
        CharEscape::ReverseSolidus => w.write_all(b"\\\\"),
        CharEscape::Solidus => w.write_all(b"/"),
        CharEscape::Backspace => w.write_all(b"\\b"),
        CharEscape::FormFeed => w.write_all(b"\\f"),
        CharEscape::LineFeed => w.write_all(b"\\n"),
        CharEscape::CarriageReturn => w.write_all(b"\\r"),
        CharEscape::Tab => w.write_all(b"\\t"),
        CharEscape::AsciiControl(b) => write!(w, "\\u{b:04x}"),
    }
}

/// serde_json formatter with `json.dumps`' default layout: `", "` and `": "` separators.
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_fragment(w, fragment)
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        write_escape(w, escape)
    }
}

/// serde_json formatter with the layout of `json.dumps(v, indent=N, separators=(",", ": "))`:
/// one item per line, empty containers as `[]` and `{}`.
#[derive(Debug, Clone)]
pub struct PythonPretty {
    indent: usize,
    level: usize,
    has_value: bool,
}

impl PythonPretty {
    /// `indent` spaces per level.
    pub fn new(indent: usize) -> Self {
        PythonPretty {
            indent,
            level: 0,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        // A newline and the indent in as few writes as possible: this runs once per item.
        const SPACES: &[u8; 129] = &[b' '; 129];
        let mut left = self.level * self.indent;
        let first = left.min(128);
        let mut line = [0u8; 129];
        line[0] = b'\n';
        line[1..=first].copy_from_slice(&SPACES[..first]);
        w.write_all(&line[..=first])?;
        left -= first;
        while left > 0 {
            let n = left.min(129);
            w.write_all(&SPACES[..n])?;
            left -= n;
        }
        Ok(())
    }
}

impl Formatter for PythonPretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_fragment(w, fragment)
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        write_escape(w, escape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        let v = json!({"base_id": "x", "n": [1, 2], "u": "kéy\u{1f600}\u{7f}\n", "f": 1e16});
        // Python: json.dumps({"base_id": "x", "n": [1, 2], "u": "kéy😀\x7f\n", "f": 1e16})
        assert_eq!(
            to_string(&v).unwrap(),
            r#"{"base_id": "x", "n": [1, 2], "u": "k\u00e9y\ud83d\ude00\u007f\n", "f": 1e+16}"#
        );
        let mut s = String::new();
        write_str(&mut s, "kéy\u{1f600}\u{7f}\n\"");
        assert_eq!(s, r#""k\u00e9y\ud83d\ude00\u007f\n\"""#);
    }

    #[test]
    fn indented_layout_matches_python() {
        // Python: json.dumps(v, indent=2, separators=(",", ": "))
        let v = json!({"a": [1, {"b": []}, {}], "é": "x\u{1f600}\u{7f}\"\n", "n": null, "f": 1.5});
        assert_eq!(
            to_string_pretty(&v, 2).unwrap(),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    },\n    {}\n  ],\n  \"\\u00e9\": \"x\\ud83d\\ude00\\u007f\\\"\\n\",\n  \"n\": null,\n  \"f\": 1.5\n}"
        );
        assert_eq!(to_string_pretty(&json!([]), 2).unwrap(), "[]");
        // Indents past one write's worth of spaces.
        let deep = (0..70).fold(json!(1), |v, _| json!([v]));
        let text = to_string_pretty(&deep, 2).unwrap();
        assert!(
            text.contains(&format!("\n{}1\n", " ".repeat(140))),
            "{text}"
        );
        assert_eq!(to_string_pretty(&json!({}), 4).unwrap(), "{}");
    }

    /// Expected strings printed by Python 3.11: `str(json.loads(json_text))`.
    #[test]
    fn str_of_values_as_python() {
        for (json_text, py) in [
            ("null", "None"),
            ("true", "True"),
            ("false", "False"),
            ("12", "12"),
            ("-7", "-7"),
            ("18446744073709551615", "18446744073709551615"),
            ("1.5", "1.5"),
            ("1e16", "1e+16"),
            ("0.00001", "1e-05"),
            ("100.0", "100.0"),
            (r#""text""#, "text"),
            (r#""it's""#, "it's"),
            (
                r#"[1, "a", null, true, 1.5, {"k": "v"}, [], {}]"#,
                "[1, 'a', None, True, 1.5, {'k': 'v'}, [], {}]",
            ),
            (
                r#"{"it's": "say \"hi\"", "both": "'\"", "dq": "\""}"#,
                r#"{"it's": 'say "hi"', 'both': '\'"', 'dq': '"'}"#,
            ),
            (
                r#"["tab\tnl\ncr\r\\ bell\u0007 esc\u001b del\u007f c1\u0085"]"#,
                r#"['tab\tnl\ncr\r\\ bell\x07 esc\x1b del\x7f c1\x85']"#,
            ),
            (
                r#"["\u00e9\u65e5\ud83d\ude00 nbsp\u00a0 shy\u00ad zw\u200b ls\u2028 pua\ue000 \udb80\udc00 e\u0301 bom\ufeff \u3000"]"#,
                "['\u{e9}\u{65e5}\u{1f600} nbsp\\xa0 shy\\xad zw\\u200b ls\\u2028 pua\\ue000 \\U000f0000 e\u{301} bom\\ufeff \\u3000']",
            ),
            (
                r#"{"a": {"b": [1e+16, -0.0, 1e-05]}}"#,
                "{'a': {'b': [1e+16, -0.0, 1e-05]}}",
            ),
        ] {
            let value: serde_json::Value = serde_json::from_str(json_text).unwrap();
            assert_eq!(python_str(&value), py, "{json_text}");
        }
        assert_eq!(python_repr(&json!("it's")), r#""it's""#);
        assert_eq!(python_repr(&json!("x")), "'x'");
    }

    /// A combining mark is printable (as Python has it), at the start of a string too.
    #[test]
    fn combining_marks_are_printable() {
        assert!(is_printable('\u{301}'));
        assert_eq!(python_repr(&json!("\u{301}")), "'\u{301}'");
        assert!(!is_printable('\u{85}') && !is_printable('\u{a0}') && is_printable('é'));
    }

    #[test]
    fn floats_as_python_repr() {
        for (v, py) in [
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.2345e-7, "1.2345e-07"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (123.456, "123.456"),
            (0.000123, "0.000123"),
            (5e-324, "5e-324"),
            (1e22, "1e+22"),
        ] {
            assert_eq!(python_float_repr(v), py, "{v}");
        }
        // Floats written exactly (more digits than a literal may have).
        for (text, py) in [
            // Two shortest candidates equally close: Python's repr takes the even digit.
            ("1438200321905892.25", "1438200321905892.2"),
            ("9007199254740993", "9007199254740992.0"),
        ] {
            let v: f64 = text.parse().unwrap();
            assert_eq!(python_float_repr(v), py, "{text}");
        }
    }
}
