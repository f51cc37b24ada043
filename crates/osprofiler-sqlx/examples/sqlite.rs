//! Traces the statements of a small SQLite workload (in memory) and prints the
//! notifications, as Python OSprofiler's SQLAlchemy tracing would record them.
//!
//!     cargo run -p osprofiler-sqlx --example sqlite
//!
//! A service would read `[profiler] enabled` and `trace_sqlalchemy` from its config file
//! (`ProfilerConfig::from_file`) and get its profiler from signed trace headers; here both
//! are set by hand and the points are collected in memory.

use std::sync::Arc;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{Profiler, ProfilerConfig, ProfilerExt as _};
use osprofiler_sqlx::SqlTracing;
use sqlx::sqlite::SqlitePoolOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), sqlx::Error> {
    let conf = ProfilerConfig {
        enabled: true,
        trace_sqlalchemy: true,
        ..ProfilerConfig::default()
    };
    // One connection: each in-memory SQLite connection is a database of its own.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await?;
    let pool = SqlTracing::from_conf(&conf).pool(pool);

    let points = Arc::new(CollectingNotifier::new());
    let profiler = Profiler::with_notifier("SECRET_KEY", None, None, points.clone());
    async {
        sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO users (id, name) VALUES (?, ?)")
            .bind(1)
            .bind("alice")
            .execute(&pool)
            .await?;
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM users WHERE id > ?")
            .bind(0)
            .fetch_all(&pool)
            .await?;
        println!("names: {names:?}");
        // A failing statement: its stop carries Python's error info.
        let _ = sqlx::query("INSERT INTO users (id, name) VALUES (?, ?)")
            .bind(1)
            .bind("bob")
            .execute(&pool)
            .await;
        Ok::<_, sqlx::Error>(())
    }
    .with_profiler(Some(profiler))
    .await?;

    for n in points.notifications() {
        println!(
            "{}",
            serde_json::to_string(&n).expect("a notification is JSON")
        );
    }
    Ok(())
}
