//! Shared by the SQLite and PostgreSQL tests: a profiler that collects its points, readers
//! of what was recorded, Python OSprofiler's own SQL tracing run on the same database, and
//! the test bodies that are the same on both but for the pool (the statements compared
//! with Python, and a traced pool with tracing off).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{Notification, Profiler, ProfilerExt as _};
use osprofiler_sqlx::{TracedDatabase, TracedPool};
use serde_json::{json, Value};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row as _, Type};

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

/// What Python OSprofiler's `sqlalchemy.add_tracing` records for `steps` (run in
/// SQLAlchemy's `:name` form) on `url`; `None` when the interop virtualenv is missing
/// (outside CI).
pub fn python_infos(url: &str, steps: &[Step]) -> Option<Vec<(String, Value)>> {
    let steps = Value::from(
        steps
            .iter()
            .map(|step| json!({"sql": step.sqlalchemy, "params": step.params}))
            .collect::<Vec<_>>(),
    );
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

/// One statement run both by sqlx and by SQLAlchemy, to compare what each records.
pub struct Step {
    /// The statement as sqlx runs it, with the database's positional placeholders.
    pub sqlx: String,
    /// The statement as SQLAlchemy runs it, with `:name` parameters.
    pub sqlalchemy: String,
    /// The parameters by name, in the order of their placeholders (sqlx binds them so).
    pub params: Value,
}

impl Step {
    /// `sqlalchemy` with each `:name` replaced, for sqlx, by `placeholder(k)`, `k` counting
    /// the parameters from 1.
    fn new(sqlalchemy: String, params: Value, placeholder: fn(usize) -> String) -> Self {
        let mut sqlx = String::new();
        let mut k = 0;
        let mut chars = sqlalchemy.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ':' && chars.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                while chars
                    .next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .is_some()
                {}
                k += 1;
                sqlx.push_str(&placeholder(k));
            } else {
                sqlx.push(c);
            }
        }
        Step {
            sqlx,
            sqlalchemy,
            params,
        }
    }
}

/// The statements compared with Python on table `t (id, name NOT NULL)`: an insert, an
/// update and a select that succeed, then a unique constraint violation, a NOT NULL
/// violation and `syntax_error`. `placeholder(k)` is the database's `k`th positional
/// parameter (from 1).
pub fn python_comparison_steps(
    t: &str,
    placeholder: fn(usize) -> String,
    syntax_error: &str,
) -> Vec<Step> {
    let insert = format!("INSERT INTO {t} (id, name) VALUES (:i, :n)");
    [
        (insert.clone(), json!({"i": 1, "n": "a"})),
        (
            format!("UPDATE {t} SET name = :n WHERE id = :i"),
            json!({"n": "b", "i": 1}),
        ),
        (
            format!("SELECT name FROM {t} WHERE id = :i"),
            json!({"i": 1}),
        ),
        (insert.clone(), json!({"i": 1, "n": "c"})),
        (insert, json!({"i": 2, "n": null})),
        (syntax_error.to_owned(), json!({})),
    ]
    .into_iter()
    .map(|(sqlalchemy, params)| Step::new(sqlalchemy, params, placeholder))
    .collect()
}

/// Runs [`python_comparison_steps`] through `traced` under a recording profiler, checks
/// that the first three succeed (the select reading the updated name) and the others fail,
/// and that each made one `db` point under the profiler's base, with the insert's start
/// info and the update's empty stop info; returns the infos recorded.
pub async fn run_python_comparison_steps<DB>(
    traced: &TracedPool<DB>,
    steps: &[Step],
) -> Vec<(String, Value)>
where
    DB: TracedDatabase,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    async {
        for (i, step) in steps.iter().enumerate() {
            let mut q = sqlx::query(&step.sqlx);
            for v in step.params.as_object().unwrap().values() {
                q = match v {
                    Value::Number(n) => q.bind(n.as_i64().unwrap()),
                    Value::String(s) => q.bind(s.clone()),
                    _ => q.bind(Option::<String>::None),
                };
            }
            if i == 2 {
                let rows = q.fetch_all(traced).await.unwrap();
                assert_eq!(rows[0].get::<String, _>(0), "b");
            } else {
                assert_eq!(q.execute(traced).await.is_ok(), i < 2, "step {i}");
            }
        }
    }
    .with_profiler(Some(profiler))
    .await;

    assert_pairs(&points.notifications(), &base);
    let ours = infos(&points);
    assert_eq!(
        ours[0].1,
        json!({"db": {"statement": steps[0].sqlx, "params": [1, "a"]}})
    );
    assert_eq!(ours[1].1, json!({}));
    ours
}

/// Checks that `ours` are, point by point, the infos Python recorded (`theirs`): start
/// infos as `assert_same_start` says (the drivers may render statements and parameters
/// differently), stop infos equal but for `etype`, which only failures have and which
/// there names a Python class starting with `python_etype_prefix`.
pub fn assert_infos_match_python(
    ours: &[(String, Value)],
    theirs: &[(String, Value)],
    python_etype_prefix: &str,
    assert_same_start: fn(&Value, &Value),
) {
    assert_eq!(ours.len(), theirs.len(), "{ours:#?}\n{theirs:#?}");
    for ((our_name, our_info), (their_name, their_info)) in ours.iter().zip(theirs) {
        assert_eq!(our_name, their_name);
        if our_name == "db-start" {
            assert_same_start(our_info, their_info);
            continue;
        }
        let (mut our_info, mut their_info) = (our_info.clone(), their_info.clone());
        let our_etype = our_info.as_object_mut().unwrap().remove("etype");
        let their_etype = their_info.as_object_mut().unwrap().remove("etype");
        assert_eq!(our_etype.is_some(), their_etype.is_some());
        if let Some(e) = their_etype {
            assert!(e.as_str().unwrap().starts_with(python_etype_prefix), "{e}");
        }
        assert_eq!(our_info, their_info);
    }
}

/// Checks that `traced`, whose tracing is off, records nothing under a profiler: neither
/// `insert` run with `id` (which must succeed) nor a syntax error.
pub async fn assert_disabled_records_nothing<DB>(traced: &TracedPool<DB>, insert: &str, id: i64)
where
    DB: TracedDatabase,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let (points, profiler) = recording();
    async {
        sqlx::query(insert).bind(id).execute(traced).await.unwrap();
        assert!(sqlx::query("SELEC 1").execute(traced).await.is_err());
    }
    .with_profiler(Some(profiler))
    .await;
    assert!(points.take().is_empty());
}
