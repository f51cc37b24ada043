//! Reading back the derived `Debug` output of sqlx's argument types, the only public view of
//! a statement's bound values (their fields are private to sqlx).
//!
//! The shapes read are those of sqlx 0.8 (`Int(1)`, `Text("a")`, `[0, 0, 0, 4]`); unit tests
//! build real arguments through sqlx and check they still read, so an sqlx update that
//! changes them fails the tests instead of silently recording garbage. Whatever does not
//! read is reported as `None` and the caller falls back to the raw text.

/// A cursor over `Debug` text.
pub(crate) struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { rest: text }
    }

    /// Moves past the first occurrence of `marker`.
    pub(crate) fn seek(&mut self, marker: &str) -> Option<()> {
        let at = self.rest.find(marker)?;
        self.rest = &self.rest[at + marker.len()..];
        Some(())
    }

    /// Moves past `literal` if the text continues with it.
    pub(crate) fn eat(&mut self, literal: &str) -> bool {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Like [`Cursor::eat`], as an `Option` for `?`.
    pub(crate) fn expect(&mut self, literal: &str) -> Option<()> {
        self.eat(literal).then_some(())
    }

    /// An identifier (letters, digits, `_`), possibly empty.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // SQLite's values only
    pub(crate) fn ident(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let (ident, rest) = self.rest.split_at(end);
        self.rest = rest;
        ident
    }

    /// The text up to (not including) the first `end`.
    pub(crate) fn until(&mut self, end: char) -> Option<&'a str> {
        let at = self.rest.find(end)?;
        let (text, rest) = self.rest.split_at(at);
        self.rest = rest;
        Some(text)
    }

    /// Text up to the `close` that balances an already consumed opening bracket, skipping
    /// nested brackets and string literals; the `close` is consumed too.
    pub(crate) fn balanced(&mut self, open: char, close: char) -> Option<&'a str> {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        for (i, c) in self.rest.char_indices() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            if c == '"' {
                in_string = true;
            } else if c == open {
                depth += 1;
            } else if c == close {
                if depth == 0 {
                    let inner = &self.rest[..i];
                    self.rest = &self.rest[i + c.len_utf8()..];
                    return Some(inner);
                }
                depth -= 1;
            }
        }
        None
    }

    /// A string literal as `Debug` for `str` writes it, unescaped.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // SQLite's values only
    pub(crate) fn string(&mut self) -> Option<String> {
        self.expect("\"")?;
        let mut out = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Some(out);
                }
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        '\\' | '"' | '\'' => out.push(e),
                        'u' => {
                            if chars.next()?.1 != '{' {
                                return None;
                            }
                            let mut hex = String::new();
                            loop {
                                let (_, h) = chars.next()?;
                                if h == '}' {
                                    break;
                                }
                                hex.push(h);
                            }
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        _ => return None,
                    }
                }
                c => out.push(c),
            }
        }
        None
    }

    /// A list of bytes as `Debug` for `[u8]` writes it: `[0, 12, 255]`.
    pub(crate) fn bytes(&mut self) -> Option<Vec<u8>> {
        self.expect("[")?;
        let inner = self.until(']')?;
        self.expect("]")?;
        if inner.trim().is_empty() {
            return Some(Vec::new());
        }
        inner.split(',').map(|b| b.trim().parse().ok()).collect()
    }
}

/// Splits `text` at its top-level `", "` separators (outside brackets and strings).
pub(crate) fn split_top_level(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        items.push(last);
    }
    items
}

/// `\x` and lower-case hex: how PostgreSQL shows `bytea`, and how a blob is recorded (JSON
/// has no bytes; Python's `json.dumps` would fail on them).
pub(crate) fn hex_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("\\x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A float as JSON: a number when finite, else Python's spelling as a string (`NaN`,
/// `Infinity`, `-Infinity`; JSON has no such numbers).
pub(crate) fn float_json(f: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => serde_json::Value::Number(n),
        None if f.is_nan() => "NaN".into(),
        None if f > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_back_as_debug_wrote_them() {
        for s in [
            "plain",
            "quote \" and \\ back",
            "tab\tnl\n\r\0",
            "é ✓ \u{1b} \u{301}",
            "",
        ] {
            let debug = format!("{s:?} rest");
            let mut c = Cursor::new(&debug);
            assert_eq!(c.string().as_deref(), Some(s), "{debug}");
            assert!(c.eat(" rest"));
        }
        assert_eq!(Cursor::new("\"unterminated").string(), None);
    }

    #[test]
    fn bytes_and_lists() {
        let v: Vec<u8> = vec![0, 1, 255];
        let debug = format!("{v:?}");
        assert_eq!(Cursor::new(&debug).bytes(), Some(v));
        assert_eq!(Cursor::new("[]").bytes(), Some(vec![]));
        assert_eq!(
            split_top_level(r#"Int(1), Text("a, (b"), Blob([1, 2]), Null"#),
            [r#"Int(1)"#, r#"Text("a, (b")"#, "Blob([1, 2])", "Null"]
        );
        let mut c = Cursor::new(r#"(a("x)"), b) tail"#);
        assert!(c.eat("("));
        assert_eq!(c.balanced('(', ')'), Some(r#"a("x)"), b"#));
        assert!(c.eat(" tail"));
    }

    #[test]
    fn floats_and_blobs() {
        assert_eq!(float_json(1.5), serde_json::json!(1.5));
        assert_eq!(float_json(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(
            float_json(f64::NEG_INFINITY),
            serde_json::json!("-Infinity")
        );
        assert_eq!(hex_bytes(&[0, 171]), "\\x00ab");
    }
}
