//! SQL tracing on a real PostgreSQL server, compared with what Python OSprofiler's
//! `sqlalchemy.add_tracing` records (through psycopg2) for the same statements.

#![cfg(feature = "postgres")]

mod support;

use std::time::Duration;

use futures_util::StreamExt as _;
use osprofiler::ProfilerExt as _;
use osprofiler_sqlx::{SqlTracing, TracedPool};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor as _, PgPool, Postgres};
use support::{
    assert_disabled_records_nothing, assert_infos_match_python, assert_pairs, infos,
    python_comparison_steps, python_infos, recording, run_python_comparison_steps, table,
};

/// The server's URL and a pool on it; `None` when there is no server.
async fn server() -> Option<(String, PgPool)> {
    let url = osprofiler_testkit::postgres()?;
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap();
    Some((url, pool))
}

/// The server's URL, a pool, and a table `t (id BIGINT PRIMARY KEY, name TEXT NOT NULL)`
/// under a unique name (dropped by [`drop_table`]); `None` when there is no server.
async fn database() -> Option<(String, PgPool, String)> {
    let (url, pool) = server().await?;
    let t = table("t");
    pool.execute(format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT NOT NULL)").as_str())
        .await
        .unwrap();
    Some((url, pool, t))
}

async fn drop_table(pool: &PgPool, t: &str) {
    pool.execute(format!("DROP TABLE {t}").as_str())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_record_the_infos_python_records() {
    let Some((url, pool, t)) = database().await else {
        return;
    };
    let traced = SqlTracing::enabled().pool(pool.clone());
    let steps = python_comparison_steps(&t, |k| format!("${k}"), "SELECT 1,\n  2 +");
    let ours = run_python_comparison_steps(&traced, &steps).await;
    let duplicate = format!(
        "duplicate key value violates unique constraint \"{t}_pkey\"\n\
         DETAIL:  Key (id)=(1) already exists.\n"
    );
    assert_eq!(
        ours[7].1,
        json!({
            "etype": "sqlx_postgres::error::PgDatabaseError",
            "message": duplicate,
            "db": {"original_exception": duplicate, "chained_exception": ""},
        })
    );

    // Python OSprofiler with psycopg2, same statements on the same (emptied) table: the same
    // stop infos but for `etype`; the start infos differ only in the placeholders
    // (`%(i)s` there, `$1` here) and in `params` (a dict there, its values here).
    pool.execute(format!("DELETE FROM {t}").as_str())
        .await
        .unwrap();
    let theirs = python_infos(&url, &steps);
    drop_table(&pool, &t).await;
    let Some(theirs) = theirs else {
        return;
    };
    assert_infos_match_python(
        &ours,
        &theirs,
        "psycopg2.errors.",
        |our_info, their_info| {
            let their_params: Vec<Value> = their_info["db"]["params"]
                .as_object()
                .unwrap()
                .values()
                .cloned()
                .collect();
            assert_eq!(our_info["db"]["params"], Value::from(their_params));
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_of_many_types_are_recorded() {
    let Some((_url, pool)) = server().await else {
        return;
    };
    let traced = SqlTracing::enabled().pool(pool);
    let sql =
        "SELECT $1::int4, $2::text, $3::bool, $4::float8, $5::int8, $6::bytea, $7::text, $8::int2";
    let (points, profiler) = recording();
    async {
        sqlx::query(sql)
            .bind(42_i32)
            .bind("ünïcode \"q\"")
            .bind(false)
            .bind(-0.25_f64)
            .bind(i64::MIN)
            .bind(vec![0xde_u8, 0xad])
            .bind(Option::<String>::None)
            .bind(7_i16)
            .fetch_one(&traced)
            .await
            .unwrap();
    }
    .with_profiler(Some(profiler))
    .await;
    assert_eq!(
        infos(&points)[0].1["db"]["params"],
        json!([
            42,
            "ünïcode \"q\"",
            false,
            -0.25,
            i64::MIN,
            "\\xdead",
            null,
            7
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_transactions_and_nesting() {
    let Some((_url, pool, t)) = database().await else {
        return;
    };
    let traced = SqlTracing::enabled().pool(pool.clone());
    let insert = format!("INSERT INTO {t} (id, name) VALUES ($1, 'x')");
    let select = format!("SELECT id FROM {t} ORDER BY id");
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    async {
        let mut tx = traced.begin().await.unwrap();
        for i in 0..3_i64 {
            sqlx::query(&insert)
                .bind(i)
                .execute(traced.wrap(&mut *tx))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let all: Vec<_> = sqlx::query(&select).fetch(&traced).collect().await;
        assert_eq!(all.len(), 3);
        let mut rows = sqlx::query(&select).fetch(&traced);
        assert!(rows.next().await.unwrap().is_ok());
        drop(rows);
        assert_eq!(count(&traced, &t).await.unwrap(), 3);
    }
    .with_profiler(Some(profiler))
    .await;
    let notes = points.notifications();
    // 3 inserts, 2 selects, then the traced fn with its statement inside.
    assert_eq!(notes.len(), 14, "{notes:#?}");
    assert_pairs(&notes[..10], &base);
    let got = infos(&points);
    assert_eq!(
        got[4].1,
        json!({"db": {"statement": insert, "params": [2]}})
    );
    assert_eq!(got[7].1, json!({}));
    assert_eq!(got[9].1, json!({"db": {"dropped": true}}));
    let function = &notes[10];
    assert_eq!(function.parent_id, base);
    assert!(function.info.contains_key("function"));
    assert_pairs(&notes[11..13], &function.trace_id);
    assert_eq!(notes[13].trace_id, function.trace_id);
    drop_table(&pool, &t).await;
}

#[osprofiler::trace(name = "db")]
async fn count(pool: &TracedPool<Postgres>, t: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
        .fetch_one(pool)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_recorded_when_disabled_or_unprofiled() {
    let Some((_url, pool, t)) = database().await else {
        return;
    };
    let insert = format!("INSERT INTO {t} (id, name) VALUES ($1, 'x')");
    let disabled = SqlTracing::disabled().pool(pool.clone());
    assert_disabled_records_nothing(&disabled, &insert, 1).await;
    let enabled = SqlTracing::enabled().pool(pool.clone());
    sqlx::query(&insert)
        .bind(2_i64)
        .execute(&enabled)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
        .fetch_one(&enabled)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(!osprofiler::profiler::is_active());
    drop_table(&pool, &t).await;
}

/// A statement future dropped while the server works (a timeout) stops its point as a
/// cancelled `#[trace]`d async fn does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_statement_records_cancelled() {
    let Some((_url, pool)) = server().await else {
        return;
    };
    let traced = SqlTracing::enabled().pool(pool);
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    let timed_out = async {
        tokio::time::timeout(
            Duration::from_millis(200),
            sqlx::query("SELECT pg_sleep($1)")
                .bind(5.0_f64)
                .execute(&traced),
        )
        .await
        .is_err()
    }
    .with_profiler(Some(profiler))
    .await;
    assert!(timed_out);
    assert_pairs(&points.notifications(), &base);
    let got = infos(&points);
    assert_eq!(
        got[0].1,
        json!({"db": {"statement": "SELECT pg_sleep($1)", "params": [5.0]}})
    );
    assert_eq!(
        got[1].1,
        json!({"etype": "cancelled", "message": "the future was dropped before it completed"})
    );
}
