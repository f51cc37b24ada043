//! Shared by the SQLite and PostgreSQL tests: a profiler that collects its points, readers
//! of what was recorded, and Python OSprofiler's own SQL tracing run on the same database.

#![allow(dead_code)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{Notification, Profiler};
use serde_json::Value;

/// A profiler that keeps its points in the returned collector.
pub fn recording() -> (Arc<CollectingNotifier>, Profiler) {
    let points = Arc::new(CollectingNotifier::new());
    let profiler = Profiler::with_notifier("SECRET_KEY", None, None, points.clone());
    (points, profiler)
}

/// `(name, info without host)` of each notification.
pub fn infos(points: &CollectingNotifier) -> Vec<(String, Value)> {
    points
        .notifications()
        .into_iter()
        .map(|n| (n.name.clone(), info_without_host(&n)))
        .collect()
}

pub fn info_without_host(n: &Notification) -> Value {
    let mut info = n.info.clone();
    assert_eq!(
        info.remove("host"),
        Some(Value::from(osprofiler::hostname()))
    );
    Value::Object(info)
}

/// A table name no other test uses (SQL identifiers take no `-`).
pub fn table(prefix: &str) -> String {
    osprofiler_testkit::unique_name(prefix).replace('-', "_")
}

/// Checks that `notes` are start/stop pairs of one point each, named `db`, whose starts
/// and stops share the trace id and whose parent is `parent`.
pub fn assert_pairs(notes: &[Notification], parent: &str) {
    assert_eq!(notes.len() % 2, 0, "{notes:#?}");
    for pair in notes.chunks(2) {
        assert_eq!(pair[0].name, "db-start");
        assert_eq!(pair[1].name, "db-stop");
        assert_eq!(pair[0].trace_id, pair[1].trace_id);
        assert_eq!(pair[0].parent_id, parent);
        assert_eq!(pair[1].parent_id, parent);
    }
}

/// What Python OSprofiler's `sqlalchemy.add_tracing` records for `steps` (a list of
/// `{"sql", "params"}` in SQLAlchemy's `:name` form) on `url`; `None` when the interop
/// virtualenv is missing (outside CI).
pub fn python_infos(url: &str, steps: &Value) -> Option<Vec<(String, Value)>> {
    let python = osprofiler_testkit::python()?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/sqlalchemy_infos.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .arg(url)
        .env("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(steps.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("python's JSON");
    Some(
        list.into_iter()
            .map(|n| (n["name"].as_str().unwrap().to_owned(), n["info"].clone()))
            .collect(),
    )
}
