//! [`ReportBuilder`]: Python's `Driver._append_results` (one call per stored notification)
//! and `_parse_results` + `_build_tree` ([`ReportBuilder::finish`]).

use std::borrow::Cow;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;

use super::hash::FastMap;
use super::head::{Head, Text};
use super::model::{Mark, Marks, NodeData, Payloads, Raw, Report, Stat, NO_TIME};
use crate::id::TraceId;
use crate::timestamp::{Timestamp, TimestampError};

/// Why a notification was left out of a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The notification (or a field handed in) could not be read or written as JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// The notification is not a JSON object.
    #[error("not a JSON object")]
    NotAnObject,
    /// A field the report cannot do without is absent.
    #[error("`{0}` is missing")]
    Missing(&'static str),
    /// A field has the wrong JSON type.
    #[error("`{field}` is {found}, expected {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it holds (`"a number"`, `"null"`, ...).
        found: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// `timestamp` is not `%Y-%m-%dT%H:%M:%S.%f`.
    #[error("bad `timestamp`: {0}")]
    Timestamp(#[from] TimestampError),
    /// More than `u32::MAX` trace points or distinct names in one report.
    #[error("too many trace points in one report")]
    TooMany,
}

/// A notification left out of a report: its position among everything appended (from 0)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Position of the notification among all appended to the builder, from 0.
    pub position: usize,
    /// Why it was skipped.
    pub error: EntryError,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "notification #{} skipped: {}", self.position, self.error)
    }
}

impl std::error::Error for Skipped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A JSON value handed to [`Entry`] (`project`, `service`, `host`): stores give them in
/// different shapes (a SQL column, a field of a parsed notification, a slice of its text).
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// JSON `null` (a missing value).
    Null,
    /// A string.
    Str(&'a str),
    /// Raw JSON text.
    Json(&'a RawValue),
    /// A parsed JSON value.
    Value(&'a Value),
}

impl<'a> From<&'a str> for Field<'a> {
    fn from(s: &'a str) -> Self {
        Field::Str(s)
    }
}

impl<'a> From<Option<&'a str>> for Field<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Field::Null, Field::Str)
    }
}

impl<'a> From<&'a RawValue> for Field<'a> {
    fn from(v: &'a RawValue) -> Self {
        Field::Json(v)
    }
}

impl<'a> From<&'a Value> for Field<'a> {
    fn from(v: &'a Value) -> Self {
        Field::Value(v)
    }
}

/// One stored notification, as a driver hands it to Python's `_append_results`: the fields
/// the report needs, plus the raw payload kept under `meta.raw_payload.<name>`.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The point's id: one report node per `trace_id`.
    pub trace_id: &'a str,
    /// The enclosing point's id; `None` for a null `parent_id` (the node is then a root).
    pub parent_id: Option<&'a str>,
    /// The notification name, e.g. `db-start`.
    pub name: &'a str,
    /// The sending service's project.
    pub project: Field<'a>,
    /// The sending service's name.
    pub service: Field<'a>,
    /// The sending host.
    pub host: Field<'a>,
    /// `%Y-%m-%dT%H:%M:%S.%f`.
    pub timestamp: &'a str,
    /// What the store holds for this notification (its `info.etype` gives a stop's
    /// `exception`).
    pub raw_payload: Box<RawValue>,
}

/// Interns strings (point and notification names) as `u32`s.
#[derive(Debug, Default)]
pub(super) struct Names {
    map: FastMap<Box<str>, u32>,
    pub(super) list: Vec<Box<str>>,
}

impl Names {
    pub(super) fn intern(&mut self, s: &str) -> Result<u32, EntryError> {
        if let Some(&id) = self.map.get(s) {
            return Ok(id);
        }
        let id = u32::try_from(self.list.len()).map_err(|_| EntryError::TooMany)?;
        self.map.insert(s.into(), id);
        self.list.push(s.into());
        Ok(id)
    }
}

/// Interns small JSON values (project, service, host, exception) by their text: a few
/// distinct values shared by a million nodes.
#[derive(Debug)]
pub(super) struct Values {
    map: FastMap<Box<str>, u32>,
    pub(super) list: Vec<Box<RawValue>>,
    scratch: Vec<u8>,
}

const NULL: u32 = 0;
const NONE_STR: u32 = 1;

impl Default for Values {
    fn default() -> Self {
        let mut v = Values {
            map: FastMap::default(),
            list: Vec::new(),
            scratch: Vec::new(),
        };
        // Cannot fail: two literals, interned as NULL and NONE_STR.
        let _ = v.intern_json("null");
        let _ = v.intern_json(r#""None""#);
        v
    }
}

impl Values {
    /// Interns JSON text (validated only when new).
    pub(super) fn intern_json(&mut self, json: &str) -> Result<u32, EntryError> {
        if let Some(&id) = self.map.get(json) {
            return Ok(id);
        }
        let id = u32::try_from(self.list.len()).map_err(|_| EntryError::TooMany)?;
        let raw =
            RawValue::from_string(json.to_owned()).map_err(|e| EntryError::Json(e.to_string()))?;
        self.map.insert(json.into(), id);
        self.list.push(raw);
        Ok(id)
    }

    pub(super) fn intern(&mut self, field: Field<'_>) -> Result<u32, EntryError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let written = match field {
            Field::Null => return Ok(NULL),
            Field::Json(raw) => return self.intern_json(raw.get()),
            Field::Str(s) => serde_json::to_writer(&mut scratch, s),
            Field::Value(v) => serde_json::to_writer(&mut scratch, v),
        };
        let result = written
            .map_err(|e| EntryError::Json(e.to_string()))
            .and_then(|()| match std::str::from_utf8(&scratch) {
                Ok(text) => self.intern_json(text),
                Err(e) => Err(EntryError::Json(e.to_string())),
            });
        self.scratch = scratch;
        result
    }
}

/// From this many distinct notification names on, a node's names are looked up in
/// `ReportBuilder::many_payloads` instead of scanned (so that an odd trace cannot make
/// appending quadratic).
const INDEX_PAYLOADS_FROM: usize = 8;

/// Builds a [`Report`] from a trace's notifications, in the order the store returns them,
/// exactly as Python's `Driver._append_results` and `_parse_results` do.
///
/// A notification that cannot be read (not an object, ids or name missing or not strings,
/// a bad timestamp) is skipped with its reason (see [`skipped`](Self::skipped)) instead of
/// failing the whole report as Python would. Payloads are kept as raw JSON text, never as
/// parsed values, and only the few fields the report needs are read.
#[derive(Debug, Default)]
pub struct ReportBuilder {
    index: FastMap<TraceId, u32>,
    nodes: Vec<NodeData>,
    /// (node, name) -> payload position, for nodes with many distinct names.
    many_payloads: FastMap<(u32, u32), u32>,
    names: Names,
    values: Values,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    last_started_at: Option<Timestamp>,
    appended: usize,
    skipped: Vec<Skipped>,
}

/// What `append` learnt from a notification before its payload is stored.
struct Located {
    node: usize,
    name: u32,
    stop: bool,
    exception: u32,
    timestamp: Timestamp,
}

fn expect_str<'a>(
    field: &'static str,
    text: Option<Text<'a>>,
    null_ok: bool,
) -> Result<Option<Cow<'a, str>>, EntryError> {
    match text {
        None => Err(EntryError::Missing(field)),
        Some(Text::Str(s)) => Ok(Some(s)),
        Some(Text::Null) if null_ok => Ok(None),
        Some(Text::Null) => Err(EntryError::WrongType {
            field,
            found: "null",
            expected: "a string",
        }),
        Some(Text::Other(found)) => Err(EntryError::WrongType {
            field,
            found,
            expected: if null_ok {
                "a string or null"
            } else {
                "a string"
            },
        }),
    }
}

/// A field as the builder takes it: from a caller, or JSON text read from a notification.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Field(Field<'a>),
    Json(&'a str),
}

impl Values {
    fn intern_source(&mut self, source: Source<'_>) -> Result<u32, EntryError> {
        match source {
            Source::Field(f) => self.intern(f),
            Source::Json(json) => self.intern_json(json),
        }
    }
}

fn json_field(json: Option<&str>) -> Source<'_> {
    json.map_or(Source::Field(Field::Null), Source::Json)
}

/// `exception` of a stop from its payload, as Python: `info.etype` when the payload is an
/// object with an object `info` (null if `etype` is null), else the string `"None"`.
/// (Python fails when `info` is not an object; this takes `"None"`.)
fn exception_of(head: &Head<'_>, values: &mut Values) -> Result<u32, EntryError> {
    match &head.info {
        Some(info) if info.is_object => match info.etype {
            Some(etype) => values.intern_json(etype),
            None => Ok(NONE_STR),
        },
        _ => Ok(NONE_STR),
    }
}

impl ReportBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for `notifications` notifications (about half as many
    /// trace points), to spare re-allocations on big traces.
    pub fn with_capacity(notifications: usize) -> Self {
        let points = notifications / 2 + 1;
        let mut b = Self::default();
        b.index.reserve(points);
        b.nodes.reserve(points);
        b
    }

    /// Adds one notification read by a driver (Python's `_append_results`). On error the
    /// notification is skipped, recorded in [`skipped`](Self::skipped), and the error is
    /// also returned.
    pub fn append(&mut self, entry: Entry<'_>) -> Result<(), EntryError> {
        let position = self.appended;
        self.appended += 1;
        let result = self.append_entry(entry);
        self.record(position, result)
    }

    /// Adds one whole notification as the Redis and messaging drivers store it: ids, name,
    /// `project`, `service` and `timestamp` from the notification, `host` from `info.host`,
    /// and the notification itself as the raw payload. `project`, `service` and `info.host`
    /// may be absent (taken as null); `name`, `trace_id`, `parent_id` (a string or null)
    /// and `timestamp` are required.
    pub fn append_notification(&mut self, raw: Box<RawValue>) -> Result<(), EntryError> {
        let position = self.appended;
        self.appended += 1;
        let result = self.locate_notification(raw.get()).map(|at| {
            self.apply(at, Raw::Owned(raw));
        });
        self.record(position, result)
    }

    /// Appends the notification at `start..start + len` of the list text that
    /// [`finish_with_text`](Self::finish_with_text) will get, its head already read (on another
    /// thread: reading heads is the part of the work that parallelises).
    pub(crate) fn append_span_head(
        &mut self,
        head: Result<Head<'_>, serde_json::Error>,
        start: usize,
        len: usize,
    ) -> Result<(), EntryError> {
        let position = self.appended;
        self.appended += 1;
        let result = self.locate_head(head).map(|at| {
            self.apply(at, Raw::Span { start, len });
        });
        self.record(position, result)
    }

    /// The notifications skipped so far, with why.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// How many notifications were handed in (skipped ones included).
    pub fn appended(&self) -> usize {
        self.appended
    }

    fn record(
        &mut self,
        position: usize,
        result: Result<(), EntryError>,
    ) -> Result<(), EntryError> {
        if let Err(error) = &result {
            self.skipped.push(Skipped {
                position,
                error: error.clone(),
            });
        }
        result
    }

    fn append_entry(&mut self, entry: Entry<'_>) -> Result<(), EntryError> {
        let timestamp = Timestamp::parse(entry.timestamp)?;
        let stop = entry.name.ends_with("stop");
        let exception = if stop {
            let head = Head::parse(entry.raw_payload.get())
                .map_err(|e| EntryError::Json(e.to_string()))?;
            exception_of(&head, &mut self.values)?
        } else {
            NONE_STR
        };
        let located = self.locate(
            entry.trace_id,
            entry.parent_id,
            entry.name,
            [
                Source::Field(entry.project),
                Source::Field(entry.service),
                Source::Field(entry.host),
            ],
            stop,
            exception,
            timestamp,
        )?;
        self.apply(located, Raw::Owned(entry.raw_payload));
        Ok(())
    }

    /// Reads a whole notification and finds (or makes) its node; stores nothing yet.
    fn locate_notification(&mut self, json: &str) -> Result<Located, EntryError> {
        self.locate_head(Head::parse(json))
    }

    fn locate_head(
        &mut self,
        head: Result<Head<'_>, serde_json::Error>,
    ) -> Result<Located, EntryError> {
        let mut head = head.map_err(|e| EntryError::Json(e.to_string()))?;
        if !head.is_object {
            return Err(EntryError::NotAnObject);
        }
        let name = expect_str("name", head.name.take(), false)?.unwrap_or_default();
        let trace_id = expect_str("trace_id", head.trace_id.take(), false)?.unwrap_or_default();
        let parent_id = expect_str("parent_id", head.parent_id.take(), true)?;
        let ts = expect_str("timestamp", head.timestamp.take(), false)?.unwrap_or_default();
        let timestamp = Timestamp::parse(&ts)?;
        let stop = name.ends_with("stop");
        let exception = if stop {
            exception_of(&head, &mut self.values)?
        } else {
            NONE_STR
        };
        let host = head
            .info
            .as_ref()
            .filter(|i| i.is_object)
            .and_then(|i| i.host);
        self.locate(
            &trace_id,
            parent_id.as_deref(),
            &name,
            [
                json_field(head.project),
                json_field(head.service),
                json_field(host),
            ],
            stop,
            exception,
            timestamp,
        )
    }

    /// Finds or creates the node and interns what needs interning; a new node is created
    /// only once nothing can fail any more.
    #[allow(clippy::too_many_arguments)]
    fn locate(
        &mut self,
        trace_id: &str,
        parent_id: Option<&str>,
        name: &str,
        [project, service, host]: [Source<'_>; 3],
        stop: bool,
        exception: u32,
        timestamp: Timestamp,
    ) -> Result<Located, EntryError> {
        let name_id = self.names.intern(name)?;
        let trace_id = TraceId::from(trace_id);
        let node = match self.index.get(&trace_id) {
            Some(&i) => i as usize,
            None => {
                let prefix = name.split('-').next().unwrap_or(name);
                let node = NodeData {
                    trace_id: trace_id.clone(),
                    parent_id: parent_id.map(TraceId::from),
                    name: self.names.intern(prefix)?,
                    project: self.values.intern_source(project)?,
                    service: self.values.intern_source(service)?,
                    host: self.values.intern_source(host)?,
                    exception: None,
                    started: NO_TIME,
                    finished: NO_TIME,
                    payloads: Payloads::default(),
                    marks: Marks::default(),
                    child_start: 0,
                    child_len: 0,
                };
                let i = u32::try_from(self.nodes.len()).map_err(|_| EntryError::TooMany)?;
                self.index.insert(trace_id, i);
                self.nodes.push(node);
                i as usize
            }
        };
        Ok(Located {
            node,
            name: name_id,
            stop,
            exception,
            timestamp,
        })
    }

    fn apply(&mut self, at: Located, raw: Raw) {
        let Some(node) = self.nodes.get_mut(at.node) else {
            return;
        };
        let ts = at.timestamp;

        // `info["meta.raw_payload.<name>"] = payload`: a repeated name keeps its position.
        let count = node.payloads.len();
        let found = if count < INDEX_PAYLOADS_FROM {
            node.payloads.position(at.name)
        } else {
            if count == INDEX_PAYLOADS_FROM {
                // First time past the threshold: index what is there (once per node).
                for (pos, (n, _)) in node.payloads.iter().enumerate() {
                    self.many_payloads
                        .entry((at.node as u32, *n))
                        .or_insert(pos as u32);
                }
            }
            self.many_payloads
                .get(&(at.node as u32, at.name))
                .map(|&p| p as usize)
        };
        match found {
            Some(pos) => node.payloads.replace(pos, raw),
            None => {
                node.payloads.push(at.name, raw);
                if count >= INDEX_PAYLOADS_FROM {
                    self.many_payloads
                        .insert((at.node as u32, at.name), count as u32);
                }
            }
        }
        let payloads = node.payloads.len();

        let micros = ts.as_micros();
        if at.stop {
            node.finished = micros;
            node.marks.set(Mark::Finished, payloads);
            node.exception = Some(at.exception);
            node.marks.set(Mark::Exception, payloads);
        } else {
            node.started = micros;
            node.marks.set(Mark::Started, payloads);
            if self.last_started_at.is_none_or(|l| l < ts) {
                self.last_started_at = Some(ts);
            }
        }
        if self.started_at.is_none_or(|s| s > ts) {
            self.started_at = Some(ts);
        }
        if self.finished_at.is_none_or(|f| f < ts) {
            self.finished_at = Some(ts);
        }
    }

    /// Makes the report (Python's `_parse_results` and `_build_tree`): missing starts and
    /// stops filled from each other, times in whole milliseconds since the first timestamp
    /// (truncated, computed exactly as Python's float arithmetic does), per-name stats,
    /// children and roots sorted stably by start.
    pub fn finish(self) -> Report {
        self.finish_with_text(None)
    }

    /// [`finish`](Self::finish), handing the report the text that
    /// [`append_span`](Self::append_span) payloads point into.
    pub(crate) fn finish_with_text(self, text: Option<Box<str>>) -> Report {
        let ReportBuilder {
            index,
            mut nodes,
            names,
            values,
            started_at,
            finished_at,
            last_started_at,
            skipped,
            ..
        } = self;
        let base = started_at.map_or(0, Timestamp::as_micros);
        let ms = |micros: i64| msec(micros - base);

        let mut stats: Vec<(u32, Stat)> = Vec::new();
        let mut stat_of_name: Vec<u32> = vec![u32::MAX; names.list.len()];
        let mut parents: Vec<u32> = Vec::with_capacity(nodes.len());

        for node in &mut nodes {
            // Python adds the missing one at the end of `info`.
            let payloads = node.payloads.len();
            if node.started == NO_TIME {
                node.started = node.finished;
                node.marks.set(Mark::Started, payloads);
            }
            if node.finished == NO_TIME {
                node.finished = node.started;
                node.marks.set(Mark::Finished, payloads);
            }
            node.started = ms(node.started);
            node.finished = ms(node.finished);
            let duration = node.finished - node.started;

            if let Some(slot) = stat_of_name.get_mut(node.name as usize) {
                if *slot == u32::MAX {
                    *slot = stats.len() as u32;
                    stats.push((node.name, Stat::default()));
                }
                if let Some((_, stat)) = stats.get_mut(*slot as usize) {
                    stat.count += 1;
                    // Saturating: only absurd timestamps could get near (Python has bigints).
                    stat.duration = stat.duration.saturating_add(duration);
                }
            }

            parents.push(
                node.parent_id
                    .as_ref()
                    .and_then(|id| index.get(id).copied())
                    .unwrap_or(u32::MAX),
            );
        }
        drop(index);

        // Children as one array, each node's contiguous (a counting sort by parent, which
        // keeps first-seen order within a parent), then each run sorted stably by start.
        let mut roots = Vec::new();
        for (i, &parent) in parents.iter().enumerate() {
            if parent == u32::MAX {
                roots.push(i as u32);
            } else {
                nodes[parent as usize].child_len += 1;
            }
        }
        let mut next = 0u32;
        for n in &mut nodes {
            n.child_start = next;
            next += n.child_len;
        }
        let mut children = vec![0u32; next as usize];
        let mut fill: Vec<u32> = nodes.iter().map(|n| n.child_start).collect();
        for (i, &parent) in parents.iter().enumerate() {
            if parent != u32::MAX {
                let slot = &mut fill[parent as usize];
                children[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        drop(fill);
        drop(parents);
        for n in &nodes {
            if n.child_len > 1 {
                let run =
                    &mut children[n.child_start as usize..(n.child_start + n.child_len) as usize];
                run.sort_by_key(|&c| nodes[c as usize].started);
            }
        }
        roots.sort_by_key(|&c| nodes[c as usize].started);

        Report {
            finished: match (started_at, finished_at) {
                (Some(_), Some(f)) => Some(ms(f.as_micros())),
                _ => None,
            },
            // Python 4.4.0 gives null when nothing started.
            last_trace_started: match (started_at, last_started_at) {
                (Some(_), Some(l)) => Some(ms(l.as_micros())),
                _ => None,
            },
            nodes,
            roots,
            children,
            stats,
            names: names.list,
            values: values.list,
            text,
            skipped,
        }
    }
}

/// Python's `msec(timedelta)`: `int((td.microseconds + (td.seconds + td.days * 86400) *
/// 1e6) / 1000.0)`, float rounding and truncation included.
pub(crate) fn msec(micros: i64) -> i64 {
    let secs = micros.div_euclid(1_000_000);
    let us = micros.rem_euclid(1_000_000);
    let total = us as f64 + (secs as f64) * 1e6;
    (total / 1000.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn msec_truncates_like_python() {
        assert_eq!(msec(0), 0);
        assert_eq!(msec(999), 0);
        assert_eq!(msec(1000), 1);
        assert_eq!(msec(1_999_999), 1999);
        assert_eq!(msec(86_400_000_000 * 3 + 5_500), 259_200_005);
    }

    #[test]
    fn empty_and_startless_reports() {
        let r = ReportBuilder::new().finish();
        assert!(r.is_empty());
        assert_eq!(r.finished(), None);
        assert_eq!(r.last_trace_started(), None);

        let mut b = ReportBuilder::new();
        b.append_notification(raw(
            r#"{"name":"db-stop","trace_id":"a","parent_id":"b","timestamp":"2020-01-01T00:00:00.5","info":{"host":"h"},"project":null,"service":null}"#,
        ))
        .unwrap();
        let r = b.finish();
        assert_eq!(r.finished(), Some(0));
        assert_eq!(r.last_trace_started(), None);
        let info = r.roots().next().unwrap().info();
        assert_eq!(info.exception().map(RawValue::get), Some(r#""None""#));
        assert_eq!(info.error(), None);
    }

    #[test]
    fn skips_bad_notifications_and_keeps_the_rest() {
        let mut b = ReportBuilder::new();
        let good = r#"{"name":"db-start","trace_id":"a","parent_id":"b","timestamp":"2020-01-01T00:00:00.5","info":{"host":"h"},"project":"p","service":"s"}"#;
        assert_eq!(
            b.append_notification(raw("[1]")),
            Err(EntryError::NotAnObject)
        );
        assert_eq!(
            b.append_notification(raw(r#"{"name":"x"}"#)),
            Err(EntryError::Missing("trace_id"))
        );
        assert!(matches!(
            b.append_notification(raw(&good.replace("00.5", "00"))),
            Err(EntryError::Timestamp(_))
        ));
        assert_eq!(
            b.append_notification(raw(&good.replace(r#""trace_id":"a""#, r#""trace_id":1"#))),
            Err(EntryError::WrongType {
                field: "trace_id",
                found: "a number",
                expected: "a string"
            })
        );
        b.append_notification(raw(good)).unwrap();
        assert_eq!(
            b.skipped().iter().map(|s| s.position).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let r = b.finish();
        assert_eq!(r.node_count(), 1);
        assert_eq!(r.skipped().len(), 4);
        assert!(r.skipped()[2]
            .to_string()
            .starts_with("notification #2 skipped: bad `timestamp`"));
    }
}
