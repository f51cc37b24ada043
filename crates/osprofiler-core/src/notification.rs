//! What a trace point sends: the cheap [`TracePoint`] record made on the hot path, and the
//! [`Notification`] that drivers store (`docs/wire.md`, notifications).
//!
//! The split is deliberate: a trace point only takes the clock and a random id and pushes a
//! small record; formatting the timestamp, the uuids and the JSON happens later, in the
//! notifier's worker.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::id::{PointName, TraceId};
use crate::timestamp::Timestamp;

/// Free-form information attached to a trace point (`info` in the notification).
pub type Info = Map<String, Value>;

/// Whether a point starts or stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointKind {
    /// `"<name>-start"`
    Start,
    /// `"<name>-stop"`
    Stop,
}

impl PointKind {
    /// The suffix of the notification name.
    pub fn suffix(self) -> &'static str {
        match self {
            PointKind::Start => "-start",
            PointKind::Stop => "-stop",
        }
    }
}

/// One start or stop, as the profiler records it on the hot path.
#[derive(Debug, Clone)]
pub struct TracePoint {
    /// Start or stop.
    pub kind: PointKind,
    /// The point's name, without the `-start`/`-stop` suffix.
    pub name: PointName,
    /// The trace this point belongs to.
    pub base_id: TraceId,
    /// This point's id.
    pub trace_id: TraceId,
    /// The enclosing point's id (the `base_id` or incoming `parent_id` at the top).
    pub parent_id: TraceId,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The caller's info, without `host` (added when the notification is made).
    pub info: Option<Info>,
}

impl TracePoint {
    /// The full notification name, e.g. `db-start`.
    pub fn notification_name(&self) -> String {
        let name = self.name.as_str();
        let suffix = self.kind.suffix();
        let mut s = String::with_capacity(name.len() + suffix.len());
        s.push_str(name);
        s.push_str(suffix);
        s
    }

    /// Makes the notification Python OSprofiler would send for this point: `info.host` merged
    /// into the caller's info (last, as Python does), and the driver's `project`/`service`.
    pub fn into_notification(
        self,
        host: &str,
        project: Option<&str>,
        service: Option<&str>,
    ) -> Notification {
        let mut info = self.info.unwrap_or_default();
        info.insert("host".to_owned(), Value::String(host.to_owned()));
        Notification {
            name: {
                let name = self.name.as_str();
                let mut s = String::with_capacity(name.len() + 6);
                s.push_str(name);
                s.push_str(self.kind.suffix());
                s
            },
            base_id: self.base_id.to_string(),
            trace_id: self.trace_id.to_string(),
            parent_id: self.parent_id.to_string(),
            timestamp: self.timestamp.to_string(),
            info,
            project: project.map(str::to_owned),
            service: service.map(str::to_owned),
        }
    }
}

/// A notification as Python OSprofiler sends it and drivers store it; fields serialize in
/// Python's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `"<point name>-start"` or `"<point name>-stop"`.
    pub name: String,
    /// The trace's id.
    pub base_id: String,
    /// The point's id.
    pub trace_id: String,
    /// The enclosing point's id.
    pub parent_id: String,
    /// UTC, `%Y-%m-%dT%H:%M:%S.%f`.
    pub timestamp: String,
    /// The caller's info plus `host`.
    pub info: Info,
    /// The sending service's project (may be null).
    pub project: Option<String>,
    /// The sending service's name (may be null).
    pub service: Option<String>,
}

impl Notification {
    /// True when it carries an error: a non-null `info.etype`, the test Python's drivers make
    /// for `filter_error_trace`.
    pub fn is_error(&self) -> bool {
        self.info.get("etype").is_some_and(|e| !e.is_null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_has_pythons_shape_and_order() {
        let mut info = Info::new();
        info.insert("k".into(), Value::from(1));
        let point = TracePoint {
            kind: PointKind::Stop,
            name: "db".into(),
            base_id: TraceId::from("58989008-6a17-49af-9b56-9643d037cdff"),
            trace_id: TraceId::from("457c1bc8-fd6f-4c83-ba5a-1da9eb64831e"),
            parent_id: TraceId::from("88fdac2c-75ab-4581-88be-09e16e8d8930"),
            timestamp: Timestamp::parse("2026-11-25T04:59:10.042928").unwrap(),
            info: Some(info),
        };
        let n = point.into_notification("vm", Some("proj"), None);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r#"{"name":"db-stop","base_id":"58989008-6a17-49af-9b56-9643d037cdff","trace_id":"457c1bc8-fd6f-4c83-ba5a-1da9eb64831e","parent_id":"88fdac2c-75ab-4581-88be-09e16e8d8930","timestamp":"2026-11-25T04:59:10.042928","info":{"k":1,"host":"vm"},"project":"proj","service":null}"#
        );
        assert!(!n.is_error());
    }
}
