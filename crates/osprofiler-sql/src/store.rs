//! The collector's store: notifications as received, Python's `data` table, and a summary per
//! trace, written together in one transaction per batch (`docs/collector.md`).
//!
//! # Tables
//!
//! | table | one row per | holds |
//! |---|---|---|
//! | `data` | stored notification | Python's SQL layout, written as [`SqlDriver`](crate::SqlDriver) writes it, except that `host` is the notification's `info.host`: Python's CLI (`trace show`, `trace list`) reads it |
//! | `osprofiler_notifications` | stored notification | `seq` (arrival order), `base_id`, `trace_id`, `name` (`UNIQUE` together: a notification delivered twice is stored once), `raw` (the JSON text exactly as received) |
//! | `osprofiler_traces` | trace | `base_id`, `first_us`/`first_ts` (its earliest timestamp, microseconds and text), `last_us`, `notifications`, `points` (`-start` notifications), `errors` (notifications with a non-null `info.etype`) |
//! | `osprofiler_trace_tags` | trace and value | `kind` (`service`, `project`, `host`), `value`, `base_id`: the services, projects and hosts of a trace, for filters |
//! | `osprofiler_dead_letters` | message set aside | `id` (arrival order), `received_us` (when, microseconds since the epoch), `source` (`amqp`), `reason` (why it could not be stored), `body` (its bytes as received): what the collector took and could not read, for an operator ([`TraceStore::dead_letter`]) |
//!
//! The extra tables sit beside `data` and add nothing to it, so Python keeps reading and
//! writing `data` as before. Rows that Python services write straight into `data` are not
//! in the extra tables: the collector lists and serves only what it received.
//!
//! # Writing
//!
//! [`TraceStore::ingest`] takes a batch of [`Incoming`] notifications (validated with
//! [`Incoming::parse`]) and, in one transaction: drops repeats inside the batch, inserts the
//! rest into `osprofiler_notifications` with `ON CONFLICT DO NOTHING ... RETURNING`, so that
//! only the notifications not stored before go on, in arrival order, into `data`, the summary
//! (`INSERT ... ON CONFLICT DO UPDATE`) and the tags. Two collectors on one PostgreSQL
//! database may ingest the same notification at the same time: the unique key makes one of
//! them wait for the other and skip it.
//!
//! SQLite and PostgreSQL are supported; MySQL / MariaDB is refused by [`TraceStore::open`]
//! for now (it has no `INSERT ... RETURNING` of ignored rows in MySQL, and MariaDB's form
//! differs).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sqlx::{QueryBuilder, Row};

use osprofiler_core::driver::io::IoThread;
use osprofiler_core::driver::{mask_password, DriverError};
use osprofiler_core::pyjson;
use osprofiler_core::timestamp::Timestamp;

use crate::target::Target;
use crate::{call_on, Dialect, Inner, Pool, READ_TIMEOUT, WRITE_TIMEOUT};

/// The longest text a `VARCHAR(255)` column of `data` takes (PostgreSQL counts characters).
pub const MAX_COLUMN_CHARS: usize = 255;

/// Rows per multi-row statement in a batch. A statement of exactly this many rows is
/// prepared once per connection and kept (its text is always the same); a shorter last one
/// is prepared each time. 500 rows (the notifier's and the collector's usual batch) of at
/// most 9 bound values: under every backend's limit on bound values (SQLite 32766).
const ROWS_PER_STATEMENT: usize = 500;

/// Traces deleted per retention transaction.
const RETENTION_CHUNK: usize = 500;

/// The most traces one [`TraceQuery`] returns.
pub const MAX_LIMIT: u32 = 1000;

/// The notification keys that `data` keeps in columns (Python's SQL driver pops them); the
/// rest of the object is the `data` column.
const COLUMNED: [&str; 8] = [
    "base_id",
    "timestamp",
    "parent_id",
    "trace_id",
    "project",
    "host",
    "service",
    "name",
];

/// Why a notification was refused by [`Incoming::parse`]: where (`timestamp`, `info.host`,
/// or empty for the notification itself) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field, as a path inside the notification (`""` for the notification itself).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for Invalid {}

/// One notification to store, checked and taken apart, with its text as received.
#[derive(Debug, Clone)]
pub struct Incoming {
    raw: Box<RawValue>,
    name: String,
    base_id: String,
    trace_id: String,
    parent_id: Option<String>,
    timestamp: String,
    micros: i64,
    project: Option<String>,
    service: Option<String>,
    host: Option<String>,
    /// The `data` column: the rest of the object, as Python's JSON column stores it.
    data: String,
    error: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string field of at most [`MAX_COLUMN_CHARS`] characters; `None` when absent or null and
/// `nullable`.
fn text_field(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    nullable: bool,
) -> Result<Option<String>, Invalid> {
    match object.get(key) {
        None if nullable => Ok(None),
        None => Err(invalid(path, "missing")),
        Some(Value::Null) if nullable => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > MAX_COLUMN_CHARS {
                Err(invalid(
                    path,
                    format!("longer than {MAX_COLUMN_CHARS} characters"),
                ))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(other) => Err(invalid(
            path,
            format!(
                "expected a string{}, found {}",
                if nullable { " or null" } else { "" },
                kind_of(other)
            ),
        )),
    }
}

fn required(object: &Map<String, Value>, key: &str) -> Result<String, Invalid> {
    let s = text_field(object, key, key, false)?.unwrap_or_default();
    if s.is_empty() {
        return Err(invalid(key, "empty"));
    }
    Ok(s)
}

impl Incoming {
    /// Checks one notification object and takes it apart. It must be an object with strings
    /// `name`, `base_id`, `trace_id` (not empty) and `timestamp` (as Python's `strptime`
    /// reads `%Y-%m-%dT%H:%M:%S.%f`), `parent_id` a string or null, `info` an object when
    /// present, `project`, `service` and `info.host` strings or null when present; the texts
    /// that go to `VARCHAR(255)` columns at most 255 characters. `raw` is kept as it is.
    pub fn parse(raw: Box<RawValue>) -> Result<Incoming, Invalid> {
        let value: Value =
            serde_json::from_str(raw.get()).map_err(|e| invalid("", format!("not JSON: {e}")))?;
        let mut object = match value {
            Value::Object(o) => o,
            other => {
                return Err(invalid(
                    "",
                    format!("expected a notification object, found {}", kind_of(&other)),
                ))
            }
        };
        let name = required(&object, "name")?;
        let base_id = required(&object, "base_id")?;
        let trace_id = required(&object, "trace_id")?;
        let timestamp = text_field(&object, "timestamp", "timestamp", false)?.unwrap_or_default();
        let micros = Timestamp::parse(&timestamp)
            .map_err(|e| invalid("timestamp", e.to_string()))?
            .as_micros();
        let parent_id = match object.get("parent_id") {
            None => return Err(invalid("parent_id", "missing")),
            Some(_) => text_field(&object, "parent_id", "parent_id", true)?,
        };
        let project = text_field(&object, "project", "project", true)?;
        let service = text_field(&object, "service", "service", true)?;
        let (host, error) = match object.get("info") {
            None => (None, false),
            Some(Value::Object(info)) => (
                text_field(info, "host", "info.host", true)?,
                info.get("etype").is_some_and(|e| !e.is_null()),
            ),
            Some(other) => {
                return Err(invalid(
                    "info",
                    format!("expected an object, found {}", kind_of(other)),
                ))
            }
        };
        // Python's SQL driver: `data = info.copy()`, the columned keys popped, then
        // `jsonutils.dumps(data)` into a JSON column (so a JSON string of that text).
        for key in COLUMNED {
            object.shift_remove(key);
        }
        let inner = pyjson::to_string(&object).map_err(|e| invalid("", e.to_string()))?;
        let mut data = String::with_capacity(inner.len() + inner.len() / 4 + 2);
        pyjson::write_str(&mut data, &inner);
        Ok(Incoming {
            raw,
            name,
            base_id,
            trace_id,
            parent_id,
            timestamp,
            micros,
            project,
            service,
            host,
            data,
            error,
        })
    }

    /// The notification's text as received.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// Its trace.
    pub fn base_id(&self) -> &str {
        &self.base_id
    }

    /// Its `data` column (see [`crate::decode_data`]).
    pub fn data_column(&self) -> &str {
        &self.data
    }
}

/// What one [`TraceStore::ingest`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Notifications stored by this batch.
    pub accepted: usize,
    /// Notifications left out: stored before, or repeated within the batch.
    pub duplicates: usize,
}

/// Which traces [`TraceStore::list`] returns: every filter set must hold; newest first
/// (by first timestamp), `limit` of them after skipping `offset`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceQuery {
    /// `Some(true)`: traces with an error; `Some(false)`: traces without.
    pub error: Option<bool>,
    /// A service that sent a notification of the trace.
    pub service: Option<String>,
    /// A project that sent a notification of the trace.
    pub project: Option<String>,
    /// A host (`info.host`) of a notification of the trace.
    pub host: Option<String>,
    /// First timestamp at or after this.
    pub since: Option<Timestamp>,
    /// First timestamp at or before this.
    pub until: Option<Timestamp>,
    /// From first to last timestamp at least this long (milliseconds).
    pub min_duration_ms: Option<f64>,
    /// Text found in a stored point's name or in its `info` (ASCII letters in any case).
    pub q: Option<String>,
    /// At most this many (capped at [`MAX_LIMIT`]; 0 means none).
    pub limit: u32,
    /// Skip this many first.
    pub offset: u64,
}

/// One trace of a [`TraceStore::list`] page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceListItem {
    /// The trace.
    pub base_id: String,
    /// Its earliest timestamp, as sent.
    pub timestamp: String,
    /// From its earliest to its latest timestamp, in milliseconds.
    pub duration_ms: f64,
    /// Its `-start` notifications.
    pub points: u64,
    /// Its notifications.
    pub notifications: u64,
    /// Its notifications with a non-null `info.etype`.
    pub errors: u64,
    /// The services that sent them, sorted.
    pub services: Vec<String>,
    /// Their projects, sorted.
    pub projects: Vec<String>,
    /// Their hosts (`info.host`), sorted.
    pub hosts: Vec<String>,
}

/// A bound value of a statement.
#[derive(Debug, Clone)]
enum Bind {
    Str(String),
    Int(i64),
}

/// The collector's store on one database (see the [module docs](self)).
pub struct TraceStore {
    inner: Arc<Inner>,
    /// SQLite takes one writer at a time: writers of this process take turns here, instead
    /// of meeting as a busy database (whose busy handler sleeps and retries).
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// SQLite: batches to store go to one writer task, which stores the batches waiting
    /// together in one transaction (group commit).
    queue: Option<tokio::sync::mpsc::Sender<WriteJob>>,
    /// Last field: the I/O thread stops after the pool is dropped.
    io: IoThread,
}

impl fmt::Debug for TraceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceStore")
            .field("connection", &self.inner.connection)
            .field("dialect", &self.inner.dialect)
            .finish_non_exhaustive()
    }
}

/// How a [`TraceStore`] is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Create a missing `data` table with all eight of Python's indexes
    /// (`ix_data_<column>`), as the SQL driver and Python do. By default only
    /// `ix_data_base_id` is made: the one index Python's reader uses (`WHERE base_id = ?`;
    /// its `trace list` reads the whole table). Each index costs every insert, and the other
    /// seven roughly double what a batch costs on SQLite. A `data` table that exists is used
    /// as it is, whichever indexes it has.
    pub python_indexes: bool,
}

/// The statements that create the collector's tables when missing.
fn create_tables(dialect: Dialect) -> Vec<String> {
    let seq = match dialect {
        Dialect::Postgres => "seq BIGSERIAL PRIMARY KEY",
        _ => "seq INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS osprofiler_notifications (\n    {seq},\n    \
             base_id VARCHAR(255) NOT NULL,\n    trace_id VARCHAR(255) NOT NULL,\n    \
             name VARCHAR(255) NOT NULL,\n    raw TEXT NOT NULL\n)"
        ),
        "CREATE UNIQUE INDEX IF NOT EXISTS ux_osprofiler_notifications_key \
         ON osprofiler_notifications (base_id, trace_id, name)"
            .to_owned(),
        // A trace's notifications in arrival order without a sort (SQLite's index entries
        // end with the rowid, `seq`).
        format!(
            "CREATE INDEX IF NOT EXISTS ix_osprofiler_notifications_base_id \
             ON osprofiler_notifications (base_id{})",
            if dialect == Dialect::Postgres {
                ", seq"
            } else {
                ""
            }
        ),
        "CREATE TABLE IF NOT EXISTS osprofiler_traces (\n    \
         base_id VARCHAR(255) NOT NULL PRIMARY KEY,\n    first_us BIGINT NOT NULL,\n    \
         first_ts VARCHAR(26) NOT NULL,\n    last_us BIGINT NOT NULL,\n    \
         notifications BIGINT NOT NULL,\n    points BIGINT NOT NULL,\n    \
         errors BIGINT NOT NULL\n)"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS ix_osprofiler_traces_first_us \
         ON osprofiler_traces (first_us)"
            .to_owned(),
        "CREATE TABLE IF NOT EXISTS osprofiler_trace_tags (\n    \
         kind VARCHAR(8) NOT NULL,\n    value VARCHAR(255) NOT NULL,\n    \
         base_id VARCHAR(255) NOT NULL,\n    PRIMARY KEY (kind, value, base_id)\n)"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS ix_osprofiler_trace_tags_base_id \
         ON osprofiler_trace_tags (base_id)"
            .to_owned(),
        format!(
            "CREATE TABLE IF NOT EXISTS osprofiler_dead_letters (\n    {id},\n    \
             received_us BIGINT NOT NULL,\n    source VARCHAR(16) NOT NULL,\n    \
             reason TEXT NOT NULL,\n    body {bytes} NOT NULL\n)",
            id = seq.replacen("seq", "id", 1),
            bytes = if dialect == Dialect::Postgres {
                "BYTEA"
            } else {
                "BLOB"
            }
        ),
    ]
}

/// A message the collector took and could not store (not a notification, not readable),
/// set aside in `osprofiler_dead_letters` by [`TraceStore::dead_letter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Where it came from (`amqp`).
    pub source: String,
    /// Why it could not be stored.
    pub reason: String,
    /// Its bytes, as received.
    pub body: Vec<u8>,
}

/// A [`DeadLetter`] as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    /// Its place in arrival order.
    pub id: i64,
    /// When it was set aside (microseconds since the epoch).
    pub received_us: i64,
    /// The message.
    pub letter: DeadLetter,
}

/// SQLSTATEs after which PostgreSQL asks to run the transaction again: a deadlock
/// (`40P01`), a serialization failure (`40001`).
const RETRYABLE: [&str; 2] = ["40P01", "40001"];

/// How many times a batch is tried when PostgreSQL gives a [`RETRYABLE`] error.
const INGEST_ATTEMPTS: u32 = 5;

/// Whether `e` is an error after which the whole transaction may simply run again.
fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| RETRYABLE.contains(&c.as_ref())),
        _ => false,
    }
}

/// Per trace, what one batch adds to its summary.
#[derive(Debug)]
struct Summary {
    first_us: i64,
    first_ts: String,
    last_us: i64,
    notifications: i64,
    points: i64,
    errors: i64,
}

impl TraceStore {
    /// Connects to the database of `connection_string` (SQLite or PostgreSQL, the strings of
    /// [the SQL driver](crate)), creating Python's `data` table and the collector's tables
    /// when missing (with the default [`StoreOptions`]). Errors name the connection string
    /// (password masked) and why.
    pub async fn open(connection_string: &str) -> Result<TraceStore, DriverError> {
        Self::open_with(connection_string, &StoreOptions::default()).await
    }

    /// [`open`](Self::open) with `options`.
    pub async fn open_with(
        connection_string: &str,
        options: &StoreOptions,
    ) -> Result<TraceStore, DriverError> {
        let indexed: &'static [&'static str] = if options.python_indexes {
            &crate::INDEXED
        } else {
            &["base_id"]
        };
        let connection = mask_password(connection_string.trim());
        let mut target = Target::parse(connection_string)?;
        target.tune_for_collector();
        if target.dialect() == Dialect::MySql {
            return Err(DriverError::BadConnectionString {
                connection,
                reason: "the collector's store runs on SQLite and PostgreSQL, not yet on MySQL"
                    .to_owned(),
            });
        }
        if target.read_only() {
            return Err(DriverError::BadConnectionString {
                connection,
                reason: "the collector's store cannot be read-only".to_owned(),
            });
        }
        let io = IoThread::start("osprofiler-store").map_err(|e| DriverError::Backend {
            connection: connection.clone(),
            message: format!("cannot start the store's I/O thread: {e}"),
        })?;
        let conn2 = connection.clone();
        let inner = io
            .run(async move {
                let inner = Inner::open_with(target, conn2, indexed).await?;
                // Collectors started together on one PostgreSQL database race to create
                // the tables: `IF NOT EXISTS` is not atomic there (the loser gets a unique
                // violation on the catalog); the second try finds them.
                let tables = create_tables(inner.dialect);
                let setup = tokio::time::timeout(WRITE_TIMEOUT, async {
                    match inner.pool.execute_all(&tables).await {
                        Err(sqlx::Error::Database(e))
                            if matches!(e.code().as_deref(), Some("23505" | "42P07")) =>
                        {
                            inner.pool.execute_all(&tables).await
                        }
                        other => other,
                    }
                })
                .await;
                match setup {
                    Ok(Ok(())) => Ok(inner),
                    Ok(Err(e)) => {
                        let e = inner.backend(format!(
                            "cannot create the collector's tables: {}",
                            crate::sql_message(&e)
                        ));
                        inner.pool.close().await;
                        Err(e)
                    }
                    Err(_) => {
                        inner.pool.close().await;
                        Err(inner.backend(format!(
                            "creating the collector's tables took longer than {} s",
                            WRITE_TIMEOUT.as_secs()
                        )))
                    }
                }
            })
            .await
            .unwrap_or_else(|e| {
                Err(DriverError::Backend {
                    connection: connection.clone(),
                    message: e,
                })
            })?;
        let inner = Arc::new(inner);
        if inner.dialect == Dialect::Sqlite && inner.path != ":memory:" {
            let weak = Arc::downgrade(&inner);
            let _ = io
                .run(async move {
                    tokio::spawn(checkpoint_in_background(weak));
                })
                .await;
        }
        let (writer, queue) = if inner.dialect == Dialect::Sqlite {
            let writer = Arc::new(tokio::sync::Mutex::new(()));
            let (queue, jobs) = tokio::sync::mpsc::channel(WRITE_QUEUE);
            let (inner2, writer2) = (inner.clone(), writer.clone());
            let _ = io
                .run(async move {
                    tokio::spawn(write_in_groups(inner2, writer2, jobs));
                })
                .await;
            (Some(writer), Some(queue))
        } else {
            (None, None)
        };
        Ok(TraceStore {
            inner,
            writer,
            queue,
            io,
        })
    }

    /// Which backend this store talks to.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// The database file (`:memory:` in memory), or the masked connection string.
    pub fn path(&self) -> &str {
        &self.inner.path
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

    /// Closes the store's connections (waiting for calls under way); every later call
    /// fails. For a clean shutdown.
    pub async fn close(&self) {
        let inner = self.inner.clone();
        let _ = self.io.run(async move { inner.pool.close().await }).await;
    }

    /// Whether the database answers (`SELECT 1`, within 5 s).
    pub async fn ping(&self) -> Result<(), DriverError> {
        self.call(
            "checking the store",
            Duration::from_secs(5),
            |inner| async move { inner.fetch("SELECT 1", &[]).await.map(|_| ()) },
        )
        .await
    }

    /// Stores a batch in one transaction (see the [module docs](self)): each notification
    /// not stored before goes into every table, in the order given.
    pub async fn ingest(&self, batch: Vec<Incoming>) -> Result<IngestOutcome, DriverError> {
        let total = batch.len();
        // Repeats inside the batch: the first one counts.
        let mut seen: HashSet<(&str, &str, &str)> = HashSet::with_capacity(batch.len());
        let mut keep = vec![false; batch.len()];
        for (i, n) in batch.iter().enumerate() {
            keep[i] = seen.insert((&n.base_id, &n.trace_id, &n.name));
        }
        drop(seen);
        let mut keep = keep.into_iter();
        let unique: Vec<Incoming> = batch
            .into_iter()
            .filter(|_| keep.next().unwrap_or(false))
            .collect();
        if unique.is_empty() {
            return Ok(IngestOutcome {
                accepted: 0,
                duplicates: total,
            });
        }
        let accepted = match &self.queue {
            // SQLite: the store's one writer takes it, with the batches waiting beside it.
            Some(queue) => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let queue = queue.clone();
                self.call("storing a batch", WRITE_TIMEOUT, move |inner| async move {
                    if queue
                        .send(WriteJob {
                            batch: unique,
                            reply,
                        })
                        .await
                        .is_err()
                    {
                        return Err(inner.backend("the store's writer is gone".to_owned()));
                    }
                    answer.await.unwrap_or_else(|_| {
                        Err(inner.backend("the store's writer is gone".to_owned()))
                    })
                })
                .await?
            }
            None => {
                // Collectors sharing a PostgreSQL database may deadlock on the unique key
                // (two batches holding the same redelivered notifications in other orders);
                // PostgreSQL then cancels one transaction, which simply runs again.
                self.call("storing a batch", WRITE_TIMEOUT, move |inner| async move {
                    let (dialect, json_cast) = (inner.dialect, inner.json_cast);
                    let mut attempt = 1;
                    let flags = loop {
                        let mut fresh_connection = KeptConnection::default();
                        match inner
                            .pool
                            .ingest(&unique, dialect, json_cast, &mut fresh_connection)
                            .await
                        {
                            Ok(flags) => break flags,
                            Err(e) if attempt < INGEST_ATTEMPTS && is_retryable(&e) => {
                                tracing::debug!(
                                    "osprofiler: {}: batch tried again ({attempt}): {}",
                                    inner.path,
                                    crate::sql_message(&e)
                                );
                                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt)))
                                    .await;
                                attempt += 1;
                            }
                            Err(e) => return Err(inner.error(e)),
                        }
                    };
                    Ok(flags.iter().filter(|f| **f).count())
                })
                .await?
            }
        };
        Ok(IngestOutcome {
            accepted,
            duplicates: total - accepted,
        })
    }

    /// Every stored notification of trace `base_id`, as received, in arrival order; empty
    /// when the store has none.
    pub async fn notifications(&self, base_id: &str) -> Result<Vec<Box<RawValue>>, DriverError> {
        let id = base_id.to_owned();
        let rows = self
            .call("reading a trace", READ_TIMEOUT, move |inner| async move {
                inner
                    .fetch(
                        "SELECT raw FROM osprofiler_notifications WHERE base_id = ? ORDER BY seq",
                        &[&id],
                    )
                    .await
            })
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(Some(raw)) = row.into_iter().next() else {
                continue;
            };
            match RawValue::from_string(raw) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(
                    "osprofiler: {}: a stored notification of trace {base_id} is not JSON: {e}",
                    self.inner.path
                ),
            }
        }
        Ok(out)
    }

    /// Every stored notification of trace `base_id`, as received, in arrival order, as the
    /// text of one JSON list (`[n1, n2, ...]`, separated by `", "`); `None` when the store
    /// has none. The list is joined by the database (`group_concat` / `string_agg`), one
    /// value for the whole trace: much faster than a row per notification for big traces.
    pub async fn notifications_json(&self, base_id: &str) -> Result<Option<String>, DriverError> {
        let id = base_id.to_owned();
        let rows = self
            .call("reading a trace", READ_TIMEOUT, move |inner| async move {
                let sql = match inner.dialect {
                    Dialect::Postgres => {
                        "SELECT string_agg(raw, ', ' ORDER BY seq) \
                         FROM osprofiler_notifications WHERE base_id = ?"
                    }
                    // `group_concat(raw, ', ' ORDER BY seq)` sorts (3 times slower); the
                    // ordered subquery is read through `ix_osprofiler_notifications_base_id`
                    // in `seq` order and kept in that order (SQLite does not flatten an
                    // ordered subquery into an aggregate; the tests check the order).
                    _ => {
                        "SELECT group_concat(raw, ', ') FROM (SELECT raw \
                         FROM osprofiler_notifications WHERE base_id = ? ORDER BY seq)"
                    }
                };
                inner.fetch(sql, &[&id]).await
            })
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
            .map(|joined| {
                let mut list = String::with_capacity(joined.len() + 2);
                list.push('[');
                list.push_str(&joined);
                list.push(']');
                list
            }))
    }

    /// A page of traces, newest first (see [`TraceQuery`]).
    pub async fn list(&self, query: &TraceQuery) -> Result<Vec<TraceListItem>, DriverError> {
        let limit = query.limit.min(MAX_LIMIT);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let dialect = self.inner.dialect;
        let text = |c: &str| format!("CAST({c} AS TEXT)");
        let mut sql = format!(
            "SELECT t.base_id, t.first_ts, {}, {}, {}, {}, {} FROM osprofiler_traces t WHERE 1 = 1",
            text("t.first_us"),
            text("t.last_us"),
            text("t.notifications"),
            text("t.points"),
            text("t.errors"),
        );
        let mut binds: Vec<Bind> = Vec::new();
        match query.error {
            Some(true) => sql.push_str(" AND t.errors > 0"),
            Some(false) => sql.push_str(" AND t.errors = 0"),
            None => {}
        }
        for (kind, value) in [
            ("service", &query.service),
            ("project", &query.project),
            ("host", &query.host),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM osprofiler_trace_tags g \
                     WHERE g.kind = '{kind}' AND g.value = ? AND g.base_id = t.base_id)"
                ));
                binds.push(Bind::Str(v.clone()));
            }
        }
        if let Some(since) = query.since {
            sql.push_str(" AND t.first_us >= ?");
            binds.push(Bind::Int(since.as_micros()));
        }
        if let Some(until) = query.until {
            sql.push_str(" AND t.first_us <= ?");
            binds.push(Bind::Int(until.as_micros()));
        }
        if let Some(ms) = query.min_duration_ms {
            sql.push_str(" AND t.last_us - t.first_us >= ?");
            // Saturating: a huge bound matches nothing.
            binds.push(Bind::Int((ms * 1000.0).ceil() as i64));
        }
        if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
            let like = if dialect == Dialect::Postgres {
                "ILIKE"
            } else {
                "LIKE"
            };
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM data d WHERE d.base_id = t.base_id AND \
                 (d.name {like} ? ESCAPE '\\' OR {} {like} ? ESCAPE '\\'))",
                self.inner.data_text("d.data")
            ));
            binds.push(Bind::Str(format!("%{}%", like_escape(q))));
            binds.push(Bind::Str(format!("%{}%", like_escape(&data_text_of(q)))));
        }
        sql.push_str(" ORDER BY t.first_us DESC, t.base_id DESC LIMIT ? OFFSET ?");
        binds.push(Bind::Int(i64::from(limit)));
        binds.push(Bind::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        let rows = self
            .call("listing traces", READ_TIMEOUT, move |inner| async move {
                let sql = inner.dialect.placeholders(&sql);
                let rows = inner
                    .pool
                    .fetch_bound(&sql, &binds)
                    .await
                    .map_err(|e| inner.error(e))?;
                if rows.is_empty() {
                    return Ok((rows, Vec::new()));
                }
                let mut tag_sql =
                    "SELECT base_id, kind, value FROM osprofiler_trace_tags WHERE base_id IN ("
                        .to_owned();
                let mut tag_binds = Vec::with_capacity(rows.len());
                for (i, row) in rows.iter().enumerate() {
                    tag_sql.push_str(if i == 0 { "?" } else { ", ?" });
                    tag_binds.push(Bind::Str(row[0].clone().unwrap_or_default()));
                }
                tag_sql.push_str(") ORDER BY kind, value");
                let tag_sql = inner.dialect.placeholders(&tag_sql);
                let tags = inner
                    .pool
                    .fetch_bound(&tag_sql, &tag_binds)
                    .await
                    .map_err(|e| inner.error(e))?;
                Ok((rows, tags))
            })
            .await?;
        let (rows, tags) = rows;
        let mut items: Vec<TraceListItem> = Vec::with_capacity(rows.len());
        let mut at: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        for row in rows {
            let mut c = row.into_iter().map(Option::unwrap_or_default);
            let mut next = || c.next().unwrap_or_default();
            let (base_id, first_ts) = (next(), next());
            let number = |s: String| s.parse::<i64>().unwrap_or(0);
            let (first_us, last_us) = (number(next()), number(next()));
            let (notifications, points, errors) = (number(next()), number(next()), number(next()));
            at.insert(base_id.clone(), items.len());
            items.push(TraceListItem {
                base_id,
                timestamp: first_ts,
                duration_ms: (last_us - first_us) as f64 / 1000.0,
                points: points.max(0) as u64,
                notifications: notifications.max(0) as u64,
                errors: errors.max(0) as u64,
                services: Vec::new(),
                projects: Vec::new(),
                hosts: Vec::new(),
            });
        }
        for row in tags {
            let mut c = row.into_iter().map(Option::unwrap_or_default);
            let (base_id, kind, value) = (
                c.next().unwrap_or_default(),
                c.next().unwrap_or_default(),
                c.next().unwrap_or_default(),
            );
            let Some(&i) = at.get(&base_id) else { continue };
            let item = &mut items[i];
            match kind.as_str() {
                "service" => item.services.push(value),
                "project" => item.projects.push(value),
                "host" => item.hosts.push(value),
                _ => {}
            }
        }
        Ok(items)
    }

    /// Sets `letters` aside in `osprofiler_dead_letters`, in one transaction, stamped with
    /// the time now.
    pub async fn dead_letter(&self, letters: Vec<DeadLetter>) -> Result<(), DriverError> {
        if letters.is_empty() {
            return Ok(());
        }
        let writer = self.writer.clone();
        let now = Timestamp::now().as_micros();
        self.call(
            "setting messages aside",
            WRITE_TIMEOUT,
            move |inner| async move {
                let _turn = writer_turn(&writer).await;
                inner
                    .pool
                    .insert_dead_letters(&letters, now)
                    .await
                    .map_err(|e| inner.error(e))
            },
        )
        .await
    }

    /// The last `limit` messages set aside, oldest first.
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<StoredDeadLetter>, DriverError> {
        self.call(
            "reading the dead letters",
            READ_TIMEOUT,
            move |inner| async move {
                inner
                    .pool
                    .read_dead_letters(limit)
                    .await
                    .map_err(|e| inner.error(e))
            },
        )
        .await
    }

    /// Deletes every trace whose first notification is older than `cutoff` from all the
    /// collector's tables and `data`, a few hundred traces per transaction; returns how many
    /// traces were deleted.
    pub async fn delete_older_than(&self, cutoff: Timestamp) -> Result<u64, DriverError> {
        let mut deleted = 0u64;
        loop {
            let writer = self.writer.clone();
            let n = self
                .call(
                    "deleting old traces",
                    READ_TIMEOUT,
                    move |inner| async move {
                        let _turn = writer_turn(&writer).await;
                        let sql = inner.dialect.placeholders(&format!(
                            "SELECT base_id FROM osprofiler_traces WHERE first_us < ? \
                         ORDER BY first_us LIMIT {RETENTION_CHUNK}"
                        ));
                        let ids: Vec<String> = inner
                            .pool
                            .fetch_bound(&sql, &[Bind::Int(cutoff.as_micros())])
                            .await
                            .map_err(|e| inner.error(e))?
                            .into_iter()
                            .filter_map(|r| r.into_iter().next().flatten())
                            .collect();
                        if ids.is_empty() {
                            return Ok(0);
                        }
                        let list = vec!["?"; ids.len()].join(", ");
                        let statements: Vec<String> = [
                            "data",
                            "osprofiler_notifications",
                            "osprofiler_trace_tags",
                            "osprofiler_traces",
                        ]
                        .iter()
                        .map(|t| {
                            inner
                                .dialect
                                .placeholders(&format!("DELETE FROM {t} WHERE base_id IN ({list})"))
                        })
                        .collect();
                        inner
                            .pool
                            .execute_bound_all(&statements, &ids)
                            .await
                            .map_err(|e| inner.error(e))?;
                        Ok(ids.len() as u64)
                    },
                )
                .await?;
            if n == 0 {
                break;
            }
            deleted += n;
        }
        // Messages set aside are kept as long as traces.
        let writer = self.writer.clone();
        self.call(
            "deleting old dead letters",
            READ_TIMEOUT,
            move |inner| async move {
                let _turn = writer_turn(&writer).await;
                let sql = inner
                    .dialect
                    .placeholders("DELETE FROM osprofiler_dead_letters WHERE received_us < ?");
                inner
                    .pool
                    .fetch_bound(&sql, &[Bind::Int(cutoff.as_micros())])
                    .await
                    .map_err(|e| inner.error(e))
            },
        )
        .await?;
        Ok(deleted)
    }
}

/// SQLite: waits for this process's writers' turn (`None` on PostgreSQL, where writers do
/// not take turns).
async fn writer_turn(
    writer: &Option<Arc<tokio::sync::Mutex<()>>>,
) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match writer {
        Some(w) => Some(w.lock().await),
        None => None,
    }
}

/// Batches that may wait for the SQLite writer.
const WRITE_QUEUE: usize = 64;

/// The most notifications one group transaction takes (more batches wait for the next).
const GROUP_MAX: usize = 10_000;

/// A batch for the SQLite writer (repeats inside it already dropped), and where its count of
/// new notifications goes.
struct WriteJob {
    batch: Vec<Incoming>,
    reply: tokio::sync::oneshot::Sender<Result<usize, DriverError>>,
}

/// The connection a store's writer keeps from one transaction to the next: SQLite only
/// (see [`write_in_groups`]).
#[derive(Default)]
struct KeptConnection {
    #[cfg(feature = "sqlite")]
    sqlite: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
}

impl KeptConnection {
    fn is_held(&self) -> bool {
        let held = false;
        #[cfg(feature = "sqlite")]
        let held = held || self.sqlite.is_some();
        held
    }
}

/// Where a backend's writer keeps its connection in a [`KeptConnection`]; `None`: it takes
/// one from the pool for each transaction.
trait KeepsConnection: sqlx::Database {
    fn slot(kept: &mut KeptConnection) -> Option<&mut Option<sqlx::pool::PoolConnection<Self>>>;
}

#[cfg(feature = "sqlite")]
impl KeepsConnection for sqlx::Sqlite {
    fn slot(kept: &mut KeptConnection) -> Option<&mut Option<sqlx::pool::PoolConnection<Self>>> {
        Some(&mut kept.sqlite)
    }
}

#[cfg(feature = "postgres")]
impl KeepsConnection for sqlx::Postgres {
    fn slot(_: &mut KeptConnection) -> Option<&mut Option<sqlx::pool::PoolConnection<Self>>> {
        None
    }
}

#[cfg(feature = "mysql")]
impl KeepsConnection for sqlx::MySql {
    fn slot(_: &mut KeptConnection) -> Option<&mut Option<sqlx::pool::PoolConnection<Self>>> {
        None
    }
}

/// The SQLite writer: takes a batch and every batch waiting behind it (up to [`GROUP_MAX`]
/// notifications), stores them in one transaction, and tells each its own count. A
/// notification in two batches of a group counts for the first. A failed transaction fails
/// every batch of the group (none of them is stored). Ends when the store is gone.
///
/// It writes on one connection, kept from one group to the next. A SQLite connection
/// throws its whole page cache away when it finds that another connection wrote since its
/// last transaction; the pool hands out its idle connections in turn, so a transaction on
/// "any connection" started cold nearly every time and read back from the WAL the index
/// pages the previous one had just written. The kept connection is given back when the
/// pool closes (which waits for every connection) or a transaction fails.
async fn write_in_groups(
    inner: Arc<Inner>,
    writer: Arc<tokio::sync::Mutex<()>>,
    mut jobs: tokio::sync::mpsc::Receiver<WriteJob>,
) {
    let mut kept = KeptConnection::default();
    let mut closing = on_pool!(&inner.pool, p, Db => p.close_event());
    loop {
        // The next batch; or, holding the connection, the pool's closing.
        let next = std::future::poll_fn(|cx| {
            if kept.is_held()
                && std::future::Future::poll(std::pin::Pin::new(&mut closing), cx).is_ready()
            {
                return std::task::Poll::Ready(None);
            }
            jobs.poll_recv(cx).map(Some)
        })
        .await;
        let first = match next {
            None => {
                kept = KeptConnection::default();
                continue;
            }
            Some(None) => break,
            Some(Some(job)) => job,
        };
        let mut group = vec![first];
        let mut size = group[0].batch.len();
        while size < GROUP_MAX {
            match jobs.try_recv() {
                Ok(job) => {
                    size += job.batch.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        // One list, repeats across batches dropped; `owner[i]` is the batch of `merged[i]`.
        let mut merged: Vec<Incoming> = Vec::with_capacity(size);
        let mut owner: Vec<usize> = Vec::with_capacity(size);
        let mut replies = Vec::with_capacity(group.len());
        if group.len() == 1 {
            let job = group.pop().unwrap_or_else(|| unreachable!());
            owner.resize(job.batch.len(), 0);
            merged = job.batch;
            replies.push(job.reply);
        } else {
            let mut seen: HashSet<(String, String, String)> = HashSet::with_capacity(size);
            for (i, job) in group.into_iter().enumerate() {
                for n in job.batch {
                    if seen.insert((n.base_id.clone(), n.trace_id.clone(), n.name.clone())) {
                        merged.push(n);
                        owner.push(i);
                    }
                }
                replies.push(job.reply);
            }
        }
        let result = {
            let _turn = writer.lock().await;
            inner
                .pool
                .ingest(&merged, inner.dialect, inner.json_cast, &mut kept)
                .await
        };
        if result.is_err() {
            kept = KeptConnection::default();
        }
        match result {
            Ok(flags) => {
                let mut counts = vec![0usize; replies.len()];
                for (flag, i) in flags.iter().zip(&owner) {
                    counts[*i] += usize::from(*flag);
                }
                for (reply, count) in replies.into_iter().zip(counts) {
                    let _ = reply.send(Ok(count));
                }
            }
            Err(e) => {
                let message = crate::sql_message(&e);
                for reply in replies {
                    let _ = reply.send(Err(inner.backend(message.clone())));
                }
            }
        }
    }
}

/// How often a SQLite store copies its WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// SQLite: a `PASSIVE` checkpoint every [`CHECKPOINT_EVERY`] on a connection of its own,
/// so the writer never stops at a commit to copy the WAL back (and wait for the disk), as
/// SQLite's automatic checkpoint makes it do. `PASSIVE` never blocks a writer or a reader.
/// Ends when the store is gone.
async fn checkpoint_in_background(inner: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(e) = inner
            .pool
            .fetch_text("PRAGMA wal_checkpoint(PASSIVE)", &[])
            .await
        {
            tracing::debug!("osprofiler: {}: checkpoint: {e}", inner.path);
        }
    }
}

/// `s` with LIKE's wildcards and the escape character escaped (`ESCAPE '\'`).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How the text `q` appears inside the `data` column: escaped as a Python JSON string, twice
/// (the column holds a JSON string of JSON text), without the quotes.
fn data_text_of(q: &str) -> String {
    let unquote = |s: String| s[1..s.len() - 1].to_owned();
    let mut once = String::new();
    pyjson::write_str(&mut once, q);
    let once = unquote(once);
    let mut twice = String::new();
    pyjson::write_str(&mut twice, &once);
    unquote(twice)
}

/// Which notifications of a chunk were new (not stored before).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
enum Fresh {
    All,
    Nothing,
    Keys(HashSet<(String, String, String)>),
}

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
const INSERT_RAW: &str = "INSERT INTO osprofiler_notifications (base_id, trace_id, name, raw) ";

/// [`INSERT_RAW`] on SQLite. `OR IGNORE` leaves out the same rows as `ON CONFLICT DO
/// NOTHING` (the repeated keys: no value is ever null), and spares SQLite the statement
/// journal of a multi-row `INSERT` that may stop halfway (a `NOT NULL` column may stop
/// one under `ON CONFLICT DO NOTHING`, and undoing it alone needs that journal).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
const INSERT_RAW_OR_IGNORE: &str =
    "INSERT OR IGNORE INTO osprofiler_notifications (base_id, trace_id, name, raw) ";

/// The statement inserting `chunk` into `osprofiler_notifications`: `insert` (with its
/// repeats left out: [`INSERT_RAW`], which gets `ON CONFLICT DO NOTHING`, or
/// [`INSERT_RAW_OR_IGNORE`]) and the rows.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
fn insert_raw_statement<'a, Db: sqlx::Database>(
    insert: &str,
    chunk: &'a [Incoming],
) -> QueryBuilder<'a, Db>
where
    &'a str: sqlx::Encode<'a, Db> + sqlx::Type<Db>,
    Db::Arguments<'a>: sqlx::IntoArguments<'a, Db>,
{
    let mut statement = builder::<Db>(insert, chunk.len(), 4);
    statement.push_values(chunk, |mut b, n| {
        b.push_bind(n.base_id.as_str())
            .push_bind(n.trace_id.as_str())
            .push_bind(n.name.as_str())
            .push_bind(n.raw.get());
    });
    if insert == INSERT_RAW {
        statement.push(" ON CONFLICT DO NOTHING");
    }
    statement
}

/// A builder of a statement of `rows` rows of `columns` bound values after `init`, its text
/// and its values given room for them all at once (not grown by doubling, bind after bind).
fn builder<'a, Db: sqlx::Database>(init: &str, rows: usize, columns: usize) -> QueryBuilder<'a, Db>
where
    Db::Arguments<'a>: sqlx::IntoArguments<'a, Db>,
{
    // `(?, ?, ?), ` or `($1234, $1235, $1236), `.
    let mut sql = String::with_capacity(init.len() + rows * (4 + columns * 8) + 64);
    sql.push_str(init);
    let mut arguments = <Db::Arguments<'a> as Default>::default();
    sqlx::Arguments::reserve(&mut arguments, rows * columns, rows * columns * 64);
    QueryBuilder::with_arguments(sql, arguments)
}

/// Inserts a chunk into `osprofiler_notifications`, repeats left out, in one statement, and
/// tells which rows were new: the backends differ in how that is learnt cheaply.
trait InsertRaw: sqlx::Database {
    async fn insert_raw(
        conn: &mut Self::Connection,
        chunk: &[Incoming],
    ) -> Result<Fresh, sqlx::Error>;
}

#[cfg(feature = "sqlite")]
impl InsertRaw for sqlx::Sqlite {
    /// SQLite has one writer at a time, and the statement holds the write lock: the new rows
    /// got the `seq` values above every row before, up to the last inserted one, so only
    /// when some were repeats are their keys read back: the `n` rows with the highest `seq`
    /// up to that one (`RETURNING` costs more per row). Not the `seq` range of `n` values
    /// ending there: `AUTOINCREMENT` spends a `seq` value on each repeat too, so a repeat
    /// between two new rows leaves a gap among theirs.
    async fn insert_raw(
        conn: &mut Self::Connection,
        chunk: &[Incoming],
    ) -> Result<Fresh, sqlx::Error> {
        let done = insert_raw_statement::<Self>(INSERT_RAW_OR_IGNORE, chunk)
            .build()
            .persistent(chunk.len() == ROWS_PER_STATEMENT)
            .execute(&mut *conn)
            .await?;
        let n = done.rows_affected();
        if n == chunk.len() as u64 {
            return Ok(Fresh::All);
        }
        if n == 0 {
            return Ok(Fresh::Nothing);
        }
        let last = done.last_insert_rowid();
        let rows = sqlx::query::<Self>(
            "SELECT base_id, trace_id, name FROM osprofiler_notifications \
             WHERE seq <= ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(last)
        .bind(n as i64)
        .fetch_all(&mut *conn)
        .await?;
        let mut keys = HashSet::with_capacity(rows.len());
        for r in rows {
            keys.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        Ok(Fresh::Keys(keys))
    }
}

#[cfg(feature = "postgres")]
impl InsertRaw for sqlx::Postgres {
    /// Other collectors may write at the same time: the new rows' keys come back with
    /// `RETURNING` (the unique key makes a concurrent writer of the same notification wait
    /// for this transaction, then skip it).
    async fn insert_raw(
        conn: &mut Self::Connection,
        chunk: &[Incoming],
    ) -> Result<Fresh, sqlx::Error> {
        let mut insert = insert_raw_statement::<Self>(INSERT_RAW, chunk);
        insert.push(" RETURNING base_id, trace_id, name");
        let rows = insert
            .build()
            .persistent(chunk.len() == ROWS_PER_STATEMENT)
            .fetch_all(&mut *conn)
            .await?;
        if rows.len() == chunk.len() {
            return Ok(Fresh::All);
        }
        if rows.is_empty() {
            return Ok(Fresh::Nothing);
        }
        let mut keys = HashSet::with_capacity(rows.len());
        for r in rows {
            keys.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        Ok(Fresh::Keys(keys))
    }
}

#[cfg(feature = "mysql")]
impl InsertRaw for sqlx::MySql {
    /// Not supported: [`TraceStore::open`] refuses MySQL before anything is written.
    async fn insert_raw(
        _conn: &mut Self::Connection,
        _chunk: &[Incoming],
    ) -> Result<Fresh, sqlx::Error> {
        Err(sqlx::Error::Protocol(
            "the collector's store does not run on MySQL".to_owned(),
        ))
    }
}

impl Pool {
    /// Runs `sql` (placeholders already in the backend's form) with `binds`, every column
    /// read as text.
    async fn fetch_bound(
        &self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        on_pool!(self, p, Db => {
            let mut q = sqlx::query::<Db>(sql);
            for b in binds {
                q = match b {
                    Bind::Str(s) => q.bind(s.as_str()),
                    Bind::Int(i) => q.bind(*i),
                };
            }
            let rows = q.fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i))
                        .collect()
                })
                .collect()
        })
    }

    /// Runs each statement with all of `ids` bound, in one transaction.
    async fn execute_bound_all(
        &self,
        statements: &[String],
        ids: &[String],
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, p, Db => {
            let mut tx = p.begin().await?;
            for s in statements {
                let mut q = sqlx::query::<Db>(s);
                for id in ids {
                    q = q.bind(id.as_str());
                }
                q.persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    /// Inserts `letters` into `osprofiler_dead_letters`, stamped `now_us`, in one statement.
    async fn insert_dead_letters(
        &self,
        letters: &[DeadLetter],
        now_us: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, p, Db => {
            for chunk in letters.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<Db>::new(
                    "INSERT INTO osprofiler_dead_letters (received_us, source, reason, body) ",
                );
                insert.push_values(chunk, |mut b, l| {
                    b.push_bind(now_us)
                        .push_bind(l.source.as_str())
                        .push_bind(l.reason.as_str())
                        .push_bind(l.body.as_slice());
                });
                insert.build().persistent(false).execute(p).await?;
            }
            Ok(())
        })
    }

    /// The last `limit` rows of `osprofiler_dead_letters`, oldest first.
    async fn read_dead_letters(&self, limit: u32) -> Result<Vec<StoredDeadLetter>, sqlx::Error> {
        on_pool!(self, p, Db => {
            let sql = format!(
                "SELECT id, received_us, source, reason, body FROM osprofiler_dead_letters \
                 ORDER BY id DESC LIMIT {limit}"
            );
            let rows = sqlx::query::<Db>(&sql)
            .persistent(false)
            .fetch_all(p)
            .await?;
            let mut out = rows
                .iter()
                .map(|r| {
                    Ok(StoredDeadLetter {
                        id: r.try_get(0)?,
                        received_us: r.try_get(1)?,
                        letter: DeadLetter {
                            source: r.try_get(2)?,
                            reason: r.try_get(3)?,
                            body: r.try_get(4)?,
                        },
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            out.reverse();
            Ok(out)
        })
    }

    /// One batch, in one transaction: returns which notifications were new. The
    /// transaction runs on the connection kept in `kept` when the backend keeps one (the
    /// SQLite writer; taken from the pool the first time), else on one from the pool.
    async fn ingest(
        &self,
        batch: &[Incoming],
        dialect: Dialect,
        json_cast: Option<&str>,
        kept: &mut KeptConnection,
    ) -> Result<Vec<bool>, sqlx::Error> {
        let (least, greatest) = match dialect {
            Dialect::Postgres => ("LEAST", "GREATEST"),
            _ => ("MIN", "MAX"),
        };
        let upsert = format!(
            " ON CONFLICT (base_id) DO UPDATE SET \
             first_ts = CASE WHEN excluded.first_us < osprofiler_traces.first_us \
             THEN excluded.first_ts ELSE osprofiler_traces.first_ts END, \
             first_us = {least}(osprofiler_traces.first_us, excluded.first_us), \
             last_us = {greatest}(osprofiler_traces.last_us, excluded.last_us), \
             notifications = osprofiler_traces.notifications + excluded.notifications, \
             points = osprofiler_traces.points + excluded.points, \
             errors = osprofiler_traces.errors + excluded.errors"
        );
        on_pool!(self, p, Db => {
            let mut tx = match <Db as KeepsConnection>::slot(kept) {
                Some(slot) => {
                    let conn = match slot.take() {
                        Some(c) => c,
                        None => p.acquire().await?,
                    };
                    sqlx::Connection::begin(&mut **slot.insert(conn)).await?
                }
                None => p.begin().await?,
            };
            // 1. The notifications as received; which of them were new comes back.
            let mut fresh: Vec<&Incoming> = Vec::with_capacity(batch.len());
            let mut flags: Vec<bool> = Vec::with_capacity(batch.len());
            for chunk in batch.chunks(ROWS_PER_STATEMENT) {
                match <Db as InsertRaw>::insert_raw(&mut tx, chunk).await? {
                    Fresh::All => {
                        fresh.extend(chunk);
                        flags.extend(chunk.iter().map(|_| true));
                    }
                    Fresh::Nothing => flags.extend(chunk.iter().map(|_| false)),
                    Fresh::Keys(keys) => {
                        for n in chunk {
                            let new = keys.contains(&(
                                n.base_id.clone(),
                                n.trace_id.clone(),
                                n.name.clone(),
                            ));
                            flags.push(new);
                            if new {
                                fresh.push(n);
                            }
                        }
                    }
                }
            }
            if fresh.is_empty() {
                tx.commit().await?;
                return Ok(flags);
            }
            // 2. Python's `data` rows, in arrival order.
            for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
                let mut insert = builder::<Db>(crate::INSERT_PREFIX, chunk.len(), 9);
                insert.push_values(chunk, |mut b, n| {
                    crate::push_data_row!(
                        b,
                        json_cast,
                        n.timestamp.as_str(),
                        n.base_id.as_str(),
                        n.parent_id.as_deref(),
                        n.trace_id.as_str(),
                        n.project.as_deref(),
                        n.host.as_deref(),
                        n.service.as_deref(),
                        n.name.as_str(),
                        n.data.as_str()
                    );
                });
                insert
                    .build()
                    .persistent(chunk.len() == ROWS_PER_STATEMENT)
                    .execute(&mut *tx)
                    .await?;
            }
            // 3. The summaries, and 4. the tags, in key order (fewer lock waits between
            // collectors sharing a database).
            // A trace's notifications mostly come one after another: a notification of the
            // previous one's trace takes its summary without a lookup, and leaves out the
            // tags the previous one had.
            let mut summaries: Vec<(&str, Summary)> = Vec::new();
            let mut at: HashMap<&str, usize> = HashMap::new();
            let mut tags: HashSet<(&str, &str, &str)> = HashSet::new();
            let mut previous: Option<(&Incoming, usize)> = None;
            for n in &fresh {
                let same = previous.filter(|(p, _)| p.base_id == n.base_id);
                let i = match same {
                    Some((_, i)) => i,
                    None => *at.entry(n.base_id.as_str()).or_insert_with(|| {
                        summaries.push((
                            n.base_id.as_str(),
                            Summary {
                                first_us: n.micros,
                                first_ts: n.timestamp.clone(),
                                last_us: n.micros,
                                notifications: 0,
                                points: 0,
                                errors: 0,
                            },
                        ));
                        summaries.len() - 1
                    }),
                };
                let s = &mut summaries[i].1;
                if n.micros < s.first_us {
                    s.first_us = n.micros;
                    s.first_ts = n.timestamp.clone();
                }
                s.last_us = s.last_us.max(n.micros);
                s.notifications += 1;
                s.points += i64::from(n.name.ends_with("-start"));
                s.errors += i64::from(n.error);
                let known = same.map(|(p, _)| [&p.project, &p.service, &p.host]);
                let values = [("project", &n.project), ("service", &n.service), ("host", &n.host)];
                for (k, (kind, value)) in values.into_iter().enumerate() {
                    if let Some(v) = value {
                        if known.is_none_or(|known| known[k] != value) {
                            tags.insert((kind, v.as_str(), n.base_id.as_str()));
                        }
                    }
                }
                previous = Some((*n, i));
            }
            summaries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut tags: Vec<(&str, &str, &str)> = tags.into_iter().collect();
            tags.sort_unstable();
            // On SQLite every statement of 3. and 4. goes in one call (one trip to the
            // connection's thread and back instead of one each; they are prepared each time
            // anyway); PostgreSQL takes one statement per prepared call.
            let sqlite = dialect == Dialect::Sqlite;
            let mut insert = QueryBuilder::<Db>::new("");
            let mut pending = false;
            for chunk in summaries.chunks(ROWS_PER_STATEMENT) {
                if pending {
                    insert.push("; ");
                }
                insert.push(
                    "INSERT INTO osprofiler_traces \
                     (base_id, first_us, first_ts, last_us, notifications, points, errors) ",
                );
                insert.push_values(chunk, |mut b, (base_id, s)| {
                    b.push_bind(*base_id)
                        .push_bind(s.first_us)
                        .push_bind(s.first_ts.as_str())
                        .push_bind(s.last_us)
                        .push_bind(s.notifications)
                        .push_bind(s.points)
                        .push_bind(s.errors);
                });
                insert.push(&upsert);
                pending = true;
                if !sqlite {
                    insert.build().persistent(false).execute(&mut *tx).await?;
                    insert.reset();
                    pending = false;
                }
            }
            for chunk in tags.chunks(ROWS_PER_STATEMENT) {
                if pending {
                    insert.push("; ");
                }
                // `OR IGNORE` on SQLite: see `INSERT_RAW_OR_IGNORE`.
                insert.push(if sqlite {
                    "INSERT OR IGNORE INTO osprofiler_trace_tags (kind, value, base_id) "
                } else {
                    "INSERT INTO osprofiler_trace_tags (kind, value, base_id) "
                });
                insert.push_values(chunk, |mut b, (kind, value, base_id)| {
                    b.push_bind(*kind).push_bind(*value).push_bind(*base_id);
                });
                pending = true;
                if !sqlite {
                    insert.push(" ON CONFLICT DO NOTHING");
                    insert.build().persistent(false).execute(&mut *tx).await?;
                    insert.reset();
                    pending = false;
                }
            }
            if pending {
                insert.build().persistent(false).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(flags)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    fn refused(text: &str) -> String {
        Incoming::parse(raw(text)).unwrap_err().to_string()
    }

    const GOOD: &str = r#"{"name": "db-start", "base_id": "b", "trace_id": "t", "parent_id": "p", "timestamp": "2026-11-25T04:59:10.042928", "info": {"k": "é", "host": "h1"}, "project": "nova", "service": "api"}"#;

    #[test]
    fn a_notification_is_taken_apart_as_pythons_sql_driver_does() {
        let n = Incoming::parse(raw(GOOD)).unwrap();
        assert_eq!(n.raw().get(), GOOD);
        assert_eq!(n.host.as_deref(), Some("h1"));
        assert_eq!(n.parent_id.as_deref(), Some("p"));
        assert_eq!(
            n.micros,
            Timestamp::parse("2026-11-25T04:59:10.042928")
                .unwrap()
                .as_micros()
        );
        // json.dumps(json.dumps({"info": {"k": "é", "host": "h1"}}))
        assert_eq!(
            n.data_column(),
            r#""{\"info\": {\"k\": \"\\u00e9\", \"host\": \"h1\"}}""#
        );
        assert!(!n.error);
        // Extra keys stay in `data`, as Python's driver keeps them.
        let n = Incoming::parse(raw(
            r#"{"name": "x-stop", "base_id": "b", "trace_id": "t", "parent_id": null, "timestamp": "2026-11-25T04:59:10.1", "extra": 1, "info": {"etype": "E"}}"#,
        ))
        .unwrap();
        assert_eq!(
            n.data_column(),
            r#""{\"extra\": 1, \"info\": {\"etype\": \"E\"}}""#
        );
        assert!(n.error);
        assert_eq!(n.parent_id, None);
        assert_eq!(n.host, None);
    }

    #[test]
    fn what_is_wrong_is_named() {
        assert_eq!(
            refused("[1]"),
            "expected a notification object, found a list"
        );
        assert_eq!(
            refused(&GOOD.replace(r#""name": "db-start", "#, "")),
            "name: missing"
        );
        assert_eq!(
            refused(&GOOD.replace(r#""base_id": "b""#, r#""base_id": 7"#)),
            "base_id: expected a string, found a number"
        );
        assert_eq!(
            refused(&GOOD.replace(r#""trace_id": "t""#, r#""trace_id": """#)),
            "trace_id: empty"
        );
        assert!(refused(&GOOD.replace("2026-11-25T", "2026-13-25T"))
            .starts_with("timestamp: time data"));
        assert_eq!(
            refused(&GOOD.replace(r#""parent_id": "p", "#, "")),
            "parent_id: missing"
        );
        assert_eq!(
            refused(&GOOD.replace(r#""parent_id": "p""#, r#""parent_id": []"#)),
            "parent_id: expected a string or null, found a list"
        );
        assert_eq!(
            refused(&GOOD.replace(r#""info": {"k": "é", "host": "h1"}"#, r#""info": null"#)),
            "info: expected an object, found null"
        );
        assert_eq!(
            refused(&GOOD.replace(r#""host": "h1""#, r#""host": 1"#)),
            "info.host: expected a string or null, found a number"
        );
        let long = "x".repeat(256);
        assert_eq!(
            refused(&GOOD.replace(r#""service": "api""#, &format!(r#""service": "{long}""#))),
            "service: longer than 255 characters"
        );
    }

    #[test]
    fn text_searched_in_the_data_column() {
        assert_eq!(data_text_of("abc"), "abc");
        // é -> \u00e9 -> \\u00e9 ; " -> \" -> \\\"
        assert_eq!(data_text_of("é\""), r#"\\u00e9\\\""#);
        assert_eq!(like_escape("a%b_c\\"), r"a\%b\_c\\");
    }
}
