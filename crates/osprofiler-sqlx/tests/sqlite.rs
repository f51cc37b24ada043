//! SQL tracing on a real SQLite database (a temporary file), compared with what Python
//! OSprofiler's `sqlalchemy.add_tracing` records for the same statements.

#![cfg(feature = "sqlite")]

mod support;

use futures_util::StreamExt as _;
use osprofiler::{profiler, ProfilerConfig, ProfilerExt as _};
use osprofiler_sqlx::{SqlTracing, TracedPool};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Executor as _, Row as _, Sqlite, SqlitePool};
use support::{
    assert_disabled_records_nothing, assert_infos_match_python, assert_pairs, infos,
    python_comparison_steps, python_infos, recording, run_python_comparison_steps, table,
};

/// A pool on a new database file, and the table `t (id INTEGER PRIMARY KEY, name TEXT NOT
/// NULL)` under a unique name.
async fn database() -> (tempfile::TempDir, String, SqlitePool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.sqlite");
    let pool = SqlitePoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    let t = table("t");
    pool.execute(format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").as_str())
        .await
        .unwrap();
    (dir, format!("sqlite:///{}", path.display()), pool, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_record_the_infos_python_records() {
    let (_dir, url, pool, t) = database().await;
    let traced = SqlTracing::enabled().pool(pool.clone());
    let steps = python_comparison_steps(&t, |_| "?".to_owned(), "SELEC 1");
    let ours = run_python_comparison_steps(&traced, &steps).await;
    assert_eq!(
        ours[7].1,
        json!({
            "etype": "sqlx_sqlite::error::SqliteError",
            "message": format!("UNIQUE constraint failed: {t}.id"),
            "db": {
                "original_exception": format!("UNIQUE constraint failed: {t}.id"),
                "chained_exception": "",
            },
        })
    );

    // Python OSprofiler, same statements on the same (emptied) table: the same infos but
    // for `etype`, which names the DB-API class there.
    pool.execute(format!("DELETE FROM {t}").as_str())
        .await
        .unwrap();
    let Some(theirs) = python_infos(&url, &steps) else {
        return;
    };
    assert_infos_match_python(&ours, &theirs, "sqlite3.", |our_info, their_info| {
        assert_eq!(our_info, their_info);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_stop_at_their_end_or_when_dropped() {
    let (_dir, _url, pool, t) = database().await;
    for i in 0..3 {
        sqlx::query(&format!("INSERT INTO {t} (id, name) VALUES (?, 'x')"))
            .bind(i)
            .execute(&pool)
            .await
            .unwrap();
    }
    let traced = SqlTracing::enabled().pool(pool);
    let select = format!("SELECT id FROM {t} ORDER BY id");
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    async {
        let all: Vec<_> = sqlx::query(&select).fetch(&traced).collect().await;
        assert_eq!(all.len(), 3);
        let mut rows = sqlx::query(&select).fetch(&traced);
        let first = rows.next().await.unwrap().unwrap();
        assert_eq!(first.get::<i64, _>(0), 0);
        drop(rows);
        // A stream made but never polled ran nothing and records nothing.
        drop(sqlx::query(&select).fetch(&traced));
    }
    .with_profiler(Some(profiler))
    .await;
    assert_pairs(&points.notifications(), &base);
    let got = infos(&points);
    let start = json!({"db": {"statement": select, "params": []}});
    assert_eq!(
        got,
        [
            ("db-start".to_owned(), start.clone()),
            ("db-stop".to_owned(), json!({})),
            ("db-start".to_owned(), start),
            ("db-stop".to_owned(), json!({"db": {"dropped": true}})),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_trace_their_statements_only() {
    let (_dir, _url, pool, t) = database().await;
    let traced = SqlTracing::enabled().pool(pool);
    let insert = format!("INSERT INTO {t} (id, name) VALUES (?, ?)");
    let (points, profiler) = recording();
    async {
        let mut tx = traced.begin().await.unwrap();
        for i in 0..2 {
            sqlx::query(&insert)
                .bind(i)
                .bind("tx")
                .execute(traced.wrap(&mut *tx))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    .with_profiler(Some(profiler))
    .await;
    let got = infos(&points);
    assert_eq!(got.len(), 4, "BEGIN and COMMIT are not traced: {got:#?}");
    assert_eq!(
        got[2].1,
        json!({"db": {"statement": insert, "params": [1, "tx"]}})
    );
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
        .fetch_one(traced.get_ref())
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[osprofiler::trace(name = "db")]
async fn load_names(pool: &TracedPool<Sqlite>, sql: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(sql).fetch_all(pool).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_nest_under_traced_functions() {
    let (_dir, _url, pool, t) = database().await;
    let traced = SqlTracing::enabled().pool(pool);
    let select = format!("SELECT name FROM {t}");
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    async {
        assert!(load_names(&traced, &select).await.unwrap().is_empty());
    }
    .with_profiler(Some(profiler))
    .await;
    let notes = points.notifications();
    let names: Vec<&str> = notes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["db-start", "db-start", "db-stop", "db-stop"]);
    let function = &notes[0];
    assert_eq!(function.parent_id, base);
    assert!(function.info.contains_key("function"));
    assert_eq!(notes[3].trace_id, function.trace_id);
    assert_pairs(&notes[1..3], &function.trace_id);
}

/// A statement future or row stream made where a profiler is current records its point
/// there even when another, unprofiled task polls it. (`query.execute(&pool)` is an `async
/// fn` of sqlx: it reaches the executor only when first polled, so its point belongs to the
/// task that polls it; `Executor::execute` and `query.fetch` reach it at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_polled_in_another_task_stops_in_its_own_trace() {
    let (_dir, _url, pool, t) = database().await;
    let traced: &'static TracedPool<Sqlite> = Box::leak(Box::new(SqlTracing::enabled().pool(pool)));
    let insert: &'static str = format!("INSERT INTO {t} (id, name) VALUES (1, 'x')").leak();
    let select: &'static str = format!("SELECT id FROM {t}").leak();
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    let (statement, rows) = async {
        (
            traced.execute(sqlx::query(insert)),
            sqlx::query(select).fetch(traced),
        )
    }
    .with_profiler(Some(profiler))
    .await;
    let done = tokio::spawn(async move {
        let affected = statement.await.unwrap().rows_affected();
        let rows: Vec<_> = rows.collect().await;
        (affected, rows.len(), profiler::is_active())
    })
    .await
    .unwrap();
    assert_eq!(done, (1, 1, false));
    let notes = points.notifications();
    assert_eq!(notes.len(), 4);
    assert_pairs(&notes, &base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_is_a_point_without_params() {
    let (_dir, _url, pool, t) = database().await;
    let traced = SqlTracing::enabled().pool(pool);
    let select = format!("SELECT name FROM {t} WHERE id = ?");
    let (points, profiler) = recording();
    async { (&traced).prepare(&select).await.unwrap() }
        .with_profiler(Some(profiler))
        .await;
    assert_eq!(
        infos(&points),
        [
            (
                "db-start".to_owned(),
                json!({"db": {"statement": select, "params": []}})
            ),
            ("db-stop".to_owned(), json!({})),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_recorded_when_disabled_or_unprofiled() {
    let (_dir, _url, pool, t) = database().await;
    let insert = format!("INSERT INTO {t} (id, name) VALUES (?, 'x')");
    // Disabled (the default, and what a config without trace_sqlalchemy gives), profiled.
    let conf = ProfilerConfig {
        enabled: true,
        ..ProfilerConfig::default()
    };
    for (i, tracing) in [SqlTracing::default(), SqlTracing::from_conf(&conf)]
        .into_iter()
        .enumerate()
    {
        let traced = tracing.pool(pool.clone());
        assert_disabled_records_nothing(&traced, &insert, i as i64).await;
    }
    // Enabled, no profiler.
    let traced = SqlTracing::enabled().pool(pool);
    assert!(!profiler::is_active());
    let r = sqlx::query(&insert).bind(9).execute(&traced).await.unwrap();
    assert_eq!(r.rows_affected(), 1);
    let rows: Vec<_> = sqlx::query(&format!("SELECT id FROM {t}"))
        .fetch(&traced)
        .collect()
        .await;
    assert_eq!(rows.len(), 3);
    assert!(!profiler::is_active());
}

/// A string of several statements is one call and one point (as one `cursor.execute` in
/// Python); a stream whose statement fails stops with the error info.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_statement_calls_and_failing_streams() {
    let (_dir, _url, pool, t) = database().await;
    let traced = SqlTracing::enabled().pool(pool);
    let script = format!(
        "INSERT INTO {t} (id, name) VALUES (1, 'a'); INSERT INTO {t} (id, name) VALUES (2, 'b')"
    );
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    async {
        let results: Vec<_> = (&traced).execute_many(script.as_str()).collect().await;
        assert_eq!(results.len(), 2);
        let rows: Vec<_> = sqlx::query("SELECT x FROM nowhere")
            .fetch(&traced)
            .collect()
            .await;
        assert!(rows[0].is_err());
    }
    .with_profiler(Some(profiler))
    .await;
    assert_pairs(&points.notifications(), &base);
    let got = infos(&points);
    assert_eq!(got[0].1, json!({"db": {"statement": script, "params": []}}));
    assert_eq!(got[1].1, json!({}));
    assert_eq!(
        got[3].1,
        json!({
            "etype": "sqlx_sqlite::error::SqliteError",
            "message": "no such table: nowhere",
            "db": {"original_exception": "no such table: nowhere", "chained_exception": ""},
        })
    );
}

#[test]
fn a_traced_pool_clones_like_a_pool() {
    // `sqlx::Sqlite` itself is not `Clone`; the pool must be anyway (it is an `Arc` inside).
    fn cloneable<T: Clone>(_: &T) {}
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let traced = SqlTracing::enabled().pool(pool);
        cloneable(&traced);
        let copy = traced.clone();
        let one: (i64,) = sqlx::query_as("SELECT 1").fetch_one(&copy).await.unwrap();
        assert_eq!(one.0, 1);
    });
}
