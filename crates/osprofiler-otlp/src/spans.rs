//! Pairing starts with stops: a span is exported only once both ends are known, as Python's
//! driver keeps a started OTel span in memory until its stop ends it.
//!
//! Python pairs with a stack (a stop ends the last started span, whatever its id), which mixes
//! up concurrent requests; here a stop finds its start by `trace_id`. The map of open starts
//! is bounded: when it is full, the oldest open start is dropped (and counted) to make room,
//! so a start whose stop never comes (a crashed worker, a lost notification) costs memory only
//! until newer points push it out. It is never exported, as Python never exports a span that
//! does not end.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use osprofiler_core::notification::Notification;
use osprofiler_core::timestamp::Timestamp;

use crate::mapping;

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: Python's encoder sets it on every span (and the
/// parent is never remote here).
const SPAN_FLAGS_HAS_IS_REMOTE: u32 = 0x100;

/// A span whose start has been seen, waiting for its stop.
#[derive(Debug)]
struct Open {
    seq: u64,
    span: Span,
    service_name: String,
}

/// A span with both ends, ready to export, and the `service.name` of its resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The resource's `service.name`.
    pub service_name: String,
    /// The span.
    pub span: Span,
}

/// What happened to one notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A start, now waiting for its stop. `evicted` open starts were dropped to make room.
    Opened {
        /// Open starts dropped because the map was full (or had the same `trace_id`).
        evicted: usize,
    },
    /// A stop that ended its span.
    Finished(Box<Finished>),
    /// A stop with no open start (never seen, already ended, or evicted): dropped.
    Unmatched,
}

/// The starts waiting for their stops, by `trace_id`, oldest first for eviction.
#[derive(Debug)]
pub struct OpenSpans {
    max_open: usize,
    next_seq: u64,
    by_id: HashMap<String, Open>,
    /// Start order: sequence number -> `trace_id`.
    order: BTreeMap<u64, String>,
}

impl OpenSpans {
    /// An empty map that holds at most `max_open` starts (at least one).
    pub fn new(max_open: usize) -> Self {
        OpenSpans {
            max_open: max_open.max(1),
            next_seq: 0,
            by_id: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// Starts waiting for their stops.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Takes one notification; `service_name` is used when it opens a span.
    pub fn take(&mut self, n: &Notification, service_name: impl FnOnce() -> String) -> Outcome {
        if mapping::is_start(&n.name) {
            Outcome::Opened {
                evicted: self.open(n, service_name()),
            }
        } else {
            match self.close(n) {
                Some(f) => Outcome::Finished(Box::new(f)),
                None => Outcome::Unmatched,
            }
        }
    }

    fn open(&mut self, n: &Notification, service_name: String) -> usize {
        let mut evicted = 0;
        if let Some(old) = self.by_id.remove(&n.trace_id) {
            self.order.remove(&old.seq);
            evicted += 1;
        }
        while self.by_id.len() >= self.max_open {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.by_id.remove(&oldest);
            evicted += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let span = Span {
            trace_id: mapping::trace_id(&n.base_id).to_be_bytes().to_vec(),
            span_id: mapping::span_id(&n.trace_id).to_be_bytes().to_vec(),
            parent_span_id: mapping::parent_span_id(&n.base_id, &n.parent_id)
                .map(|p| p.to_be_bytes().to_vec())
                .unwrap_or_default(),
            flags: SPAN_FLAGS_HAS_IS_REMOTE,
            name: mapping::span_name(&n.name, &n.info),
            kind: mapping::span_kind(&n.name) as i32,
            start_time_unix_nano: unix_nanos(&n.timestamp),
            attributes: mapping::start_attributes(&n.info),
            status: Some(Status::default()),
            ..Default::default()
        };
        self.order.insert(seq, n.trace_id.clone());
        self.by_id.insert(
            n.trace_id.clone(),
            Open {
                seq,
                span,
                service_name,
            },
        );
        evicted
    }

    fn close(&mut self, n: &Notification) -> Option<Finished> {
        let Open {
            seq,
            mut span,
            service_name,
        } = self.by_id.remove(&n.trace_id)?;
        self.order.remove(&seq);
        let end = unix_nanos(&n.timestamp);
        span.end_time_unix_nano = end;
        if let Some(event) = mapping::apply_stop(&n.info, &mut span.attributes, end) {
            span.events.push(event);
        }
        Some(Finished { service_name, span })
    }
}

/// Nanoseconds since the Unix epoch of a notification timestamp; the current time when it
/// does not parse (the span keeps a plausible time rather than 1970).
fn unix_nanos(timestamp: &str) -> u64 {
    let t = Timestamp::parse(timestamp).unwrap_or_else(|_| Timestamp::now());
    u64::try_from(t.as_micros())
        .unwrap_or(0)
        .saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    use osprofiler_core::Info;

    const BASE: &str = "58989008-6a17-49af-9b56-9643d037cdff";

    fn n(name: &str, trace_id: &str, parent_id: &str, ts: &str) -> Notification {
        Notification {
            name: name.into(),
            base_id: BASE.into(),
            trace_id: trace_id.into(),
            parent_id: parent_id.into(),
            timestamp: ts.into(),
            info: Info::new(),
            project: None,
            service: None,
        }
    }

    fn id(i: u8) -> String {
        format!("00000000-0000-4000-8000-0000000000{i:02x}")
    }

    fn svc() -> String {
        "p-s".into()
    }

    #[test]
    fn a_stop_finds_its_start_by_id() {
        let mut open = OpenSpans::new(10);
        let a = id(1);
        let b = id(2);
        open.take(&n("rpc-start", &a, BASE, "2026-11-25T04:59:00.000001"), svc);
        open.take(&n("db-start", &b, &a, "2026-11-25T04:59:00.000002"), svc);
        // Out of order: the outer stop comes first (concurrent tasks).
        let Outcome::Finished(outer) =
            open.take(&n("rpc-stop", &a, BASE, "2026-11-25T04:59:00.000010"), svc)
        else {
            panic!("not finished")
        };
        assert_eq!(outer.span.name, "rpc");
        assert_eq!(outer.span.kind, SpanKind::Internal as i32);
        assert!(outer.span.parent_span_id.is_empty());
        assert_eq!(outer.span.span_id, 0x8000_000000000001u64.to_be_bytes());
        assert_eq!(
            outer.span.trace_id,
            0x58989008_6a17_49af_9b56_9643d037cdffu128.to_be_bytes()
        );
        assert_eq!(outer.span.start_time_unix_nano, 1_795_582_740_000_001_000);
        assert_eq!(outer.span.end_time_unix_nano, 1_795_582_740_000_010_000);
        let Outcome::Finished(inner) =
            open.take(&n("db-stop", &b, &a, "2026-11-25T04:59:00.000005"), svc)
        else {
            panic!("not finished")
        };
        assert_eq!(inner.span.parent_span_id, outer.span.span_id);
        assert_eq!(inner.span.kind, SpanKind::Client as i32);
        assert_eq!(open.len(), 0);
    }

    #[test]
    fn stops_without_start_are_unmatched() {
        let mut open = OpenSpans::new(10);
        assert_eq!(
            open.take(&n("x-stop", &id(1), BASE, "bad time"), svc),
            Outcome::Unmatched
        );
        open.take(&n("x-start", &id(1), BASE, "bad time"), svc);
        assert!(matches!(
            open.take(&n("x-stop", &id(1), BASE, "bad time"), svc),
            Outcome::Finished(_)
        ));
        assert_eq!(
            open.take(&n("x-stop", &id(1), BASE, "bad time"), svc),
            Outcome::Unmatched
        );
    }

    #[test]
    fn the_oldest_open_start_is_evicted_when_full() {
        let mut open = OpenSpans::new(2);
        let ts = "2026-11-25T04:59:00.000001";
        assert_eq!(
            open.take(&n("a-start", &id(1), BASE, ts), svc),
            Outcome::Opened { evicted: 0 }
        );
        open.take(&n("b-start", &id(2), BASE, ts), svc);
        assert_eq!(
            open.take(&n("c-start", &id(3), BASE, ts), svc),
            Outcome::Opened { evicted: 1 }
        );
        assert_eq!(open.len(), 2);
        assert_eq!(
            open.take(&n("a-stop", &id(1), BASE, ts), svc),
            Outcome::Unmatched
        );
        assert!(matches!(
            open.take(&n("b-stop", &id(2), BASE, ts), svc),
            Outcome::Finished(_)
        ));
        // The same id started twice: the first start is replaced.
        assert_eq!(
            open.take(&n("c-start", &id(3), BASE, ts), svc),
            Outcome::Opened { evicted: 1 }
        );
        assert_eq!(open.len(), 1);
    }
}
