//! The collector's store (`osprofiler_sql::store::TraceStore`) on real SQLite and PostgreSQL
//! (each test in a database of its own): duplicates stored once, notifications read back as
//! received, Python OSprofiler 4.4.0 reading the `data` rows it wrote, the trace list and its
//! filters, retention.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]

mod sql_support;

use std::path::{Path, PathBuf};

use osprofiler::driver::{get_driver, GetReport, StoredTrace};
use osprofiler::report::build_report;
use osprofiler_core::timestamp::Timestamp;
use osprofiler_sql::store::{Incoming, IngestOutcome, TraceQuery, TraceStore};
use osprofiler_testkit::run;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sql_support::{options, test_per_backend, text, Server, TempDb};

/// A database of its own, and its connection string (SQLAlchemy's form, which sqlx reads
/// the same).
enum Db {
    Sqlite(tempfile::TempDir),
    Server(TempDb),
}

impl Db {
    async fn new(kind: Option<Server>) -> Option<Db> {
        match kind {
            Some(s) => TempDb::new(s).await.map(Db::Server),
            None => Some(Db::Sqlite(tempfile::tempdir().unwrap())),
        }
    }

    fn cs(&self) -> String {
        match self {
            Db::Server(db) => db.url.clone(),
            Db::Sqlite(dir) => format!("sqlite:///{}", dir.path().join("c.db").display()),
        }
    }
}

async fn store_on(kind: Option<Server>) -> Option<(TraceStore, Db)> {
    let db = Db::new(kind).await?;
    let store = TraceStore::open(&db.cs()).await.unwrap();
    Some((store, db))
}

/// A notification's text.
#[allow(clippy::too_many_arguments)]
fn note(
    base: &str,
    trace: &str,
    parent: Option<&str>,
    name: &str,
    ts: &str,
    info: Value,
    project: Option<&str>,
    service: Option<&str>,
) -> String {
    let v = json!({"name": name, "base_id": base, "trace_id": trace, "parent_id": parent,
                   "timestamp": ts, "info": info, "project": project, "service": service});
    osprofiler::pyjson::to_string(&v).unwrap()
}

fn incoming(texts: &[String]) -> Vec<Incoming> {
    texts
        .iter()
        .map(|t| Incoming::parse(RawValue::from_string(t.clone()).unwrap()).unwrap())
        .collect()
}

fn timestamp_from(t: &str) -> Result<Timestamp, osprofiler_core::timestamp::TimestampError> {
    Timestamp::parse(t)
}

/// A new uuid-shaped trace id (Python's CLI takes only those as ids, anything else as a file).
fn new_base_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        nanos as u32,
        (nanos >> 32) as u16,
        std::process::id() & 0xfff,
        n & 0xfff,
        ((nanos >> 16) ^ n) & 0xffff_ffff_ffff
    )
}

fn texts_of(raws: &[Box<RawValue>]) -> Vec<&str> {
    raws.iter().map(|r| r.get()).collect()
}

/// A small trace of two services on two hosts, with an error, non-ASCII text, an extra key:
/// what a Python API service calling a Rust compute service sends.
fn sample_trace(base: &str) -> Vec<String> {
    let t = |ms: u32| {
        format!(
            "2026-11-25T04:59:{:02}.{:06}",
            10 + ms / 1000,
            (ms % 1000) * 1000
        )
    };
    let api = (Some("nova"), Some("api"));
    let cmp = (Some("nova"), Some("compute"));
    let w = format!("{base}-wsgi");
    let r = format!("{base}-rpc");
    let d = format!("{base}-db");
    let mut out = vec![
        note(
            base,
            &w,
            Some(base),
            "wsgi-start",
            &t(0),
            json!({"request": {"path": "/servers/é", "method": "GET"}, "host": "h-api"}),
            api.0,
            api.1,
        ),
        note(
            base,
            &r,
            Some(&w),
            "rpc-start",
            &t(3),
            json!({"function": {"name": "boot", "args": "()"}, "host": "h-cmp"}),
            cmp.0,
            cmp.1,
        ),
        note(
            base,
            &d,
            Some(&r),
            "db-start",
            &t(4),
            json!({"db": {"statement": "SELECT 1 /* 100% */", "params": {}}, "host": "h-cmp"}),
            cmp.0,
            cmp.1,
        ),
        note(
            base,
            &d,
            Some(&r),
            "db-stop",
            &t(9),
            json!({"host": "h-cmp"}),
            cmp.0,
            cmp.1,
        ),
        note(
            base,
            &r,
            Some(&w),
            "rpc-stop",
            &t(12),
            json!({"etype": "ValueError", "message": "bad \"thing\"", "host": "h-cmp"}),
            cmp.0,
            cmp.1,
        ),
    ];
    // A stop sent by hand: an extra top-level key, a null parent, compact serde_json text.
    out.push(
        json!({"name": "wsgi-stop", "base_id": base, "trace_id": w, "parent_id": base,
               "timestamp": t(20), "info": {"host": "h-api", "status": 500}, "project": "nova",
               "service": "api", "extra": [1, 2.5]})
        .to_string(),
    );
    out
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Python's report of `base_id` from `db`'s `data` table: its CLI's `trace show --json` on a
/// server, its SQL driver's `get_report` on SQLite (its CLI has no `sqlite://`).
fn python_show(python: &Path, db: &Db, base_id: &str) -> Value {
    let cs = db.cs();
    let out = match db {
        Db::Sqlite(_) => run(
            python,
            &[script("sql_show.py").to_str().unwrap(), &cs, base_id],
        ),
        Db::Server(_) => osprofiler_testkit::trace_show_json(
            &osprofiler_testkit::python_cli(python),
            base_id,
            &cs,
            &[],
        ),
    };
    serde_json::from_str(&out).unwrap()
}

/// Our report of the raw notifications, with each raw payload cut down to what Python's SQL
/// reader gives as raw payload: the notification without the keys its driver puts in columns.
fn as_sql_reader_sees_it(mut report: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if k.starts_with("meta.raw_payload.") {
                        if let Value::Object(p) = child {
                            for key in [
                                "base_id",
                                "timestamp",
                                "parent_id",
                                "trace_id",
                                "project",
                                "host",
                                "service",
                                "name",
                            ] {
                                p.shift_remove(key);
                            }
                        }
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut report);
    report
}

async fn duplicates_are_stored_once(kind: Option<Server>) {
    let Some((store, db)) = store_on(kind).await else {
        return;
    };
    let base = new_base_id();
    let texts = sample_trace(&base);
    // One repeat inside the batch, then a redelivery of a part of it with one new one.
    let first = vec![
        texts[0].clone(),
        texts[1].clone(),
        texts[0].clone(),
        texts[2].clone(),
    ];
    assert_eq!(
        store.ingest(incoming(&first)).await.unwrap(),
        IngestOutcome {
            accepted: 3,
            duplicates: 1
        }
    );
    let again = vec![texts[1].clone(), texts[2].clone(), texts[3].clone()];
    assert_eq!(
        store.ingest(incoming(&again)).await.unwrap(),
        IngestOutcome {
            accepted: 1,
            duplicates: 2
        }
    );
    // The same key with other text (a resent notification with a new timestamp) is a repeat
    // too, and the first text stays.
    let changed = texts[3].replace("04:59:10.009000", "04:59:11.000000");
    assert_ne!(changed, texts[3]);
    assert_eq!(
        store.ingest(incoming(&[changed])).await.unwrap(),
        IngestOutcome {
            accepted: 0,
            duplicates: 1
        }
    );
    let stored = store.notifications(&base).await.unwrap();
    assert_eq!(
        texts_of(&stored),
        texts[..4].iter().map(String::as_str).collect::<Vec<_>>()
    );
    // `data` too holds each once, in arrival order.
    let driver = get_driver(options(&db.cs())).await.unwrap();
    let StoredTrace::Rows(rows) = driver.get_notifications(&base).await.unwrap() else {
        panic!("the SQL driver reads rows")
    };
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["wsgi-start", "rpc-start", "db-start", "db-stop"]);
    let hosts: Vec<Option<&str>> = rows.iter().map(|r| r.host.as_deref()).collect();
    assert_eq!(
        hosts,
        [Some("h-api"), Some("h-cmp"), Some("h-cmp"), Some("h-cmp")]
    );
    let listed = store
        .list(&TraceQuery {
            limit: 10,
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].notifications, 4);
    assert_eq!(listed[0].points, 3);
    assert_eq!(listed[0].duration_ms, 9.0);
    // The same as one JSON list, joined by the database.
    assert_eq!(
        store.notifications_json(&base).await.unwrap().unwrap(),
        format!("[{}]", texts[..4].join(", "))
    );
    assert_eq!(
        store.notifications_json("no-such-trace").await.unwrap(),
        None
    );
    // An unknown trace has nothing.
    assert!(store
        .notifications("no-such-trace")
        .await
        .unwrap()
        .is_empty());
    store.ping().await.unwrap();
}

/// A repeat between two new notifications of one batch: both new ones get their `data` row
/// and count in the summary (SQLite's `AUTOINCREMENT` spends a `seq` on the repeat too, so
/// the new rows' `seq` values are not consecutive).
async fn a_repeat_between_new_ones_stores_both(kind: Option<Server>) {
    let Some((store, db)) = store_on(kind).await else {
        return;
    };
    let base = new_base_id();
    let texts = sample_trace(&base);
    let first = vec![texts[0].clone()];
    store.ingest(incoming(&first)).await.unwrap();
    let batch = vec![texts[1].clone(), texts[0].clone(), texts[2].clone()];
    assert_eq!(
        store.ingest(incoming(&batch)).await.unwrap(),
        IngestOutcome {
            accepted: 2,
            duplicates: 1
        }
    );
    let driver = get_driver(options(&db.cs())).await.unwrap();
    let StoredTrace::Rows(rows) = driver.get_notifications(&base).await.unwrap() else {
        panic!("the SQL driver reads rows")
    };
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["wsgi-start", "rpc-start", "db-start"]);
    let listed = store
        .list(&TraceQuery {
            limit: 10,
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed[0].notifications, 3);
}

async fn arrival_order_is_kept(kind: Option<Server>) {
    // Many notifications over several batches, whose trace ids and timestamps sort against
    // their arrival: both reads give them back as they came.
    let Some((store, _db)) = store_on(kind).await else {
        return;
    };
    let base = new_base_id();
    let texts: Vec<String> = (0..2500u32)
        .rev()
        .map(|i| {
            note(
                &base,
                &format!("{i:06}"),
                Some(&base),
                "p-start",
                &format!(
                    "2026-11-25T04:{:02}:{:02}.{:06}",
                    i / 3600 % 60,
                    i / 60 % 60,
                    i % 60
                ),
                json!({"host": "h"}),
                None,
                None,
            )
        })
        .collect();
    for chunk in texts.chunks(700) {
        store.ingest(incoming(chunk)).await.unwrap();
    }
    let back = store.notifications(&base).await.unwrap();
    assert_eq!(
        texts_of(&back),
        texts.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        store.notifications_json(&base).await.unwrap().unwrap(),
        format!("[{}]", texts.join(", "))
    );
}

async fn concurrent_overlapping_batches_store_each_once(kind: Option<Server>) {
    // Eight senders at once, each with a window of 400 of 1,000 notifications (windows
    // overlap): on SQLite the waiting batches share a transaction, on PostgreSQL they run
    // side by side. Each notification is stored once, and the counts add up.
    let Some((store, _db)) = store_on(kind).await else {
        return;
    };
    let store = std::sync::Arc::new(store);
    let base = new_base_id();
    let texts: Vec<String> = (0..1000u32)
        .map(|i| {
            note(
                &base,
                &format!("t{i:04}"),
                Some(&base),
                "p-start",
                &format!("2026-11-25T04:59:10.{i:06}"),
                json!({"host": "h"}),
                None,
                None,
            )
        })
        .collect();
    let mut senders = Vec::new();
    for k in 0..8usize {
        let window: Vec<String> = texts[k * 85..k * 85 + 400].to_vec();
        let store = store.clone();
        senders.push(tokio::spawn(async move {
            store.ingest(incoming(&window)).await.unwrap()
        }));
    }
    let mut accepted = 0;
    for s in senders {
        let o = s.await.unwrap();
        assert_eq!(o.accepted + o.duplicates, 400);
        accepted += o.accepted;
    }
    let distinct = 7 * 85 + 400;
    assert_eq!(accepted, distinct);
    let mut stored: Vec<String> = texts_of(&store.notifications(&base).await.unwrap())
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(stored.len(), distinct);
    stored.sort();
    assert_eq!(stored, texts[..distinct]);
    let listed = store
        .list(&TraceQuery {
            limit: 5,
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed[0].notifications, distinct as u64);
}

async fn python_reads_what_the_store_wrote(kind: Option<Server>) {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let Some((store, db)) = store_on(kind).await else {
        return;
    };
    let base = new_base_id();
    let texts = sample_trace(&base);
    store.ingest(incoming(&texts[..2])).await.unwrap();
    store.ingest(incoming(&texts[2..])).await.unwrap();
    let raws = store.notifications(&base).await.unwrap();
    assert_eq!(
        texts_of(&raws),
        texts.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let ours = serde_json::to_value(build_report(raws)).unwrap();
    // The report's hosts are the points' own.
    assert_eq!(ours["children"][0]["info"]["host"], "h-api");
    assert_eq!(ours["children"][0]["children"][0]["info"]["host"], "h-cmp");
    assert_eq!(
        ours["children"][0]["children"][0]["info"]["exception"],
        "ValueError"
    );
    let theirs = python_show(&python, &db, &base);
    assert_eq!(text(&theirs), text(&as_sql_reader_sees_it(ours.clone())));
    // The raw payloads differ only by the columned keys: Python's SQL reader has no more.
    assert_eq!(
        theirs["children"][0]["info"]["meta.raw_payload.wsgi-stop"],
        json!({"info": {"host": "h-api", "status": 500}, "extra": [1, 2.5]})
    );
    assert_ne!(text(&theirs), text(&ours));
    // Our SQL driver reads the same `data` rows as Python does.
    let driver = get_driver(options(&db.cs())).await.unwrap();
    let sql = serde_json::to_value(driver.get_report(&base).await.unwrap()).unwrap();
    assert_eq!(text(&sql), text(&theirs));
    if let Db::Server(_) = db {
        // Python's `trace list` reads the table too: the trace, with its first timestamp.
        let cli = osprofiler_testkit::python_cli(&python);
        let listed = run(&cli, &["trace", "list", "--connection-string", &db.cs()]);
        let line = listed
            .lines()
            .find(|l| l.contains(&base))
            .unwrap_or_else(|| panic!("{base} not in:\n{listed}"));
        assert!(line.contains("2026-11-25T04:59:10.000000"), "{line}");
    }
    // Python's SQL driver still writes into the `data` table the store made, and reads its
    // own trace back; the store's tables do not see it.
    let theirs_id = run(
        &python,
        &[script("sql_write_trace.py").to_str().unwrap(), &db.cs()],
    )
    .trim()
    .to_owned();
    let written = python_show(&python, &db, &theirs_id);
    assert_eq!(written["children"][0]["info"]["host"], "pyhost");
    let listed = store
        .list(&TraceQuery {
            limit: 10,
            ..TraceQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| t.base_id.as_str())
            .collect::<Vec<_>>(),
        [base.as_str()]
    );
}

/// A trace of two notifications: (base, start, stop, service, project, host, error).
#[allow(clippy::too_many_arguments)]
fn two(
    base: &str,
    start: &str,
    stop: &str,
    service: &str,
    project: &str,
    host: &str,
    name: &str,
    error: bool,
) -> Vec<String> {
    let mut stop_info = json!({"host": host});
    if error {
        stop_info = json!({"etype": "KeyError", "message": "k", "host": host});
    }
    let t = format!("{base}-t");
    vec![
        note(
            base,
            &t,
            Some(base),
            &format!("{name}-start"),
            start,
            json!({"request": {"path": format!("/{name}/Zürich")}, "host": host}),
            Some(project),
            Some(service),
        ),
        note(
            base,
            &t,
            Some(base),
            &format!("{name}-stop"),
            stop,
            stop_info,
            Some(project),
            Some(service),
        ),
    ]
}

async fn lists_and_filters(kind: Option<Server>) {
    let Some((store, _db)) = store_on(kind).await else {
        return;
    };
    let mut all = Vec::new();
    all.extend(two(
        "t1",
        "2026-01-01T00:00:00.000000",
        "2026-01-01T00:00:00.005000",
        "api",
        "nova",
        "h1",
        "wsgi",
        false,
    ));
    all.extend(two(
        "t2",
        "2026-01-02T00:00:00.000000",
        "2026-01-02T00:00:02.000000",
        "compute",
        "nova",
        "h2",
        "rpc",
        true,
    ));
    all.extend(two(
        "t3",
        "2026-01-03T00:00:00.000000",
        "2026-01-03T00:00:00.100000",
        "api",
        "glance",
        "h1",
        "db_100%",
        false,
    ));
    // t4 spans two services and hosts; its stop arrives first.
    let mut t4 = two(
        "t4",
        "2026-01-04T00:00:00.000000",
        "2026-01-04T00:00:00.250000",
        "api",
        "nova",
        "h1",
        "wsgi",
        false,
    );
    t4.push(note(
        "t4",
        "t4-x",
        Some("t4-t"),
        "rpc-start",
        "2026-01-04T00:00:00.100000",
        json!({"host": "h3"}),
        Some("nova"),
        Some("scheduler"),
    ));
    t4.swap(0, 1);
    all.extend(t4);
    store.ingest(incoming(&all)).await.unwrap();

    let ids = |q: TraceQuery| {
        let store = &store;
        async move {
            let q = TraceQuery {
                limit: if q.limit == 0 { 100 } else { q.limit },
                ..q
            };
            store
                .list(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.base_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(TraceQuery::default()).await, ["t4", "t3", "t2", "t1"]);
    let page = store
        .list(&TraceQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&page).unwrap(),
        json!([{"base_id": "t4", "timestamp": "2026-01-04T00:00:00.000000", "duration_ms": 250.0,
                "points": 2, "notifications": 3, "errors": 0,
                "services": ["api", "scheduler"], "projects": ["nova"], "hosts": ["h1", "h3"]}])
    );
    assert_eq!(
        ids(TraceQuery {
            limit: 2,
            offset: 1,
            ..Default::default()
        })
        .await,
        ["t3", "t2"]
    );
    assert_eq!(
        ids(TraceQuery {
            offset: 10,
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(TraceQuery {
            error: Some(true),
            ..Default::default()
        })
        .await,
        ["t2"]
    );
    assert_eq!(
        ids(TraceQuery {
            error: Some(false),
            ..Default::default()
        })
        .await,
        ["t4", "t3", "t1"]
    );
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        ids(TraceQuery {
            service: s("api"),
            ..Default::default()
        })
        .await,
        ["t4", "t3", "t1"]
    );
    assert_eq!(
        ids(TraceQuery {
            service: s("scheduler"),
            ..Default::default()
        })
        .await,
        ["t4"]
    );
    assert_eq!(
        ids(TraceQuery {
            service: s("ap"),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(TraceQuery {
            project: s("glance"),
            ..Default::default()
        })
        .await,
        ["t3"]
    );
    assert_eq!(
        ids(TraceQuery {
            host: s("h1"),
            project: s("nova"),
            ..Default::default()
        })
        .await,
        ["t4", "t1"]
    );
    let ts = |t: &str| Some(timestamp_from(t).unwrap());
    assert_eq!(
        ids(TraceQuery {
            since: ts("2026-01-02T00:00:00.000000"),
            until: ts("2026-01-03T00:00:00.000000"),
            ..Default::default()
        })
        .await,
        ["t3", "t2"]
    );
    assert_eq!(
        ids(TraceQuery {
            min_duration_ms: Some(100.0),
            ..Default::default()
        })
        .await,
        ["t4", "t3", "t2"]
    );
    assert_eq!(
        ids(TraceQuery {
            min_duration_ms: Some(100.001),
            ..Default::default()
        })
        .await,
        ["t4", "t2"]
    );
    // Text in a point's name, in its info (any case for ASCII letters, non-ASCII too), and
    // LIKE's wildcards taken literally.
    assert_eq!(
        ids(TraceQuery {
            q: s("RPC"),
            ..Default::default()
        })
        .await,
        ["t4", "t2"]
    );
    assert_eq!(
        ids(TraceQuery {
            q: s("keyerror"),
            ..Default::default()
        })
        .await,
        ["t2"]
    );
    assert_eq!(
        ids(TraceQuery {
            q: s("/db_100%/Zürich"),
            ..Default::default()
        })
        .await,
        ["t3"]
    );
    assert_eq!(
        ids(TraceQuery {
            q: s("wsg_"),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(TraceQuery {
            q: s("zürich"),
            ..Default::default()
        })
        .await
        .len(),
        4
    );
    assert_eq!(
        ids(TraceQuery {
            q: s("%"),
            ..Default::default()
        })
        .await,
        ["t3"]
    );
    assert!(
        store.list(&TraceQuery::default()).await.unwrap().is_empty(),
        "limit 0"
    );
}

async fn retention(kind: Option<Server>) {
    let Some((store, db)) = store_on(kind).await else {
        return;
    };
    let mut all = Vec::new();
    all.extend(two(
        "old1",
        "2026-01-01T00:00:00.000000",
        "2026-03-01T00:00:00.000000",
        "api",
        "nova",
        "h1",
        "a",
        true,
    ));
    all.extend(two(
        "old2",
        "2026-01-02T00:00:00.000000",
        "2026-01-02T00:00:01.000000",
        "api",
        "nova",
        "h1",
        "a",
        false,
    ));
    all.extend(two(
        "new",
        "2026-02-01T00:00:00.000000",
        "2026-02-01T00:00:01.000000",
        "api",
        "nova",
        "h1",
        "a",
        false,
    ));
    store.ingest(incoming(&all)).await.unwrap();
    let cutoff = timestamp_from("2026-02-01T00:00:00.000000").unwrap();
    assert_eq!(store.delete_older_than(cutoff).await.unwrap(), 2);
    assert_eq!(store.delete_older_than(cutoff).await.unwrap(), 0);
    let left = store
        .list(&TraceQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|i| i.base_id.as_str()).collect::<Vec<_>>(),
        ["new"]
    );
    for gone in ["old1", "old2"] {
        assert!(store.notifications(gone).await.unwrap().is_empty());
    }
    let driver = get_driver(options(&db.cs())).await.unwrap();
    let in_data: Vec<Value> = driver
        .list_traces(&[])
        .await
        .unwrap()
        .into_iter()
        .map(|t| t["base_id"].clone())
        .collect();
    assert_eq!(in_data, [json!("new")]);
    // Tags went too: a filter finds nothing of the deleted traces.
    let q = TraceQuery {
        limit: 10,
        host: Some("h1".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&q).await.unwrap().len(), 1);
    // A deleted trace that comes again is stored again.
    let again = store.ingest(incoming(&all[..2])).await.unwrap();
    assert_eq!(
        again,
        IngestOutcome {
            accepted: 2,
            duplicates: 0
        }
    );
}

async fn python_rows_beside_the_store(kind: Option<Server>) {
    // Rows written into `data` by Python services directly (not through the collector) stay
    // readable, and the store does not list them.
    let Some((store, db)) = store_on(kind).await else {
        return;
    };
    let driver = get_driver(options(&db.cs())).await.unwrap();
    let (base, _) = sql_support::record(driver.clone(), "direct").await;
    assert!(store
        .list(&TraceQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    assert_eq!(driver.get_notifications(&base).await.unwrap().len(), 6);
    // The store opens a database whose tables exist.
    drop(store);
    let again = TraceStore::open(&db.cs()).await.unwrap();
    again.ping().await.unwrap();
}

/// The indexes of `data` in `db`, sorted.
async fn data_indexes(db: &Db) -> Vec<String> {
    let mut names: Vec<String> = match db {
        Db::Server(t) => t
            .query("SELECT indexname FROM pg_indexes WHERE tablename = 'data'")
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect(),
        Db::Sqlite(_) => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&db.cs()).await.unwrap();
            sqlx::query_scalar::<_, String>(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'data'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
    };
    names.retain(|n| n.starts_with("ix_data_"));
    names.sort();
    names
}

async fn data_is_made_with_the_index_pythons_reader_uses(kind: Option<Server>) {
    let Some((store, db)) = store_on(kind).await else {
        return;
    };
    assert_eq!(data_indexes(&db).await, ["ix_data_base_id"]);
    drop(store);
    let Some(db) = Db::new(kind).await else {
        return;
    };
    let options = osprofiler_sql::store::StoreOptions {
        python_indexes: true,
    };
    let _store = TraceStore::open_with(&db.cs(), &options).await.unwrap();
    assert_eq!(data_indexes(&db).await, sql_support::PYTHON_INDEXES);
}

async fn mysql_is_refused() {
    let e = TraceStore::open("mysql://root:secret@127.0.0.1:1/test")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not yet on MySQL"), "{e}");
    assert!(!e.contains("secret"), "{e}");
}

#[tokio::test]
async fn the_store_is_not_on_mysql_yet() {
    mysql_is_refused().await;
}

test_per_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async duplicates_are_stored_once:
        sqlite_duplicates_are_stored_once(None),
        postgres_duplicates_are_stored_once(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async a_repeat_between_new_ones_stores_both:
        sqlite_a_repeat_between_new_ones_stores_both(None),
        postgres_a_repeat_between_new_ones_stores_both(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async data_is_made_with_the_index_pythons_reader_uses:
        sqlite_data_is_made_with_the_index_pythons_reader_uses(None),
        postgres_data_is_made_with_the_index_pythons_reader_uses(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async concurrent_overlapping_batches_store_each_once:
        sqlite_concurrent_overlapping_batches_store_each_once(None),
        postgres_concurrent_overlapping_batches_store_each_once(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async arrival_order_is_kept:
        sqlite_arrival_order_is_kept(None),
        postgres_arrival_order_is_kept(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async python_reads_what_the_store_wrote:
        sqlite_python_reads_what_the_store_wrote(None),
        postgres_pythons_cli_reads_what_the_store_wrote(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async lists_and_filters:
        sqlite_lists_and_filters(None),
        postgres_lists_and_filters(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async retention:
        sqlite_retention(None),
        postgres_retention(Some(Server::Postgres));
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async python_rows_beside_the_store:
        sqlite_python_rows_beside_the_store(None),
        postgres_python_rows_beside_the_store(Some(Server::Postgres));
}
