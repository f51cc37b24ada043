//! [`ReportBuilder`]: Python's `Driver._append_results` (one call per stored notification)
//! and `_parse_results` + `_build_tree` ([`ReportBuilder::finish`]).

use std::borrow::Cow;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;

use super::hash::{FastMap, StrTable, UuidTable};
use super::head::{Head, Text};
use super::model::{Mark, Marks, NodeData, Parent, Payloads, Raw, Report, Stat, NO_TIME};
use super::parallel;
use osprofiler_core::id::TraceId;
use osprofiler_core::timestamp::{Timestamp, TimestampError};

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

/// The id for the next string of an interner holding `len` (`u32::MAX` is no id).
fn next_id(len: usize) -> Result<u32, EntryError> {
    u32::try_from(len)
        .ok()
        .filter(|&id| id != u32::MAX)
        .ok_or(EntryError::TooMany)
}

/// Interns strings (point and notification names) as `u32`s.
#[derive(Debug, Default)]
pub(super) struct Names {
    table: StrTable,
    pub(super) list: Vec<Box<str>>,
}

impl Names {
    pub(super) fn intern(&mut self, s: &str) -> Result<u32, EntryError> {
        let list = &self.list;
        match self
            .table
            .find(s, |id| list.get(id as usize).map_or("", |s| s))
        {
            Ok(id) => Ok(id),
            Err(token) => {
                let id = next_id(self.list.len())?;
                self.table.insert(token, id);
                self.list.push(s.into());
                Ok(id)
            }
        }
    }
}

/// Interns small JSON values (project, service, host, exception) by their text: a few
/// distinct values shared by a million nodes.
#[derive(Debug)]
pub(super) struct Values {
    table: StrTable,
    pub(super) list: Vec<Box<RawValue>>,
    scratch: Vec<u8>,
}

const NULL: u32 = 0;
const NONE_STR: u32 = 1;

impl Default for Values {
    fn default() -> Self {
        let mut v = Values {
            table: StrTable::default(),
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
        let list = &self.list;
        let token = match self
            .table
            .find(json, |id| list.get(id as usize).map_or("", |v| v.get()))
        {
            Ok(id) => return Ok(id),
            Err(token) => token,
        };
        let id = next_id(self.list.len())?;
        let raw =
            RawValue::from_string(json.to_owned()).map_err(|e| EntryError::Json(e.to_string()))?;
        self.table.insert(token, id);
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
    index: NodeIndex,
    nodes: Vec<NodeData>,
    /// The `parent_id`s no node had yet when a node was made ([`Parent::Id`]).
    parent_ids: Vec<TraceId>,
    /// Notifications handed in as their own text ([`Raw::Stored`]).
    stored: Vec<Box<RawValue>>,
    /// Point name id (`db`) of each notification name id (`db-start`), `u32::MAX` until
    /// known.
    prefixes: Vec<u32>,
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

/// Trace id to node: uuids (nearly all ids) in a [`UuidTable`], other ids in a map.
#[derive(Debug, Default)]
struct NodeIndex {
    uuids: UuidTable,
    texts: FastMap<TraceId, u32>,
}

impl NodeIndex {
    #[inline]
    fn get(&self, id: &TraceId) -> Option<u32> {
        match id {
            TraceId::Uuid(u) => self.uuids.get(u.as_u128()),
            TraceId::Text(_) => self.texts.get(id).copied(),
        }
    }

    fn insert(&mut self, id: TraceId, node: u32) {
        match id {
            TraceId::Uuid(u) => {
                self.uuids.get_or_insert(u.as_u128(), node);
            }
            TraceId::Text(_) => {
                self.texts.insert(id, node);
            }
        }
    }
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

/// `info.etype` of a stop's payload, as Python takes it for `exception`: its JSON text when
/// the payload is an object with an object `info` holding `etype`, else `None` (the string
/// `"None"`). (Python fails when `info` is not an object; this takes `"None"`.)
fn etype_of<'a>(head: &Head<'a>) -> Option<&'a str> {
    head.info.as_ref().filter(|i| i.is_object)?.etype
}

/// `TraceId::from(s)`, with a fast path for the usual canonical uuid (lower-case hex,
/// hyphenated), which is exactly when `TraceId::from` keeps a uuid: two ids per notification.
#[inline]
fn trace_id_of(s: &str) -> TraceId {
    match canonical_uuid(s.as_bytes()) {
        Some(u) => TraceId::Uuid(uuid::Uuid::from_u128(u)),
        None => TraceId::from(s),
    }
}

/// The value of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower-case hex.
#[inline]
fn canonical_uuid(b: &[u8]) -> Option<u128> {
    let b: &[u8; 36] = b.try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    let groups = [
        hex8(word(0) | (word(4) << 32))?,
        hex8(word(9) | (word(14) << 32))?,
        hex8(word(19) | (word(24) << 32))?,
        hex8(word(28) | (word(32) << 32))?,
    ];
    Some(groups.iter().fold(0u128, |v, &g| (v << 32) | u128::from(g)))
}

/// The value of eight lower-case hex digits (the first in the lowest byte of `w`), all
/// eight bytes at once.
#[inline(always)]
fn hex8(w: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = ONES * 0x80;
    if w & HIGHS != 0 {
        return None;
    }
    // Bytes are below 0x80, so adding at most 0x50 to each carries into no other byte:
    // the high bit of each sum says whether the byte reached a bound.
    let at_least = |c: u64| (w + ONES * (0x80 - c)) & HIGHS;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if digit | letter != HIGHS {
        return None;
    }
    // Nibble values, one per byte: the low four bits, plus 9 for `a`..`f`.
    let n = (w & (ONES * 0x0f)) + (letter >> 7) * 9;
    // First digit most significant: bytes reversed, then pairs, quads, halves merged.
    let n = n.swap_bytes();
    let n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
    let n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
    let n = (n | (n >> 16)) & 0x0000_0000_ffff_ffff;
    Some(n as u32)
}

/// A stop's `exception`, before interning.
#[derive(Debug, Clone, Copy)]
enum Exception<'a> {
    /// The string `"None"`.
    NoneStr,
    /// `etype`'s JSON text.
    Json(&'a str),
    /// Already interned.
    Id(u32),
}

/// A notification read, before it is added: what [`ReportBuilder`] needs of it, with all
/// that needs no builder state already done (checking fields, parsing the timestamp and the
/// ids). Reading a list makes these on several threads (`super::list`), and only adding them
/// is sequential.
#[derive(Debug)]
pub(super) struct Point<'a> {
    trace_id: TraceId,
    parent_id: Option<TraceId>,
    name: Cow<'a, str>,
    /// `project`, `service`, `host`.
    fields: [Source<'a>; 3],
    stop: bool,
    /// Meaningful for stops only.
    exception: Exception<'a>,
    timestamp: Timestamp,
}

impl<'a> Point<'a> {
    /// Checks a notification's head as Python's `_append_results` needs it (errors in the
    /// order Python would meet them).
    pub(super) fn from_head(
        head: Result<Head<'a>, serde_json::Error>,
    ) -> Result<Point<'a>, EntryError> {
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
        let exception = match etype_of(&head) {
            Some(etype) if stop => Exception::Json(etype),
            _ => Exception::NoneStr,
        };
        let host = head
            .info
            .as_ref()
            .filter(|i| i.is_object)
            .and_then(|i| i.host);
        Ok(Point {
            trace_id: trace_id_of(&trace_id),
            parent_id: parent_id.as_deref().map(trace_id_of),
            name,
            fields: [
                json_field(head.project),
                json_field(head.service),
                json_field(host),
            ],
            stop,
            exception,
            timestamp,
        })
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
        b.index.uuids.reserve(points);
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
        let result = Point::from_head(Head::parse(raw.get()))
            .and_then(|point| self.locate(point))
            .map(|at| self.store(at, raw));
        self.record(position, result)
    }

    /// Adds a notification already read into a [`Point`] (or refused), with where its text
    /// is.
    pub(super) fn append_point(
        &mut self,
        point: Result<(Point<'_>, Raw), EntryError>,
    ) -> Result<(), EntryError> {
        let position = self.appended;
        self.appended += 1;
        let result = point.and_then(|(point, raw)| {
            let at = self.locate(point)?;
            self.apply(at, raw);
            Ok(())
        });
        self.record(position, result)
    }

    /// Prefetches what adding `point` will look up in big tables: call it for a point some
    /// places ahead of the one being added. Trace ids are random places in a big table, so
    /// otherwise each lookup waits for memory in turn.
    #[inline]
    pub(super) fn prefetch(&self, point: &Point<'_>) {
        if let TraceId::Uuid(u) = &point.trace_id {
            self.index.uuids.prefetch(u.as_u128());
        }
        if let Some(TraceId::Uuid(u)) = &point.parent_id {
            self.index.uuids.prefetch(u.as_u128());
        }
    }

    /// Hands the builder the notifications that [`Raw::Stored`] payloads appended with
    /// [`append_point`](Self::append_point) point into (none may have been stored before).
    pub(super) fn set_stored(&mut self, stored: Vec<Box<RawValue>>) {
        debug_assert!(self.stored.is_empty());
        self.stored = stored;
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
            match etype_of(&head) {
                Some(etype) => Exception::Id(self.values.intern_json(etype)?),
                None => Exception::NoneStr,
            }
        } else {
            Exception::NoneStr
        };
        let located = self.locate(Point {
            trace_id: TraceId::from(entry.trace_id),
            parent_id: entry.parent_id.map(TraceId::from),
            name: Cow::Borrowed(entry.name),
            fields: [
                Source::Field(entry.project),
                Source::Field(entry.service),
                Source::Field(entry.host),
            ],
            stop,
            exception,
            timestamp,
        })?;
        self.store(located, entry.raw_payload);
        Ok(())
    }

    /// [`apply`](Self::apply) for a notification kept in `stored`.
    fn store(&mut self, at: Located, raw: Box<RawValue>) {
        self.apply(at, Raw::Stored(self.stored.len()));
        self.stored.push(raw);
    }

    /// The point name (`db`) of a notification name id (`db-start`): the name up to its
    /// first `-`, interned once per name.
    fn prefix(&mut self, name_id: u32, name: &str) -> Result<u32, EntryError> {
        if let Some(&p) = self
            .prefixes
            .get(name_id as usize)
            .filter(|&&p| p != u32::MAX)
        {
            return Ok(p);
        }
        let prefix = self.names.intern(name.split('-').next().unwrap_or(name))?;
        let at = name_id as usize;
        if self.prefixes.len() <= at {
            self.prefixes.resize(at + 1, u32::MAX);
        }
        self.prefixes[at] = prefix;
        Ok(prefix)
    }

    /// Finds or creates the point's node and interns what needs interning; a new node is
    /// created only once nothing can fail any more.
    fn locate(&mut self, point: Point<'_>) -> Result<Located, EntryError> {
        let exception = match point.exception {
            _ if !point.stop => NONE_STR,
            Exception::NoneStr => NONE_STR,
            Exception::Json(etype) => self.values.intern_json(etype)?,
            Exception::Id(id) => id,
        };
        let name = &*point.name;
        let name_id = self.names.intern(name)?;
        let node = match self.index.get(&point.trace_id) {
            Some(i) => i as usize,
            None => {
                let [project, service, host] = point.fields;
                let (name, project, service, host) = (
                    self.prefix(name_id, name)?,
                    self.values.intern_source(project)?,
                    self.values.intern_source(service)?,
                    self.values.intern_source(host)?,
                );
                let i = u32::try_from(self.nodes.len()).map_err(|_| EntryError::TooMany)?;
                // The parent, if it is a node already (else resolved in `finish`).
                let parent = match point.parent_id {
                    None => Parent::Null,
                    Some(p) => match self.index.get(&p) {
                        Some(node) => Parent::Node(node),
                        None => {
                            let at = next_id(self.parent_ids.len())?;
                            self.parent_ids.push(p);
                            Parent::Id(at)
                        }
                    },
                };
                let node = NodeData {
                    trace_id: point.trace_id.clone(),
                    parent,
                    name,
                    project,
                    service,
                    host,
                    exception: None,
                    started: NO_TIME,
                    finished: NO_TIME,
                    payloads: Payloads::default(),
                    marks: Marks::default(),
                    child_start: 0,
                    child_len: 0,
                };
                self.index.insert(point.trace_id, i);
                self.nodes.push(node);
                i as usize
            }
        };
        Ok(Located {
            node,
            name: name_id,
            stop: point.stop,
            exception,
            timestamp: point.timestamp,
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
        self.finish_with(None)
    }

    /// [`finish`](Self::finish), handing the report what [`Raw::Span`] payloads (`text`) and
    /// [`Raw::Stored`] payloads (`stored`) point into.
    pub(super) fn finish_with(self, text: Option<String>) -> Report {
        let threads = parallel::threads_for(self.nodes.len().saturating_mul(256));
        self.finish_on(text, threads)
    }

    /// [`finish_with`](Self::finish_with) on up to `threads` threads.
    fn finish_on(self, text: Option<String>, threads: usize) -> Report {
        let ReportBuilder {
            index,
            mut nodes,
            parent_ids,
            stored,
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
        let count = nodes.len();
        let part = count.div_ceil(threads.max(1)).max(1);

        // Each node on its own, on all cores: fill a missing start or stop, times to
        // milliseconds, parent found. What later steps need goes to compact arrays (start,
        // duration, parent per node), which they read instead of the big nodes.
        let mut starts = vec![0i64; count];
        let mut durations = vec![0i64; count];
        let mut parents = vec![u32::MAX; count];
        {
            let index = &index;
            let parent_ids = &parent_ids;
            let parts = nodes
                .chunks_mut(part)
                .zip(starts.chunks_mut(part))
                .zip(durations.chunks_mut(part).zip(parents.chunks_mut(part)));
            parallel::each(
                parts.collect(),
                |((nodes, starts), (durations, parents))| {
                    let all = nodes
                        .iter_mut()
                        .zip(starts)
                        .zip(durations.iter_mut().zip(parents));
                    for ((node, start), (duration, parent)) in all {
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
                        *start = node.started;
                        *duration = node.finished - node.started;
                        // A parent that was no node yet when this node was made may be one now.
                        if let Parent::Id(i) = node.parent {
                            if let Some(p) = parent_ids.get(i as usize).and_then(|id| index.get(id))
                            {
                                node.parent = Parent::Node(p);
                            }
                        }
                        if let Parent::Node(p) = node.parent {
                            *parent = p;
                        }
                    }
                },
            );
        }
        drop(index);

        // Stats per name, names in the order their first node came.
        let mut stats: Vec<(u32, Stat)> = Vec::new();
        let mut stat_of_name: Vec<u32> = vec![u32::MAX; names.list.len()];
        for (node, &duration) in nodes.iter().zip(&durations) {
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
        }
        drop(durations);

        // Children as one array, each node's contiguous (a counting sort by parent, which
        // keeps first-seen order within a parent), then each run sorted stably by start.
        let mut roots = Vec::new();
        let mut child_len = vec![0u32; count];
        for (i, &parent) in parents.iter().enumerate() {
            match child_len.get_mut(parent as usize) {
                Some(len) => *len += 1,
                None => roots.push(i as u32),
            }
        }
        let mut fill = Vec::with_capacity(count);
        let mut next = 0u32;
        for &len in &child_len {
            fill.push(next);
            next += len;
        }
        let child_start = fill.clone();
        let mut children = vec![0u32; next as usize];
        for (i, &parent) in parents.iter().enumerate() {
            if let Some(slot) = fill.get_mut(parent as usize) {
                children[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        drop(fill);
        drop(parents);
        {
            // Sorting runs on all cores: the nodes cut in parts, the children where the
            // parts' runs start.
            let starts = &starts;
            let mut parts = Vec::with_capacity(threads);
            let mut rest: &mut [u32] = &mut children;
            let mut taken = 0usize;
            for (nodes, (child_start, child_len)) in nodes
                .chunks_mut(part)
                .zip(child_start.chunks(part).zip(child_len.chunks(part)))
            {
                let end = match (child_start.last(), child_len.last()) {
                    (Some(&s), Some(&l)) => (s + l) as usize,
                    _ => taken,
                };
                let (mine, after) = std::mem::take(&mut rest).split_at_mut(end - taken);
                rest = after;
                parts.push((nodes, child_start, child_len, mine, taken));
                taken = end;
            }
            parallel::each(
                parts,
                |(nodes, child_start, child_len, children, offset)| {
                    for ((node, &start), &len) in nodes.iter_mut().zip(child_start).zip(child_len) {
                        node.child_start = start;
                        node.child_len = len;
                        let from = start as usize - offset;
                        if let Some(run) = children.get_mut(from..from + len as usize) {
                            if run.len() > 1 {
                                run.sort_by_key(|&c| starts[c as usize]);
                            }
                        }
                    }
                },
            );
        }
        roots.sort_by_key(|&c| starts[c as usize]);

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
            stored,
            parent_ids,
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

    proptest::proptest! {
        #[test]
        fn fast_trace_ids_agree_with_trace_id_from(
            s in "[0-9a-gA-G/:`-]{0,2}[0-9a-fA-F]{8}-[0-9a-f]{4}-[0-9a-fA-F]{4}-[0-9a-f]{4}-[0-9a-f]{11,12}",
            any in ".{30,40}",
        ) {
            proptest::prop_assert_eq!(trace_id_of(&s), TraceId::from(s.as_str()));
            proptest::prop_assert_eq!(trace_id_of(&any), TraceId::from(any.as_str()));
        }
    }

    #[test]
    fn hex8_reads_lower_case_hex_only() {
        let read = |s: &[u8; 8]| hex8(u64::from_le_bytes(*s));
        assert_eq!(read(b"0123abcd"), Some(0x0123_abcd));
        assert_eq!(read(b"ffffffff"), Some(0xffff_ffff));
        assert_eq!(read(b"90000000"), Some(0x9000_0000));
        for bad in [
            *b"0123abcD",
            *b"g0000000",
            *b"000000/0",
            *b"0000000:",
            *b"`0000000",
            *b"0000\xff000",
        ] {
            assert_eq!(read(&bad), None, "{bad:?}");
        }
        for c in 0..=255u8 {
            let mut s = *b"00000000";
            s[3] = c;
            let want = (c as char).to_digit(16).filter(|_| !c.is_ascii_uppercase());
            assert_eq!(read(&s), want.map(|d| d << 16), "{c}");
        }
    }

    #[test]
    fn fast_trace_ids_are_trace_ids() {
        for s in [
            "c386bbc4-cd61-4e30-98f1-6adf91b7584a",
            "C386BBC4-CD61-4E30-98F1-6ADF91B7584A",
            "c386bbc4-cd61-4e30-98f1-6adf91b7584",
            "c386bbc4-cd61-4e30-98f1-6adf91b7584g",
            "c386bbc4cd61-4e30-98f1-6adf91b7584a-",
            "{c386bbc4-cd61-4e30-98f1-6adf91b7584a}",
            "c386bbc4cd614e3098f16adf91b7584a",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "",
            "t1",
        ] {
            let fast = trace_id_of(s);
            assert_eq!(fast, TraceId::from(s), "{s}");
            assert_eq!(fast.to_string(), s);
        }
    }

    #[test]
    fn finishing_on_several_threads_changes_nothing() {
        // Nested points, children before parents, unknown parents, missing starts and stops.
        let notification = |i: usize, name: &str, parent: usize| {
            raw(&format!(
                r#"{{"name":"{name}","trace_id":"{i:08x}-0000-4000-8000-000000000000","parent_id":"{parent:08x}-0000-4000-8000-000000000000","timestamp":"2020-01-01T00:00:{:02}.{:06}","info":{{"host":"h"}},"project":"p","service":"s"}}"#,
                (i * 7919) % 60,
                (i * 104_729) % 1_000_000
            ))
        };
        let build = || {
            let mut b = ReportBuilder::new();
            for i in (0..3000).rev() {
                let parent = if i % 10 == 0 { 999_999 } else { i / 3 };
                if i % 7 != 0 {
                    b.append_notification(notification(i, "db-start", parent))
                        .unwrap();
                }
                if i % 5 != 0 {
                    b.append_notification(notification(i + 1, "db-stop", parent))
                        .unwrap();
                }
            }
            b
        };
        let one = serde_json::to_string(&build().finish_on(None, 1)).unwrap();
        for threads in [2, 3, 7] {
            let many = serde_json::to_string(&build().finish_on(None, threads)).unwrap();
            assert_eq!(one, many, "{threads} threads");
        }
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
