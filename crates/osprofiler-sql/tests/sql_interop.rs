//! Interop with the real Python OSprofiler 4.4.0 on PostgreSQL, MariaDB and SQLite, both ways
//! (each test in a database of its own):
//! - a trace written by Python's SQL driver: our `get_report` equals, values and key order,
//!   what Python's own `osprofiler trace show --json` prints (for SQLite, which Python's CLI
//!   cannot open, what its SQL driver's `get_report` returns); the table Python created is
//!   used as it is;
//! - a trace written by our notifier into a table our driver created: Python shows exactly
//!   our report;
//! - traces stored out of time order: our `list_traces` gives the rows Python's
//!   `SQLAlchemyDriver.list_traces` gives (what both CLIs' `trace list` print).
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod sql_support;

use osprofiler::driver::GetReport;
use osprofiler_testkit::run;
use std::path::{Path, PathBuf};

use osprofiler::driver::get_driver;
use serde_json::Value;
use sql_support::{
    options, record, store_out_of_time_order, test_per_backend, text, Server, TempDb,
};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Python's view of trace `base_id` in `cs`: its CLI's `trace show --json` for a server,
/// its SQL driver's report for SQLite.
fn python_show(python: &Path, cs: &str, base_id: &str) -> Value {
    let out = if cs.starts_with("sqlite") {
        run(
            python,
            &[script("sql_show.py").to_str().unwrap(), cs, base_id],
        )
    } else {
        osprofiler_testkit::trace_show_json(
            &osprofiler_testkit::python_cli(python),
            base_id,
            cs,
            &[],
        )
    };
    serde_json::from_str(&out).unwrap()
}

/// A store of its own: (connection string as a Python service writes it, what keeps it).
enum Store {
    Server(TempDb),
    Sqlite(tempfile::TempDir),
}

impl Store {
    async fn new(kind: Option<Server>) -> Option<Store> {
        match kind {
            Some(s) => TempDb::new(s).await.map(Store::Server),
            None => Some(Store::Sqlite(tempfile::tempdir().unwrap())),
        }
    }

    /// The string a Python service is configured with (SQLAlchemy's forms).
    fn python_cs(&self) -> String {
        match self {
            Store::Server(db) if db.server == Server::Postgres => db.url.clone(),
            Store::Server(db) => db.url_as("mysql+pymysql"),
            // SQLAlchemy's absolute path takes four slashes; sqlx reads it the same.
            Store::Sqlite(dir) => format!("sqlite:///{}", dir.path().join("t.db").display()),
        }
    }
}

/// The Python interpreter with OSprofiler and a new store of `kind`; `None` (the test is
/// skipped, see `osprofiler_testkit`) when either is not there.
async fn python_and_store(kind: Option<Server>) -> Option<(PathBuf, Store)> {
    let python = osprofiler_testkit::python()?;
    Some((python, Store::new(kind).await?))
}

async fn python_writes(kind: Option<Server>) {
    let Some((python, store)) = python_and_store(kind).await else {
        return;
    };
    let cs = store.python_cs();
    let base_id = run(
        &python,
        &[script("sql_write_trace.py").to_str().unwrap(), &cs],
    )
    .trim()
    .to_owned();
    let theirs = python_show(&python, &cs, &base_id);
    assert_eq!(theirs["children"][0]["info"]["host"], "pyhost");

    // Our driver takes the table Python made as it is, and reads the same report.
    let driver = get_driver(options(&cs)).await.unwrap();
    let ours = serde_json::to_value(driver.get_report(&base_id).await.unwrap()).unwrap();
    assert_eq!(text(&ours), text(&theirs));
    assert_eq!(
        ours["children"][0]["children"][1]["info"]["exception"],
        "ValueError"
    );
    let listed = driver.list_traces(&[]).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["base_id"], base_id.as_str());
    let errors = driver.list_error_traces().await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["base_id"], base_id.as_str());
}

async fn rust_writes(kind: Option<Server>) {
    let Some((python, store)) = python_and_store(kind).await else {
        return;
    };
    let cs = store.python_cs();
    // Our driver creates the table; our notifier writes.
    let driver = get_driver(options(&cs)).await.unwrap();
    let (base_id, _) = record(driver.clone(), "rust-api").await;
    let ours = serde_json::to_value(driver.get_report(&base_id).await.unwrap()).unwrap();
    let theirs = python_show(&python, &cs, &base_id);
    assert_eq!(text(&theirs), text(&ours));
    assert_eq!(theirs["children"][0]["info"]["service"], "rust-api");
}

async fn lists_as_python(kind: Option<Server>) {
    let Some((python, store)) = python_and_store(kind).await else {
        return;
    };
    let cs = store.python_cs();
    let driver = get_driver(options(&cs)).await.unwrap();
    store_out_of_time_order(&driver).await;
    let pairs = |rows: Vec<Value>| -> Vec<(String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r["base_id"].as_str().unwrap().to_owned(),
                    r["timestamp"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let listed = driver.list_traces(&["base_id", "timestamp"]).await.unwrap();
    let ours = pairs(listed.into_iter().map(Value::Object).collect());
    let theirs = pairs(
        serde_json::from_str(&run(
            &python,
            &[script("sql_list.py").to_str().unwrap(), &cs],
        ))
        .unwrap(),
    );
    assert_eq!(ours, theirs);
    // Each trace's first stored row, in the order stored (not the earliest timestamp).
    assert_eq!(
        ours,
        [
            ("late", "2026-01-02T00:00:00.000000"),
            ("early", "2026-01-01T00:00:00.000000"),
            ("mid", "2026-01-01T12:00:00.000000"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

test_per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async python_writes:
        postgres_trace_written_by_python_reads_as_pythons_cli_shows_it(Some(Server::Postgres)),
        mariadb_trace_written_by_python_reads_as_pythons_cli_shows_it(Some(Server::MariaDb)),
        sqlite_trace_written_by_python_reads_as_python_reads_it(None);
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async rust_writes:
        postgres_trace_written_by_us_shows_in_pythons_cli(Some(Server::Postgres)),
        mariadb_trace_written_by_us_shows_in_pythons_cli(Some(Server::MariaDb)),
        sqlite_trace_written_by_us_reads_in_python(None);
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async lists_as_python:
        postgres_trace_list_is_pythons(Some(Server::Postgres)),
        mariadb_trace_list_is_pythons(Some(Server::MariaDb)),
        sqlite_trace_list_is_pythons(None);
}
