//! `trace show --dot`: the trace as a Graphviz DOT graph, the same text Python's
//! `osprofiler trace show --dot` prints (its `_create_dot_graph` through the `graphviz`
//! package), and `--render-dot FILE`, which renders that graph with Graphviz's `dot` program.
//!
//! The text, as Python makes it: `digraph {`, then the tree walked depth first; each point is a
//! node numbered in visiting order (the report's root, `total`, is `0`), labelled
//! `service:name - <finished - started> ms`, plus `\n<method> <path[:30]>..` for `wsgi` and
//! `\n<function name after its last dot>` for `rpc` and `driver`; the edge from a point to a
//! child follows the child's whole subtree. Labels are quoted as the `graphviz` package
//! quotes them.
//!
//! Where Python's CLI fails with a traceback, this goes on: a null `service` gives no
//! `service:` prefix, a missing `finished` or `started` counts as the other (0 when both
//! are missing), and a `wsgi`, `rpc` or `driver` point without its request or function info
//! gets the plain label.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::borrow::Cow;

use anyhow::{bail, Context, Result};
use osprofiler::report::{Node, Report};
use serde_json::{Map, Value};

use osprofiler::pyjson::{python_float_repr, python_str as py_str};

/// Output formats `--render-dot` takes from the file's extension (Graphviz's `-T` names).
/// Any other extension (or none) renders to `FILE.pdf`, as Python's CLI always does.
const RENDER_FORMATS: &[&str] = &[
    "bmp", "canon", "dot", "eps", "fig", "gif", "gv", "imap", "jpe", "jpeg", "jpg", "json", "pdf",
    "pic", "plain", "png", "ps", "ps2", "svg", "svgz", "tif", "tiff", "vml", "webp", "xdot",
];

/// The DOT text of `report` (Python's report JSON, as read from a file), ending with `}` and
/// a newline.
pub fn graph(report: &Value) -> String {
    let empty = Map::new();
    let info = |node: &Value| info_of(node).unwrap_or(&empty).clone();
    let point = |node: &&Value| value_point(info_of(node).unwrap_or(&empty));
    write_graph(
        label(&value_point(&info(report))),
        Box::new(children_of(report).iter()),
        &point,
        &|node: &&Value| Box::new(children_of(node).iter()),
    )
}

/// The DOT text of a report built here, read from the report itself (no JSON copy of it).
pub fn graph_report(report: &Report) -> String {
    let top = label(&Point {
        name: Cow::Borrowed("total"),
        service: None,
        time_taken: report.finished().unwrap_or(0).to_string(),
        start_info: None,
    });
    write_graph(
        top,
        Box::new(report.roots()),
        &|node: &Node<'_>| node_point(node),
        &|node: &Node<'_>| Box::new(node.children()),
    )
}

/// What a label is made of.
struct Point<'a> {
    name: Cow<'a, str>,
    /// `None` when absent or null.
    service: Option<String>,
    time_taken: String,
    /// `info` of the point's start notification, for `wsgi`, `rpc` and `driver` only.
    start_info: Option<Value>,
}

/// The kinds whose label tells more, from their start notification's info.
fn labels_more(name: &str) -> bool {
    matches!(name, "wsgi" | "rpc" | "driver")
}

fn value_point(info: &Map<String, Value>) -> Point<'static> {
    let name = info.get("name").map(py_str).unwrap_or_default();
    let start_info = labels_more(&name)
        .then(|| info.get(&format!("meta.raw_payload.{name}-start")))
        .flatten()
        .and_then(|p| p.get("info"))
        .cloned();
    Point {
        service: info.get("service").filter(|s| !s.is_null()).map(py_str),
        time_taken: time_taken(info),
        start_info,
        name: Cow::Owned(name),
    }
}

fn node_point<'a>(node: &Node<'a>) -> Point<'a> {
    let info = node.info();
    let name = info.name();
    let service = match info.service().get() {
        "null" => None,
        raw => serde_json::from_str::<Value>(raw).ok().map(|v| py_str(&v)),
    };
    let start_info = labels_more(name)
        .then(|| info.payload(&format!("{name}-start")))
        .flatten()
        .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
        .and_then(|mut p| p.get_mut("info").map(Value::take));
    Point {
        name: Cow::Borrowed(name),
        service,
        time_taken: (i128::from(info.finished()) - i128::from(info.started())).to_string(),
        start_info,
    }
}

/// Python's traversal: depth first, nodes numbered in visiting order from the top's `0`, the
/// edge to a child written after the child's subtree. Iterative, so deep reports do not
/// overflow the stack.
fn write_graph<'a, N: 'a>(
    top_label: String,
    roots: Box<dyn Iterator<Item = N> + 'a>,
    point: &dyn Fn(&N) -> Point<'a>,
    children: &dyn Fn(&N) -> Box<dyn Iterator<Item = N> + 'a>,
) -> String {
    let mut out = String::from("digraph {\n");
    let _ = writeln!(out, "\t0 [label={}]", quote(&top_label));
    let mut next_id = 1usize;
    let mut stack: Vec<(usize, Box<dyn Iterator<Item = N> + 'a>)> = vec![(0, roots)];
    while let Some((parent, iter)) = stack.last_mut() {
        let parent = *parent;
        match iter.next() {
            Some(child) => {
                let id = next_id;
                next_id += 1;
                let _ = writeln!(out, "\t{id} [label={}]", quote(&label(&point(&child))));
                stack.push((id, children(&child)));
            }
            None => {
                stack.pop();
                if let Some((grandparent, _)) = stack.last() {
                    let _ = writeln!(out, "\t{grandparent} -> {parent}");
                }
            }
        }
    }
    out.push_str("}\n");
    out
}

fn info_of(node: &Value) -> Option<&Map<String, Value>> {
    node.get("info").and_then(Value::as_object)
}

fn children_of(node: &Value) -> &[Value] {
    node.get("children")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Python's label of one point (`_create_node`).
fn label(p: &Point<'_>) -> String {
    let service = p
        .service
        .as_deref()
        .map(|s| format!("{s}:"))
        .unwrap_or_default();
    let mut label = format!("{service}{} - {} ms", p.name, p.time_taken);
    let Some(start) = &p.start_info else {
        return label;
    };
    match &*p.name {
        "wsgi" => {
            if let Some(req) = start.get("request") {
                let method = req.get("method").map(py_str).unwrap_or_default();
                let path: String = req
                    .get("path")
                    .map(py_str)
                    .unwrap_or_default()
                    .chars()
                    .take(30)
                    .collect();
                let _ = write!(label, "\\n{method} {path}..");
            }
        }
        _ => {
            if let Some(f) = start.get("function").and_then(|f| f.get("name")) {
                let f = py_str(f);
                let _ = write!(label, "\\n{}", f.rsplit('.').next().unwrap_or(""));
            }
        }
    }
    label
}

/// `finished - started` as Python prints it: an integer, or a float's `repr` when either is
/// a float.
fn time_taken(info: &Map<String, Value>) -> String {
    let number = |key: &str| info.get(key).filter(|v| v.is_number());
    let (started, finished) = match (number("started"), number("finished")) {
        (Some(s), Some(f)) => (s, f),
        (Some(s), None) => (s, s),
        (None, Some(f)) => (f, f),
        (None, None) => return "0".to_owned(),
    };
    let int = |v: &Value| v.as_i64().map(i128::from).or(v.as_u64().map(i128::from));
    match (int(started), int(finished)) {
        (Some(s), Some(f)) => (f - s).to_string(),
        _ => python_float_repr(finished.as_f64().unwrap_or(0.0) - started.as_f64().unwrap_or(0.0)),
    }
}

/// The `graphviz` package's `quote`: an HTML-like `<...>` string is kept as it is, a plain
/// DOT id (letters, digits and `_` not starting with a digit, or a numeral) too unless it is
/// a keyword, anything else is put in double quotes with each `"` not already escaped given
/// a backslash (other backslashes are kept: `\n` in a label is Graphviz's line break).
fn quote(s: &str) -> String {
    // Python's `$` also matches before a final newline.
    let body = s.strip_suffix('\n').unwrap_or(s);
    if s.starts_with('<') && body.ends_with('>') {
        return s.to_owned();
    }
    let keyword = ["node", "edge", "graph", "digraph", "subgraph", "strict"]
        .contains(&body.to_lowercase().as_str());
    if (is_name(body) || is_numeral(body)) && !keyword {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut backslashes = 0usize;
    for c in s.chars() {
        if c == '"' && backslashes % 2 == 0 {
            out.push('\\');
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
        out.push(c);
    }
    out.push('"');
    out
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)`
fn is_numeral(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    match s.split_once('.') {
        None => !s.is_empty() && digits(s),
        Some(("", frac)) => !frac.is_empty() && digits(frac),
        Some((int, frac)) => digits(int) && digits(frac),
    }
}

/// The file `--render-dot target` writes and the `dot -T` format: the format the extension
/// names, else PDF into `target.pdf` (Python's `graphviz` `render(target)` with
/// `format="pdf"`).
pub fn render_target(target: &Path) -> (PathBuf, &'static str) {
    let ext = target
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.and_then(|e| RENDER_FORMATS.iter().find(|f| **f == e)) {
        Some(format) => (target.to_path_buf(), format),
        None => {
            let mut name = target.as_os_str().to_owned();
            name.push(".pdf");
            (PathBuf::from(name), "pdf")
        }
    }
}

/// Renders the DOT `source` with Graphviz's `dot` program (found on `PATH`) into the file
/// [`render_target`] names; returns that file.
pub fn render(source: &str, target: &Path) -> Result<PathBuf> {
    let (file, format) = render_target(target);
    let mut child = Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "--render-dot needs Graphviz's `dot` program, which is not on PATH \
                     (install Graphviz, e.g. `apt-get install graphviz`)"
                )
            } else {
                anyhow::anyhow!("cannot run Graphviz's `dot` program: {e}")
            }
        })?;
    // A small graph fits in the pipe; a big one is read by `dot` while it is written.
    let mut stdin = child.stdin.take().context("dot's standard input")?;
    let write_result = stdin.write_all(source.as_bytes());
    drop(stdin);
    let output = child
        .wait_with_output()
        .context("waiting for Graphviz's `dot` program")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "Graphviz's `dot -T{format}` could not render {}: {}",
            file.display(),
            stderr.trim().replace('\n', " ")
        );
    }
    write_result.context("writing the graph to Graphviz's `dot` program")?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn quotes_as_the_graphviz_package() {
        assert_eq!(quote("0"), "0");
        assert_eq!(quote("-4.2"), "-4.2");
        assert_eq!(quote(".42"), ".42");
        assert_eq!(quote("spam"), "spam");
        assert_eq!(quote("node"), "\"node\"");
        assert_eq!(quote("Graph"), "\"Graph\"");
        assert_eq!(quote("spam eggs"), "\"spam eggs\"");
        assert_eq!(quote("<<b>x</b>>"), "<<b>x</b>>");
        assert_eq!(quote("<>"), "<>");
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(quote(r#"a\"b"#), r#""a\"b""#);
        assert_eq!(quote(r#"a\\"b"#), r#""a\\\"b""#);
        assert_eq!(quote(r"a - 1 ms\nb"), r#""a - 1 ms\nb""#);
        assert_eq!(quote("é"), "\"é\"");
    }

    #[test]
    fn labels_and_order_as_python() {
        let report = json!({
            "info": {"name": "total", "started": 0, "finished": 10},
            "children": [
                {"info": {"name": "wsgi", "service": "api", "started": 0, "finished": 10,
                  "meta.raw_payload.wsgi-start": {"info": {"request": {
                      "method": "GET", "path": "/v2.1/servers/detail/with/a/long/path/x"}}}},
                 "children": [
                    {"info": {"name": "rpc", "service": "c", "started": 1, "finished": 4,
                      "meta.raw_payload.rpc-start": {"info": {"function": {
                          "name": "nova.compute.manager.run"}}}},
                     "children": [{"info": {"name": "db", "service": null, "started": 2,
                                            "finished": 2.5}, "children": []}]},
                    {"info": {"name": "driver", "service": "c", "started": 5}, "children": []}
                 ]}
            ]
        });
        assert_eq!(
            graph(&report),
            "digraph {\n\
             \t0 [label=\"total - 10 ms\"]\n\
             \t1 [label=\"api:wsgi - 10 ms\\nGET /v2.1/servers/detail/with/a/lo..\"]\n\
             \t2 [label=\"c:rpc - 3 ms\\nrun\"]\n\
             \t3 [label=\"db - 0.5 ms\"]\n\
             \t2 -> 3\n\
             \t1 -> 2\n\
             \t4 [label=\"c:driver - 0 ms\"]\n\
             \t1 -> 4\n\
             \t0 -> 1\n\
             }\n"
        );
    }

    /// The graph read from a built report equals the graph of its JSON (the file path).
    #[test]
    fn built_reports_give_the_graph_of_their_json() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../osprofiler/tests/conformance/reports.json"
        );
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut compared = 0;
        for case in &cases {
            let text = case["notifications"].to_string();
            let report = osprofiler::report::report_from_json_text(text).unwrap();
            if report.is_empty() {
                continue;
            }
            let json = serde_json::to_value(&report).unwrap();
            assert_eq!(graph_report(&report), graph(&json), "{}", case["why"]);
            compared += 1;
        }
        assert!(compared > 3, "{compared}");
    }

    #[test]
    fn deep_reports_do_not_overflow() {
        let leaf = || json!({"info": {"name": "db", "started": 0, "finished": 0}, "children": []});
        let mut node = leaf();
        for _ in 0..5000 {
            // Moved in, not through `json!` (which would serialize `node` recursively).
            let mut parent = leaf();
            parent["children"] = Value::Array(vec![node]);
            node = parent;
        }
        let text = graph(&node);
        assert!(text.contains("\t4999 -> 5000\n"));
        // serde_json's Value drops recursively; leak it rather than overflow the test's stack.
        std::mem::forget(node);
    }

    #[test]
    fn render_targets() {
        assert_eq!(
            render_target(Path::new("t.svg")),
            (PathBuf::from("t.svg"), "svg")
        );
        assert_eq!(
            render_target(Path::new("t.PNG")),
            (PathBuf::from("t.PNG"), "png")
        );
        assert_eq!(
            render_target(Path::new("trace")),
            (PathBuf::from("trace.pdf"), "pdf")
        );
        assert_eq!(
            render_target(Path::new("trace.out")),
            (PathBuf::from("trace.out.pdf"), "pdf")
        );
    }
}
