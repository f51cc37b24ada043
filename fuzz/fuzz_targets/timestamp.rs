//! `Timestamp::parse` (crates/osprofiler-core/src/timestamp.rs) against a model of CPython's
//! `datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")` (osprofiler_fuzz::py_strptime): the same
//! verdict and the same instant for every text; never a panic. What it accepts formats to
//! the canonical form, which parses back to the same instant (and a canonical input formats
//! to itself). Any i64 of microseconds formats without a panic, and one inside Python's
//! `datetime` range (years 1 to 9999) round-trips through the formatter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprofiler_core::timestamp::Timestamp;
use osprofiler_fuzz::{is_canonical, py_strptime, python_datetime_range};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_text(s);
    }
    if let Some(bytes) = data.get(..8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(bytes);
        check_micros(i64::from_le_bytes(w));
    }
});

fn check_text(s: &str) {
    let ours = Timestamp::parse(s);
    // The model covers ASCII text; for other text only the properties below are checked
    // (digits of other scripts: what Python's `\d` takes is not modelled here).
    let python = if s.is_ascii() {
        py_strptime(s)
    } else {
        ours.as_ref().ok().map(|t| t.as_micros())
    };
    match (&ours, python) {
        (Ok(t), Some(m)) => assert_eq!(t.as_micros(), m, "{s:?}: another instant than Python's"),
        (Err(e), None) => {
            // The error's text must be printable (it names the input, cut at 64 chars).
            let _ = e.to_string();
            assert!(e.input().chars().count() <= 67);
        }
        (Ok(t), None) => panic!("{s:?}: accepted as {t:?}, Python refuses it"),
        (Err(e), Some(m)) => panic!("{s:?}: refused ({e}), Python reads {m}"),
    }
    if let Ok(t) = ours {
        let text = t.to_string();
        assert!(is_canonical(&text), "{s:?} formats as {text:?}");
        assert_eq!(
            Timestamp::parse(&text).ok(),
            Some(t),
            "{text:?} does not parse back"
        );
        if is_canonical(s) {
            assert_eq!(text, s, "a canonical timestamp formats to another text");
        }
        assert_eq!(t.format_messaging().replacen(' ', "T", 1), text);
        assert_eq!(s.parse::<Timestamp>().ok(), Some(t));
    }
}

fn check_micros(m: i64) {
    let t = Timestamp::from_micros(m);
    let mut text = String::new();
    t.write_to(&mut text);
    let messaging = t.format_messaging();
    let (first, last) = python_datetime_range();
    if (first..=last).contains(&m) {
        assert!(is_canonical(&text), "{m} formats as {text:?}");
        assert_eq!(
            Timestamp::parse(&text).ok(),
            Some(t),
            "{m}: {text:?} does not parse back"
        );
        assert_eq!(
            py_strptime(&text),
            Some(m),
            "{m}: Python reads {text:?} otherwise"
        );
        assert_eq!(messaging.replacen(' ', "T", 1), text);
    }
}
