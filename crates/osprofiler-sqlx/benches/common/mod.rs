//! Shared by the `overhead` and `paired` benches: the statement they time and the database
//! they time it on, so that both measure the same thing.

use std::hint::black_box;

use sqlx::sqlite::SqlitePoolOptions;
use sqlx::SqlitePool;

/// The timed statement: two binds, one row back.
pub const SQL: &str = "SELECT ? + 1, ?";

/// Runs [`SQL`] once on `executor`.
pub async fn one_statement<'p, E>(executor: E) -> i64
where
    E: sqlx::Executor<'p, Database = sqlx::Sqlite>,
{
    sqlx::query_scalar(SQL)
        .bind(black_box(41_i64))
        .bind("text")
        .fetch_one(executor)
        .await
        .expect("the statement runs")
}

/// A current-thread runtime and a one-connection pool on SQLite in memory. Current-thread,
/// because `block_on` then polls on the calling thread, whose profiler is the current one.
pub fn runtime_and_pool() -> (tokio::runtime::Runtime, SqlitePool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let pool = rt
        .block_on(
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect("sqlite::memory:"),
        )
        .expect("SQLite in memory");
    (rt, pool)
}
