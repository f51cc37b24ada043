//! `sqlite://PATH`: the embedded default store, in Python OSprofiler's SQL layout (its
//! `sqlalchemy` driver), so either side reads what the other wrote (DESIGN section 7).
//!
//! One table, `data`, one row per notification:
//!
//! | column | holds |
//! |---|---|
//! | `id` | insertion order (`INTEGER PRIMARY KEY AUTOINCREMENT`) |
//! | `timestamp` | `VARCHAR(26)`, `%Y-%m-%dT%H:%M:%S.%f` |
//! | `base_id`, `parent_id`, `trace_id`, `project`, `host`, `service`, `name` | `VARCHAR(255)`; `host` is the driver's configured host |
//! | `data` | `JSON`: the notification without the columned fields (`{"info": {...}}`), as the JSON *string* of its Python `json.dumps` text: encoded twice, as Python's JSON column stores it |
//!
//! Every column but `id` and `data` has Python's index (`ix_data_<column>`). The table and its
//! indexes are created when missing.
//!
//! `PATH` is a file path as sqlx reads it: `sqlite:///abs/path.db`, `sqlite://relative.db`,
//! `sqlite::memory:` (or `sqlite://`, as in SQLAlchemy) for a private in-memory store; sqlx's
//! query parameters (`?mode=ro`, ...) are accepted. A missing file and its folders are created,
//! the journal is WAL, and a busy database is waited on for up to 5 s.
//!
//! Note the difference from SQLAlchemy URLs, where `sqlite:///x.db` is *relative* and an
//! absolute path takes four slashes: give a Python service `sqlite:////abs/path.db` for the
//! file that is `sqlite:///abs/path.db` here (sqlx reads both forms as the same file).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row, Sqlite};
use tokio::sync::Mutex;

use super::registry::DriverFuture;
use super::{mask_password, Driver, DriverError, DriverOptions, TraceSummary};
use crate::notification::Notification;
use crate::pyjson;
use crate::report::{Entry, Field, Report, ReportBuilder};

/// How long a statement waits for another process's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows per multi-row `INSERT` (10 bound values each; SQLite allows 32766 per statement).
const ROWS_PER_INSERT: usize = 64;

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

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS data (\n\
    id INTEGER PRIMARY KEY AUTOINCREMENT,\n\
    timestamp VARCHAR(26),\n\
    base_id VARCHAR(255),\n\
    parent_id VARCHAR(255),\n\
    trace_id VARCHAR(255),\n\
    project VARCHAR(255),\n\
    host VARCHAR(255),\n\
    service VARCHAR(255),\n\
    name VARCHAR(255),\n\
    data JSON\n)";

const INSERT_PREFIX: &str =
    "INSERT INTO data (timestamp, base_id, parent_id, trace_id, project, host, service, name, data) ";

/// The SQL driver on one SQLite database (see the [module docs](self)).
///
/// It holds one connection: writes (from the notifier's worker) and reads (from tools) take
/// turns; other processes share the file through SQLite's locking and WAL.
pub struct SqliteDriver {
    conn: Mutex<SqliteConnection>,
    /// The connection string, password masked (for messages).
    connection: String,
    /// The database file (or `:memory:`), for messages.
    path: String,
    host: String,
    project: Option<String>,
    service: Option<String>,
}

pub(super) fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move {
        let driver = SqliteDriver::open(&options).await?;
        Ok(Arc::new(driver) as Arc<dyn Driver>)
    })
}

/// Where a `sqlite://` connection string points.
struct Target {
    options: SqliteConnectOptions,
    /// `None` for an in-memory database.
    file: Option<PathBuf>,
    read_only: bool,
}

fn parse_target(connection_string: &str) -> Result<Target, DriverError> {
    let masked = mask_password(connection_string.trim());
    let bad = |reason: String| DriverError::BadConnectionString {
        connection: masked.clone(),
        reason,
    };
    let s = connection_string.trim();
    let rest = match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sqlite:") => &s[7..],
        _ => return Err(bad("expected sqlite://PATH".to_owned())),
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    // SQLAlchemy reads `sqlite://` (no path) as an in-memory database; so do we.
    let path = if path.is_empty() { ":memory:" } else { path };
    let url = match query {
        Some(q) => format!("sqlite://{path}?{q}"),
        None => format!("sqlite://{path}"),
    };
    let options = SqliteConnectOptions::from_str(&url).map_err(|e| bad(e.to_string()))?;
    let params: Vec<(String, String)> = query
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let in_memory = path == ":memory:" || param("mode") == Some("memory");
    let read_only = param("mode") == Some("ro") || param("immutable") == Some("true");
    // Statements are not logged: the host service's logs are not ours to fill.
    let mut options = options
        .busy_timeout(BUSY_TIMEOUT)
        .disable_statement_logging();
    if !in_memory && !read_only {
        if param("mode").is_none() {
            options = options.create_if_missing(true);
        }
        options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    let file = (!in_memory).then(|| options.get_filename().to_path_buf());
    Ok(Target {
        options,
        file,
        read_only,
    })
}

impl SqliteDriver {
    /// Opens (creating it when missing) the database of `options.connection_string`, and
    /// Python's `data` table in it.
    ///
    /// Errors name the database file: a folder that cannot be made, a file that is not a
    /// SQLite database, a `data` table of another layout.
    pub async fn open(options: &DriverOptions) -> Result<SqliteDriver, DriverError> {
        let connection = mask_password(options.connection_string.trim());
        let target = parse_target(&options.connection_string)?;
        let path = match &target.file {
            Some(f) => f.display().to_string(),
            None => ":memory:".to_owned(),
        };
        let fail = |what: &str, e: &dyn fmt::Display| DriverError::Backend {
            connection: connection.clone(),
            message: format!("{what} SQLite database {path}: {e}"),
        };
        if let (Some(file), false) = (&target.file, target.read_only) {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    fail(
                        "cannot create the folder of the",
                        &format!("{}: {e}", dir.display()),
                    )
                })?;
            }
        }
        let mut conn = target
            .options
            .clone()
            .connect()
            .await
            .map_err(|e| fail("cannot open the", &sql_message(&e)))?;
        ensure_table(&mut conn, target.read_only)
            .await
            .map_err(|e| fail("cannot use the", &e))?;
        Ok(SqliteDriver {
            conn: Mutex::new(conn),
            connection,
            path,
            host: options.host.clone(),
            project: options.project.clone(),
            service: options.service.clone(),
        })
    }

    /// The database file (`:memory:` for an in-memory one).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn error(&self, e: sqlx::Error) -> DriverError {
        DriverError::Backend {
            connection: self.connection.clone(),
            message: format!("SQLite database {}: {}", self.path, sql_message(&e)),
        }
    }
}

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

/// SQLite's own words for a database error ("file is not a database"), sqlx's otherwise.
fn sql_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

impl From<sqlx::Error> for SetupError {
    fn from(e: sqlx::Error) -> Self {
        SetupError::Sql(e)
    }
}

/// Creates the table and its indexes when missing (as Python's `create_all(checkfirst=True)`),
/// or checks that an existing `data` table has Python's columns.
async fn ensure_table(conn: &mut SqliteConnection, read_only: bool) -> Result<(), SetupError> {
    let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('data')")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    if !columns.is_empty() {
        let missing: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| !columns.iter().any(|have| have.eq_ignore_ascii_case(c)))
            .collect();
        if !missing.is_empty() {
            return Err(SetupError::Layout(format!(
                "its table `data` is not OSprofiler's (no column {})",
                missing.join(", ")
            )));
        }
        return Ok(());
    }
    if read_only {
        return Err(SetupError::Layout(
            "it has no OSprofiler `data` table (and is opened read-only)".to_owned(),
        ));
    }
    let mut tx = conn.begin().await?;
    sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
    for column in INDEXED {
        sqlx::query(&format!(
            "CREATE INDEX IF NOT EXISTS ix_data_{column} ON data ({column})"
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
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

fn text(row: &SqliteRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get_unchecked::<Option<String>, _>(column)
}

#[async_trait]
impl Driver for SqliteDriver {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    /// Inserts the batch in one transaction.
    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        if batch.is_empty() {
            return Ok(());
        }
        let data: Vec<String> = batch.iter().map(encode_data).collect();
        let mut conn = self.conn.lock().await;
        let mut tx = conn.begin().await.map_err(|e| self.error(e))?;
        for (rows, data) in batch
            .chunks(ROWS_PER_INSERT)
            .zip(data.chunks(ROWS_PER_INSERT))
        {
            let mut insert = QueryBuilder::<Sqlite>::new(INSERT_PREFIX);
            insert.push_values(rows.iter().zip(data), |mut b, (n, data)| {
                b.push_bind(n.timestamp.as_str())
                    .push_bind(n.base_id.as_str())
                    .push_bind(n.parent_id.as_str())
                    .push_bind(n.trace_id.as_str())
                    .push_bind(n.project.as_deref().or(self.project.as_deref()))
                    .push_bind(self.host.as_str())
                    .push_bind(n.service.as_deref().or(self.service.as_deref()))
                    .push_bind(n.name.as_str())
                    .push_bind(data.as_str());
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Python's SQL `get_report`: the rows of `base_id` in insertion order; each node's host
    /// is the `host` column and its raw payload the decoded `data` object. Rows that cannot
    /// be read (no name, timestamp or trace id, bad `data`) are left out with a warning.
    async fn get_report(&self, base_id: &str) -> Result<Report, DriverError> {
        let rows = {
            let mut conn = self.conn.lock().await;
            sqlx::query(
                "SELECT id, timestamp, parent_id, trace_id, project, host, service, name, data \
                 FROM data WHERE base_id = ? ORDER BY id",
            )
            .bind(base_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?
        };
        let mut builder = ReportBuilder::new();
        let mut unreadable = 0usize;
        for row in &rows {
            if !append_row(&mut builder, row).map_err(|e| self.error(e))? {
                unreadable += 1;
            }
        }
        let skipped = unreadable + builder.skipped().len();
        if skipped > 0 {
            tracing::warn!(
                "osprofiler: {}: left out {skipped} unreadable rows of trace {base_id}",
                self.path
            );
        }
        Ok(builder.finish())
    }

    /// One row per trace, oldest first: `base_id`, its earliest `timestamp`, and the asked
    /// `fields` of its first stored notification (any column, or `info`).
    async fn list_traces(&self, fields: &[&str]) -> Result<Vec<TraceSummary>, DriverError> {
        let rows = {
            let mut conn = self.conn.lock().await;
            sqlx::query(
                "SELECT d.base_id AS base_id, f.ts AS first_ts, d.parent_id, d.trace_id, \
                 d.project, d.host, d.service, d.name, d.data \
                 FROM data d JOIN (SELECT MIN(id) AS first_id, MIN(timestamp) AS ts \
                 FROM data GROUP BY base_id) f ON d.id = f.first_id \
                 ORDER BY f.ts, d.id",
            )
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut summary = TraceSummary::new();
            let base_id = text(row, "base_id").map_err(|e| self.error(e))?;
            let ts = text(row, "first_ts").map_err(|e| self.error(e))?;
            summary.insert("base_id".into(), base_id.map_or(Value::Null, Value::from));
            summary.insert("timestamp".into(), ts.map_or(Value::Null, Value::from));
            for &field in fields {
                if summary.contains_key(field) {
                    continue;
                }
                let value = match field {
                    "parent_id" | "trace_id" | "project" | "host" | "service" | "name" => {
                        text(row, field)
                            .map_err(|e| self.error(e))?
                            .map_or(Value::Null, Value::from)
                    }
                    other => {
                        let data = text(row, "data").map_err(|e| self.error(e))?;
                        let object = data
                            .and_then(|d| decode_data(&d).ok())
                            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok());
                        match object.as_ref().and_then(|o| o.get(other)) {
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

    /// Traces with a notification whose `info.etype` is set (Python's error-trace test),
    /// oldest first: `base_id` and the `timestamp` of its first such notification.
    async fn list_error_traces(&self) -> Result<Vec<TraceSummary>, DriverError> {
        // `data` holds a JSON string whose text is the object: unwrap it, then look for
        // `info.etype`; rows whose `data` is not valid JSON are passed over.
        let rows = {
            let mut conn = self.conn.lock().await;
            sqlx::query(
                "SELECT base_id, MIN(timestamp) AS ts FROM data \
                 WHERE data LIKE '%etype%' AND (CASE \
                   WHEN json_valid(data) = 0 THEN NULL \
                   WHEN json_type(data) = 'text' THEN CASE \
                     WHEN json_valid(json_extract(data, '$')) \
                     THEN json_extract(json_extract(data, '$'), '$.info.etype') END \
                   WHEN json_type(data) = 'object' THEN json_extract(data, '$.info.etype') \
                 END) IS NOT NULL \
                 GROUP BY base_id ORDER BY ts, MIN(id)",
            )
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.error(e))?
        };
        rows.iter()
            .map(|row| {
                let mut summary = TraceSummary::new();
                let base_id = text(row, "base_id").map_err(|e| self.error(e))?;
                let ts = text(row, "ts").map_err(|e| self.error(e))?;
                summary.insert("base_id".into(), base_id.map_or(Value::Null, Value::from));
                summary.insert("timestamp".into(), ts.map_or(Value::Null, Value::from));
                Ok(summary)
            })
            .collect()
    }
}

/// Hands one row to the builder as Python's SQL reader does (host from the column, raw
/// payload the decoded `data`). False when the row lacks what a node needs (no name,
/// timestamp or trace id, or a `data` that is not JSON); the builder records its own refusals.
fn append_row(builder: &mut ReportBuilder, row: &SqliteRow) -> Result<bool, sqlx::Error> {
    let str_col = |c: &str| row.try_get_unchecked::<Option<&str>, _>(c);
    let (Some(name), Some(timestamp), Some(trace_id)) = (
        str_col("name")?,
        str_col("timestamp")?,
        str_col("trace_id")?,
    ) else {
        return Ok(false);
    };
    let raw_payload = match str_col("data")?.map(decode_data) {
        Some(Ok(raw)) => raw,
        Some(Err(_)) => return Ok(false),
        None => null_payload(),
    };
    let _ = builder.append(Entry {
        trace_id,
        parent_id: str_col("parent_id")?,
        name,
        project: Field::from(str_col("project")?),
        service: Field::from(str_col("service")?),
        host: Field::from(str_col("host")?),
        timestamp,
        raw_payload,
    });
    Ok(true)
}

fn null_payload() -> Box<RawValue> {
    // "null" is valid JSON.
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!())
}

impl fmt::Debug for SqliteDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDriver")
            .field("connection", &self.connection)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_encoded_twice_as_python_does() {
        let mut info = crate::Info::new();
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
    fn connection_strings() {
        let t = parse_target("sqlite:///tmp/x/y.db").unwrap();
        assert_eq!(t.file.unwrap(), PathBuf::from("/tmp/x/y.db"));
        let t = parse_target("SQLite://rel.db").unwrap();
        assert_eq!(t.file.unwrap(), PathBuf::from("rel.db"));
        assert!(parse_target("sqlite::memory:").unwrap().file.is_none());
        assert!(parse_target("sqlite://").unwrap().file.is_none());
        assert!(parse_target("sqlite://:memory:").unwrap().file.is_none());
        assert!(
            parse_target("sqlite:///tmp/x.db?mode=ro")
                .unwrap()
                .read_only
        );
        assert!(parse_target("sqlite:///tmp/x.db?bogus=1").is_err());
        assert!(parse_target("redis://x").is_err());
    }
}
