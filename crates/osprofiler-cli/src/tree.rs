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
//! It works on the report's JSON (Python's layout), so it shows reports from any store or file.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Longest name column (tree lines, name and detail) before it is cut with `…`.
const MAX_NAME: usize = 72;

struct Line {
    name: String,
    duration: Option<i64>,
    start: Option<i64>,
    who: String,
    host: String,
    error: Option<String>,
}

/// Renders `report` (Python's report JSON) as a tree, ending with a newline.
pub fn render(report: &Value) -> String {
    let mut lines = Vec::new();
    let info = report.get("info").and_then(Value::as_object);
    lines.push(Line {
        name: "total".to_owned(),
        duration: info.and_then(|i| int(i.get("finished"))),
        start: Some(0),
        who: String::new(),
        host: String::new(),
        error: None,
    });
    let children = children(report);
    for (i, child) in children.iter().enumerate() {
        walk(child, "", i + 1 == children.len(), &mut lines);
    }

    let name_w = lines
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let dur_w = lines
        .iter()
        .map(|l| ms(l.duration).len())
        .max()
        .unwrap_or(0)
        .max(8);
    let start_w = lines
        .iter()
        .map(|l| ms(l.start).len())
        .max()
        .unwrap_or(0)
        .max(5);
    let who_w = lines
        .iter()
        .map(|l| l.who.chars().count())
        .max()
        .unwrap_or(0)
        .max(15);
    let host_w = lines
        .iter()
        .map(|l| l.host.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);

    let mut out = String::new();
    let header = format!(
        "{:<name_w$}  {:>dur_w$}  {:>start_w$}  {:<who_w$}  HOST",
        "NAME", "DURATION", "START", "PROJECT/SERVICE"
    );
    out.push_str(header.trim_end());
    out.push('\n');
    for l in &lines {
        let pad = name_w - l.name.chars().count();
        let mut row = format!(
            "{}{}  {:>dur_w$}  {:>start_w$}  {:<who_w$}  {:<host_w$}",
            l.name,
            " ".repeat(pad),
            ms(l.duration),
            ms(l.start),
            l.who,
            l.host
        );
        if let Some(e) = &l.error {
            let _ = write!(row, "  ! {e}");
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }

    let points = lines.len() - 1;
    let errors = lines.iter().filter(|l| l.error.is_some()).count();
    let _ = write!(
        out,
        "\n{points} point{}, {errors} error{}",
        if points == 1 { "" } else { "s" },
        if errors == 1 { "" } else { "s" }
    );
    if let Some(stats) = report.get("stats").and_then(Value::as_object) {
        let parts: Vec<String> = stats
            .iter()
            .map(|(name, s)| {
                let count = int(s.get("count")).unwrap_or(0);
                format!("{name} {count}x {}", ms(int(s.get("duration"))))
            })
            .collect();
        if !parts.is_empty() {
            let _ = write!(out, "; by kind: {}", parts.join(", "));
        }
    }
    out.push('\n');
    out
}

fn walk(node: &Value, prefix: &str, last: bool, lines: &mut Vec<Line>) {
    let empty = Map::new();
    let info = node
        .get("info")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let name = info.get("name").and_then(Value::as_str).unwrap_or("?");
    let started = int(info.get("started"));
    let finished = int(info.get("finished"));
    let mut label = format!("{prefix}{}{name}", if last { "└─ " } else { "├─ " });
    if let Some(d) = detail(name, info) {
        label.push(' ');
        label.push_str(&d);
    }
    let who = format!(
        "{}/{}",
        text(info.get("project")).unwrap_or("-".into()),
        text(info.get("service")).unwrap_or("-".into())
    );
    let error = match info.get("exception") {
        Some(Value::String(e)) if e == "None" => None,
        None | Some(Value::Null) => None,
        Some(e) => {
            let etype = text(Some(e)).unwrap_or_default();
            let message = info
                .get(&format!("meta.raw_payload.{name}-stop"))
                .and_then(|p| p.get("info"))
                .and_then(|i| i.get("message"))
                .and_then(|m| text(Some(m)));
            Some(match message {
                Some(m) if !m.is_empty() => one_line(&format!("{etype}: {m}"), 120),
                _ => etype,
            })
        }
    };
    lines.push(Line {
        name: one_line(&label, MAX_NAME),
        duration: match (started, finished) {
            (Some(s), Some(f)) => Some(f - s),
            _ => None,
        },
        start: started,
        who,
        host: text(info.get("host")).unwrap_or("-".into()),
        error,
    });
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let kids = children(node);
    for (i, child) in kids.iter().enumerate() {
        walk(child, &child_prefix, i + 1 == kids.len(), lines);
    }
}

/// A short description of what the point did, from its start payload (as Python's DOT
/// output labels nodes): the request of `wsgi` and `http(s)`, the SQL of `db`, else the
/// function's name.
fn detail(name: &str, info: &Map<String, Value>) -> Option<String> {
    let start = info.get(&format!("meta.raw_payload.{name}-start"))?;
    let pinfo = start.get("info")?;
    if let Some(req) = pinfo.get("request") {
        let method = text(req.get("method")).unwrap_or_default();
        let path = text(req.get("path")).unwrap_or_default();
        let query = text(req.get("query")).unwrap_or_default();
        let mut s = format!("{method} {path}");
        if !query.is_empty() {
            s.push('?');
            s.push_str(&query);
        }
        return Some(s.trim().to_owned());
    }
    if let Some(req) = pinfo.get("requests") {
        let method = text(req.get("method")).unwrap_or_default();
        let scheme = text(req.get("scheme")).unwrap_or_else(|| name.to_owned());
        let host = text(req.get("hostname")).unwrap_or_default();
        let port = req
            .get("port")
            .and_then(|p| text(Some(p)))
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let path = text(req.get("path")).unwrap_or_default();
        return Some(format!("{method} {scheme}://{host}{port}{path}"));
    }
    if let Some(stmt) = pinfo.get("db").and_then(|d| d.get("statement")) {
        return text(Some(stmt));
    }
    let function = text(pinfo.get("function")?.get("name"))?;
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

fn children(node: &Value) -> &[Value] {
    node.get("children")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn ms(v: Option<i64>) -> String {
    match v {
        Some(v) => format!("{v} ms"),
        None => "?".to_owned(),
    }
}

/// Control characters become spaces, and text longer than `max` characters is cut with `…`.
fn one_line(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        clean
    } else {
        let mut cut: String = clean.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_a_tree() {
        let report = json!({
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
        });
        let out = render(&report);
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
