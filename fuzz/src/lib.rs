//! Oracles shared by the fuzz targets: independent models of what the parsers under test
//! should do, written from the documented behaviour (docs/wire.md, CPython's `_strptime`),
//! not from the code under test.

use chrono::NaiveDate;

/// One alternative of a strptime field: a sequence of byte classes.
type Pattern = &'static [fn(u8) -> bool];

fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}
fn d0_1(c: u8) -> bool {
    (b'0'..=b'1').contains(&c)
}
fn d0_2(c: u8) -> bool {
    (b'0'..=b'2').contains(&c)
}
fn d0_3(c: u8) -> bool {
    (b'0'..=b'3').contains(&c)
}
fn d0_5(c: u8) -> bool {
    (b'0'..=b'5').contains(&c)
}
fn d1_2(c: u8) -> bool {
    (b'1'..=b'2').contains(&c)
}
fn d1_9(c: u8) -> bool {
    (b'1'..=b'9').contains(&c)
}
fn is0(c: u8) -> bool {
    c == b'0'
}
fn is1(c: u8) -> bool {
    c == b'1'
}
fn is2(c: u8) -> bool {
    c == b'2'
}
fn is3(c: u8) -> bool {
    c == b'3'
}
fn is6(c: u8) -> bool {
    c == b'6'
}
fn space(c: u8) -> bool {
    c == b' '
}

// CPython 3.x `_strptime.TimeRE`, the alternatives in the order the regex tries them.
const YEAR: &[Pattern] = &[&[digit, digit, digit, digit]];
const MONTH: &[Pattern] = &[&[is1, d0_2], &[is0, d1_9], &[d1_9]];
const DAY: &[Pattern] = &[
    &[is3, d0_1],
    &[d1_2, digit],
    &[is0, d1_9],
    &[d1_9],
    &[space, d1_9],
];
const HOUR: &[Pattern] = &[&[is2, d0_3], &[d0_1, digit], &[digit]];
const MINUTE: &[Pattern] = &[&[d0_5, digit], &[digit]];
const SECOND: &[Pattern] = &[&[is6, d0_1], &[d0_5, digit], &[digit]];

enum Item {
    Field(&'static [Pattern]),
    Lit(fn(u8) -> bool),
    /// `[0-9]{1,6}`, greedy.
    Fraction,
}

fn dash(c: u8) -> bool {
    c == b'-'
}
fn colon(c: u8) -> bool {
    c == b':'
}
fn dot(c: u8) -> bool {
    c == b'.'
}
/// The literal `T` of the format, compiled with `re.IGNORECASE`.
fn t_any_case(c: u8) -> bool {
    c == b'T' || c == b't'
}

const FORMAT: &[Item] = &[
    Item::Field(YEAR),
    Item::Lit(dash),
    Item::Field(MONTH),
    Item::Lit(dash),
    Item::Field(DAY),
    Item::Lit(t_any_case),
    Item::Field(HOUR),
    Item::Lit(colon),
    Item::Field(MINUTE),
    Item::Lit(colon),
    Item::Field(SECOND),
    Item::Lit(dot),
    Item::Fraction,
];

/// A backtracking matcher, as `re.match` runs the compiled pattern: the first match found
/// (alternatives in order, the fraction longest first). Returns the end of the match and
/// the text of each field.
fn match_at<'a>(b: &'a [u8], pos: usize, items: &[Item], out: &mut Vec<&'a [u8]>) -> Option<usize> {
    let Some((item, rest)) = items.split_first() else {
        return Some(pos);
    };
    match item {
        Item::Lit(class) => {
            if b.get(pos).is_some_and(|&c| class(c)) {
                match_at(b, pos + 1, rest, out)
            } else {
                None
            }
        }
        Item::Field(alts) => {
            for alt in alts.iter() {
                let end = pos + alt.len();
                let ok = b.len() >= end && alt.iter().zip(&b[pos..end]).all(|(class, &c)| class(c));
                if ok {
                    out.push(&b[pos..end]);
                    if let Some(e) = match_at(b, end, rest, out) {
                        return Some(e);
                    }
                    out.pop();
                }
            }
            None
        }
        Item::Fraction => {
            let run = b[pos.min(b.len())..]
                .iter()
                .take(6)
                .take_while(|c| c.is_ascii_digit())
                .count();
            for n in (1..=run).rev() {
                out.push(&b[pos..pos + n]);
                if let Some(e) = match_at(b, pos + n, rest, out) {
                    return Some(e);
                }
                out.pop();
            }
            None
        }
    }
}

fn number(field: &[u8]) -> u32 {
    field
        .iter()
        .filter(|c| c.is_ascii_digit())
        .fold(0, |v, c| v * 10 + u32::from(c - b'0'))
}

/// What CPython's `datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")` returns, as microseconds
/// since the Unix epoch (UTC), or `None` where it raises `ValueError`.
///
/// One documented difference is kept out of the model: Python's `\d` also matches
/// non-ASCII decimal digits; `Timestamp::parse` takes ASCII digits only (docs/wire.md), and
/// so does this model.
pub fn py_strptime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut fields = Vec::with_capacity(7);
    let end = match_at(b, 0, FORMAT, &mut fields)?;
    if end != b.len() {
        return None; // "unconverted data remains"
    }
    let [y, mo, d, h, mi, sec, f] = fields[..] else {
        unreachable!("seven fields matched")
    };
    let year = number(y) as i32;
    if !(1..=9999).contains(&year) {
        return None;
    }
    let mut micro = number(f);
    for _ in f.len()..6 {
        micro *= 10;
    }
    let dt = NaiveDate::from_ymd_opt(year, number(mo), number(d))?.and_hms_micro_opt(
        number(h),
        number(mi),
        number(sec),
        micro,
    )?;
    Some(dt.and_utc().timestamp_micros())
}

/// The microseconds of the first and last instants Python's `datetime` can hold.
pub fn python_datetime_range() -> (i64, i64) {
    let first = NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_micro_opt(0, 0, 0, 0))
        .map(|d| d.and_utc().timestamp_micros());
    let last = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .map(|d| d.and_utc().timestamp_micros());
    match (first, last) {
        (Some(a), Some(b)) => (a, b),
        _ => unreachable!("both dates exist"),
    }
}

/// Whether `s` is exactly the form the formatter writes: `YYYY-MM-DDTHH:MM:SS.ffffff`.
pub fn is_canonical(s: &str) -> bool {
    const SHAPE: &[u8; 26] = b"dddd-dd-ddTdd:dd:dd.dddddd";
    s.len() == 26
        && s.bytes().zip(SHAPE).all(|(c, &k)| match k {
            b'd' => c.is_ascii_digit(),
            _ => c == k,
        })
}

/// Whether the JSON `text` holds an object with a key twice, at any depth. Python's
/// `json.loads` keeps the last value, `serde_json::Value` too, but a `serde` struct (what the
/// readers deserialize into, the payload's head included) refuses the text: a difference the
/// models leave alone.
pub fn has_duplicate_keys(text: &str) -> bool {
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    /// Whether a value has an object with a key twice.
    struct Dups(bool);
    impl<'de> Deserialize<'de> for Dups {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dups, D::Error> {
            d.deserialize_any(V)
        }
    }
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Dups;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Dups, E> {
            Ok(Dups(false))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Dups, E> {
            Ok(Dups(false))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Dups, E> {
            Ok(Dups(false))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Dups, E> {
            Ok(Dups(false))
        }
        fn visit_str<E>(self, _: &str) -> Result<Dups, E> {
            Ok(Dups(false))
        }
        fn visit_unit<E>(self) -> Result<Dups, E> {
            Ok(Dups(false))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Dups, A::Error> {
            let mut dup = false;
            while let Some(Dups(d)) = s.next_element()? {
                dup |= d;
            }
            Ok(Dups(dup))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Dups, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut dup = false;
            while let Some(k) = m.next_key::<String>()? {
                let Dups(d) = m.next_value()?;
                dup |= d || !seen.insert(k);
            }
            Ok(Dups(dup))
        }
    }
    serde_json::from_str::<Dups>(text).is_ok_and(|d| d.0)
}

/// Splits fuzz input into at most `n` parts at `sep` bytes (the last part keeps the rest).
pub fn split_parts(data: &[u8], sep: u8, n: usize) -> Vec<&[u8]> {
    data.splitn(n, |&c| c == sep).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found in CI: a message whose payload held `base_id` twice (the model looked at the top
    /// level only, and the reader's payload head refuses the payload's duplicate).
    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        assert!(has_duplicate_keys(r#"{"a": 1, "a": 2}"#));
        assert!(has_duplicate_keys(
            r#"{"payload": {"base_id": "x", "base_id": "y"}}"#
        ));
        assert!(has_duplicate_keys(r#"[{"k": [{"z": 1, "z": 1}]}]"#));
        assert!(!has_duplicate_keys(
            r#"{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}"#
        ));
        assert!(!has_duplicate_keys("not json"));
    }

    #[test]
    fn the_model_reads_what_python_reads() {
        let t = |s| py_strptime(s);
        assert_eq!(t("1970-01-01T00:00:00.000001"), Some(1));
        assert_eq!(t("1970-01-01t00:00:00.1"), Some(100_000));
        assert_eq!(t("1970-1- 1T0:0:0.1"), Some(100_000));
        assert_eq!(t("1970-01-01T00:00:60.0"), None);
        assert_eq!(t("1970-01-01T00:00:00.0000000"), None);
        assert_eq!(t("1970-13-01T00:00:00.0"), None);
        assert_eq!(t("0000-01-01T00:00:00.0"), None);
        assert_eq!(t("2024-02-29T00:00:00.0").is_some(), true);
        assert_eq!(t("2023-02-29T00:00:00.0"), None);
    }
}
