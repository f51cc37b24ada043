//! The report's notification list reader (crates/osprofiler-report: scan.rs, head.rs,
//! list.rs, parallel.rs, load.rs) through its public entry, `report_from_json_text` (and
//! `report_from_json_file_contents`, `build_report`), with `serde_json` as the oracle.
//!
//! Oracle: a text whose first non-white-space byte is `[` is read by `serde_json` as a list
//! of raw values (`Vec<Box<RawValue>>`) and each element is appended in order with
//! `ReportBuilder::append_notification` on one thread (the behaviour `report_from_json_text`
//! documents). Both give the same report (its JSON, byte for byte, and the same skipped
//! notifications with the same reasons), or both an error of the same class: `Json` ("not
//! JSON") where `serde_json` refuses the text. Any other text is a report object: `Json` iff
//! `serde_json` does not read it as JSON, `Shape` iff it is JSON but not an object (or an
//! object that is not a report); a report read back serializes to the same JSON.
//!
//! The first byte picks the size (its value mod 16): most inputs are read as given (one piece, one thread);
//! others are the input repeated as list elements, `[X,X,X,...]`, to over 256 KiB (several
//! pieces: wrong cut guesses inside strings and nested lists, re-reads, merging) or over
//! 1 MiB (several pieces read on several threads, the parallel path, and `build_report`'s
//! parallel reader of held notifications).
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprofiler_report::{
    build_report, report_from_json_file_contents, report_from_json_text, Report, ReportBuilder,
    ReportError,
};
use serde_json::value::RawValue;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(body) = std::str::from_utf8(rest) else {
        return;
    };
    let text = match mode % 16 {
        14 => repeated(body, 300 << 10),
        15 => repeated(body, (1 << 20) + (32 << 10)),
        _ => body.to_owned(),
    };
    check(&text, mode % 16 >= 14);
});

/// `[X,X,...,X]` of at least `at_least` bytes (`X` as given when it is empty or large).
fn repeated(elements: &str, at_least: usize) -> String {
    if elements.is_empty() || elements.len() > 64 << 10 {
        return elements.to_owned();
    }
    let mut s = String::with_capacity(at_least + elements.len() + 2);
    s.push('[');
    while s.len() < at_least {
        if s.len() > 1 {
            s.push(',');
        }
        s.push_str(elements);
    }
    s.push(']');
    s
}

#[derive(Debug, PartialEq)]
enum Class {
    NotJson,
    Shape,
}

fn class(e: &ReportError) -> Class {
    match e {
        ReportError::Json(_) => Class::NotJson,
        ReportError::Shape { .. } => Class::Shape,
        _ => panic!("an error kind the oracle does not know: {e}"),
    }
}

/// What the comparison looks at: the report's JSON (or the serializer's refusal) and the
/// skipped notifications.
fn summary(r: &Report) -> (Result<String, String>, String) {
    (
        serde_json::to_string(r).map_err(|e| e.to_string()),
        format!("{:?}", r.skipped()),
    )
}

fn is_json_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn check(text: &str, big: bool) {
    let ours = report_from_json_text(text.to_owned());
    let copy = report_from_json_file_contents(text);
    match (&ours, &copy) {
        (Ok(a), Ok(b)) => assert_eq!(summary(a), summary(b), "the two entries disagree"),
        (Err(a), Err(b)) => assert_eq!(class(a), class(b), "the two entries disagree"),
        _ => panic!(
            "the two entries disagree: {:?} / {:?}",
            ours.is_ok(),
            copy.is_ok()
        ),
    }

    let first = text.bytes().find(|&c| !is_json_ws(c));
    if first == Some(b'[') {
        match serde_json::from_str::<Vec<Box<RawValue>>>(text) {
            Err(e) => match ours {
                Err(ref o) => assert_eq!(class(o), Class::NotJson, "serde_json: {e}; ours: {o}"),
                Ok(_) => panic!("accepted a list serde_json refuses: {e}"),
            },
            Ok(list) => {
                let ours = match ours {
                    Ok(r) => r,
                    Err(e) => panic!("refused a list serde_json reads: {e}"),
                };
                let mut builder = ReportBuilder::new();
                for n in &list {
                    let _ = builder.append_notification(n.clone());
                }
                let reference = summary(&builder.finish());
                assert_eq!(
                    summary(&ours),
                    reference,
                    "the list read otherwise than serde_json's"
                );
                if big || list.len() > 1024 {
                    // The parallel reader of notifications held one by one.
                    assert_eq!(summary(&build_report(list)), reference, "build_report");
                }
            }
        }
        return;
    }

    match serde_json::from_str::<Value>(text) {
        Err(e) => match ours {
            Err(ref o) => assert_eq!(class(o), Class::NotJson, "serde_json: {e}; ours: {o}"),
            Ok(_) => panic!("accepted a text serde_json refuses: {e}"),
        },
        Ok(v) if !v.is_object() => match ours {
            Err(ref o) => assert_eq!(class(o), Class::Shape, "{o}"),
            Ok(_) => panic!("accepted JSON that is neither a list nor an object"),
        },
        Ok(_) => match ours {
            Err(ref o) => assert_eq!(class(o), Class::Shape, "{o}"),
            Ok(report) => {
                // A report read from JSON writes the same JSON when read again.
                if let Ok(json) = serde_json::to_value(&report) {
                    let again = Report::from_json_value(json.clone())
                        .unwrap_or_else(|e| panic!("our own report JSON refused: {e}"));
                    assert_eq!(serde_json::to_value(&again).ok(), Some(json));
                }
            }
        },
    }
}
