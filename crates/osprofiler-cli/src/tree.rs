//! The default `trace show` output: the report as an indented tree with durations.
//!
//! ```text
//! NAME                                            DURATION  START  PROJECT/SERVICE  HOST
//! total                                              24 ms   0 ms
//! └─ wsgi POST /v2.1/servers                         24 ms   0 ms  demo/api         vm
//!    ├─ db Db::instance_create                        4 ms   0 ms  demo/api         vm
//!    └─ rpc ComputeManager::build_and_run_instance   13 ms   9 ms  demo/compute     vm
//!       ├─ driver LibvirtDriver::plug_vifs            3 ms   9 ms  demo/compute     vm    ! VifPlugFailed: port 3f2a is busy
//!       └─ driver LibvirtDriver::spawn               13 ms   9 ms  demo/compute     vm
//!
//! 5 points, 1 error; by kind: wsgi 1x 24 ms, db 1x 4 ms, rpc 1x 13 ms, driver 2x 16 ms
//! ```
//!
//! It reads the report the library built ([`Report`], its compact arena of nodes, payloads
//! read where they lie) or a report file's JSON (Python's layout) the library does not take,
//! through one walk ([`Point`]), so both print the same tree. Big traces: the walk keeps
//! each line's cells in one text arena (the columns' widths are known only at the end), then
//! the lines are written one by one into the caller's buffered writer. Nothing is recursive,
//! so a deep tree cannot overflow the stack.
//!
//! [`TreeOptions`] keep very large trees readable: `--max-depth` cuts the tree below a
//! depth, `--fold-under-ms` folds the subtrees of short points; each cut is one line that
//! says how many points (and errors) it hides.

use std::borrow::Cow;
use std::io::{self, Write};

use osprofiler::report::{Node, Nodes, Report};
use serde::de::{DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Longest name column (tree lines, name and detail) before it is cut with `…`.
const MAX_NAME: usize = 72;

/// Longest error cell (type and message) before it is cut with `…`.
const MAX_ERROR: usize = 120;

/// What the tree leaves out of a very large trace (the default: nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeOptions {
    /// Show points down to this depth (1: the top-level points only; 0: only `total`); the
    /// points below are folded into one line under their parent.
    pub max_depth: Option<usize>,
    /// Fold every subtree whose top point took less than this many milliseconds; consecutive
    /// folded siblings share one line.
    pub fold_under_ms: Option<f64>,
}

/// Renders `report` (Python's report JSON) as a tree, ending with a newline.
#[cfg(test)]
pub fn render(report: &Value) -> String {
    render_with(report, &TreeOptions::default())
}

/// [`render`] with `options`.
#[cfg(test)]
pub fn render_with(report: &Value, options: &TreeOptions) -> String {
    let mut out = Vec::new();
    write_value(report, options, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("the tree is UTF-8")
}

/// Writes the tree of a report the library built.
pub fn write_report<W: Write>(report: &Report, options: &TreeOptions, out: W) -> io::Result<()> {
    let stats: Vec<(Cow<'_, str>, u64, Option<i64>)> = report
        .stats()
        .map(|(name, s)| (Cow::Borrowed(name), s.count, Some(s.duration)))
        .collect();
    let roots = report.roots();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Parts of the top level walked on all cores (their lines are independent: the top
    // level has no prefix). Not with --fold-under-ms, whose runs of folded siblings may
    // cross parts, nor --max-depth 0 (one line for everything); a small trace is not worth
    // the threads.
    let parallel = threads > 1
        && options.fold_under_ms.is_none()
        && options.max_depth != Some(0)
        && report.node_count() >= 20_000;
    let parts = if parallel {
        let mut ranges = Vec::with_capacity(threads);
        let mut rest = roots;
        for k in (1..=threads).rev() {
            let (part, tail) = rest.split_at(rest.len().div_ceil(k));
            if part.len() > 0 {
                ranges.push(part);
            }
            rest = tail;
        }
        let count = ranges.len();
        std::thread::scope(|scope| {
            let handles: Vec<_> = ranges
                .into_iter()
                .enumerate()
                .map(|(i, part)| {
                    scope.spawn(move || walk::<Node<'_>>(part, i + 1 < count, options))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect::<Vec<Lines>>()
        })
    } else {
        vec![walk::<Node<'_>>(roots, false, options)]
    };
    write_lines(report.finished(), &parts, &stats, out)
}

/// Writes the tree of a report's JSON (Python's layout).
pub fn write_value<W: Write>(report: &Value, options: &TreeOptions, out: W) -> io::Result<()> {
    let finished = report
        .get("info")
        .and_then(Value::as_object)
        .and_then(|i| int(i.get("finished")));
    let stats: Vec<(Cow<'_, str>, u64, Option<i64>)> = report
        .get("stats")
        .and_then(Value::as_object)
        .map(|stats| {
            stats
                .iter()
                .map(|(name, s)| {
                    let count = int(s.get("count")).unwrap_or(0);
                    (
                        Cow::Borrowed(name.as_str()),
                        count as u64,
                        int(s.get("duration")),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let lines = walk::<ValueNode<'_>>(value_kids(report), false, options);
    write_lines(finished, &[lines], &stats, out)
}

// ---------------------------------------------------------------------------------------
// JSON access, over `serde_json::Value`s and over raw JSON text alike.

/// A JSON value the tree reads: `get` a key of an object (`None` for anything else, and the
/// last of repeated keys, as `serde_json::Value` keeps), and its text.
trait Json<'a>: Copy {
    fn get(self, key: &str) -> Option<Self>;

    /// The values of `keys` in one look at the object.
    fn get_all<const N: usize>(self, keys: [&str; N]) -> [Option<Self>; N] {
        keys.map(|k| self.get(k))
    }

    /// `None` for null, a string's own text, the compact JSON of anything else.
    fn text(self) -> Option<Cow<'a, str>>;
}

impl<'a> Json<'a> for &'a Value {
    fn get(self, key: &str) -> Option<Self> {
        Value::get(self, key)
    }

    fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s)),
            other => Some(Cow::Owned(other.to_string())),
        }
    }
}

impl<'a> Json<'a> for &'a RawValue {
    fn get(self, key: &str) -> Option<Self> {
        let [v] = lookup(self.get(), [key]);
        v
    }

    fn get_all<const N: usize>(self, keys: [&str; N]) -> [Option<Self>; N] {
        lookup(self.get(), keys)
    }

    fn text(self) -> Option<Cow<'a, str>> {
        let t = self.get();
        match t.as_bytes().first() {
            Some(b'n') if t == "null" => None,
            Some(b'"') if !t.contains('\\') && t.len() >= 2 => {
                Some(Cow::Borrowed(&t[1..t.len() - 1]))
            }
            Some(b'"') => serde_json::from_str::<String>(t).ok().map(Cow::Owned),
            _ => serde_json::from_str::<Value>(t)
                .ok()
                .map(|v| Cow::Owned(v.to_string())),
        }
    }
}

/// The values of `keys` in the JSON object `text` (each the last of its repeats), read in one
/// pass that skips everything else; all `None` when `text` is not an object.
fn lookup<'a, const N: usize>(text: &'a str, keys: [&str; N]) -> [Option<&'a RawValue>; N] {
    struct Find<'k, const N: usize>([&'k str; N]);
    struct Key<'k, const N: usize>(&'k [&'k str; N]);

    impl<'de, const N: usize> DeserializeSeed<'de> for Key<'_, N> {
        type Value = Option<usize>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'de, const N: usize> Visitor<'de> for Key<'_, N> {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E>(self, v: &str) -> Result<Option<usize>, E> {
            Ok(self.0.iter().position(|k| *k == v))
        }
    }
    impl<'de, 'k, const N: usize> Visitor<'de> for Find<'k, N> {
        type Value = [Option<&'de RawValue>; N];
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = [None; N];
            while let Some(at) = map.next_key_seed(Key(&self.0))? {
                match at {
                    Some(i) => found[i] = Some(map.next_value::<&'de RawValue>()?),
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(found)
        }
    }

    if !text.starts_with('{') {
        return [None; N];
    }
    let mut de = serde_json::Deserializer::from_str(text);
    (&mut de).deserialize_map(Find(keys)).unwrap_or([None; N])
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The points of a tree.

/// One point of the tree, with what a line shows of it.
trait Point<'a>: Copy + 'a {
    type J: Json<'a>;
    type Kids: ExactSizeIterator<Item = Self> + Clone;

    fn kids(self) -> Self::Kids;
    fn name(self) -> &'a str;
    fn project(self) -> Option<Self::J>;
    fn service(self) -> Option<Self::J>;
    fn host(self) -> Option<Self::J>;
    /// `exception` of the info (absent when no stop was stored).
    fn exception(self) -> Option<Self::J>;
    /// `meta.raw_payload.<notification>` of the info; `key` is a scratch buffer.
    fn payload(self, notification: &str, key: &mut String) -> Option<Self::J>;
    fn started(self) -> Option<i64>;
    fn finished(self) -> Option<i64>;

    fn duration(self) -> Option<i64> {
        match (self.started(), self.finished()) {
            (Some(s), Some(f)) => Some(f.wrapping_sub(s)),
            _ => None,
        }
    }

    /// The error type, when the point failed (`exception` neither absent, null nor "None").
    fn error_type(self) -> Option<Cow<'a, str>> {
        self.exception()?.text().filter(|e| e != "None")
    }
}

impl<'a> Point<'a> for Node<'a> {
    type J = &'a RawValue;
    type Kids = Nodes<'a>;

    fn kids(self) -> Nodes<'a> {
        self.children()
    }
    fn name(self) -> &'a str {
        self.info().name()
    }
    fn project(self) -> Option<&'a RawValue> {
        Some(self.info().project())
    }
    fn service(self) -> Option<&'a RawValue> {
        Some(self.info().service())
    }
    fn host(self) -> Option<&'a RawValue> {
        Some(self.info().host())
    }
    fn exception(self) -> Option<&'a RawValue> {
        self.info().exception()
    }
    fn payload(self, notification: &str, _key: &mut String) -> Option<&'a RawValue> {
        self.info().payload(notification)
    }
    fn started(self) -> Option<i64> {
        Some(self.info().started())
    }
    fn finished(self) -> Option<i64> {
        Some(self.info().finished())
    }
    fn error_type(self) -> Option<Cow<'a, str>> {
        // Most points did not fail: their exception is the string "None".
        let e = self.info().exception()?;
        if e.get() == "\"None\"" {
            return None;
        }
        e.text().filter(|e| e != "None")
    }
}

/// A node of a report's JSON.
#[derive(Clone, Copy)]
struct ValueNode<'a> {
    info: Option<&'a Map<String, Value>>,
    node: &'a Value,
}

type ValueKids<'a> = std::iter::Map<std::slice::Iter<'a, Value>, fn(&'a Value) -> ValueNode<'a>>;

fn value_node(node: &Value) -> ValueNode<'_> {
    ValueNode {
        info: node.get("info").and_then(Value::as_object),
        node,
    }
}

fn value_kids(node: &Value) -> ValueKids<'_> {
    let kids = node
        .get("children")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    kids.iter().map(value_node as fn(&Value) -> ValueNode<'_>)
}

impl<'a> ValueNode<'a> {
    fn field(self, key: &str) -> Option<&'a Value> {
        self.info?.get(key)
    }
}

impl<'a> Point<'a> for ValueNode<'a> {
    type J = &'a Value;
    type Kids = ValueKids<'a>;

    fn kids(self) -> ValueKids<'a> {
        value_kids(self.node)
    }
    fn name(self) -> &'a str {
        self.field("name").and_then(Value::as_str).unwrap_or("?")
    }
    fn project(self) -> Option<&'a Value> {
        self.field("project")
    }
    fn service(self) -> Option<&'a Value> {
        self.field("service")
    }
    fn host(self) -> Option<&'a Value> {
        self.field("host")
    }
    fn exception(self) -> Option<&'a Value> {
        self.field("exception")
    }
    fn payload(self, notification: &str, key: &mut String) -> Option<&'a Value> {
        key.clear();
        key.push_str("meta.raw_payload.");
        key.push_str(notification);
        self.field(key)
    }
    fn started(self) -> Option<i64> {
        int(self.field("started"))
    }
    fn finished(self) -> Option<i64> {
        int(self.field("finished"))
    }
}

// ---------------------------------------------------------------------------------------
// The walk: one line per point shown.

/// One line's cells, in [`Lines::text`].
struct Line {
    /// Where the line's text starts in the arena: the name cell, then the project/service,
    /// the host and the error cells.
    at: usize,
    name: u32,
    who: u32,
    host: u32,
    error: u32,
    name_chars: u32,
    has_error: bool,
    /// A line that stands for folded points: the name cell only.
    folded: bool,
    duration: Option<i64>,
    start: Option<i64>,
}

#[derive(Default)]
struct Lines {
    text: String,
    lines: Vec<Line>,
    /// Every point of the tree, shown or folded, and those that failed.
    points: u64,
    errors: u64,
    /// Points left out of the lines.
    folded: u64,
    name_w: usize,
    dur_w: usize,
    start_w: usize,
    who_w: usize,
    host_w: usize,
}

fn ms_len(v: Option<i64>) -> usize {
    match v {
        Some(v) => itoa::Buffer::new().format(v).len() + 3,
        None => 1,
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Appends `s` to `out` with control characters as spaces, cut with `…` to `max`
/// characters; returns how many characters it appended.
fn push_one_line(out: &mut String, s: &str, max: usize) -> usize {
    let count = s.chars().count();
    let keep = if count <= max { count } else { max - 1 };
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_control()) {
        out.push_str(&s[..keep]);
    } else {
        out.extend(
            s.chars()
                .take(keep)
                .map(|c| if c.is_control() { ' ' } else { c }),
        );
    }
    if count > max {
        out.push('…');
        max
    } else {
        count
    }
}

impl Lines {
    fn push_line(&mut self, line: Line) {
        self.name_w = self.name_w.max(line.name_chars as usize);
        if !line.folded {
            self.dur_w = self.dur_w.max(ms_len(line.duration));
            self.start_w = self.start_w.max(ms_len(line.start));
            let at = line.at + line.name as usize;
            let who = &self.text[at..at + line.who as usize];
            let host = &self.text[at + line.who as usize..][..line.host as usize];
            self.who_w = self.who_w.max(who.chars().count());
            self.host_w = self.host_w.max(host.chars().count());
        }
        self.lines.push(line);
    }

    fn total(&mut self, finished: Option<i64>) {
        let at = self.text.len();
        self.text.push_str("total");
        self.push_line(Line {
            at,
            name: 5,
            who: 0,
            host: 0,
            error: 0,
            name_chars: 5,
            has_error: false,
            folded: false,
            duration: finished,
            start: Some(0),
        });
    }

    /// The line of `point`, under `prefix`.
    fn point<'a, P: Point<'a>>(&mut self, point: P, prefix: &str, last: bool, s: &mut Scratch) {
        let name = point.name();
        s.label.clear();
        s.label.push_str(prefix);
        s.label.push_str(if last { "└─ " } else { "├─ " });
        s.label.push_str(name);
        if let Some(d) = detail(point, name, s) {
            s.label.push(' ');
            s.label.push_str(&d);
        }
        let at = self.text.len();
        let name_chars = push_one_line(&mut self.text, &s.label, MAX_NAME);
        let name_len = self.text.len() - at;
        self.text.push_str(
            point
                .project()
                .and_then(Json::text)
                .as_deref()
                .unwrap_or("-"),
        );
        self.text.push('/');
        self.text.push_str(
            point
                .service()
                .and_then(Json::text)
                .as_deref()
                .unwrap_or("-"),
        );
        let who_len = self.text.len() - at - name_len;
        self.text
            .push_str(point.host().and_then(Json::text).as_deref().unwrap_or("-"));
        let host_len = self.text.len() - at - name_len - who_len;
        let error = point.error_type();
        let has_error = error.is_some();
        if let Some(etype) = error {
            let message = point
                .payload(notification(&mut s.notification, name, "-stop"), &mut s.key)
                .and_then(|p| p.get("info"))
                .and_then(|i| i.get("message"))
                .and_then(Json::text);
            match message {
                Some(m) if !m.is_empty() => {
                    s.label.clear();
                    s.label.push_str(&etype);
                    s.label.push_str(": ");
                    s.label.push_str(&m);
                    push_one_line(&mut self.text, &s.label, MAX_ERROR);
                }
                _ => self.text.push_str(&etype),
            }
        }
        let error_len = self.text.len() - at - name_len - who_len - host_len;
        self.push_line(Line {
            at,
            name: len32(name_len),
            who: len32(who_len),
            host: len32(host_len),
            error: len32(error_len),
            name_chars: len32(name_chars),
            has_error,
            folded: false,
            duration: point.duration(),
            start: point.started(),
        });
    }

    /// The line that stands for `points` folded points (`errors` of them failed).
    fn fold(
        &mut self,
        prefix: &str,
        last: bool,
        points: u64,
        errors: u64,
        why: &str,
        s: &mut Scratch,
    ) {
        self.folded += points;
        s.label.clear();
        s.label.push_str(prefix);
        s.label.push_str(if last { "└─ " } else { "├─ " });
        s.label.push_str("… ");
        s.label.push_str(&thousands(points));
        s.label.push_str(if points == 1 {
            " point folded ("
        } else {
            " points folded ("
        });
        s.label.push_str(why);
        s.label.push(')');
        if errors > 0 {
            s.label.push_str(", ");
            s.label.push_str(&thousands(errors));
            s.label
                .push_str(if errors == 1 { " error" } else { " errors" });
        }
        let at = self.text.len();
        let name_chars = push_one_line(&mut self.text, &s.label, MAX_NAME);
        let name_len = self.text.len() - at;
        self.push_line(Line {
            at,
            name: len32(name_len),
            who: 0,
            host: 0,
            error: 0,
            name_chars: len32(name_chars),
            has_error: false,
            folded: true,
            duration: None,
            start: None,
        });
    }
}

/// Writes the header, the `total` line (`finished` ms), the lines of `parts` in order (their
/// columns as wide as the widest cell of any part), then the summary with `stats` (name,
/// count, duration).
fn write_lines<W: Write>(
    finished: Option<i64>,
    parts: &[Lines],
    stats: &[(Cow<'_, str>, u64, Option<i64>)],
    mut out: W,
) -> io::Result<()> {
    let mut total = Lines::default();
    total.total(finished);
    let all = || std::iter::once(&total).chain(parts);
    let name_w = all().map(|p| p.name_w).max().unwrap_or(0).max(4);
    let dur_w = all().map(|p| p.dur_w).max().unwrap_or(0).max(8);
    let start_w = all().map(|p| p.start_w).max().unwrap_or(0).max(5);
    let who_w = all().map(|p| p.who_w).max().unwrap_or(0).max(15);
    let host_w = all().map(|p| p.host_w).max().unwrap_or(0).max(4);
    let header = format!(
        "{:<name_w$}  {:>dur_w$}  {:>start_w$}  {:<who_w$}  HOST",
        "NAME", "DURATION", "START", "PROJECT/SERVICE"
    );
    out.write_all(header.trim_end().as_bytes())?;
    out.write_all(b"\n")?;
    let mut row = String::with_capacity(256);
    let mut num = itoa::Buffer::new();
    let spaces = |row: &mut String, n: usize| row.extend(std::iter::repeat_n(' ', n));
    for part in all() {
        for l in &part.lines {
            row.clear();
            let at = l.at;
            let name = &part.text[at..at + l.name as usize];
            row.push_str(name);
            if !l.folded {
                let at = at + l.name as usize;
                let who = &part.text[at..at + l.who as usize];
                let at = at + l.who as usize;
                let host = &part.text[at..at + l.host as usize];
                let at = at + l.host as usize;
                let error = &part.text[at..at + l.error as usize];
                spaces(&mut row, name_w - l.name_chars as usize);
                for (v, w) in [(l.duration, dur_w), (l.start, start_w)] {
                    row.push_str("  ");
                    spaces(&mut row, w - ms_len(v));
                    match v {
                        Some(v) => {
                            row.push_str(num.format(v));
                            row.push_str(" ms");
                        }
                        None => row.push('?'),
                    }
                }
                row.push_str("  ");
                row.push_str(who);
                spaces(&mut row, who_w.saturating_sub(who.chars().count()));
                row.push_str("  ");
                row.push_str(host);
                spaces(&mut row, host_w.saturating_sub(host.chars().count()));
                if l.has_error {
                    row.push_str("  ! ");
                    row.push_str(error);
                }
            }
            out.write_all(row.trim_end().as_bytes())?;
            out.write_all(b"\n")?;
        }
    }

    let points: u64 = parts.iter().map(|p| p.points).sum();
    let errors: u64 = parts.iter().map(|p| p.errors).sum();
    let folded: u64 = parts.iter().map(|p| p.folded).sum();
    let mut summary = format!("\n{points} point{}", if points == 1 { "" } else { "s" });
    if folded > 0 {
        summary.push_str(&format!(" ({} shown)", points - folded));
    }
    summary.push_str(&format!(
        ", {errors} error{}",
        if errors == 1 { "" } else { "s" }
    ));
    let parts: Vec<String> = stats
        .iter()
        .map(|(name, count, duration)| format!("{name} {count}x {}", ms(*duration)))
        .collect();
    if !parts.is_empty() {
        summary.push_str("; by kind: ");
        summary.push_str(&parts.join(", "));
    }
    summary.push('\n');
    out.write_all(summary.as_bytes())?;
    out.flush()
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn ms(v: Option<i64>) -> String {
    match v {
        Some(v) => format!("{v} ms"),
        None => "?".to_owned(),
    }
}

/// Scratch buffers of the walk.
#[derive(Default)]
struct Scratch {
    label: String,
    key: String,
    notification: String,
}

/// `name` and `suffix` (`-start`, `-stop`) in `buf`: a notification's name.
fn notification<'s>(buf: &'s mut String, name: &str, suffix: &str) -> &'s str {
    buf.clear();
    buf.push_str(name);
    buf.push_str(suffix);
    buf
}

/// How many points the subtree of `point` holds, and how many of them failed.
fn count<'a, P: Point<'a>>(point: P) -> (u64, u64) {
    let (mut points, mut errors) = (0, 0);
    let mut stack = vec![point];
    while let Some(p) = stack.pop() {
        points += 1;
        if p.error_type().is_some() {
            errors += 1;
        }
        stack.extend(p.kids());
    }
    (points, errors)
}

/// Walks the tree under `roots` in order, one line per point shown.
///
/// `more_after`: more top-level points follow `roots` (in another part), so the last of
/// `roots` is not drawn as the last.
fn walk<'a, P: Point<'a>>(roots: P::Kids, more_after: bool, options: &TreeOptions) -> Lines {
    let mut lines = Lines::default();
    let mut s = Scratch::default();
    let short = |p: P| match (options.fold_under_ms, p.duration()) {
        (Some(limit), Some(d)) => (d as f64) < limit,
        _ => false,
    };
    let fold_why = options
        .fold_under_ms
        .map(|limit| format!("< {limit} ms"))
        .unwrap_or_default();
    let depth_why = options
        .max_depth
        .map(|d| format!("depth > {d}"))
        .unwrap_or_default();

    let mut prefix = String::new();
    // The siblings still to show at each level, with the length of their lines' prefix.
    let mut stack: Vec<(P::Kids, usize)> = Vec::new();
    if options.max_depth == Some(0) {
        let (points, errors) = roots.fold((0, 0), |(n, e), p| {
            let (pn, pe) = count(p);
            (n + pn, e + pe)
        });
        if points > 0 {
            lines.fold("", true, points, errors, &depth_why, &mut s);
        }
        lines.points = points;
        lines.errors = errors;
        return lines;
    }
    stack.push((roots, 0));
    while !stack.is_empty() {
        let depth = stack.len();
        let Some(top) = stack.last_mut() else { break };
        let prefix_len = top.1;
        let kids = &mut top.0;
        let Some(point) = kids.next() else {
            stack.pop();
            continue;
        };
        prefix.truncate(prefix_len);
        if short(point) {
            let (mut points, mut errors) = count(point);
            while let Some(next) = kids.clone().next().filter(|p| short(*p)) {
                kids.next();
                let (n, e) = count(next);
                points += n;
                errors += e;
            }
            let last = kids.len() == 0 && !(more_after && depth == 1);
            lines.points += points;
            lines.errors += errors;
            lines.fold(&prefix, last, points, errors, &fold_why, &mut s);
            continue;
        }
        let last = kids.len() == 0 && !(more_after && depth == 1);
        lines.points += 1;
        if point.error_type().is_some() {
            lines.errors += 1;
        }
        lines.point(point, &prefix, last, &mut s);
        let children = point.kids();
        if children.len() == 0 {
            continue;
        }
        prefix.push_str(if last { "   " } else { "│  " });
        if options.max_depth.is_some_and(|max| depth >= max) {
            let (points, errors) = children.fold((0, 0), |(n, e), p| {
                let (pn, pe) = count(p);
                (n + pn, e + pe)
            });
            lines.points += points;
            lines.errors += errors;
            lines.fold(&prefix, true, points, errors, &depth_why, &mut s);
            continue;
        }
        let len = prefix.len();
        stack.push((children, len));
    }
    lines
}

/// A short description of what the point did, from its start payload (as Python's DOT
/// output labels nodes): the request of `wsgi` and `http(s)`, the SQL of `db`, else the
/// function's name.
fn detail<'a, P: Point<'a>>(point: P, name: &str, s: &mut Scratch) -> Option<String> {
    let start = point.payload(
        notification(&mut s.notification, name, "-start"),
        &mut s.key,
    )?;
    let pinfo = start.get("info")?;
    let [request, requests, db, function] =
        pinfo.get_all(["request", "requests", "db", "function"]);
    if let Some(req) = request {
        let [method, path, query] = req.get_all(["method", "path", "query"]);
        let method = method.and_then(Json::text).unwrap_or_default();
        let path = path.and_then(Json::text).unwrap_or_default();
        let query = query.and_then(Json::text).unwrap_or_default();
        let mut d = format!("{method} {path}");
        if !query.is_empty() {
            d.push('?');
            d.push_str(&query);
        }
        return Some(d.trim().to_owned());
    }
    if let Some(req) = requests {
        let [method, scheme, host, port, path] =
            req.get_all(["method", "scheme", "hostname", "port", "path"]);
        let method = method.and_then(Json::text).unwrap_or_default();
        let scheme = scheme
            .and_then(Json::text)
            .unwrap_or_else(|| Cow::Owned(name.to_owned()));
        let host = host.and_then(Json::text).unwrap_or_default();
        let port = port
            .and_then(Json::text)
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let path = path.and_then(Json::text).unwrap_or_default();
        return Some(format!("{method} {scheme}://{host}{port}{path}"));
    }
    if let Some(stmt) = db.and_then(|d| d.get("statement")) {
        return stmt.text().map(Cow::into_owned);
    }
    let function = function?.get("name")?.text()?;
    Some(short_function_name(&function))
}

/// `crate::module::Type::method` -> `Type::method`; `pkg.module.Class.method` -> `method`
/// (Python's DOT labels keep the last dotted part).
fn short_function_name(name: &str) -> String {
    if name.contains("::") {
        let parts: Vec<&str> = name.rsplitn(3, "::").collect();
        match parts.as_slice() {
            [last, second, _] if second.starts_with(char::is_uppercase) => {
                format!("{second}::{last}")
            }
            [last, ..] => (*last).to_owned(),
            [] => name.to_owned(),
        }
    } else {
        name.rsplit('.').next().unwrap_or(name).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "info": {"name": "total", "started": 0, "finished": 12, "last_trace_started": 5},
            "children": [{
                "info": {
                    "name": "wsgi", "project": "p", "service": "api", "host": "vm",
                    "meta.raw_payload.wsgi-start": {"info": {"request": {
                        "path": "/x", "query": "a=1", "method": "GET", "scheme": "http"}}},
                    "started": 0, "finished": 12, "exception": "None"
                },
                "trace_id": "t1", "parent_id": "b",
                "children": [{
                    "info": {
                        "name": "db", "project": null, "service": "api", "host": "vm",
                        "meta.raw_payload.db-start": {"info": {"function": {"name": "app::db::Repo::get"}}},
                        "meta.raw_payload.db-stop": {"info": {"etype": "E", "message": "boom\nx"}},
                        "started": 5, "finished": 7, "exception": "E"
                    },
                    "trace_id": "t2", "parent_id": "t1", "children": []
                }]
            }],
            "stats": {"wsgi": {"count": 1, "duration": 12}, "db": {"count": 1, "duration": 2}}
        })
    }

    #[test]
    fn renders_a_tree() {
        let out = render(&sample());
        let want = [
            "NAME                DURATION  START  PROJECT/SERVICE  HOST",
            "total                  12 ms   0 ms",
            "└─ wsgi GET /x?a=1     12 ms   0 ms  p/api            vm",
            "   └─ db Repo::get      2 ms   5 ms  -/api            vm    ! E: boom x",
            "",
            "2 points, 1 error; by kind: wsgi 1x 12 ms, db 1x 2 ms",
            "",
        ];
        assert_eq!(out, want.join("\n"));
    }

    #[test]
    fn folds_and_cuts() {
        let out = render_with(
            &sample(),
            &TreeOptions {
                max_depth: Some(1),
                fold_under_ms: None,
            },
        );
        let want = [
            "NAME                                         DURATION  START  PROJECT/SERVICE  HOST",
            "total                                           12 ms   0 ms",
            "└─ wsgi GET /x?a=1                              12 ms   0 ms  p/api            vm",
            "   └─ … 1 point folded (depth > 1), 1 error",
            "",
            "2 points (1 shown), 1 error; by kind: wsgi 1x 12 ms, db 1x 2 ms",
            "",
        ];
        assert_eq!(out, want.join("\n"));
        let out = render_with(
            &sample(),
            &TreeOptions {
                max_depth: None,
                fold_under_ms: Some(3.0),
            },
        );
        assert!(
            out.contains("\n   └─ … 1 point folded (< 3 ms), 1 error\n"),
            "{out}"
        );
    }

    #[test]
    fn lookup_reads_one_object() {
        let text = r#"{"a": 1, "b\u0022": {"x": [1, 2]}, "a": "last", "c": null}"#;
        let [a, b, c, d] = lookup(text, ["a", "b\"", "c", "d"]);
        assert_eq!(a.map(|v| v.get()), Some("\"last\""));
        assert_eq!(b.map(|v| v.get()), Some(r#"{"x": [1, 2]}"#));
        assert_eq!(c.map(|v| v.get()), Some("null"));
        assert!(d.is_none());
        assert!(lookup("[1]", ["a"])[0].is_none());
    }

    #[test]
    fn function_names() {
        assert_eq!(
            short_function_name("nova.db.api.instance_get"),
            "instance_get"
        );
        assert_eq!(short_function_name("app::db::Repo::get"), "Repo::get");
        assert_eq!(short_function_name("app::db::get"), "get");
        assert_eq!(short_function_name("get"), "get");
    }
}
