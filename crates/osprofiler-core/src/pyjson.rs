//! JSON written as Python's `json.dumps` writes it, so that what we sign, store and print is
//! byte for byte what a Python service or Python's CLI makes of the same value.
//!
//! Two layouts: the compact default of `json.dumps(v)` (`", "` and `": "` separators: signed
//! trace headers, Redis entries, SQL `data`, oslo.messaging bodies) and the indented one of
//! `json.dumps(v, indent=N, separators=(",", ": "))` (the CLI's `trace show --json`). Both
//! escape as `ensure_ascii=True` does (everything outside `' '..='~'`, DEL included, as
//! `\uXXXX`, surrogate pairs above the BMP) and write floats as Python's `repr(float)`
//! (`1e+16`, `1e-05`, `100.0`), where serde_json would write `1e16`, `1e-5`, `100.0`.

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

/// Python's `repr(float)` as `json.dumps` writes it: the shortest round-trip digits, in
/// exponent form (`1e+16`, `1e-05`) below 1e-4 and from 1e16 on, else fixed with at least one
/// fraction digit (`100.0`); `NaN`, `Infinity`, `-Infinity` as Python allows them.
pub fn python_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if v != 0.0 && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let fixed = format!("{v}");
    if fixed.contains('.') {
        fixed
    } else {
        fixed + ".0"
    }
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
        ] {
            assert_eq!(python_float_repr(v), py, "{v}");
        }
    }
}
