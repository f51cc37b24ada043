//! The SQL driver on the real PostgreSQL and MariaDB servers (each test in a database of its
//! own): the notifier pipeline writes, the report and lists read back as Python's reader
//! builds them; the table is created as SQLAlchemy creates it, and a table made by others is
//! used as it is.
#![cfg(all(feature = "postgres", feature = "mysql"))]

mod sql_support;

use osprofiler::driver::get_driver;
use osprofiler::driver::GetReport;
use sql_support::{
    assert_recorded_report, check_trace_lists, options, record, test_on_each_server, text, Server,
    TempDb, HOST, PYTHON_INDEXES,
};

async fn round_trip(db: TempDb) {
    let driver = get_driver(options(&db.url)).await.unwrap();
    assert_eq!(
        driver.name(),
        match db.server {
            Server::Postgres => "postgresql",
            Server::MariaDb => "mysql",
        }
    );
    let (base_id, stored) = record(driver.clone(), "api").await;
    let report = serde_json::to_value(driver.get_report(&base_id).await.unwrap()).unwrap();
    assert_recorded_report(&report, &stored);

    // Another driver (another process) on the same table, through SQLAlchemy's spelling.
    let scheme = match db.server {
        Server::Postgres => "postgresql+psycopg2",
        Server::MariaDb => "mysql+pymysql",
    };
    let other = get_driver(options(&db.url_as(scheme))).await.unwrap();
    let again = serde_json::to_value(other.get_report(&base_id).await.unwrap()).unwrap();
    assert_eq!(text(&again), text(&report));
    assert!(driver.get_report("nope").await.unwrap().is_empty());

    // The `data` column holds the JSON string of the object, as Python writes it.
    let data_text = match db.server {
        Server::Postgres => "CAST(data AS TEXT)",
        Server::MariaDb => "CAST(data AS CHAR)",
    };
    let rows = db
        .query(&format!(
            "SELECT {data_text}, host, project, service FROM data ORDER BY id"
        ))
        .await;
    assert_eq!(rows.len(), 6);
    let first = rows[0][0].clone().unwrap();
    assert!(
        first.starts_with(r#""{\"info\": {\"request\": "#),
        "{first}"
    );
    assert_eq!(rows[0][1].as_deref(), Some(HOST));
    assert_eq!(rows[0][2].as_deref(), Some("proj"));
    assert_eq!(rows[0][3].as_deref(), Some("api"));
}

test_on_each_server! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    round_trip: postgres_round_trip_through_the_pipeline,
        mariadb_round_trip_through_the_pipeline
}

async fn layout(db: TempDb) {
    let _driver = get_driver(options(&db.url)).await.unwrap();
    let (columns_sql, indexes_sql) = match db.server {
        Server::Postgres => (
            "SELECT column_name, data_type, CAST(character_maximum_length AS TEXT) \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'data' ORDER BY ordinal_position",
            "SELECT indexname FROM pg_indexes WHERE tablename = 'data' \
             AND schemaname = current_schema() AND indexname LIKE 'ix_%' ORDER BY indexname",
        ),
        Server::MariaDb => (
            "SELECT column_name, data_type, CAST(character_maximum_length AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = 'data' ORDER BY ordinal_position",
            "SELECT DISTINCT index_name FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = 'data' \
             AND index_name LIKE 'ix_%' ORDER BY index_name",
        ),
    };
    let columns: Vec<(String, String, Option<String>)> = db
        .query(columns_sql)
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone()))
        .collect();
    // As SQLAlchemy 1.4 creates it for Python (`JSON` is MariaDB's alias of `longtext`).
    let (int, varchar, json_type) = match db.server {
        Server::Postgres => ("integer", "character varying", "json"),
        Server::MariaDb => ("int", "varchar", "longtext"),
    };
    let mut want = vec![("id".to_owned(), int.to_owned(), None)];
    want.push(("timestamp".into(), varchar.into(), Some("26".into())));
    for c in [
        "base_id",
        "parent_id",
        "trace_id",
        "project",
        "host",
        "service",
        "name",
    ] {
        want.push((c.into(), varchar.into(), Some("255".into())));
    }
    let data_len = columns.last().and_then(|c| c.2.clone());
    want.push(("data".into(), json_type.into(), data_len));
    assert_eq!(columns, want);
    let indexes: Vec<String> = db
        .query(indexes_sql)
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(indexes, PYTHON_INDEXES);
    // Opening it again changes nothing (the table is there).
    let _again = get_driver(options(&db.url)).await.unwrap();
    assert_eq!(db.query(indexes_sql).await.len(), 8);

    // The report's rows are found through `ix_data_base_id`.
    let plan = match db.server {
        Server::Postgres => {
            db.query(
                "SET enable_seqscan = off; \
                 EXPLAIN SELECT timestamp FROM data WHERE base_id = 'x' ORDER BY id",
            )
            .await
        }
        Server::MariaDb => {
            db.query("EXPLAIN SELECT timestamp FROM data WHERE base_id = 'x' ORDER BY id")
                .await
        }
    };
    let plan = format!("{plan:?}");
    assert!(plan.contains("ix_data_base_id"), "{plan}");
}

test_on_each_server! {
    #[tokio::test]
    layout: postgres_table_created_as_python_creates_it,
        mariadb_table_created_as_python_creates_it
}

async fn trace_lists(db: TempDb) {
    check_trace_lists(get_driver(options(&db.url)).await.unwrap()).await;
}

test_on_each_server! {
    #[tokio::test]
    trace_lists: postgres_lists_traces_and_error_traces,
        mariadb_lists_traces_and_error_traces
}

/// A `data` table someone else made, with another JSON type, is used as it is.
async fn foreign_table(db: TempDb) {
    let (id, data) = match db.server {
        Server::Postgres => ("id BIGSERIAL PRIMARY KEY", "data JSONB"),
        Server::MariaDb => ("id BIGINT AUTO_INCREMENT PRIMARY KEY", "data TEXT"),
    };
    db.execute(&format!(
        "CREATE TABLE data ({id}, timestamp VARCHAR(26), base_id VARCHAR(64), \
         parent_id VARCHAR(64), trace_id VARCHAR(64), project VARCHAR(64), host VARCHAR(64), \
         service VARCHAR(64), name VARCHAR(64), {data}, extra INTEGER)"
    ))
    .await;
    check_trace_lists(get_driver(options(&db.url)).await.unwrap()).await;
    // Nothing was added to it.
    let indexes = match db.server {
        Server::Postgres => {
            db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'data' AND indexname LIKE 'ix_%'")
                .await
        }
        Server::MariaDb => {
            db.query("SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name LIKE 'ix_%'")
                .await
        }
    };
    assert!(indexes.is_empty(), "{indexes:?}");

    // A table of another layout is refused, naming the database and what is missing.
    db.execute("DROP TABLE data").await;
    db.execute("CREATE TABLE data (x INTEGER)").await;
    let e = get_driver(options(&db.url)).await.unwrap_err().to_string();
    assert!(e.contains("not OSprofiler's"), "{e}");
    assert!(e.contains(&db.name), "{e}");
}

test_on_each_server! {
    #[tokio::test]
    foreign_table: postgres_uses_an_existing_table_as_it_is,
        mariadb_uses_an_existing_table_as_it_is
}

/// 20,000 notifications through the notifier pipeline: all stored, none dropped; prints the
/// rate (figures go to BENCHMARKS.md, not into assertions).
async fn throughput(cs: String, label: &str) {
    const PAIRS: usize = 10_000;
    let driver = get_driver(options(&cs)).await.unwrap();
    let d = driver.clone();
    let (base_id, took, stats) = tokio::task::spawn_blocking(move || {
        let notifier = osprofiler::notifier::BatchNotifier::start(
            d,
            osprofiler::notifier::BatchConfig {
                queue_capacity: 2 * PAIRS,
                ..Default::default()
            },
        );
        let mut p = osprofiler::Profiler::with_notifier("k", None, None, notifier.clone());
        let started = std::time::Instant::now();
        for _ in 0..PAIRS {
            p.start("db", None);
            p.stop(None);
        }
        assert!(notifier.flush(std::time::Duration::from_secs(120)));
        let took = started.elapsed();
        (p.base_id().to_string(), took, notifier.stats())
    })
    .await
    .unwrap();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed),
        (2 * PAIRS as u64, 0, 0)
    );
    let report = driver.get_report(&base_id).await.unwrap();
    assert_eq!(report.node_count(), PAIRS);
    eprintln!(
        "{label}: {} notifications stored in {took:?}: {:.0}/s",
        2 * PAIRS,
        (2 * PAIRS) as f64 / took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_throughput() {
    let dir = tempfile::tempdir().unwrap();
    throughput(
        format!("sqlite://{}", dir.path().join("t.db").display()),
        "SQLite",
    )
    .await;
    if let Some(db) = TempDb::new(Server::Postgres).await {
        throughput(db.url.clone(), "PostgreSQL").await;
    }
    if let Some(db) = TempDb::new(Server::MariaDb).await {
        throughput(db.url.clone(), "MariaDB").await;
    }
}

/// Services starting together on an empty database all find (or make) one table.
async fn concurrent_creators(db: TempDb) {
    let opening: Vec<_> = (0..4)
        .map(|_| tokio::spawn(get_driver(options(&db.url))))
        .collect();
    let mut drivers = Vec::new();
    for o in opening {
        drivers.push(o.await.unwrap().unwrap());
    }
    check_trace_lists(drivers[3].clone()).await;
    assert_eq!(drivers[0].list_traces(&[]).await.unwrap().len(), 3);
}

test_on_each_server! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    concurrent_creators: postgres_drivers_starting_together_share_one_table,
        mariadb_drivers_starting_together_share_one_table
}
