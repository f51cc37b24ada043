//! The SQL driver: Python OSprofiler's SQL layout (its `sqlalchemy` driver) on SQLite,
//! PostgreSQL and MySQL / MariaDB, through one code path over sqlx, so a Python service and
//! a Rust service share one table and either side's tools read it (`docs/stores.md`, SQL).
//!
//! # Connection strings
//!
//! | string | backend (cargo feature) |
//! |---|---|
//! | `sqlite://PATH`, `sqlite::memory:`, `sqlite://`, `sqlite+pysqlite://PATH` | SQLite (`sqlite`, default) |
//! | `postgresql://[user[:password]@]host[:port]/db[?params]`, `postgres://...`, `postgresql+psycopg2://...` (also `+psycopg`, `+pg8000`) | PostgreSQL (`postgres`) |
//! | `mysql://[user[:password]@]host[:port]/db[?params]`, `mysql+pymysql://...` (also `+mysqldb`, `+mysqlconnector`) | MySQL / MariaDB (`mysql`) |
//!
//! The SQLAlchemy forms `dialect+driver://` that Python services are configured with are
//! accepted as they are (the Python driver name is checked and dropped); an unknown driver
//! name is an error. The rest of the string is read as sqlx reads it (query parameters such
//! as `sslmode` or `charset` included). TLS is not compiled in: use loopback or a private
//! network, or `sslmode=disable`-equivalent settings.
//!
//! SQLite `PATH` is a file path as sqlx reads it: `sqlite:///abs/path.db`, `sqlite://rel.db`,
//! `sqlite::memory:` (or `sqlite://`, as in SQLAlchemy) for a private in-memory store; sqlx's
//! query parameters (`?mode=ro`, ...) are accepted. A missing file and its folders are created,
//! the journal is WAL, and a busy database is waited on for up to [`BUSY_TIMEOUT`]. Note the
//! difference from SQLAlchemy URLs, where `sqlite:///x.db` is *relative* and an absolute path
//! takes four slashes: `sqlite:////abs/path.db` is read the same by both.
//!
//! # Layout
//!
//! One table, `data`, one row per notification:
//!
//! | column | holds |
//! |---|---|
//! | `id` | insertion order (SQLite `INTEGER PRIMARY KEY AUTOINCREMENT`, PostgreSQL `SERIAL`, MySQL `AUTO_INCREMENT`) |
//! | `timestamp` | `VARCHAR(26)`, `%Y-%m-%dT%H:%M:%S.%f` |
//! | `base_id`, `parent_id`, `trace_id`, `project`, `host`, `service`, `name` | `VARCHAR(255)`; `host` is the driver's configured host |
//! | `data` | `JSON`: the notification without the columned fields (`{"info": {...}}`), as the JSON *string* of its Python `json.dumps` text: encoded twice, as Python's JSON column stores it |
//!
//! Every column but `id` and `data` has Python's index (`ix_data_<column>`). When the table is
//! missing it is created with its indexes, exactly as SQLAlchemy creates it for Python; a table
//! that exists (Python's, or ours) is used as it is, after checking that it has the columns.
//! On PostgreSQL the `data` column's type (`json`, `jsonb` or text) is read at start and
//! values are cast to it.
//!
//! # Reading
//!
//! [`get_notifications`](Driver::get_notifications) reads the rows of one `base_id` through
//! `ix_data_base_id`, `ORDER BY id` (Python's reader has no `ORDER BY` and relies on
//! insertion order), each node's `host` from the column and its raw payload the `data` object,
//! as Python's reader builds it. [`list_traces`](Driver::list_traces) lists the traces as
//! Python's `SQLAlchemyDriver.list_traces` does: each trace's first stored row (its `base_id`,
//! `timestamp` and the asked columns), in the order they were stored.
//! [`list_error_traces`](Driver::list_error_traces) gives the traces holding a notification
//! whose `info.etype` is not null, with the timestamp of the first such one (the Redis
//! driver's meaning; Python's SQL driver has no `list_error_traces`).
//!
//! # The collector's store
//!
//! [`store::TraceStore`] is the centralized collector's store on the same databases: the
//! notifications as received beside `data` (which it writes as this driver does, `host` from
//! each notification's `info.host`), a summary per trace, duplicates stored once
//! (`docs/collector.md`).
//!
//! # Connections and time limits
//!
//! Each driver has a small sqlx pool (2 connections on a SQLite file, 1 in memory, 4 on a
//! server) living on the driver's own I/O thread (`osprofiler-sql`), so it can be called from
//! any runtime or thread (the notifier's worker, a service, the CLI). The `socket_timeout` of
//! the config (0.1 s, made for one Redis round trip) is too short for SQL; the bounds are:
//! [`CONNECT_TIMEOUT`] to open a connection, [`WRITE_TIMEOUT`] for one batch, [`READ_TIMEOUT`]
//! for one read (PostgreSQL also gets it as its `statement_timeout`, so the server gives up
//! too; MySQL has no portable equivalent, its bound is the driver's alone). A server that is
//! down when the driver is made fails [`get_driver`](osprofiler_core::driver::get_driver) within
//! [`CONNECT_TIMEOUT`] (and one that answers but hangs, within [`CONNECT_TIMEOUT`] +
//! [`WRITE_TIMEOUT`]), with the reason and the connection string, password masked. A server
//! that goes away later fails the batches sent meanwhile (the notifier counts them); the pool
//! reconnects by itself when it is back. Statements are never logged.

#![forbid(unsafe_code)]

mod target;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use osprofiler_core::driver::io::IoThread;
use osprofiler_core::driver::{
    mask_password, register_driver, Driver, DriverError, DriverFuture, DriverOptions, StoredRow,
    StoredTrace, TraceSummary,
};
use osprofiler_core::notification::Notification;
use osprofiler_core::pyjson;
pub use target::Dialect;
use target::Target;

/// How long a SQLite statement waits for another process's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a new connection to a server (TCP connect and login).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one batch insert may take (the notifier's own `send_timeout` defaults to 10 s too).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one read (a report of a big trace, a list of every trace) may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Rows per multi-row `INSERT`: 9 bound values each, under every backend's limit on bound
/// values per statement (SQLite 32766, PostgreSQL and MySQL 65535); the notifier's batches
/// (512 by default) go in one statement.
const ROWS_PER_INSERT: usize = 1024;

/// The columns a `data` table must have to be read and written.
const COLUMNS: [&str; 10] = [
    "id",
    "timestamp",
    "base_id",
    "parent_id",
    "trace_id",
    "project",
    "host",
    "service",
    "name",
    "data",
];

/// Python's indexed columns (`index=True` in its table definition).
const INDEXED: [&str; 8] = [
    "timestamp",
    "base_id",
    "parent_id",
    "trace_id",
    "project",
    "host",
    "service",
    "name",
];

const INSERT_PREFIX: &str =
    "INSERT INTO data (timestamp, base_id, parent_id, trace_id, project, host, service, name, data) ";

/// A pool on one of the compiled-in backends.
#[derive(Debug)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Binds one row of Python's `data` table into a multi-row [`INSERT_PREFIX`] statement
/// (`QueryBuilder::push_values`): the nine columns in order, `data` cast to `$json_cast` when
/// set (PostgreSQL's JSON types). A macro, not a function, because each backend's
/// `QueryBuilder` is its own type (see [`on_pool!`]). Shared by the SQL driver and the
/// collector's store, so the two write the very same rows.
macro_rules! push_data_row {
    ($b:expr, $json_cast:expr, $timestamp:expr, $base_id:expr, $parent_id:expr, $trace_id:expr,
     $project:expr, $host:expr, $service:expr, $name:expr, $data:expr) => {{
        let b = &mut $b;
        b.push_bind($timestamp)
            .push_bind($base_id)
            .push_bind($parent_id)
            .push_bind($trace_id)
            .push_bind($project)
            .push_bind($host)
            .push_bind($service)
            .push_bind($name);
        match $json_cast {
            Some(t) => {
                b.push("CAST(")
                    .push_bind_unseparated($data)
                    .push_unseparated(" AS ")
                    .push_unseparated(t)
                    .push_unseparated(")");
            }
            None => {
                b.push_bind($data);
            }
        }
    }};
}
pub(crate) use push_data_row;

/// Runs `$body` with `$p` bound to the concrete pool and `$db` naming its sqlx database type:
/// the one code path, compiled once per backend.
macro_rules! on_pool {
    ($pool:expr, $p:ident, $db:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
            #[cfg(feature = "mysql")]
            Pool::MySql($p) => {
                #[allow(dead_code)]
                type $db = sqlx::MySql;
                $body
            }
        }
    };
}

pub mod store;

/// Rows of text columns (every column this driver reads is text, or cast to it).
type TextRows = Vec<Vec<Option<String>>>;

impl Pool {
    /// Runs `sql` (placeholders `?`) with string `binds`, every column read as text.
    async fn fetch_text(&self, sql: &str, binds: &[&str]) -> Result<TextRows, sqlx::Error> {
        on_pool!(self, p, Db => {
            let mut q = sqlx::query::<Db>(sql);
            for b in binds {
                q = q.bind(*b);
            }
            let rows = q.fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get_unchecked::<Option<String>, _>(i))
                        .collect()
                })
                .collect()
        })
    }

    /// Runs `statements` in one transaction.
    async fn execute_all(&self, statements: &[String]) -> Result<(), sqlx::Error> {
        on_pool!(self, p, Db => {
            let mut tx = p.begin().await?;
            for s in statements {
                sqlx::query::<Db>(s).execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    /// Inserts `rows` in one transaction, [`ROWS_PER_INSERT`] to a statement; `data` is cast
    /// to `json_cast` when set.
    async fn insert(&self, rows: &[OwnedRow], json_cast: Option<&str>) -> Result<(), sqlx::Error> {
        on_pool!(self, p, Db => {
            let mut tx = p.begin().await?;
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut insert = QueryBuilder::<Db>::new(INSERT_PREFIX);
                insert.push_values(chunk, |mut b, r| {
                    push_data_row!(
                        b,
                        json_cast,
                        r.timestamp.as_str(),
                        r.base_id.as_str(),
                        r.parent_id.as_str(),
                        r.trace_id.as_str(),
                        r.project.as_deref(),
                        r.host.as_str(),
                        r.service.as_deref(),
                        r.name.as_str(),
                        r.data.as_str()
                    );
                });
                // The text changes with the batch size: not worth a cached prepared statement.
                insert.build().persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    async fn close(&self) {
        on_pool!(self, p, Db => p.close().await)
    }
}

/// One row to insert, owned (it travels to the driver's I/O thread).
#[derive(Debug)]
struct OwnedRow {
    timestamp: String,
    base_id: String,
    parent_id: String,
    trace_id: String,
    project: Option<String>,
    host: String,
    service: Option<String>,
    name: String,
    data: String,
}

/// What the I/O thread's tasks share.
#[derive(Debug)]
struct Inner {
    pool: Pool,
    dialect: Dialect,
    /// PostgreSQL: the `data` column's type when values must be cast to it (`json`, `jsonb`).
    json_cast: Option<&'static str>,
    /// The connection string, password masked (for messages).
    connection: String,
    /// What messages name as the database: the SQLite file, or the masked connection string.
    path: String,
}

/// The SQL driver on one database (see the [module docs](self)).
pub struct SqlDriver {
    inner: Arc<Inner>,
    host: String,
    project: Option<String>,
    service: Option<String>,
    /// Last field: the I/O thread stops after the pool is dropped.
    io: IoThread,
}

/// Registers the SQL store for its [`SCHEMES`] (and so their SQLAlchemy `dialect+driver`
/// forms). Every scheme is registered whichever backends are compiled in: one whose backend
/// is missing then says which cargo feature it needs. The `osprofiler` facade calls this.
pub fn register() {
    for scheme in SCHEMES {
        register_driver(scheme, factory);
    }
}

fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move {
        let driver = SqlDriver::open(&options).await?;
        Ok(Arc::new(driver) as Arc<dyn Driver>)
    })
}

/// The schemes served by the SQL driver (the registry also routes `<scheme>+<driver>` here).
pub const SCHEMES: [&str; 4] = ["sqlite", "postgresql", "postgres", "mysql"];

/// Why the database cannot be used: a SQL error, or a table that is not Python's.
enum SetupError {
    Sql(sqlx::Error),
    Layout(String),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Sql(e) => f.write_str(&sql_message(e)),
            SetupError::Layout(m) => f.write_str(m),
        }
    }
}

impl From<sqlx::Error> for SetupError {
    fn from(e: sqlx::Error) -> Self {
        SetupError::Sql(e)
    }
}

/// The database's own words for a database error ("file is not a database"), sqlx's
/// otherwise.
fn sql_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::PoolTimedOut => format!(
            "no connection within {} s (the server is down or unreachable)",
            CONNECT_TIMEOUT.as_secs()
        ),
        other => other.to_string(),
    }
}

impl SqlDriver {
    /// Connects to the database of `options.connection_string` (creating a SQLite file when
    /// missing), and creates Python's `data` table in it when missing.
    ///
    /// Errors name the connection string (password masked) and why: a server that does not
    /// answer within [`CONNECT_TIMEOUT`], a refused login, a folder that cannot be made, a
    /// file that is not a SQLite database, a `data` table of another layout.
    pub async fn open(options: &DriverOptions) -> Result<SqlDriver, DriverError> {
        let connection = mask_password(options.connection_string.trim());
        let target = Target::parse(&options.connection_string)?;
        let io = IoThread::start("osprofiler-sql").map_err(|e| DriverError::Backend {
            connection: connection.clone(),
            message: format!("cannot start the SQL driver's I/O thread: {e}"),
        })?;
        let conn2 = connection.clone();
        let inner = io
            .run(async move { Inner::open(target, conn2).await })
            .await
            .unwrap_or_else(|e| {
                Err(DriverError::Backend {
                    connection: connection.clone(),
                    message: e,
                })
            })?;
        Ok(SqlDriver {
            inner: Arc::new(inner),
            host: options.host.clone(),
            project: options.project.clone(),
            service: options.service.clone(),
            io,
        })
    }

    /// The database file (`:memory:` for an in-memory SQLite store); for a server, the
    /// connection string with its password masked.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Which backend this driver talks to.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Runs `op` on the I/O thread within `limit`; `what` names it in errors.
    async fn call<T, F, Fut>(
        &self,
        what: &'static str,
        limit: Duration,
        op: F,
    ) -> Result<T, DriverError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: std::future::Future<Output = Result<T, DriverError>> + Send + 'static,
    {
        call_on(&self.io, &self.inner, what, limit, op).await
    }
}

/// Runs `op` with the database (`inner`) on its I/O thread `io` within `limit`, whatever
/// runtime the caller is on; `what` names the operation in errors. The SQL driver and the
/// collector's store both call through here.
async fn call_on<T, F, Fut>(
    io: &IoThread,
    inner: &Arc<Inner>,
    what: &'static str,
    limit: Duration,
    op: F,
) -> Result<T, DriverError>
where
    T: Send + 'static,
    F: FnOnce(Arc<Inner>) -> Fut,
    Fut: std::future::Future<Output = Result<T, DriverError>> + Send + 'static,
{
    let fut = op(inner.clone());
    let timed_out = inner.clone();
    let result = io
        .run(async move {
            match tokio::time::timeout(limit, fut).await {
                Ok(r) => r,
                Err(_) => {
                    Err(timed_out.backend(format!("{what} took longer than {} s", limit.as_secs())))
                }
            }
        })
        .await;
    match result {
        Ok(r) => r,
        Err(message) => Err(inner.backend(message)),
    }
}

impl Inner {
    async fn open(target: Target, connection: String) -> Result<Inner, DriverError> {
        Inner::open_with(target, connection, &INDEXED).await
    }

    /// [`open`](Self::open), a missing `data` table created with indexes on `indexed` only.
    async fn open_with(
        target: Target,
        connection: String,
        indexed: &[&str],
    ) -> Result<Inner, DriverError> {
        let dialect = target.dialect();
        let path = target.describe(&connection);
        let fail = |what: &str, e: &dyn fmt::Display| DriverError::Backend {
            connection: connection.clone(),
            message: format!("{what} {} {path}: {e}", dialect.noun()),
        };
        let pool = target.connect().await.map_err(|e| match e {
            target::ConnectError::Folder(dir, e) => fail(
                "cannot create the folder of the",
                &format!("{}: {e}", dir.display()),
            ),
            target::ConnectError::Sql(e) => fail("cannot open the", &sql_message(&e)),
            target::ConnectError::Timeout => fail(
                "cannot open the",
                &format!(
                    "no answer within {} s (the server is down or unreachable)",
                    CONNECT_TIMEOUT.as_secs()
                ),
            ),
        })?;
        let mut inner = Inner {
            pool,
            dialect,
            json_cast: None,
            connection: connection.clone(),
            path: path.clone(),
        };
        // A few small statements: a server that accepted the login and then hangs must not
        // hold the service's start-up for long.
        let setup = tokio::time::timeout(
            WRITE_TIMEOUT,
            inner.ensure_table(target.read_only(), indexed),
        )
        .await
        .unwrap_or_else(|_| {
            Err(SetupError::Layout(format!(
                "creating or checking the table took longer than {} s",
                WRITE_TIMEOUT.as_secs()
            )))
        });
        match setup {
            Ok(json_cast) => inner.json_cast = json_cast,
            Err(e) => {
                inner.pool.close().await;
                return Err(fail("cannot use the", &e));
            }
        }
        Ok(inner)
    }

    fn backend(&self, message: String) -> DriverError {
        DriverError::Backend {
            connection: self.connection.clone(),
            message: format!("{} {}: {message}", self.dialect.noun(), self.path),
        }
    }

    fn error(&self, e: sqlx::Error) -> DriverError {
        self.backend(sql_message(&e))
    }

    /// The text of the `data` column named `column`: the column itself, or cast to text
    /// where it may be a JSON type.
    fn data_text(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("CAST({column} AS TEXT)"),
            Dialect::MySql => format!("CAST({column} AS CHAR)"),
        }
    }

    async fn fetch(&self, sql: &str, binds: &[&str]) -> Result<TextRows, DriverError> {
        let sql = self.dialect.placeholders(sql);
        self.pool
            .fetch_text(&sql, binds)
            .await
            .map_err(|e| self.error(e))
    }

    /// The `data` table's columns and their types, lower-cased; empty when it is missing.
    async fn columns(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let sql = match self.dialect {
            Dialect::Sqlite => "SELECT name, type FROM pragma_table_info('data')",
            Dialect::Postgres => {
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'data'"
            }
            Dialect::MySql => {
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = 'data'"
            }
        };
        let rows = self.pool.fetch_text(sql, &[]).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut r = r
                    .into_iter()
                    .map(|c| c.unwrap_or_default().to_ascii_lowercase());
                (r.next().unwrap_or_default(), r.next().unwrap_or_default())
            })
            .collect())
    }

    /// Creates the table and its indexes when missing (as Python's
    /// `create_all(checkfirst=True)`), or checks that an existing `data` table has Python's
    /// columns. Returns the cast `data` values need (PostgreSQL's JSON types).
    async fn ensure_table(
        &self,
        read_only: bool,
        indexed: &[&str],
    ) -> Result<Option<&'static str>, SetupError> {
        let mut columns = self.columns().await?;
        if columns.is_empty() {
            if read_only {
                return Err(SetupError::Layout(
                    "it has no OSprofiler `data` table (and is opened read-only)".to_owned(),
                ));
            }
            if let Err(e) = self
                .pool
                .execute_all(&self.dialect.create_table_with(indexed))
                .await
            {
                // Another process may have created it at the same time.
                columns = self.columns().await?;
                if columns.is_empty() {
                    return Err(e.into());
                }
            } else {
                columns = self.columns().await?;
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| !columns.iter().any(|(have, _)| have == c))
            .collect();
        if !missing.is_empty() {
            return Err(SetupError::Layout(format!(
                "its table `data` is not OSprofiler's (no column {})",
                missing.join(", ")
            )));
        }
        let data_type = columns
            .iter()
            .find(|(c, _)| c == "data")
            .map(|(_, t)| t.as_str());
        Ok(match (self.dialect, data_type) {
            (Dialect::Postgres, Some("json")) => Some("json"),
            (Dialect::Postgres, Some("jsonb")) => Some("jsonb"),
            _ => None,
        })
    }
}

/// The `data` column of a notification: `json.dumps(json.dumps(rest))` where `rest` is the
/// notification without its columned fields, i.e. `{"info": {...}}`.
pub fn encode_data(n: &Notification) -> String {
    let mut inner = String::with_capacity(64);
    inner.push_str("{\"info\": ");
    // A map of JSON values always serializes.
    inner.push_str(&pyjson::to_string(&n.info).unwrap_or_else(|_| "{}".to_owned()));
    inner.push('}');
    let mut outer = String::with_capacity(inner.len() + inner.len() / 4 + 2);
    pyjson::write_str(&mut outer, &inner);
    outer
}

/// Reads a `data` column back: the object inside the JSON string Python stores (a plain JSON
/// object, as other writers may store, is taken as it is).
pub fn decode_data(column: &str) -> Result<Box<RawValue>, serde_json::Error> {
    let text = column.trim_start();
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text)?;
        RawValue::from_string(inner)
    } else {
        RawValue::from_string(text.to_owned())
    }
}

/// Whether a `data` column holds an error: a non-null `info.etype`
/// ([`Notification::is_error`]'s test).
fn data_is_error(column: &str) -> bool {
    #[derive(Deserialize)]
    struct Data {
        info: Option<InfoEtype>,
    }
    #[derive(Deserialize)]
    struct InfoEtype {
        etype: Option<Value>,
    }
    decode_data(column)
        .ok()
        .and_then(|raw| serde_json::from_str::<Data>(raw.get()).ok())
        .and_then(|d| d.info)
        .and_then(|i| i.etype)
        .is_some_and(|e| !e.is_null())
}

fn text_value(v: Option<String>) -> Value {
    v.map_or(Value::Null, Value::from)
}

#[async_trait]
impl Driver for SqlDriver {
    fn name(&self) -> &'static str {
        self.inner.dialect.scheme()
    }

    /// Inserts the batch in one transaction: one multi-row `INSERT` for a notifier's batch.
    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows: Vec<OwnedRow> = batch
            .iter()
            .map(|n| OwnedRow {
                timestamp: n.timestamp.clone(),
                base_id: n.base_id.clone(),
                parent_id: n.parent_id.clone(),
                trace_id: n.trace_id.clone(),
                project: n.project.clone().or_else(|| self.project.clone()),
                host: self.host.clone(),
                service: n.service.clone().or_else(|| self.service.clone()),
                name: n.name.clone(),
                data: encode_data(n),
            })
            .collect();
        self.call("storing a batch", WRITE_TIMEOUT, move |inner| async move {
            inner
                .pool
                .insert(&rows, inner.json_cast)
                .await
                .map_err(|e| inner.error(e))
        })
        .await
    }

    /// Python's SQL reader: the rows of `base_id` in insertion order; each node's host is
    /// the `host` column and its raw payload the decoded `data` object. Rows that cannot be
    /// read (no name, timestamp or trace id, bad `data`) are left out with a warning.
    async fn get_notifications(&self, base_id: &str) -> Result<StoredTrace, DriverError> {
        let id = base_id.to_owned();
        let rows = self
            .call("reading a trace", READ_TIMEOUT, move |inner| async move {
                let sql = format!(
                    "SELECT timestamp, parent_id, trace_id, project, host, service, name, {} \
                     FROM data WHERE base_id = ? ORDER BY id",
                    inner.data_text("data")
                );
                inner.fetch(&sql, &[&id]).await
            })
            .await?;
        let total = rows.len();
        let rows: Vec<StoredRow> = rows.into_iter().filter_map(stored_row).collect();
        let unreadable = total - rows.len();
        if unreadable > 0 {
            tracing::warn!(
                "osprofiler: {}: left out {unreadable} unreadable rows of trace {base_id}",
                self.inner.path
            );
        }
        Ok(StoredTrace::Rows(rows))
    }

    /// One row per trace, as Python's `SQLAlchemyDriver.list_traces` gives them: the first
    /// stored row of each `base_id` (its `base_id`, `timestamp` and the asked `fields`: any
    /// column, or a key of its `data`, such as `info`), in the order they were stored.
    async fn list_traces(&self, fields: &[&str]) -> Result<Vec<TraceSummary>, DriverError> {
        let rows = self
            .call("listing traces", READ_TIMEOUT, move |inner| async move {
                let sql = format!(
                    "SELECT d.base_id, d.timestamp, d.parent_id, d.trace_id, d.project, \
                     d.host, d.service, d.name, {} \
                     FROM data d JOIN (SELECT MIN(id) AS first_id FROM data GROUP BY base_id) f \
                     ON d.id = f.first_id ORDER BY d.id",
                    inner.data_text("d.data")
                );
                inner.fetch(&sql, &[]).await
            })
            .await?;
        const COLS: [&str; 9] = [
            "base_id",
            "timestamp",
            "parent_id",
            "trace_id",
            "project",
            "host",
            "service",
            "name",
            "data",
        ];
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut row = row.into_iter();
            let mut cols: Vec<Option<String>> = COLS.iter().map(|_| row.next().flatten()).collect();
            let data = cols.pop().flatten();
            let mut summary = TraceSummary::new();
            summary.insert("base_id".into(), text_value(cols[0].take()));
            summary.insert("timestamp".into(), text_value(cols[1].take()));
            let mut object: Option<Option<Value>> = None;
            for &field in fields {
                if summary.contains_key(field) {
                    continue;
                }
                let value = match COLS[..8].iter().position(|c| *c == field) {
                    Some(i) => text_value(cols[i].clone()),
                    None => {
                        let object = object.get_or_insert_with(|| {
                            data.as_deref()
                                .and_then(|d| decode_data(d).ok())
                                .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
                        });
                        match object.as_ref().and_then(|o| o.get(field)) {
                            Some(v) => v.clone(),
                            None => continue,
                        }
                    }
                };
                summary.insert(field.to_owned(), value);
            }
            out.push(summary);
        }
        Ok(out)
    }

    /// Traces with a notification whose `info.etype` is not null, oldest first: `base_id` and
    /// the `timestamp` of its first such notification.
    async fn list_error_traces(&self) -> Result<Vec<TraceSummary>, DriverError> {
        // `data` holds a JSON string whose text is the object: the databases' JSON functions
        // differ and fail on bad rows, so the text is only pre-filtered in SQL and decoded here.
        let rows = self
            .call(
                "listing error traces",
                READ_TIMEOUT,
                move |inner| async move {
                    let sql = format!(
                        "SELECT base_id, timestamp, {text} FROM data \
                     WHERE {text} LIKE '%etype%' ORDER BY id",
                        text = inner.data_text("data")
                    );
                    inner.fetch(&sql, &[]).await
                },
            )
            .await?;
        let mut first: Vec<(String, String)> = Vec::new();
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for row in rows {
            let mut row = row.into_iter();
            let (Some(Some(base_id)), Some(Some(ts)), Some(Some(data))) =
                (row.next(), row.next(), row.next())
            else {
                continue;
            };
            if !data_is_error(&data) {
                continue;
            }
            match at.get(&base_id) {
                Some(&i) => {
                    if ts < first[i].1 {
                        first[i].1 = ts;
                    }
                }
                None => {
                    at.insert(base_id.clone(), first.len());
                    first.push((base_id, ts));
                }
            }
        }
        // Oldest first; ties keep the order of the first stored error.
        first.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(first
            .into_iter()
            .map(|(base_id, ts)| {
                let mut summary = TraceSummary::new();
                summary.insert("base_id".into(), Value::from(base_id));
                summary.insert("timestamp".into(), Value::from(ts));
                summary
            })
            .collect())
    }
}

/// One row (`timestamp, parent_id, trace_id, project, host, service, name, data`) as Python's
/// SQL reader hands it on (host from the column, raw payload the decoded `data`). `None`
/// when the row lacks what a node needs (no name, timestamp or trace id, or a `data` that is
/// not JSON).
fn stored_row(row: Vec<Option<String>>) -> Option<StoredRow> {
    let mut cols = row.into_iter();
    let mut next = || cols.next().flatten();
    let (timestamp, parent_id, trace_id, project, host, service, name, data) = (
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
    );
    let raw_payload = match data.as_deref().map(decode_data) {
        Some(Ok(raw)) => raw,
        Some(Err(_)) => return None,
        None => null_payload(),
    };
    Some(StoredRow {
        trace_id: trace_id?,
        parent_id,
        name: name?,
        project,
        service,
        host,
        timestamp: timestamp?,
        raw_payload,
    })
}

fn null_payload() -> Box<RawValue> {
    // "null" is valid JSON.
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!())
}

impl fmt::Debug for SqlDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlDriver")
            .field("connection", &self.inner.connection)
            .field("dialect", &self.inner.dialect)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_encoded_twice_as_python_does() {
        let mut info = osprofiler_core::Info::new();
        info.insert("k".into(), Value::from("é\"x"));
        info.insert("host".into(), Value::from("vm"));
        let n = Notification {
            name: "db-start".into(),
            base_id: "b".into(),
            trace_id: "t".into(),
            parent_id: "p".into(),
            timestamp: "2026-11-25T04:59:10.042928".into(),
            info,
            project: None,
            service: None,
        };
        // Python: json.dumps(json.dumps({"info": {"k": "é\"x", "host": "vm"}}))
        let encoded = encode_data(&n);
        assert_eq!(
            encoded,
            r#""{\"info\": {\"k\": \"\\u00e9\\\"x\", \"host\": \"vm\"}}""#
        );
        let back: Value = serde_json::from_str(decode_data(&encoded).unwrap().get()).unwrap();
        assert_eq!(back["info"]["k"], "é\"x");
        // A plain object is read as it is.
        assert_eq!(
            decode_data(r#"{"info": {}}"#).unwrap().get(),
            r#"{"info": {}}"#
        );
    }

    #[test]
    fn errors_are_found_in_both_encodings() {
        assert!(data_is_error(r#""{\"info\": {\"etype\": \"E\"}}""#));
        assert!(data_is_error(r#"{"info": {"etype": "E"}}"#));
        assert!(!data_is_error(r#""{\"info\": {\"etype\": null}}""#));
        assert!(!data_is_error(r#""{\"info\": {\"x\": \"etype\"}}""#));
        assert!(!data_is_error(r#""not json etype""#));
        assert!(!data_is_error("etype"));
        assert!(!data_is_error(r#""{\"info\": \"etype\"}""#));
    }

    #[test]
    fn rows_without_what_a_node_needs_are_left_out() {
        let row = |ts: Option<&str>, data: Option<&str>| -> Vec<Option<String>> {
            [
                ts,
                Some("p"),
                Some("t"),
                None,
                Some("h"),
                None,
                Some("x-start"),
                data,
            ]
            .iter()
            .map(|c| c.map(str::to_owned))
            .collect()
        };
        assert!(stored_row(row(None, None)).is_none());
        assert!(stored_row(row(Some("2026-01-01T00:00:00.000000"), Some("{"))).is_none());
        let kept = stored_row(row(Some("2026-01-01T00:00:00.000000"), None)).unwrap();
        assert_eq!(
            (kept.trace_id.as_str(), kept.name.as_str()),
            ("t", "x-start")
        );
        assert_eq!(kept.host.as_deref(), Some("h"));
        assert_eq!(kept.raw_payload.get(), "null");
    }
}
