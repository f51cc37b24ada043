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
use sqlx::{Executor as _, PgPool, Postgres, Row as _};
use support::{assert_pairs, infos, python_infos, recording, table};

/// The server's URL, a pool, and a table `t (id BIGINT PRIMARY KEY, name TEXT NOT NULL)`
/// under a unique name (dropped by [`drop_table`]); `None` when there is no server.
async fn database() -> Option<(String, PgPool, String)> {
    let url = osprofiler_testkit::postgres()?;
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap();
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
    // (sql for sqlx, sql for SQLAlchemy, parameters)
    let steps = [
        (
            format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"),
            format!("INSERT INTO {t} (id, name) VALUES (:i, :n)"),
            json!({"i": 1, "n": "a"}),
        ),
        (
            format!("UPDATE {t} SET name = $1 WHERE id = $2"),
            format!("UPDATE {t} SET name = :n WHERE id = :i"),
            json!({"n": "b", "i": 1}),
        ),
        (
            format!("SELECT name FROM {t} WHERE id = $1"),
            format!("SELECT name FROM {t} WHERE id = :i"),
            json!({"i": 1}),
        ),
        // A unique constraint violation, a NOT NULL violation, a syntax error.
        (
            format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"),
            format!("INSERT INTO {t} (id, name) VALUES (:i, :n)"),
            json!({"i": 1, "n": "c"}),
        ),
        (
            format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"),
            format!("INSERT INTO {t} (id, name) VALUES (:i, :n)"),
            json!({"i": 2, "n": null}),
        ),
        (
            "SELECT 1,\n  2 +".to_owned(),
            "SELECT 1,\n  2 +".to_owned(),
            json!({}),
        ),
    ];
    let (points, profiler) = recording();
    let base = profiler.base_id().to_string();
    async {
        for (i, (sql, _, params)) in steps.iter().enumerate() {
            let mut q = sqlx::query(sql);
            for v in params.as_object().unwrap().values() {
                q = match v {
                    Value::Number(n) => q.bind(n.as_i64().unwrap()),
                    Value::String(s) => q.bind(s.clone()),
                    _ => q.bind(Option::<String>::None),
                };
            }
            if i == 2 {
                let rows = q.fetch_all(&traced).await.unwrap();
                assert_eq!(rows[0].get::<String, _>(0), "b");
            } else {
                assert_eq!(q.execute(&traced).await.is_ok(), i < 2, "step {i}");
            }
        }
    }
    .with_profiler(Some(profiler))
    .await;

    let notes = points.notifications();
    assert_pairs(&notes, &base);
    let ours = infos(&points);
    assert_eq!(
        ours[0].1,
        json!({"db": {"statement": steps[0].0, "params": [1, "a"]}})
    );
    assert_eq!(ours[1].1, json!({}));
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
    let python_steps: Vec<Value> = steps
        .iter()
        .map(|(_, sql, params)| json!({"sql": sql, "params": params}))
        .collect();
    let theirs = python_infos(&url, &Value::from(python_steps));
    drop_table(&pool, &t).await;
    let Some(theirs) = theirs else {
        return;
    };
    assert_eq!(ours.len(), theirs.len(), "{ours:#?}\n{theirs:#?}");
    for ((our_name, our_info), (their_name, their_info)) in ours.iter().zip(&theirs) {
        assert_eq!(our_name, their_name);
        let (mut our_info, mut their_info) = (our_info.clone(), their_info.clone());
        if our_name == "db-start" {
            let their_params: Vec<Value> = their_info["db"]["params"]
                .as_object()
                .unwrap()
                .values()
                .cloned()
                .collect();
            assert_eq!(our_info["db"]["params"], Value::from(their_params));
            continue;
        }
        let our_etype = our_info.as_object_mut().unwrap().remove("etype");
        let their_etype = their_info.as_object_mut().unwrap().remove("etype");
        assert_eq!(our_etype.is_some(), their_etype.is_some());
        if let Some(e) = their_etype {
            assert!(e.as_str().unwrap().starts_with("psycopg2.errors."), "{e}");
        }
        assert_eq!(our_info, their_info);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_of_many_types_are_recorded() {
    let Some((_url, pool, t)) = database().await else {
        return;
    };
    drop_table(&pool, &t).await;
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
    let (points, profiler) = recording();
    let disabled = SqlTracing::disabled().pool(pool.clone());
    async {
        sqlx::query(&insert)
            .bind(1_i64)
            .execute(&disabled)
            .await
            .unwrap();
        let _ = sqlx::query("SELEC 1").execute(&disabled).await.unwrap_err();
    }
    .with_profiler(Some(profiler))
    .await;
    assert!(points.take().is_empty());
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
    let Some((_url, pool, t)) = database().await else {
        return;
    };
    drop_table(&pool, &t).await;
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
