//! # osprofiler-sqlx
//!
//! SQL statement tracing for [sqlx]: a `db` trace point per statement, recorded as Python
//! OSprofiler's `osprofiler.sqlalchemy.add_tracing` records SQLAlchemy's cursor executions,
//! so a Rust service's statements show in the same trace tree, with the same infos, as a
//! Python service's.
//!
//! Off by default, as Python's `[profiler] trace_sqlalchemy`: [`SqlTracing::from_conf`]
//! turns it on when both `enabled` and `trace_sqlalchemy` are set. Wrap the pool once and use
//! it wherever sqlx takes an executor:
//!
//! ```
//! use std::sync::Arc;
//! use osprofiler::notifier::CollectingNotifier;
//! use osprofiler::{Profiler, ProfilerExt as _};
//! use osprofiler_sqlx::SqlTracing;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let pool = sqlx::sqlite::SqlitePoolOptions::new()
//!     .max_connections(1)
//!     .connect("sqlite::memory:")
//!     .await?;
//! let pool = SqlTracing::enabled().pool(pool);
//!
//! let points = Arc::new(CollectingNotifier::new());
//! let profiler = Profiler::with_notifier("SECRET_KEY", None, None, points.clone());
//! let two: i64 = sqlx::query_scalar("SELECT ? + 1")
//!     .bind(1)
//!     .fetch_one(&pool)
//!     .with_profiler(Some(profiler))
//!     .await?;
//! assert_eq!(two, 2);
//!
//! let notes = points.notifications();
//! assert_eq!(notes[0].name, "db-start");
//! assert_eq!(
//!     serde_json::Value::Object(notes[0].info.clone())["db"],
//!     serde_json::json!({"statement": "SELECT ? + 1", "params": [1]}),
//! );
//! assert_eq!(notes[1].name, "db-stop");
//! # Ok::<(), sqlx::Error>(()) }).unwrap();
//! ```
//!
//! Transactions and single connections: `pool.wrap(&mut *tx)` (see [`Traced`]). `BEGIN` and
//! `COMMIT` are not points, as in Python, which traces cursor executions only.
//!
//! ## What is recorded
//!
//! Only while a profiler is current ([`osprofiler::profiler`]); with tracing off or no
//! profiler the wrapper costs one check and delegates.
//!
//! - start `{"db": {"statement": <the SQL text>, "params": <the bound values>}}`. The
//!   statement is the SQL as given to sqlx, with its own placeholders (`?` on SQLite, which
//!   is also what Python records there; `$1` on PostgreSQL, where psycopg2 shows
//!   `%(name)s`). `params` is a JSON list of the values in placeholder order (Python: a list
//!   on SQLite, a dict keyed by placeholder name on PostgreSQL); `[]` when there are none,
//!   `null` when one failed to encode. sqlx keeps bound arguments opaque, so they are read
//!   back from their `Debug` form: SQLite values exactly; PostgreSQL values decoded from
//!   their binary form for the common types (booleans, integers, floats, `numeric`, text,
//!   `bytea` as `\x` hex, `uuid`, `json`/`jsonb`, dates and timestamps), any other type as
//!   `"<TypeName>"`. Unit tests build arguments through sqlx, so an sqlx version that
//!   changes their form fails the tests.
//! - stop on success: no info (Python's default `hide_result=True`; `hide_result=False`,
//!   which adds the fetched rows, is not offered).
//! - stop on failure (Python's `handle_error`): `{"etype", "message", "db":
//!   {"original_exception", "chained_exception"}}`. `message` = `original_exception` = the
//!   database's own error text, equal to what Python records (tested against Python
//!   OSprofiler on both databases): SQLite's message; on PostgreSQL libpq's text (message,
//!   `LINE n:` excerpt with its caret, `DETAIL:`, `HINT:`, `CONTEXT:` lines; the excerpt is
//!   left out for lines longer than libpq's 60-column window, which libpq cuts with `...`).
//!   `chained_exception` is the error's `source()` (Python: `__cause__`), `""` when none.
//!   `etype` is the Rust error type (`sqlx_sqlite::error::SqliteError`,
//!   `sqlx_postgres::error::PgDatabaseError`, or `sqlx::Error::<Variant>` for errors that are
//!   not the database's) where Python names the DB-API class (`sqlite3.IntegrityError`,
//!   `psycopg2.errors.UniqueViolation`). `fetch_one` finding no row is a success: Python
//!   raises `NoResultFound` after the statement, outside its point.
//!
//! ## When points start and stop
//!
//! A point lives in a fork of the profiler that is current when sqlx hands the statement to
//! the executor, so it has the right parent and records its stop in that trace even when the
//! future or stream is polled or dropped in another task. (sqlx's `query.execute(&pool)`,
//! `fetch_all`, `fetch_one`, `fetch_optional` are `async fn`s that do so at their first poll;
//! `query.fetch(&pool)` and `Executor` methods do so at once.) The point starts when the
//! statement is first polled (a future or stream never polled records nothing) and stops:
//!
//! - a future (`execute`, `fetch_all`, `fetch_one`, `fetch_optional`, `prepare`): when it
//!   completes; dropped before that, with `{"etype": "cancelled", "message": ...}` as a
//!   `#[trace]`d async fn;
//! - a row stream (`fetch`, `fetch_many`, `execute_many`): at its end; at its first error,
//!   with the error info; dropped before its end, with `{"db": {"dropped": true}}` and no
//!   `etype`, since reading only the first rows is normal use. Unlike Python, whose point
//!   covers only `cursor.execute`, a stream's point also covers reading its rows.
//!
//! A panic while the statement is polled stops it with `{"etype": "panic", ...}`.
//!
//! Databases: [`sqlx::Sqlite`] (feature `sqlite`, default) and [`sqlx::Postgres`] (feature
//! `postgres`); others implement [`TracedDatabase`].

#![forbid(unsafe_code)]

mod database;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod debug_repr;
mod executor;
mod info;
mod options;
mod point;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use database::TracedDatabase;
pub use executor::{Traced, TracedPool};
pub use info::{error_info, generic_error_info};
pub use options::SqlTracing;
