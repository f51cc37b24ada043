//! Reading a JSON list of notifications in pieces, so that several threads can read one list.
//!
//! [`scan_part`] validates a run of list elements exactly as `serde_json` would (an element is
//! what `serde_json` reads as a `&RawValue`: any JSON value, nested to any depth) and, in the
//! same pass, reads each notification's [`Head`]. `serde_json` would first validate an
//! element and then [`Head::parse`] would read it again; doing both at once halves the bytes
//! touched, and a hand-written loop over bytes (strings eight bytes at a time) is what makes
//! the pass fast.
//!
//! The scanner may refuse what `serde_json` accepts (callers then read the whole list with
//! `serde_json`, which also words the error), but must never accept what `serde_json`
//! refuses: the test at the bottom holds it to `serde_json` on random texts. Where
//! [`Head::parse`]'s skimmer would hand a notification to `serde_json` (an escape in a key
//! or in a field it returns), the scanner returns no head and the caller calls
//! [`Head::parse`] on the element, so heads are exactly what [`Head::parse`] gives.
//!
//! [`boundaries`] guesses where elements start, to cut a list into pieces before anyone has
//! read it: a guess inside a string or a nested list is found out when the piece before it
//! ends elsewhere, and then that piece is read again from the right place (see
//! `super::read_list`).

use std::borrow::Cow;

use super::head::{Head, InfoHead, Text};

/// How a run of elements read by [`scan_part`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// At a `,`: the next element starts at this offset (at or after the `stop` given).
    Next(usize),
    /// The list's `]`, followed by nothing but whitespace.
    Done,
}

/// Where the elements of the list in `text` start: `Some(Some(offset))` of the first element,
/// `Some(None)` for an empty list (whitespace, `[`, `]`, whitespace, end of text), `None`
/// when `text` is not a list (or anything the scanner does not read).
pub(super) fn list_start(text: &str) -> Option<Option<usize>> {
    let mut s = Scanner::new(text, 0);
    s.ws();
    s.eat(b'[')?;
    s.ws();
    if s.peek()? != b']' {
        return Some(Some(s.i));
    }
    s.i += 1;
    s.ws();
    (s.i == text.len()).then_some(None)
}

/// Reads the list elements of `text` from `start` (the first byte of an element) on, calling
/// `each(start, len, head)` for each: its offset and length (the text `serde_json` would give
/// as a `&RawValue`), and its head, or `None` when [`Head::parse`] must read it. Stops once
/// an element ends whose successor starts at or after `stop`, or at the end of the list.
/// `None` when the text is not valid JSON there (or not what the scanner reads).
pub(super) fn scan_part<'t>(
    text: &'t str,
    start: usize,
    stop: usize,
    mut each: impl FnMut(usize, usize, Option<Head<'t>>),
) -> Option<End> {
    let mut s = Scanner::new(text, start);
    loop {
        let at = s.i;
        let head = s.element()?;
        each(at, s.i - at, head);
        s.ws();
        match s.peek()? {
            b',' => {
                s.i += 1;
                s.ws();
                if s.i >= stop {
                    return Some(End::Next(s.i));
                }
            }
            b']' => {
                s.i += 1;
                s.ws();
                return (s.i == text.len()).then_some(End::Done);
            }
            _ => return None,
        }
    }
}

/// Guesses where to cut the list into about `pieces` pieces: offsets of elements' first
/// bytes, increasing, the first being `first`. A guess is a `{` after a `,` after a `}`
/// (whitespace allowed between), whose next bytes are those of the first element up to the
/// end of its first key (`{"name"`): a place where an element very likely starts, but only
/// reading the list up to there can tell (see the module's documentation).
pub(super) fn boundaries(text: &str, first: usize, pieces: usize) -> Vec<usize> {
    /// How far past each even cut a guess is looked for before giving up that cut.
    const SEARCH: usize = 1 << 20;
    let b = text.as_bytes();
    let prefix = first_key_prefix(text, first);
    let mut cuts = vec![first];
    let span = b.len().saturating_sub(first);
    for k in 1..pieces {
        let target = first + span / pieces * k;
        let from = target.max(cuts.last().map_or(0, |&c| c + 1));
        if let Some(at) = find_element_start(b, from, from.saturating_add(SEARCH), prefix) {
            cuts.push(at);
        }
    }
    cuts
}

/// The bytes from `{` to the end of the first element's first key, when it is an object with
/// a plain first key (else just `{`).
fn first_key_prefix(text: &str, first: usize) -> &[u8] {
    let b = text.as_bytes();
    let mut s = Scanner::new(text, first);
    let mut whole = || -> Option<usize> {
        s.eat(b'{')?;
        s.ws();
        s.eat(b'"')?;
        let (_, escaped) = s.string_end()?;
        (!escaped && s.i - first <= 64).then_some(s.i)
    };
    match whole() {
        Some(end) => b.get(first..end).unwrap_or(b"{"),
        None => b"{",
    }
}

/// The first `{` in `from..until` that follows `}` `,` (whitespace allowed) and starts with
/// `prefix`.
fn find_element_start(b: &[u8], from: usize, until: usize, prefix: &[u8]) -> Option<usize> {
    let until = until.min(b.len());
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = from;
    while i < until {
        let comma = i + b.get(i..until)?.iter().position(|&c| c == b',')?;
        i = comma + 1;
        let before = b.get(..comma)?.iter().rev().find(|c| !is_ws(c));
        if before != Some(&b'}') {
            continue;
        }
        let after = comma + 1 + b.get(comma + 1..)?.iter().take_while(|c| is_ws(c)).count();
        if b.get(after..)?.starts_with(prefix) {
            return Some(after);
        }
    }
    None
}

/// The keys of a notification read by [`Scanner::known_key`]: those a report needs, and
/// `base_id` (which every notification has).
const TOP_KEYS: &[&str] = &[
    "name",
    "base_id",
    "trace_id",
    "parent_id",
    "timestamp",
    "info",
    "project",
    "service",
];

/// The keys of `info` read by [`Scanner::known_key`].
const INFO_KEYS: &[&str] = &["host", "etype"];

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Flags the bytes of `w` that end a run of plain string bytes: `"`, `\` and control bytes
/// (below 0x20, which JSON strings may not hold raw). Only the lowest flag is exact, which is
/// all that is used.
#[inline]
fn string_stops(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (quote | backslash | control) & HIGHS
}

struct Scanner<'t> {
    text: &'t str,
    b: &'t [u8],
    i: usize,
    /// The open containers while skipping a value (`{` or `[`); kept to reuse its memory.
    stack: Vec<u8>,
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str, at: usize) -> Self {
        Scanner {
            text,
            b: text.as_bytes(),
            i: at,
            stack: Vec::new(),
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// After an opening quote: moves past the closing quote, checking escapes as
    /// `serde_json` does (`\u` and four hex digits; unpaired surrogates are its reader's
    /// business). Returns where the contents end and whether they hold escapes. Inlined:
    /// a notification has twenty-odd strings, mostly short, and a call cost a third of this.
    #[inline(always)]
    fn string_end(&mut self) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            let mut i = self.i;
            while let Some(chunk) = self.b.get(i..i + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                let stops = string_stops(u64::from_le_bytes(w));
                if stops != 0 {
                    i += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            while let Some(&c) = self.b.get(i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                i += 1;
            }
            match self.b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some((i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i = i + 2;
                    match self.b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(i + 2..i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i = i + 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - from
    }

    /// A number, as `serde_json` takes it: `-`, no leading zeros, a fraction and an exponent
    /// with at least one digit each.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// At `"`: a key and its `:`, whitespace after it skipped. Returns the key's raw text and
    /// whether it holds escapes.
    #[inline]
    fn key(&mut self) -> Option<(&'t str, bool)> {
        self.eat(b'"')?;
        let from = self.i;
        let (end, escaped) = self.string_end()?;
        let key = self.text.get(from..end)?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        Some((key, escaped))
    }

    /// At `"`: a key of `keys` and its `:` (whitespace after it skipped), found by comparing
    /// bytes, or `None` (nothing consumed) for any other key. Most keys of most
    /// notifications are these, and comparing a few bytes costs far less than scanning a
    /// string; a key equal to one of these has no escapes.
    #[inline]
    fn known_key(&mut self, keys: &[&'static str]) -> Option<&'static str> {
        if self.peek()? != b'"' {
            return None;
        }
        let rest = self.b.get(self.i + 1..)?;
        let first = *rest.first()?;
        let key = keys.iter().find(|k| {
            let k = k.as_bytes();
            k[0] == first && rest.get(k.len()) == Some(&b'"') && rest.starts_with(k)
        })?;
        let at = self.i;
        self.i += key.len() + 2;
        self.ws();
        if self.eat(b':').is_none() {
            self.i = at;
            return None;
        }
        self.ws();
        Some(key)
    }

    /// Skips one value (whitespace before it already skipped), validating it.
    fn skip(&mut self) -> Option<()> {
        let base = self.stack.len();
        loop {
            // At a value.
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    self.string_end()?;
                }
                open @ (b'{' | b'[') => {
                    self.i += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.i += 1;
                    } else {
                        self.stack.push(open);
                        if open == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a value: close what ends here, or move to the next value.
            loop {
                let &open = match self.stack.get(base..)?.last() {
                    Some(open) => open,
                    None => return Some(()),
                };
                self.ws();
                match (self.peek()?, open) {
                    (b',', _) => {
                        self.i += 1;
                        self.ws();
                        if open == b'{' {
                            self.key()?;
                        }
                        break;
                    }
                    (b'}', b'{') | (b']', b'[') => {
                        self.i += 1;
                        self.stack.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Skips one value and returns its text.
    #[inline]
    fn value_text(&mut self) -> Option<&'t str> {
        let from = self.i;
        self.skip()?;
        self.text.get(from..self.i)
    }

    /// A value where a string is expected, as [`Head`] keeps it; `plain` is cleared when the
    /// string holds escapes.
    fn text_field(&mut self, plain: &mut bool) -> Option<Text<'t>> {
        if self.peek()? == b'"' {
            self.i += 1;
            let from = self.i;
            let (end, escaped) = self.string_end()?;
            *plain &= !escaped;
            return Some(Text::Str(Cow::Borrowed(self.text.get(from..end)?)));
        }
        let first = self.peek()?;
        self.skip()?;
        Some(match first {
            b'n' => Text::Null,
            b't' | b'f' => Text::Other("a boolean"),
            b'{' => Text::Other("an object"),
            b'[' => Text::Other("an array"),
            _ => Text::Other("a number"),
        })
    }

    /// `info`: its `host` and `etype` when it is an object.
    fn info(&mut self, plain: &mut bool) -> Option<InfoHead<'t>> {
        if self.peek()? != b'{' {
            self.skip()?;
            return Some(InfoHead::default());
        }
        self.i += 1;
        let mut info = InfoHead {
            is_object: true,
            ..InfoHead::default()
        };
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(info);
        }
        loop {
            let key = match self.known_key(INFO_KEYS) {
                Some(key) => key,
                None => {
                    let (key, escaped) = self.key()?;
                    *plain &= !escaped;
                    key
                }
            };
            match key {
                "host" => info.host = Some(self.value_text()?),
                "etype" => info.etype = Some(self.value_text()?),
                _ => self.skip()?,
            }
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(info);
                }
                _ => return None,
            }
        }
    }

    /// One list element (at its first byte), validated; its head when it is an object the
    /// skimmer of [`Head::parse`] would read (no escapes in keys or in returned strings).
    fn element(&mut self) -> Option<Option<Head<'t>>> {
        if self.peek()? != b'{' {
            self.skip()?;
            return Some(None);
        }
        self.i += 1;
        let mut head = Head {
            is_object: true,
            ..Head::default()
        };
        let mut plain = true;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(Some(head));
        }
        loop {
            let key = match self.known_key(TOP_KEYS) {
                Some(key) => key,
                None => {
                    let (key, escaped) = self.key()?;
                    plain &= !escaped;
                    key
                }
            };
            // A key with escapes matches none of these (they have no backslash).
            match key {
                "name" => head.name = Some(self.text_field(&mut plain)?),
                "trace_id" => head.trace_id = Some(self.text_field(&mut plain)?),
                "parent_id" => head.parent_id = Some(self.text_field(&mut plain)?),
                "timestamp" => head.timestamp = Some(self.text_field(&mut plain)?),
                "project" => head.project = Some(self.value_text()?),
                "service" => head.service = Some(self.value_text()?),
                "info" => head.info = Some(self.info(&mut plain)?),
                _ => self.skip()?,
            }
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(plain.then_some(head));
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    /// What `serde_json` makes of a list: its elements' spans, or an error.
    fn serde_spans(text: &str) -> Option<Vec<(usize, usize)>> {
        let list: Vec<&RawValue> = serde_json::from_str(text).ok()?;
        let base = text.as_ptr() as usize;
        Some(
            list.iter()
                .map(|r| (r.get().as_ptr() as usize - base, r.get().len()))
                .collect(),
        )
    }

    /// What the scanner makes of a whole list, in one part; heads summarised.
    fn scanned(text: &str) -> Option<Vec<(usize, usize, Option<String>)>> {
        let mut out = Vec::new();
        match list_start(text)? {
            None => Some(out),
            Some(first) => {
                let end = scan_part(text, first, usize::MAX, |at, len, head| {
                    out.push((at, len, head.map(|h| summary(&h))));
                })?;
                (end == End::Done).then_some(out)
            }
        }
    }

    fn summary(h: &Head<'_>) -> String {
        format!("{h:?}")
    }

    fn check(text: &str) -> Result<(), TestCaseError> {
        let serde = serde_spans(text);
        let ours = scanned(text);
        prop_assert_eq!(ours.is_some(), serde.is_some(), "{:?}", text);
        if let Some(ours) = &ours {
            let serde = serde.as_ref();
            let spans: Vec<_> = ours.iter().map(|(a, l, _)| (*a, *l)).collect();
            prop_assert_eq!(Some(&spans), serde);
            for (at, len, head) in ours {
                let json = &text[*at..*at + len];
                let reference = Head::parse(json).map(|h| summary(&h)).ok();
                if let Some(head) = head {
                    prop_assert_eq!(Some(head), reference.as_ref(), "{}", json);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn reads_lists_as_serde_does() {
        for text in [
            "[]",
            " [ ] ",
            "[1]",
            "[ 1 , -0.5e+3 , true,false ,null, \"a\\u00e9\\n\", [], {}, [[]], {\"a\":{}} ]\n",
            r#"[{"name":"db-start","trace_id":"t","info":{"host":"h","etype":null,"x":[1,{"y":2}]},"project":"p","service":7}]"#,
            r#"[{"na\u006de":"x"},{"name":"a\"b"},{"info":{"ho\u0073t":1}}]"#,
        ] {
            assert!(scanned(text).is_some(), "{text}");
            check(text).unwrap();
        }
        for bad in [
            "",
            "[",
            "[1,]",
            "[1 2]",
            "[01]",
            "[1.]",
            "[1e]",
            "[-]",
            "[nul]",
            "[truex]",
            "[\"\t\"]",
            "[\"\\x\"]",
            "[\"\\u12g4\"]",
            "[{\"a\"}]",
            "[{\"a\":1,}]",
            "[{1:2}]",
            "[[1}]",
            "[{\"a\":1]]",
            "[1] x",
            "[1],",
            "[\"abc]",
            "[{ \\name\": 1}]",
        ] {
            assert!(scanned(bad).is_none(), "{bad:?}");
            check(bad).unwrap();
        }
    }

    #[test]
    fn parts_end_where_the_next_element_starts() {
        let text = r#"[{"a":1}, {"b":[2,3]} ,{"c":"}, {"}]"#;
        let mut seen = Vec::new();
        let end = scan_part(text, 1, 11, |at, _, _| seen.push(at)).unwrap();
        assert_eq!((seen.as_slice(), end), (&[1, 10][..], End::Next(23)));
        assert_eq!(scan_part(text, 23, 30, |_, _, _| {}), Some(End::Done));
        // Guesses: only the real element starts with the first element's opening.
        assert_eq!(boundaries(text, 1, 4), [1]);
        let text = r#"[{"a":1}, {"a":[2,3]} ,{"a":"}, {\"a\":"}]"#;
        assert_eq!(boundaries(text, 1, 3), [1, 23]);
        let prefix = first_key_prefix(text, 1);
        assert_eq!(prefix, br#"{"a""#);
        assert_eq!(find_element_start(text.as_bytes(), 2, 99, prefix), Some(10));
        assert_eq!(find_element_start(text.as_bytes(), 24, 99, prefix), None);
    }

    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|i| i.to_string()),
            (-1e6f64..1e6).prop_map(|f| f.to_string()),
            r#"[a-z"\\{}\[\],: \né😀]{0,12}"#.prop_map(|s| serde_json::to_string(&s).unwrap()),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("name"),
            Just("trace_id"),
            Just("parent_id"),
            Just("timestamp"),
            Just("project"),
            Just("service"),
            Just("info"),
            Just("host"),
            Just("etype"),
            Just("na\\u006de"),
            Just("a\\\"b"),
        ]
        .prop_map(|k| format!("\"{k}\""))
    }

    /// JSON texts, valid ones and nearly valid ones (a byte changed, cut short).
    fn value() -> impl Strategy<Value = String> {
        leaf().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((key(), inner), 0..6).prop_map(|kv| {
                    let kv: Vec<String> =
                        kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{ {} }}", kv.join(" ,"))
                }),
            ]
        })
    }

    fn damage(s: String, at: usize, with: char, cut: bool) -> String {
        if s.is_empty() {
            return s;
        }
        let mut at = at % s.len();
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        if cut {
            return s[..at].to_owned();
        }
        let mut out = s[..at].to_owned();
        out.push(with);
        let rest = &s[at..];
        let skip = rest.chars().next().map_or(0, char::len_utf8);
        out.push_str(&rest[skip..]);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_scanner_agrees_with_serde(
            items in prop::collection::vec(value(), 0..5),
            damaged in any::<bool>(),
            at in any::<usize>(),
            with in prop::sample::select(&[',', ']', '}', '"', '\\', '0', '-', 'e', '.', ' ', '\t', 'x', '\u{1}'][..]),
            cut in any::<bool>(),
        ) {
            let text = format!("[{}]", items.join(",\n"));
            let text = if damaged { damage(text, at, with, cut) } else { text };
            check(&text)?;
        }

        #[test]
        fn the_scanner_never_panics_on_any_text(s in ".{0,64}", start in 0usize..70) {
            let _ = scan_part(&s, start, start + 8, |_, _, _| {});
            let _ = boundaries(&s, start.min(s.len()), 4);
        }
    }
}
