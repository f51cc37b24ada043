//! Borrowed, single-pass reading of the few notification fields a report needs.
//!
//! A notification is read once, straight from its JSON text: strings are borrowed,
//! `project`/`service`/`host`/`etype` are kept as slices of JSON text, and every other value
//! (most of the text: `info`'s function arguments, SQL statements, ...) is skipped without
//! being built. Types are not enforced here, so the builder can say precisely which field was
//! wrong. Duplicate keys: the last one wins, as with Python's `json.loads`.
//!
//! The text is always valid JSON already (a `RawValue`, or an element of a list `serde_json`
//! has parsed), so a hand-written skimmer reads the common case: it only finds where strings
//! and nested values end, eight bytes at a time. Anything it does not expect (an escape in a
//! key or in a field it must return, a bad byte) sends the notification to `serde_json` instead,
//! which also gives the precise error.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A JSON value seen where a string is expected.
#[derive(Debug)]
pub(crate) enum Text<'a> {
    Str(Cow<'a, str>),
    Null,
    /// Anything else, named for messages (`"a number"`, `"an object"`, ...).
    Other(&'static str),
}

/// The fields of a notification (or of any raw payload) that a report reads.
#[derive(Debug, Default)]
pub(crate) struct Head<'a> {
    /// False when the JSON value is not an object (then everything else is empty).
    pub is_object: bool,
    pub name: Option<Text<'a>>,
    pub trace_id: Option<Text<'a>>,
    pub parent_id: Option<Text<'a>>,
    pub timestamp: Option<Text<'a>>,
    /// JSON text.
    pub project: Option<&'a str>,
    /// JSON text.
    pub service: Option<&'a str>,
    pub info: Option<InfoHead<'a>>,
}

/// `info`: its `host` and `etype`, when it is an object.
#[derive(Debug, Default)]
pub(crate) struct InfoHead<'a> {
    pub is_object: bool,
    /// JSON text.
    pub host: Option<&'a str>,
    /// JSON text.
    pub etype: Option<&'a str>,
}

impl<'a> Head<'a> {
    /// Reads `json` (already known to be valid JSON).
    pub(crate) fn parse(json: &'a str) -> Result<Head<'a>, serde_json::Error> {
        if let Some(head) = skim::head(json) {
            return Ok(head);
        }
        Self::parse_with_serde(json)
    }

    /// The general path (escapes, odd shapes), also the reference the skimmer is tested
    /// against.
    pub(crate) fn parse_with_serde(json: &'a str) -> Result<Head<'a>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        de.deserialize_any(HeadVisitor)
    }
}

/// Consumes any value and names its kind; objects and arrays are skipped without building.
fn other_kind<'de, A: MapAccess<'de>>(mut map: A) -> Result<&'static str, A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok("an object")
}

fn other_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<&'static str, A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok("an array")
}

enum Key {
    Name,
    TraceId,
    ParentId,
    Timestamp,
    Project,
    Service,
    Info,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "name" => Key::Name,
                    "trace_id" => Key::TraceId,
                    "parent_id" => Key::ParentId,
                    "timestamp" => Key::Timestamp,
                    "project" => Key::Project,
                    "service" => Key::Service,
                    "info" => Key::Info,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

enum InfoKey {
    Host,
    Etype,
    Other,
}

impl<'de> Deserialize<'de> for InfoKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = InfoKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<InfoKey, E> {
                Ok(match v {
                    "host" => InfoKey::Host,
                    "etype" => InfoKey::Etype,
                    _ => InfoKey::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a notification")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
        let mut head = Head {
            is_object: true,
            ..Head::default()
        };
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Name => head.name = Some(map.next_value_seed(TextSeed)?),
                Key::TraceId => head.trace_id = Some(map.next_value_seed(TextSeed)?),
                Key::ParentId => head.parent_id = Some(map.next_value_seed(TextSeed)?),
                Key::Timestamp => head.timestamp = Some(map.next_value_seed(TextSeed)?),
                Key::Project => head.project = Some(map.next_value::<&RawValue>()?.get()),
                Key::Service => head.service = Some(map.next_value::<&RawValue>()?.get()),
                Key::Info => head.info = Some(map.next_value_seed(InfoSeed)?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(head)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Head<'de>, A::Error> {
        other_seq(seq)?;
        Ok(Head::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Head<'de>, E> {
        Ok(Head::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Head<'de>, E> {
        Ok(Head::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Head<'de>, E> {
        Ok(Head::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Head<'de>, E> {
        Ok(Head::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Head<'de>, E> {
        Ok(Head::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Head<'de>, E> {
        Ok(Head::default())
    }
}

struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Text<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(Text::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(Text::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text<'de>, E> {
        Ok(Text::Other("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text<'de>, E> {
        Ok(Text::Other("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text<'de>, E> {
        Ok(Text::Other("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text<'de>, E> {
        Ok(Text::Other("a number"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        Ok(Text::Other(other_seq(seq)?))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        Ok(Text::Other(other_kind(map)?))
    }
}

struct InfoSeed;

impl<'de> DeserializeSeed<'de> for InfoSeed {
    type Value = InfoHead<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<InfoHead<'de>, D::Error> {
        d.deserialize_any(InfoVisitor)
    }
}

struct InfoVisitor;

impl<'de> Visitor<'de> for InfoVisitor {
    type Value = InfoHead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InfoHead<'de>, A::Error> {
        let mut info = InfoHead {
            is_object: true,
            ..InfoHead::default()
        };
        while let Some(key) = map.next_key::<InfoKey>()? {
            match key {
                InfoKey::Host => info.host = Some(map.next_value::<&RawValue>()?.get()),
                InfoKey::Etype => info.etype = Some(map.next_value::<&RawValue>()?.get()),
                InfoKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(info)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<InfoHead<'de>, A::Error> {
        other_seq(seq)?;
        Ok(InfoHead::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<InfoHead<'de>, E> {
        Ok(InfoHead::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<InfoHead<'de>, E> {
        Ok(InfoHead::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<InfoHead<'de>, E> {
        Ok(InfoHead::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<InfoHead<'de>, E> {
        Ok(InfoHead::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<InfoHead<'de>, E> {
        Ok(InfoHead::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<InfoHead<'de>, E> {
        Ok(InfoHead::default())
    }
}

/// The hand-written fast path: `None` means "let serde_json read this one".
mod skim {
    use std::borrow::Cow;

    use super::{Head, InfoHead, Text};

    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;

    /// Flags the bytes of `w` equal to `c` (exact for the lowest flagged byte).
    #[inline]
    fn eq_bytes(w: u64, c: u8) -> u64 {
        let x = w ^ (ONES * u64::from(c));
        x.wrapping_sub(ONES) & !x & HIGHS
    }

    struct Skim<'a> {
        s: &'a str,
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Skim<'a> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> Option<()> {
            self.ws();
            (self.peek()? == c).then(|| self.i += 1)
        }

        /// The index of the next `"` or `\\` from `self.i`.
        fn next_quote_or_escape(&self) -> Option<usize> {
            let mut i = self.i;
            while let Some(chunk) = self.b.get(i..i + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                let w = u64::from_le_bytes(w);
                let hits = eq_bytes(w, b'"') | eq_bytes(w, b'\\');
                if hits != 0 {
                    return Some(i + (hits.trailing_zeros() / 8) as usize);
                }
                i += 8;
            }
            while let Some(&c) = self.b.get(i) {
                if c == b'"' || c == b'\\' {
                    return Some(i);
                }
                i += 1;
            }
            None
        }

        /// After an opening quote: the string's contents when it has no escapes (`None`
        /// otherwise), leaving `self.i` after the closing quote either way.
        fn string(&mut self) -> Option<Option<&'a str>> {
            let start = self.i;
            let mut plain = true;
            loop {
                let at = self.next_quote_or_escape()?;
                if self.b.get(at)? == &b'"' {
                    self.i = at + 1;
                    return Some(if plain { self.s.get(start..at) } else { None });
                }
                plain = false;
                self.i = at + 2;
            }
        }

        /// Skips one value; returns its text.
        fn value(&mut self) -> Option<&'a str> {
            self.ws();
            let start = self.i;
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    self.string()?;
                }
                b'{' | b'[' => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek()? {
                            b'"' => {
                                self.i += 1;
                                self.string()?;
                                continue;
                            }
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.checked_sub(1)?;
                                if depth == 0 {
                                    self.i += 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        self.i += 1;
                    }
                }
                _ => {
                    while !matches!(
                        self.peek(),
                        None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                    ) {
                        self.i += 1;
                    }
                }
            }
            self.s.get(start..self.i).filter(|v| !v.is_empty())
        }

        /// A value where a string is expected: borrowed if it is a plain string.
        fn text(&mut self) -> Option<Text<'a>> {
            self.ws();
            if self.peek()? == b'"' {
                self.i += 1;
                return Some(Text::Str(Cow::Borrowed(self.string()??)));
            }
            let v = self.value()?;
            Some(match v.as_bytes().first()? {
                b'n' => Text::Null,
                b't' | b'f' => Text::Other("a boolean"),
                b'{' => Text::Other("an object"),
                b'[' => Text::Other("an array"),
                _ => Text::Other("a number"),
            })
        }

        /// After `{` (or at the end of an entry): the next key, `None` at `}`.
        fn key(&mut self, first: bool) -> Option<Option<&'a str>> {
            self.ws();
            match self.peek()? {
                b'}' => {
                    self.i += 1;
                    return Some(None);
                }
                b',' if !first => self.i += 1,
                b'"' if first => {}
                _ => return None,
            }
            self.eat(b'"')?;
            let key = self.string()??;
            self.eat(b':')?;
            Some(Some(key))
        }

        fn info(&mut self) -> Option<InfoHead<'a>> {
            self.ws();
            if self.peek()? != b'{' {
                self.value()?;
                return Some(InfoHead::default());
            }
            self.i += 1;
            let mut info = InfoHead {
                is_object: true,
                ..InfoHead::default()
            };
            let mut first = true;
            while let Some(key) = self.key(first)? {
                first = false;
                let v = self.value()?;
                match key {
                    "host" => info.host = Some(v),
                    "etype" => info.etype = Some(v),
                    _ => {}
                }
            }
            Some(info)
        }
    }

    pub(super) fn head(json: &str) -> Option<Head<'_>> {
        let mut p = Skim {
            s: json,
            b: json.as_bytes(),
            i: 0,
        };
        p.eat(b'{')?;
        let mut head = Head {
            is_object: true,
            ..Head::default()
        };
        let mut first = true;
        while let Some(key) = p.key(first)? {
            first = false;
            match key {
                "name" => head.name = Some(p.text()?),
                "trace_id" => head.trace_id = Some(p.text()?),
                "parent_id" => head.parent_id = Some(p.text()?),
                "timestamp" => head.timestamp = Some(p.text()?),
                "project" => head.project = Some(p.value()?),
                "service" => head.service = Some(p.value()?),
                "info" => head.info = Some(p.info()?),
                _ => {
                    p.value()?;
                }
            }
        }
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_fields_and_skips_the_rest() {
        let json = r#"{"name":"db-stop","x":{"deep":[1,{"a":2}]},"trace_id":"t\u0031",
            "parent_id":null,"timestamp":"2026-11-25T04:59:10.042928",
            "info":{"etype":null,"host":"h","function":{"args":"(1,)"}},
            "project":"p","service":7,"info2":1}"#;
        let h = Head::parse(json).unwrap();
        assert!(h.is_object);
        assert!(matches!(h.name, Some(Text::Str(Cow::Borrowed("db-stop")))));
        assert!(matches!(&h.trace_id, Some(Text::Str(Cow::Owned(s))) if s == "t1"));
        assert!(matches!(h.parent_id, Some(Text::Null)));
        assert_eq!(h.project, Some(r#""p""#));
        assert_eq!(h.service, Some("7"));
        let info = h.info.unwrap();
        assert!(info.is_object);
        assert_eq!(info.host, Some(r#""h""#));
        assert_eq!(info.etype, Some("null"));
    }

    #[test]
    fn odd_shapes_are_reported_not_failed() {
        assert!(!Head::parse("[1,2]").unwrap().is_object);
        assert!(!Head::parse("\"s\"").unwrap().is_object);
        let h = Head::parse(r#"{"name":{"a":1},"info":[1],"name2":3}"#).unwrap();
        assert!(matches!(h.name, Some(Text::Other("an object"))));
        assert!(!h.info.unwrap().is_object);
        // Last duplicate wins.
        let h = Head::parse(r#"{"name":"a","name":"b"}"#).unwrap();
        assert!(matches!(h.name, Some(Text::Str(Cow::Borrowed("b")))));
    }

    fn text(t: &Option<Text<'_>>) -> String {
        match t {
            None => "-".into(),
            Some(Text::Str(s)) => format!("s:{s}"),
            Some(Text::Null) => "null".into(),
            Some(Text::Other(k)) => format!("o:{k}"),
        }
    }

    /// Everything a head says, for comparing the two readers.
    fn summary(h: &Head<'_>) -> String {
        let info = h.info.as_ref().map(|i| (i.is_object, i.host, i.etype));
        format!(
            "{} {} {} {} {} {:?} {:?} {:?}",
            h.is_object,
            text(&h.name),
            text(&h.trace_id),
            text(&h.parent_id),
            text(&h.timestamp),
            h.project,
            h.service,
            info
        )
    }

    #[test]
    fn the_skimmer_takes_plain_notifications_and_leaves_escapes_to_serde() {
        let plain = r#" { "name" : "db-start", "info": {"a": "x\"y", "host": "h", "n": [1, {"}": "]"}]},
            "trace_id": "t", "parent_id": "p", "timestamp": "ts", "project": null, "service": 1.5e3 } "#;
        let h = skim::head(plain).expect("plain");
        assert_eq!(
            summary(&h),
            summary(&Head::parse_with_serde(plain).unwrap())
        );
        for escaped in [
            r#"{"na\u006de": "db-start"}"#,
            r#"{"name": "db\u002dstart"}"#,
            r#"{"info": {"ho\u0073t": 1}}"#,
        ] {
            assert!(skim::head(escaped).is_none(), "{escaped}");
            assert!(Head::parse(escaped).is_ok());
        }
        assert!(skim::head("[1]").is_none());
        assert_eq!(
            summary(&skim::head("{}").unwrap()),
            summary(&Head::parse_with_serde("{}").unwrap())
        );
    }

    fn leaf() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e6f64..1e6).prop_map(serde_json::Value::from),
            r#"[a-z"\\{}\[\],: \né😀]{0,12}"#.prop_map(serde_json::Value::from),
        ]
    }

    fn tree() -> impl Strategy<Value = serde_json::Value> {
        leaf().prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
                prop::collection::vec((key(), inner), 0..5)
                    .prop_map(|kv| { serde_json::Value::Object(kv.into_iter().collect()) }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("name".to_owned()),
            Just("trace_id".to_owned()),
            Just("parent_id".to_owned()),
            Just("timestamp".to_owned()),
            Just("project".to_owned()),
            Just("service".to_owned()),
            Just("info".to_owned()),
            Just("host".to_owned()),
            Just("etype".to_owned()),
            r#"[a-z"\\]{0,6}"#,
        ]
    }

    /// Objects whose keys are mostly the ones the readers look for.
    fn notification() -> impl Strategy<Value = serde_json::Value> {
        prop::collection::vec((key(), tree()), 0..10)
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_skimmer_agrees_with_serde(
            v in prop_oneof![tree(), notification()],
            pretty in any::<bool>(),
        ) {
            let json = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            let reference = Head::parse_with_serde(&json).unwrap();
            if let Some(fast) = skim::head(&json) {
                prop_assert_eq!(summary(&fast), summary(&reference));
            }
            prop_assert_eq!(summary(&Head::parse(&json).unwrap()), summary(&reference));
        }

        #[test]
        fn the_skimmer_never_panics_on_any_text(s in ".{0,64}") {
            let _ = skim::head(&s);
        }
    }
}
