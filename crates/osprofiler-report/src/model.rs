//! The finished report: a flat arena of nodes (no recursion on drop, cheap to walk) with
//! borrowed views ([`Node`], [`NodeInfo`]) and a [`Serialize`] that writes Python's report
//! JSON with Python's key order.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::builder::Skipped;
use osprofiler_core::id::TraceId;

/// How many levels of trace points [`Report`]'s `Serialize` writes before giving up with an
/// error rather than risking the thread's stack (serializing recurses once per level; this
/// fits a 2 MiB thread stack even unoptimized and into `serde_json::Value`). Python's
/// `trace show --json` fails before this: `json.dumps(indent=2)` hits its recursion limit at
/// 495 levels.
pub const MAX_SERIALIZE_DEPTH: usize = 512;

/// The per-name totals of a report (`stats` in Python's report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Stat {
    /// How many nodes have this name.
    pub count: u64,
    /// The sum of their `finished - started`, in milliseconds.
    pub duration: i64,
}

/// Which of the keys that follow `host` in a node's `info` came when (Python's dict order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Started,
    Finished,
    Exception,
}

/// The positions of `started`, `finished` and `exception` among the `meta.raw_payload.*`
/// keys: each mark remembers how many payload keys existed when it was first set, and marks
/// are kept in the order they were set. That is all Python's dict order needs, in 20 bytes
/// instead of a list of keys per node.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marks {
    len: u8,
    kinds: [Option<Mark>; 3],
    at: [u32; 3],
}

impl Marks {
    /// Sets `mark` (no-op if already set: a dict keeps a key's first position).
    pub(crate) fn set(&mut self, mark: Mark, payloads: usize) {
        let len = usize::from(self.len);
        if self.kinds[..len].contains(&Some(mark)) || len >= 3 {
            return;
        }
        self.kinds[len] = Some(mark);
        self.at[len] = u32::try_from(payloads).unwrap_or(u32::MAX);
        self.len += 1;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Mark, usize)> + '_ {
        (0..usize::from(self.len)).filter_map(|i| self.kinds[i].map(|k| (k, self.at[i] as usize)))
    }
}

/// Where a stored notification's JSON text lives (16 bytes: a node holds two inline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raw {
    /// `Report::text[start..start + len]`: a slice of the JSON list the report was read
    /// from, which the report keeps instead of copying each notification out of it.
    Span { start: usize, len: u32 },
    /// `Report::stored[i]`: a notification handed in as its own text (kept as it came, in
    /// the order it came).
    Stored(usize),
}

impl Raw {
    /// The span `start..start + len` of the text, if `len` fits (a notification of 4 GiB
    /// does not).
    pub(crate) fn span(start: usize, len: usize) -> Option<Raw> {
        Some(Raw::Span {
            start,
            len: u32::try_from(len).ok()?,
        })
    }
}

/// A node's stored notifications, `(notification name id, notification)` in key order.
/// Almost every node has exactly two (its start and its stop), so two live inline and only
/// odd nodes allocate (behind a thin pointer, to keep nodes small).
#[derive(Debug, Clone, Default)]
pub(crate) struct Payloads {
    inline: [Option<(u32, Raw)>; 2],
    #[allow(clippy::box_collection)]
    spill: Option<Box<Vec<(u32, Raw)>>>,
}

impl Payloads {
    fn spilled(&self) -> &[(u32, Raw)] {
        self.spill.as_deref().map_or(&[], Vec::as_slice)
    }

    pub(crate) fn len(&self) -> usize {
        self.inline.iter().filter(|p| p.is_some()).count() + self.spilled().len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(u32, Raw)> + '_ {
        self.inline.iter().flatten().chain(self.spilled().iter())
    }

    /// The position of `name`, scanning (callers index nodes with many names).
    pub(crate) fn position(&self, name: u32) -> Option<usize> {
        self.iter().position(|(n, _)| *n == name)
    }

    /// Replaces the payload at `pos` (a repeated name keeps its position).
    pub(crate) fn replace(&mut self, pos: usize, raw: Raw) {
        let slot = match pos {
            0 | 1 => self.inline[pos].as_mut(),
            _ => self.spill.as_mut().and_then(|s| s.get_mut(pos - 2)),
        };
        if let Some(slot) = slot {
            slot.1 = raw;
        }
    }

    pub(crate) fn push(&mut self, name: u32, raw: Raw) {
        match self.inline.iter_mut().find(|p| p.is_none()) {
            Some(free) if self.spill.is_none() => *free = Some((name, raw)),
            _ => self.spill.get_or_insert_default().push((name, raw)),
        }
    }
}

/// A node's `parent_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parent {
    /// `null`.
    Null,
    /// The `trace_id` of that node.
    Node(u32),
    /// `Report::parent_ids[i]`: an id no node had when this node was made.
    Id(u32),
}

/// One node of the arena (also used while building: then times are microseconds, or
/// [`NO_TIME`]).
#[derive(Debug, Clone)]
pub(crate) struct NodeData {
    pub(crate) trace_id: TraceId,
    pub(crate) parent: Parent,
    /// Index into `Report::names`.
    pub(crate) name: u32,
    /// Indexes into `Report::values`.
    pub(crate) project: u32,
    pub(crate) service: u32,
    pub(crate) host: u32,
    pub(crate) exception: Option<u32>,
    /// Milliseconds since the trace's first timestamp.
    pub(crate) started: i64,
    pub(crate) finished: i64,
    pub(crate) payloads: Payloads,
    pub(crate) marks: Marks,
    /// This node's children: `Report::children[child_start..child_start + child_len]`.
    pub(crate) child_start: u32,
    pub(crate) child_len: u32,
}

/// "Not set" for `NodeData::started`/`finished` while building.
pub(crate) const NO_TIME: i64 = i64::MIN;

/// A trace's report, as Python's `get_report` returns it: the tree of trace points with
/// times in milliseconds since the first timestamp, plus per-name stats.
///
/// Serializing it (with `serde_json`, pretty or not, or any serializer) gives Python's JSON
/// with Python's key order. Nodes are kept in one flat arena, so huge and deep reports cost
/// no recursion to build or drop; use [`roots`](Report::roots) and [`Node`] to walk it.
#[derive(Clone)]
pub struct Report {
    pub(crate) finished: Option<i64>,
    pub(crate) last_trace_started: Option<i64>,
    pub(crate) nodes: Vec<NodeData>,
    pub(crate) roots: Vec<u32>,
    pub(crate) children: Vec<u32>,
    pub(crate) stats: Vec<(u32, Stat)>,
    /// Interned point names and notification names.
    pub(crate) names: Vec<Box<str>>,
    /// Interned small JSON values (`project`, `service`, `host`, `exception`).
    pub(crate) values: Vec<Box<RawValue>>,
    /// The JSON text that [`Raw::Span`] payloads point into.
    pub(crate) text: Option<String>,
    /// The notifications that [`Raw::Stored`] payloads point into.
    pub(crate) stored: Vec<Box<RawValue>>,
    /// The `parent_id`s of [`Parent::Id`].
    pub(crate) parent_ids: Vec<TraceId>,
    pub(crate) skipped: Vec<Skipped>,
}

impl fmt::Debug for Report {
    /// A summary: a report can hold a million notifications.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("nodes", &self.nodes.len())
            .field("roots", &self.roots.len())
            .field("finished", &self.finished)
            .field("last_trace_started", &self.last_trace_started)
            .field("stats", &self.stats().collect::<Vec<_>>())
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

impl Default for Report {
    fn default() -> Self {
        Report::empty()
    }
}

impl Report {
    /// The report of a trace with no notifications (Python's CLI then says the trace was not
    /// found).
    pub fn empty() -> Self {
        Report {
            finished: None,
            last_trace_started: None,
            nodes: Vec::new(),
            roots: Vec::new(),
            children: Vec::new(),
            stats: Vec::new(),
            names: Vec::new(),
            values: Vec::new(),
            text: None,
            stored: Vec::new(),
            parent_ids: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// True when the report has no nodes at top level: what Python's CLI reports as "Trace
    /// with UUID ... not found".
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The top-level nodes (`children` of the top), sorted by start time; ties keep the
    /// order the store returned them in.
    pub fn roots(&self) -> Nodes<'_> {
        Nodes {
            report: self,
            ids: self.roots.iter(),
        }
    }

    /// The number of nodes (one per `trace_id`), including any Python would leave out of the
    /// tree (nodes on a `parent_id` cycle).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Milliseconds from the first to the last timestamp (`info.finished` of the top);
    /// `None` for an empty report.
    pub fn finished(&self) -> Option<i64> {
        self.finished
    }

    /// Milliseconds from the first timestamp to the latest start (`info.last_trace_started`);
    /// `None` when nothing started.
    pub fn last_trace_started(&self) -> Option<i64> {
        self.last_trace_started
    }

    /// `(name, stat)` per point name, in the order names were first seen.
    pub fn stats(&self) -> impl ExactSizeIterator<Item = (&str, Stat)> + '_ {
        self.stats.iter().map(|(n, s)| (self.name(*n), *s))
    }

    /// The notifications left out because they could not be read (bad JSON shape, missing
    /// ids, bad timestamp), with why. Python would have failed on the first one instead.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |s| s)
    }

    /// The JSON text of a stored notification.
    pub(crate) fn raw_text<'a>(&'a self, raw: &'a Raw) -> &'a str {
        match *raw {
            Raw::Span { start, len } => self
                .text
                .as_deref()
                .and_then(|t| t.get(start..start.saturating_add(len as usize)))
                .unwrap_or("null"),
            Raw::Stored(i) => self.stored.get(i).map_or("null", |r| r.get()),
        }
    }

    pub(crate) fn value(&self, id: u32) -> &RawValue {
        self.values.get(id as usize).map_or(RawValue::NULL, |v| v)
    }

    fn node(&self, id: u32) -> Node<'_> {
        Node { report: self, id }
    }
}

/// An iterator over nodes (roots or a node's children).
#[derive(Debug, Clone)]
pub struct Nodes<'a> {
    report: &'a Report,
    ids: std::slice::Iter<'a, u32>,
}

impl<'a> Iterator for Nodes<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        self.ids.next().map(|&id| self.report.node(id))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ids.size_hint()
    }
}

impl<'a> Nodes<'a> {
    /// The first `mid` of the nodes still to come, and the others (`mid` past the end: all,
    /// and none).
    pub fn split_at(&self, mid: usize) -> (Nodes<'a>, Nodes<'a>) {
        let (a, b) = self.ids.as_slice().split_at(mid.min(self.ids.len()));
        (
            Nodes {
                report: self.report,
                ids: a.iter(),
            },
            Nodes {
                report: self.report,
                ids: b.iter(),
            },
        )
    }
}

impl DoubleEndedIterator for Nodes<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.ids.next_back().map(|&id| self.report.node(id))
    }
}

impl ExactSizeIterator for Nodes<'_> {}

/// One trace point of a report (one `trace_id`): its [`info`](Node::info), ids and children.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    report: &'a Report,
    id: u32,
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("trace_id", &self.trace_id())
            .field("name", &self.info().name())
            .field("children", &self.children().len())
            .finish()
    }
}

impl<'a> Node<'a> {
    fn data(&self) -> &'a NodeData {
        &self.report.nodes[self.id as usize]
    }

    /// The node's `info`: name, project, service, host, times, exception, payloads.
    pub fn info(&self) -> NodeInfo<'a> {
        NodeInfo {
            report: self.report,
            data: self.data(),
        }
    }

    /// This point's id (prints exactly as it arrived).
    pub fn trace_id(&self) -> &'a TraceId {
        &self.data().trace_id
    }

    /// The enclosing point's id (for a root, usually the trace's `base_id`); `None` if the
    /// notification had a null `parent_id`.
    pub fn parent_id(&self) -> Option<&'a TraceId> {
        let report = self.report;
        match self.data().parent {
            Parent::Null => None,
            Parent::Node(p) => report.nodes.get(p as usize).map(|n| &n.trace_id),
            Parent::Id(i) => report.parent_ids.get(i as usize),
        }
    }

    /// The children, sorted by start time (ties in first-seen order).
    pub fn children(&self) -> Nodes<'a> {
        let d = self.data();
        let start = d.child_start as usize;
        let ids = self
            .report
            .children
            .get(start..start + d.child_len as usize)
            .unwrap_or(&[]);
        Nodes {
            report: self.report,
            ids: ids.iter(),
        }
    }
}

/// A node's `info`, as Python builds it.
#[derive(Clone, Copy)]
pub struct NodeInfo<'a> {
    pub(crate) report: &'a Report,
    pub(crate) data: &'a NodeData,
}

impl fmt::Debug for NodeInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeInfo")
            .field("name", &self.name())
            .field("started", &self.started())
            .field("finished", &self.finished())
            .finish_non_exhaustive()
    }
}

impl<'a> NodeInfo<'a> {
    /// The point's name: the first notification's name up to its first `-` (`db` for
    /// `db-start`).
    pub fn name(&self) -> &'a str {
        self.report.name(self.data.name)
    }

    /// `project` of the first notification seen for this point (any JSON; usually a string
    /// or null).
    pub fn project(&self) -> &'a RawValue {
        self.report.value(self.data.project)
    }

    /// `service` of the first notification seen for this point.
    pub fn service(&self) -> &'a RawValue {
        self.report.value(self.data.service)
    }

    /// `host` of the first notification seen for this point.
    pub fn host(&self) -> &'a RawValue {
        self.report.value(self.data.host)
    }

    /// [`project`](Self::project) when it is a JSON string.
    pub fn project_str(&self) -> Option<Cow<'a, str>> {
        json_str(self.project())
    }

    /// [`service`](Self::service) when it is a JSON string.
    pub fn service_str(&self) -> Option<Cow<'a, str>> {
        json_str(self.service())
    }

    /// [`host`](Self::host) when it is a JSON string.
    pub fn host_str(&self) -> Option<Cow<'a, str>> {
        json_str(self.host())
    }

    /// Milliseconds from the trace's first timestamp to this point's start (its stop's, if
    /// no start was stored).
    pub fn started(&self) -> i64 {
        self.data.started
    }

    /// Milliseconds from the trace's first timestamp to this point's stop (its start's, if
    /// no stop was stored).
    pub fn finished(&self) -> i64 {
        self.data.finished
    }

    /// `finished - started`, in milliseconds.
    pub fn duration(&self) -> i64 {
        self.data.finished.saturating_sub(self.data.started)
    }

    /// `exception` as Python sets it from the stop: `info.etype` of the stop notification
    /// (any JSON, even null), the string `"None"` when the stop has none, and `None` (no key
    /// at all) when no stop was stored.
    pub fn exception(&self) -> Option<&'a RawValue> {
        self.data.exception.map(|e| self.report.value(e))
    }

    /// The error type when the point failed: [`exception`](Self::exception) unless it is the
    /// string `"None"` or absent. Null and non-string `etype`s are given as their JSON text.
    pub fn error(&self) -> Option<Cow<'a, str>> {
        let raw = self.exception()?;
        match json_str(raw) {
            Some(s) if s == "None" => None,
            Some(s) => Some(s),
            None => Some(Cow::Borrowed(raw.get())),
        }
    }

    /// The stored notifications of this point, `(notification name, notification)`, in
    /// Python's key order (`meta.raw_payload.<notification name>`); a repeated name keeps its
    /// first position and its last notification.
    pub fn payloads(&self) -> impl Iterator<Item = (&'a str, &'a RawValue)> + 'a {
        let report = self.report;
        self.data.payloads.iter().map(move |(n, raw)| {
            let text = report.raw_text(raw);
            // Spans were cut out of validated JSON; checking again only costs a scan.
            let raw = serde_json::from_str::<&RawValue>(text).unwrap_or(RawValue::NULL);
            (report.name(*n), raw)
        })
    }

    /// The stored notification named `name` (e.g. `"db-start"`).
    pub fn payload(&self, name: &str) -> Option<&'a RawValue> {
        let report = self.report;
        let (_, raw) = self
            .data
            .payloads
            .iter()
            .find(|(n, _)| report.name(*n) == name)?;
        serde_json::from_str::<&RawValue>(report.raw_text(raw)).ok()
    }
}

fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
}

/// Serializes JSON text token by token (`serde_transcode`), so that every serializer
/// (pretty printers, Python-style formatters) re-lays it out instead of pasting the stored
/// text, without building a `Value` (which cost most of `trace show --json`'s time).
///
/// One difference from a `Value` (and from Python's `json.loads` + `dumps`): an object with a
/// repeated key keeps both entries instead of the last value at the first position. No
/// notifier writes such objects; the report's own keys are never repeated.
pub(crate) struct Json<'a>(pub(crate) &'a str);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.0;
        // Fast paths for the common scalars.
        match text {
            "null" => return s.serialize_unit(),
            "true" => return s.serialize_bool(true),
            "false" => return s.serialize_bool(false),
            _ => {}
        }
        if text.starts_with('"') && !text.contains('\\') && text.len() >= 2 {
            return s.serialize_str(&text[1..text.len() - 1]);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        serde_transcode::Transcoder::new(&mut de).serialize(s)
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut top = s.serialize_map(Some(3))?;
        top.serialize_entry("info", &TopInfo(self))?;
        top.serialize_entry(
            "children",
            &NodeList {
                nodes: self.roots(),
                depth: 1,
            },
        )?;
        top.serialize_entry("stats", &Stats(self))?;
        top.end()
    }
}

struct TopInfo<'a>(&'a Report);

impl Serialize for TopInfo<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("name", "total")?;
        m.serialize_entry("started", &0)?;
        m.serialize_entry("finished", &self.0.finished)?;
        m.serialize_entry("last_trace_started", &self.0.last_trace_started)?;
        m.end()
    }
}

struct Stats<'a>(&'a Report);

impl Serialize for Stats<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.stats.len()))?;
        for (name, stat) in self.0.stats() {
            m.serialize_entry(name, &stat)?;
        }
        m.end()
    }
}

struct NodeList<'a> {
    nodes: Nodes<'a>,
    depth: usize,
}

impl Serialize for NodeList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.depth > MAX_SERIALIZE_DEPTH && self.nodes.len() > 0 {
            return Err(S::Error::custom(format!(
                "report nested deeper than {MAX_SERIALIZE_DEPTH} levels"
            )));
        }
        let mut seq = s.serialize_seq(Some(self.nodes.len()))?;
        for node in self.nodes.clone() {
            seq.serialize_element(&NodeAt {
                node,
                depth: self.depth,
            })?;
        }
        seq.end()
    }
}

struct NodeAt<'a> {
    node: Node<'a>,
    depth: usize,
}

impl Serialize for NodeAt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("info", &self.node.info())?;
        m.serialize_entry("trace_id", self.node.trace_id())?;
        m.serialize_entry("parent_id", &self.node.parent_id())?;
        m.serialize_entry(
            "children",
            &NodeList {
                nodes: self.node.children(),
                depth: self.depth + 1,
            },
        )?;
        m.end()
    }
}

impl Serialize for Node<'_> {
    /// The node and its subtree, as in Python's report.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        NodeAt {
            node: *self,
            depth: 1,
        }
        .serialize(s)
    }
}

impl Serialize for NodeInfo<'_> {
    /// `name`, `project`, `service`, `host`, then `meta.raw_payload.*`, `started`,
    /// `finished` and `exception` in the order Python's dict got them.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.data;
        let marks = usize::from(d.marks.len);
        let mut m = s.serialize_map(Some(4 + d.payloads.len() + marks))?;
        m.serialize_entry("name", self.name())?;
        m.serialize_entry("project", &Json(self.project().get()))?;
        m.serialize_entry("service", &Json(self.service().get()))?;
        m.serialize_entry("host", &Json(self.host().get()))?;
        let mut pending = d.marks.iter().peekable();
        let mut key = String::new();
        for (i, (name, raw)) in d.payloads.iter().enumerate() {
            while let Some((mark, _)) = pending.next_if(|&(_, at)| at <= i) {
                self.serialize_mark(&mut m, mark)?;
            }
            key.clear();
            key.push_str("meta.raw_payload.");
            key.push_str(self.report.name(*name));
            m.serialize_entry(&key, &Json(self.report.raw_text(raw)))?;
        }
        for (mark, _) in pending {
            self.serialize_mark(&mut m, mark)?;
        }
        m.end()
    }
}

impl NodeInfo<'_> {
    fn serialize_mark<M: SerializeMap>(&self, m: &mut M, mark: Mark) -> Result<(), M::Error> {
        match mark {
            Mark::Started => m.serialize_entry("started", &self.data.started),
            Mark::Finished => m.serialize_entry("finished", &self.data.finished),
            Mark::Exception => match self.exception() {
                Some(e) => m.serialize_entry("exception", &Json(e.get())),
                None => m.serialize_entry("exception", &()),
            },
        }
    }
}
