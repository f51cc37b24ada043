//! The SQL driver on SQLite (the embedded default store; `sql_servers.rs` has PostgreSQL and
//! MariaDB): Python's SQL layout, the double-encoded `data` column, reports read back as
//! Python's SQL reader builds them, trace lists, SQLAlchemy's scheme spellings, and clear
//! errors.
#![cfg(feature = "sqlite")]

mod sql_support;

use osprofiler::driver::GetReport;
use std::time::Duration;

use osprofiler::driver::{get_driver, Driver};
use osprofiler::{Info, Notification};
use osprofiler_sql::SqlDriver;
use serde_json::{json, Value};
use sql_support::{assert_recorded_report, options, record, HOST, PYTHON_INDEXES};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};

fn cs(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

async fn raw_connection(path: &std::path::Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let driver = get_driver(options(&cs(&dir, "t.db"))).await.unwrap();
    assert_eq!(driver.name(), "sqlite");
    let (base_id, stored) = record(driver.clone(), "api").await;
    let report = serde_json::to_value(driver.get_report(&base_id).await.unwrap()).unwrap();
    assert_recorded_report(&report, &stored);

    // Another driver on the same file (another process) reads the same report.
    let other = get_driver(options(&cs(&dir, "t.db"))).await.unwrap();
    assert_eq!(
        serde_json::to_value(other.get_report(&base_id).await.unwrap()).unwrap(),
        report
    );
    // An unknown trace is an empty report.
    assert!(driver.get_report("nope").await.unwrap().is_empty());
}

#[tokio::test]
async fn layout_is_pythons() {
    let dir = tempfile::tempdir().unwrap();
    let driver = get_driver(options(&cs(&dir, "layout.db"))).await.unwrap();
    let mut info = Info::new();
    info.insert("k".into(), json!("ü\"\\"));
    info.insert("host".into(), json!("vm"));
    let n = Notification {
        name: "db-start".into(),
        base_id: "b1".into(),
        trace_id: "t1".into(),
        parent_id: "p1".into(),
        timestamp: "2026-11-25T04:59:10.042928".into(),
        info,
        project: None,
        service: Some("svc".into()),
    };
    driver.notify(std::slice::from_ref(&n)).await.unwrap();

    let mut conn = raw_connection(&dir.path().join("layout.db")).await;
    let cols: Vec<(String, String)> =
        sqlx::query("SELECT name, type FROM pragma_table_info('data')")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let want = [
        ("id", "INTEGER"),
        ("timestamp", "VARCHAR(26)"),
        ("base_id", "VARCHAR(255)"),
        ("parent_id", "VARCHAR(255)"),
        ("trace_id", "VARCHAR(255)"),
        ("project", "VARCHAR(255)"),
        ("host", "VARCHAR(255)"),
        ("service", "VARCHAR(255)"),
        ("name", "VARCHAR(255)"),
        ("data", "JSON"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(cols, want);
    let mut indexes: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'data' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    indexes.sort();
    assert_eq!(indexes, PYTHON_INDEXES);
    let journal: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(journal, "wal");

    let row = sqlx::query(
        "SELECT id, timestamp, base_id, parent_id, trace_id, project, host, service, name, data FROM data",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(row.get::<i64, _>("id"), 1);
    assert_eq!(row.get::<String, _>("timestamp"), n.timestamp);
    assert_eq!(row.get::<String, _>("base_id"), "b1");
    assert_eq!(row.get::<String, _>("parent_id"), "p1");
    assert_eq!(row.get::<String, _>("trace_id"), "t1");
    // A notification without a project takes the driver's, as Python's `data.pop(.., self.project)`.
    assert_eq!(
        row.get::<Option<String>, _>("project").as_deref(),
        Some("proj")
    );
    assert_eq!(row.get::<String, _>("host"), HOST);
    assert_eq!(row.get::<String, _>("service"), "svc");
    assert_eq!(row.get::<String, _>("name"), "db-start");
    // Python: json.dumps(json.dumps({"info": {"k": "ü\"\\", "host": "vm"}}))
    let data: String = row.get("data");
    assert_eq!(
        data,
        r#""{\"info\": {\"k\": \"\\u00fc\\\"\\\\\", \"host\": \"vm\"}}""#
    );
    let outer: Value = serde_json::from_str(&data).unwrap();
    let inner: Value = serde_json::from_str(outer.as_str().expect("a JSON string")).unwrap();
    assert_eq!(inner, json!({"info": {"k": "ü\"\\", "host": "vm"}}));
}

#[tokio::test]
async fn reads_rows_written_by_python() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("py.db");
    let driver = get_driver(options(&cs(&dir, "py.db"))).await.unwrap();
    let mut conn = raw_connection(&path).await;
    // Rows as Python's SQLAlchemy driver inserts them (one with a plain object in `data`,
    // as another writer may leave it).
    for (name, trace, parent, ts, data) in [
        (
            "wsgi-start",
            "t1",
            "b",
            "2026-01-01T00:00:00.000000",
            r#""{\"info\": {\"host\": \"h\"}}""#,
        ),
        (
            "db-start",
            "t2",
            "t1",
            "2026-01-01T00:00:00.001500",
            r#""{\"info\": {\"host\": \"h\"}}""#,
        ),
        (
            "db-stop",
            "t2",
            "t1",
            "2026-01-01T00:00:00.004000",
            r#"{"info": {"etype": "E", "host": "h"}}"#,
        ),
        (
            "wsgi-stop",
            "t1",
            "b",
            "2026-01-01T00:00:00.010999",
            r#""{\"info\": {\"host\": \"h\"}}""#,
        ),
    ] {
        sqlx::query(
            "INSERT INTO data (timestamp, base_id, parent_id, trace_id, project, host, service, name, data) \
             VALUES (?, 'b', ?, ?, NULL, 'pyhost', 'nova', ?, ?)",
        )
        .bind(ts)
        .bind(parent)
        .bind(trace)
        .bind(name)
        .bind(data)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let report = serde_json::to_value(driver.get_report("b").await.unwrap()).unwrap();
    assert_eq!(report["info"]["finished"], 10);
    let wsgi = &report["children"][0];
    assert_eq!(wsgi["info"]["host"], "pyhost");
    assert_eq!(wsgi["info"]["project"], Value::Null);
    assert_eq!(
        wsgi["info"]["meta.raw_payload.wsgi-start"],
        json!({"info": {"host": "h"}})
    );
    let db = &wsgi["children"][0]["info"];
    assert_eq!(
        (db["started"].clone(), db["finished"].clone()),
        (json!(1), json!(4))
    );
    assert_eq!(db["exception"], "E");
    assert_eq!(report["stats"]["db"], json!({"count": 1, "duration": 3}));
}

#[tokio::test]
async fn lists_traces_and_error_traces() {
    let dir = tempfile::tempdir().unwrap();
    sql_support::check_trace_lists(get_driver(options(&cs(&dir, "list.db"))).await.unwrap()).await;
}

#[tokio::test]
async fn creates_missing_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/traces.sqlite");
    let driver = get_driver(options(&format!("sqlite://{}", path.display())))
        .await
        .unwrap();
    assert!(path.is_file());
    assert!(driver.list_traces(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, vec![0x5a; 8192]).unwrap();
    let e = get_driver(options(&format!("sqlite://{}", corrupt.display())))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&corrupt.display().to_string()), "{e}");
    assert!(e.contains("not a database"), "{e}");

    // A folder where the file should be.
    let e = get_driver(options(&format!("sqlite://{}", dir.path().display())))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&dir.path().display().to_string()), "{e}");

    // A folder that cannot be made (a file is in the way).
    let blocked = dir.path().join("corrupt.db/sub/x.db");
    let e = get_driver(options(&format!("sqlite://{}", blocked.display())))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot create the folder"), "{e}");

    // A `data` table that is not Python's.
    let other = dir.path().join("other.db");
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(&other)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE data (x TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let e = get_driver(options(&format!("sqlite://{}", other.display())))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not OSprofiler's"), "{e}");

    // Unknown query parameters name the connection string.
    let e = get_driver(options("sqlite:///tmp/x.db?bogus=1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("sqlite:///tmp/x.db?bogus=1"), "{e}");
}

#[tokio::test]
async fn in_memory_and_read_only() {
    let d = SqlDriver::open(&options("sqlite::memory:")).await.unwrap();
    assert_eq!(d.path(), ":memory:");
    let mut info = Info::new();
    info.insert("host".into(), json!("h"));
    let n = Notification {
        name: "x-start".into(),
        base_id: "m".into(),
        trace_id: "t".into(),
        parent_id: "m".into(),
        timestamp: "2026-01-01T00:00:00.000000".into(),
        info,
        project: None,
        service: None,
    };
    d.notify(std::slice::from_ref(&n)).await.unwrap();
    assert_eq!(d.list_traces(&[]).await.unwrap().len(), 1);
    let via_registry = get_driver(options("sqlite://")).await.unwrap();
    assert!(via_registry.list_traces(&[]).await.unwrap().is_empty());

    // A store opened read-only can be read but not written.
    let dir = tempfile::tempdir().unwrap();
    let file = cs(&dir, "ro.db");
    get_driver(options(&file))
        .await
        .unwrap()
        .notify(std::slice::from_ref(&n))
        .await
        .unwrap();
    let ro = get_driver(options(&format!("{file}?mode=ro")))
        .await
        .unwrap();
    assert_eq!(ro.list_traces(&[]).await.unwrap().len(), 1);
    assert!(ro.notify(&[n]).await.is_err());
    // A read-only store that was never written has nothing to read.
    let missing = cs(&dir, "missing.db");
    assert!(get_driver(options(&format!("{missing}?mode=ro")))
        .await
        .is_err());
}

#[tokio::test]
async fn big_batches_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let driver = get_driver(options(&cs(&dir, "big.db"))).await.unwrap();
    let batch: Vec<Notification> = (0..1000)
        .map(|i| {
            let mut info = Info::new();
            info.insert("i".into(), json!(i));
            info.insert("host".into(), json!("h"));
            Notification {
                name: if i % 2 == 0 { "p-start" } else { "p-stop" }.into(),
                base_id: "big".into(),
                trace_id: format!("t{}", i / 2),
                parent_id: "big".into(),
                timestamp: format!("2026-01-01T00:00:{:02}.{:06}", i / 100, i),
                info,
                project: None,
                service: None,
            }
        })
        .collect();
    let started = std::time::Instant::now();
    driver.notify(&batch).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let report = serde_json::to_value(driver.get_report("big").await.unwrap()).unwrap();
    assert_eq!(report["children"].as_array().unwrap().len(), 500);
    assert_eq!(report["stats"]["p"]["count"], 500);
    // Row order is insertion order.
    assert_eq!(
        report["children"][0]["info"]["meta.raw_payload.p-start"]["info"]["i"],
        0
    );
}

#[tokio::test]
async fn sqlalchemy_spellings_and_unknown_drivers() {
    let dir = tempfile::tempdir().unwrap();
    let cs = format!("sqlite+pysqlite://{}", dir.path().join("a.db").display());
    let driver = get_driver(options(&cs)).await.unwrap();
    assert_eq!(driver.name(), "sqlite");
    assert!(driver.list_traces(&[]).await.unwrap().is_empty());
    for (cs, says) in [
        (
            "sqlite+nope:///tmp/x.db",
            "unknown driver `nope` for sqlite",
        ),
        (
            "postgresql+nope://u:pw@h/db",
            "postgresql+nope://u:***@h/db",
        ),
        (
            "mysql+nope://u@h/db",
            "known: pymysql, mysqldb, mysqlconnector",
        ),
    ] {
        let e = get_driver(options(cs)).await.unwrap_err().to_string();
        assert!(e.contains(says), "{cs}: {e}");
    }
    // Another dialect's `+` form is not ours.
    let e = get_driver(options("redis+x://h"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("driver not found"), "{e}");
}
