//! Reading a report back from the JSON a tool wrote (Python's `osprofiler trace show --json`
//! or ours), for `trace show FILE.json`.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::builder::{Field, Names, Values};
use super::model::{Mark, Marks, NodeData, Parent, Payloads, Raw, Report, Stat};
use super::ReportError;
use osprofiler_core::id::TraceId;

const PAYLOAD_PREFIX: &str = "meta.raw_payload.";

fn shape(path: &str, message: impl Into<String>) -> ReportError {
    ReportError::Shape {
        path: if path.is_empty() {
            "(top)".into()
        } else {
            path.into()
        },
        message: message.into(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object(v: Value, path: &str) -> Result<Map<String, Value>, ReportError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(shape(
            path,
            format!("expected an object, found {}", kind(&other)),
        )),
    }
}

fn integer(v: &Value, path: &str) -> Result<i64, ReportError> {
    v.as_i64()
        .ok_or_else(|| shape(path, format!("expected an integer, found {}", kind(v))))
}

fn opt_integer(v: &Value, path: &str) -> Result<Option<i64>, ReportError> {
    if v.is_null() {
        Ok(None)
    } else {
        integer(v, path).map(Some)
    }
}

fn raw(v: &Value, path: &str) -> Result<Box<RawValue>, ReportError> {
    serde_json::value::to_raw_value(v).map_err(|e| shape(path, e.to_string()))
}

struct Loader {
    nodes: Vec<NodeData>,
    children: Vec<u32>,
    names: Names,
    values: Values,
    /// The payloads ([`Raw::Stored`]).
    stored: Vec<Box<RawValue>>,
    parent_ids: Vec<TraceId>,
}

impl Loader {
    fn intern_name(&mut self, s: &str, path: &str) -> Result<u32, ReportError> {
        self.names.intern(s).map_err(|e| shape(path, e.to_string()))
    }

    fn intern_value(&mut self, v: &Value, path: &str) -> Result<u32, ReportError> {
        self.values
            .intern(Field::Value(v))
            .map_err(|e| shape(path, e.to_string()))
    }

    fn node_list(&mut self, v: Value, path: &str) -> Result<Vec<u32>, ReportError> {
        let list = match v {
            Value::Array(a) => a,
            other => {
                return Err(shape(
                    path,
                    format!("expected an array, found {}", kind(&other)),
                ))
            }
        };
        let mut ids = Vec::with_capacity(list.len());
        for (i, node) in list.into_iter().enumerate() {
            ids.push(self.node(node, &format!("{path}[{i}]"))?);
        }
        Ok(ids)
    }

    fn node(&mut self, v: Value, path: &str) -> Result<u32, ReportError> {
        let mut info = None;
        let mut trace_id = None;
        let mut parent_id = None;
        let mut children = Value::Array(Vec::new());
        for (k, v) in object(v, path)? {
            match k.as_str() {
                "info" => info = Some(v),
                "trace_id" => match v {
                    Value::String(s) => trace_id = Some(s),
                    other => {
                        return Err(shape(
                            &format!("{path}.trace_id"),
                            format!("expected a string, found {}", kind(&other)),
                        ))
                    }
                },
                "parent_id" => match v {
                    Value::String(s) => parent_id = Some(Some(s)),
                    Value::Null => parent_id = Some(None),
                    other => {
                        return Err(shape(
                            &format!("{path}.parent_id"),
                            format!("expected a string or null, found {}", kind(&other)),
                        ))
                    }
                },
                "children" => children = v,
                other => return Err(shape(path, format!("unexpected key {other:?}"))),
            }
        }
        let info = info.ok_or_else(|| shape(path, "`info` is missing"))?;
        let trace_id = trace_id.ok_or_else(|| shape(path, "`trace_id` is missing"))?;
        let parent_id = parent_id.ok_or_else(|| shape(path, "`parent_id` is missing"))?;

        let mut data = self.info(info, &format!("{path}.info"))?;
        data.trace_id = TraceId::from(trace_id);
        data.parent = match parent_id {
            None => Parent::Null,
            Some(p) => {
                let i = u32::try_from(self.parent_ids.len())
                    .map_err(|_| shape(path, "too many nodes"))?;
                self.parent_ids.push(TraceId::from(p));
                Parent::Id(i)
            }
        };
        let id = u32::try_from(self.nodes.len()).map_err(|_| shape(path, "too many nodes"))?;
        self.nodes.push(data);

        let kids = self.node_list(children, &format!("{path}.children"))?;
        let too_many = || shape(path, "too many nodes");
        let start = u32::try_from(self.children.len()).map_err(|_| too_many())?;
        let len = u32::try_from(kids.len()).map_err(|_| too_many())?;
        self.children.extend(kids);
        let node = &mut self.nodes[id as usize];
        node.child_start = start;
        node.child_len = len;
        Ok(id)
    }

    fn info(&mut self, v: Value, path: &str) -> Result<NodeData, ReportError> {
        let mut name = None;
        let (mut project, mut service, mut host) = (0, 0, 0);
        let (mut started, mut finished, mut exception) = (None, None, None);
        let mut payloads = Payloads::default();
        let mut marks = Marks::default();
        for (k, v) in object(v, path)? {
            let at = || format!("{path}.{k}");
            match k.as_str() {
                "name" => match &v {
                    Value::String(s) => name = Some(self.intern_name(s, &at())?),
                    other => {
                        return Err(shape(
                            &at(),
                            format!("expected a string, found {}", kind(other)),
                        ))
                    }
                },
                "project" => project = self.intern_value(&v, &at())?,
                "service" => service = self.intern_value(&v, &at())?,
                "host" => host = self.intern_value(&v, &at())?,
                "started" => {
                    started = Some(integer(&v, &at())?);
                    marks.set(Mark::Started, payloads.len());
                }
                "finished" => {
                    finished = Some(integer(&v, &at())?);
                    marks.set(Mark::Finished, payloads.len());
                }
                "exception" => {
                    exception = Some(self.intern_value(&v, &at())?);
                    marks.set(Mark::Exception, payloads.len());
                }
                key => match key.strip_prefix(PAYLOAD_PREFIX) {
                    Some(n) => {
                        let n = self.intern_name(n, &at())?;
                        self.stored.push(raw(&v, &at())?);
                        payloads.push(n, Raw::Stored(self.stored.len() - 1));
                    }
                    None => return Err(shape(path, format!("unexpected key {key:?}"))),
                },
            }
        }
        let name = name.ok_or_else(|| shape(path, "`name` is missing"))?;
        let started = started.ok_or_else(|| shape(path, "`started` is missing"))?;
        let finished = finished.ok_or_else(|| shape(path, "`finished` is missing"))?;
        Ok(NodeData {
            trace_id: TraceId::from(""),
            parent: Parent::Null,
            name,
            project,
            service,
            host,
            exception,
            started,
            finished,
            payloads,
            marks,
            child_start: 0,
            child_len: 0,
        })
    }
}

/// See [`Report::from_json_value`].
pub(super) fn report_from_value(value: Value) -> Result<Report, ReportError> {
    let mut loader = Loader {
        nodes: Vec::new(),
        children: Vec::new(),
        names: Names::default(),
        values: Values::default(),
        stored: Vec::new(),
        parent_ids: Vec::new(),
    };
    let mut info = None;
    let mut roots = None;
    let mut stats_value = None;
    for (k, v) in object(value, "")? {
        match k.as_str() {
            "info" => info = Some(object(v, "info")?),
            "children" => roots = Some(loader.node_list(v, "children")?),
            "stats" => stats_value = Some(object(v, "stats")?),
            other => return Err(shape("", format!("unexpected key {other:?}"))),
        }
    }
    let info = info.ok_or_else(|| shape("", "`info` is missing"))?;
    let roots = roots.ok_or_else(|| shape("", "`children` is missing"))?;
    let null = Value::Null;
    let finished = opt_integer(info.get("finished").unwrap_or(&null), "info.finished")?;
    let last_trace_started = opt_integer(
        info.get("last_trace_started").unwrap_or(&null),
        "info.last_trace_started",
    )?;

    let mut stats = Vec::new();
    match stats_value {
        Some(map) => {
            for (name, stat) in map {
                let path = format!("stats.{name}");
                let stat = object(stat, &path)?;
                let count = stat
                    .get("count")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| shape(&path, "`count` is not a non-negative integer"))?;
                let duration = stat
                    .get("duration")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| shape(&path, "`duration` is not an integer"))?;
                let id = loader.intern_name(&name, &path)?;
                stats.push((id, Stat { count, duration }));
            }
        }
        None => {
            // Not in the file: the totals over all nodes, in first-seen order.
            for n in &loader.nodes {
                let d = n.finished.saturating_sub(n.started);
                match stats.iter_mut().find(|(id, _)| *id == n.name) {
                    Some((_, s)) => {
                        s.count += 1;
                        s.duration = s.duration.saturating_add(d);
                    }
                    None => stats.push((
                        n.name,
                        Stat {
                            count: 1,
                            duration: d,
                        },
                    )),
                }
            }
        }
    }

    Ok(Report {
        finished,
        last_trace_started,
        nodes: loader.nodes,
        roots,
        children: loader.children,
        stats,
        names: loader.names.list,
        values: loader.values.list,
        text: None,
        stored: loader.stored,
        parent_ids: loader.parent_ids,
        skipped: Vec::new(),
    })
}
