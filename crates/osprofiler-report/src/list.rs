//! Building a report from JSON texts: a JSON list (what `trace show FILE.json` reads), or
//! notification texts held one by one (what [`build_report`](super::build_report) gets).
//!
//! Both read notifications on all cores and add them in order (see [`parallel`]). A list is
//! cut into pieces at guessed element starts ([`scan::boundaries`]); each piece is
//! validated and read in one pass ([`scan::scan_part`]). A piece is taken only if the piece
//! before ended exactly where it starts (so its start was an element's); otherwise its
//! stretch is read again from where the previous piece ended. Anything the scanner does not
//! read (invalid JSON above all) sends the whole list to `serde_json` instead, which gives
//! the same report or the same error as before, only slower.

use std::fmt;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::builder::{EntryError, Point, ReportBuilder};
use super::head::Head;
use super::model::Raw;
use super::scan::{self, End};
use super::{parallel, ReportError};

/// Text per piece: enough that claiming and merging a piece cost nothing in comparison, and
/// little enough that the pieces read and waiting to be merged stay in cache.
const PIECE_BYTES: usize = 256 << 10;

/// Notifications per piece when they are held one by one.
const PIECE_NOTIFICATIONS: usize = 1024;

/// How many notifications ahead of the one being added the merge asks for the table slots
/// it will look up ([`ReportBuilder::prefetch`]): far enough for the memory access to be
/// done when it gets there, near enough for the line to be still in cache.
const PREFETCH_AHEAD: usize = 16;

/// Reads a JSON list of notifications into a builder whose payloads are [`Raw::Span`]s of
/// `text`.
pub(super) fn read_list(text: &str) -> Result<ReportBuilder, ReportError> {
    match read_list_fast(text) {
        Some(builder) => Ok(builder),
        None => read_list_with_serde(text),
    }
}

/// Adds notification texts to a builder, which keeps them.
pub(super) fn read_notifications(notifications: Vec<Box<RawValue>>) -> ReportBuilder {
    let pieces = notifications.len().div_ceil(PIECE_NOTIFICATIONS);
    // Typical notifications are 300 to 400 bytes.
    let threads = parallel::threads_for(notifications.len().saturating_mul(256));
    let piece = |k: usize| {
        let from = k * PIECE_NOTIFICATIONS;
        notifications
            .get(from..notifications.len().min(from + PIECE_NOTIFICATIONS))
            .unwrap_or_default()
    };
    let mut builder = parallel::run(
        pieces,
        threads,
        ReportBuilder::with_capacity(notifications.len()),
        |k| {
            piece(k)
                .iter()
                .map(|n| Point::from_head(Head::parse(n.get())))
                .collect::<Vec<_>>()
        },
        |builder, k, points| {
            let mut points = points.into_iter();
            for point in points.as_slice().iter().take(PREFETCH_AHEAD).flatten() {
                builder.prefetch(point);
            }
            let mut i = k * PIECE_NOTIFICATIONS;
            while let Some(point) = points.next() {
                if let Some(Ok(ahead)) = points.as_slice().get(PREFETCH_AHEAD - 1) {
                    builder.prefetch(ahead);
                }
                // Refusals are recorded in the builder.
                let _ = builder.append_point(point.map(|p| (p, Raw::Stored(i))));
                i += 1;
            }
            true
        },
    );
    builder.set_stored(notifications);
    builder
}

/// A point with its payload at `start..start + len` of the list (a notification of 4 GiB or
/// more is refused).
fn at_span(
    point: Result<Point<'_>, EntryError>,
    start: usize,
    len: usize,
) -> Result<(Point<'_>, Raw), EntryError> {
    let point = point?;
    let raw = Raw::span(start, len).ok_or_else(|| {
        EntryError::Json(format!(
            "a notification of {len} bytes (at most 4 GiB are read)"
        ))
    })?;
    Ok((point, raw))
}

/// A piece of a list, read: where it started, its notifications (offset, length, point) and
/// how it ended (`None`: not valid JSON from its start on).
struct Piece<'t> {
    start: usize,
    items: Vec<(usize, usize, Result<Point<'t>, EntryError>)>,
    end: Option<End>,
}

impl<'t> Piece<'t> {
    fn read(text: &'t str, start: usize, stop: usize) -> Self {
        // Room for pieces of notifications down to 128 bytes each, so that the list is not
        // copied as it grows (typical notifications are 300 to 400 bytes).
        let mut items = Vec::with_capacity(stop.saturating_sub(start).min(PIECE_BYTES) / 128 + 16);
        let end = scan::scan_part(text, start, stop, |at, len, head| {
            let head = match head {
                Some(head) => Ok(head),
                None => Head::parse(text.get(at..at + len).unwrap_or_default()),
            };
            items.push((at, len, Point::from_head(head)));
        });
        Piece { start, items, end }
    }
}

/// The merging side of [`read_list_fast`].
struct ListMerge {
    builder: Option<ReportBuilder>,
    /// Where the next element starts (where the last piece merged ended).
    next: usize,
    done: bool,
    failed: bool,
}

impl ListMerge {
    fn merge<'t>(&mut self, text: &'t str, stop: usize, piece: Piece<'t>) -> bool {
        if self.done {
            // A piece after the end of the list: cannot happen, but serde_json will know.
            self.failed = true;
            return false;
        }
        let piece = if piece.start == self.next {
            piece
        } else if self.next >= stop {
            // The piece before ran past this whole stretch: its start was not an element's.
            return true;
        } else {
            // A wrong guess (inside a string or a nested list): read from the right place.
            Piece::read(text, self.next, stop)
        };
        let Some(end) = piece.end else {
            self.failed = true;
            return false;
        };
        let builder = self.builder.get_or_insert_with(|| {
            // Room for as many notifications as the first piece suggests, and a little more.
            let bytes = match end {
                End::Next(next) => next - piece.start,
                End::Done => text.len() - piece.start,
            };
            let estimate =
                (text.len() - piece.start) as f64 / bytes.max(1) as f64 * piece.items.len() as f64;
            ReportBuilder::with_capacity((estimate * 1.05) as usize + 16)
        });
        let mut items = piece.items.into_iter();
        for (_, _, point) in items.as_slice().iter().take(PREFETCH_AHEAD) {
            if let Ok(point) = point {
                builder.prefetch(point);
            }
        }
        while let Some((at, len, point)) = items.next() {
            if let Some((_, _, Ok(ahead))) = items.as_slice().get(PREFETCH_AHEAD - 1) {
                builder.prefetch(ahead);
            }
            // Refusals are recorded in the builder.
            let _ = builder.append_point(at_span(point, at, len));
        }
        match end {
            End::Next(next) => self.next = next,
            End::Done => self.done = true,
        }
        true
    }
}

/// The list read on all cores; `None` sends it to [`read_list_with_serde`].
fn read_list_fast(text: &str) -> Option<ReportBuilder> {
    let first = match scan::list_start(text)? {
        Some(first) => first,
        None => return Some(ReportBuilder::new()),
    };
    let cuts = scan::boundaries(text, first, (text.len() - first) / PIECE_BYTES + 1);
    let stop = |k: usize| cuts.get(k + 1).copied().unwrap_or(text.len());
    let state = ListMerge {
        builder: None,
        next: first,
        done: false,
        failed: false,
    };
    let state = parallel::run(
        cuts.len(),
        parallel::threads_for(text.len()),
        state,
        |k| Piece::read(text, cuts.get(k).copied().unwrap_or(text.len()), stop(k)),
        |state, k, piece| state.merge(text, stop(k), piece),
    );
    (state.done && !state.failed).then(|| state.builder.unwrap_or_default())
}

/// The list read by `serde_json` on one thread: the reference behaviour, and its errors.
fn read_list_with_serde(text: &str) -> Result<ReportBuilder, ReportError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let builder = de.deserialize_seq(SerdeList { text })?;
    de.end()?;
    Ok(builder)
}

struct SerdeList<'t> {
    text: &'t str,
}

impl<'t> Visitor<'t> for SerdeList<'t> {
    type Value = ReportBuilder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of notifications")
    }

    fn visit_seq<A: SeqAccess<'t>>(self, mut seq: A) -> Result<ReportBuilder, A::Error> {
        let mut builder = ReportBuilder::with_capacity(self.text.len() / 256);
        let base = self.text.as_ptr() as usize;
        while let Some(n) = seq.next_element::<&'t RawValue>()? {
            let json: &'t str = n.get();
            // Borrowed from `text` (from_str never copies a RawValue), so this is its offset.
            let start = (json.as_ptr() as usize).wrapping_sub(base);
            let inside = self
                .text
                .get(start..start.saturating_add(json.len()))
                .is_some_and(|s| s.as_ptr() == json.as_ptr());
            if !inside {
                return Err(serde::de::Error::custom(
                    "a list element outside the list's text",
                ));
            }
            let point = Point::from_head(Head::parse(json));
            // Refusals are recorded in the builder.
            let _ = builder.append_point(at_span(point, start, json.len()));
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(b: ReportBuilder, text: &str) -> String {
        let report = b.finish_with(Some(text.to_owned()));
        format!(
            "{} {:?}",
            serde_json::to_string(&report).unwrap(),
            report.skipped()
        )
    }

    fn notification(i: usize, trace: &str, extra: &str) -> String {
        format!(
            r#"{{"name":"db-{}","trace_id":"{trace}","parent_id":"p","timestamp":"2026-01-01T00:00:{:02}.{:06}","info":{{"host":"h"{extra}}},"project":"x","service":"y"}}"#,
            if i % 2 == 0 { "start" } else { "stop" },
            i / 1_000_000 % 60,
            i % 1_000_000
        )
    }

    #[test]
    fn pieces_read_in_parallel_give_serdes_report() {
        // Elements that look like element starts inside strings and nested lists, escapes,
        // refusals: everything a wrong guess or a fallback must get right.
        let mut items = Vec::new();
        for i in 0..30_000 {
            let trace = format!("{:08x}-0000-4000-8000-{:012x}", i / 2, i / 2);
            let extra = match i % 7 {
                0 => r#","s":"}, {\"name\":1}, {\"name\":2","l":[{"name":1},{"name":2}]"#,
                1 => r#","etype":"E\u0041""#,
                _ => "",
            };
            items.push(match i % 997 {
                5 => "3".to_owned(),
                6 => r#"{"name":"x"}"#.to_owned(),
                7 => r#"{"na\u006de":"db-start","trace_id":"t","parent_id":null,"timestamp":"2026-01-01T00:00:00.1"}"#.to_owned(),
                _ => notification(i, &trace, extra),
            });
        }
        for sep in [",", ",\n", " , "] {
            let text = format!("[{}]", items.join(sep));
            assert!(text.len() > 2 * PIECE_BYTES);
            let fast = read_list_fast(&text).expect("read in pieces");
            let slow = read_list_with_serde(&text).unwrap();
            assert_eq!(fast.appended(), items.len());
            assert!(!fast.skipped().is_empty());
            assert_eq!(summary(fast, &text), summary(slow, &text));
        }
    }

    #[test]
    fn bad_lists_fall_back_to_serde() {
        let ok = notification(0, "t", "");
        for text in [
            format!("[{ok},{ok}"),
            format!("[{ok},]"),
            format!("[{ok}] x"),
            format!("\u{a0}[{ok}]"),
        ] {
            assert!(read_list_fast(&text).is_none(), "{text}");
            assert!(read_list(&text).is_err(), "{text}");
        }
        let empty = read_list(" [ ] ").unwrap();
        assert_eq!(empty.appended(), 0);
    }

    #[test]
    fn notifications_held_one_by_one() {
        let texts: Vec<Box<RawValue>> = (0..10_000)
            .map(|i| {
                let n = notification(i, &format!("t{}", i / 2), "");
                RawValue::from_string(if i == 77 { "[]".into() } else { n }).unwrap()
            })
            .collect();
        let list = format!(
            "[{}]",
            texts.iter().map(|t| t.get()).collect::<Vec<_>>().join(",")
        );
        let want = summary(read_list_with_serde(&list).unwrap(), &list);
        let count = texts.len();
        let b = read_notifications(texts);
        assert_eq!(b.appended(), count);
        let report = b.finish_with(None);
        let got = format!(
            "{} {:?}",
            serde_json::to_string(&report).unwrap(),
            report.skipped()
        );
        assert_eq!(got, want);
    }
}
