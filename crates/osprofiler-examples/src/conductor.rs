//! The database layer of the three-services example (`dbsvc`, nova-conductor's role): the
//! only process that touches the database. Its RPC methods are `rpc` points
//! (`#[trace_impl(name = "rpc")]`, as nova traces its `ConductorManager`); each calls a
//! database API function, a `db` point (`#[trace(name = "db")]`, as nova's `nova.db.api`),
//! whose SQL statements run through an [`osprofiler_sqlx::TracedPool`]: with
//! `[profiler] trace_sqlalchemy = true`, one more `db` point per statement with
//! `db: {statement, params}`.

use std::fmt;
use std::str::FromStr;

use osprofiler::driver::mask_password;
use osprofiler_sqlx::{SqlTracing, TracedPool};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Sqlite;

use crate::amqp::RpcReply;

/// A database API call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No instance has this id.
    #[error("instance {0} could not be found")]
    InstanceNotFound(String),
    /// The database refused.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// One row of the `instances` table, as the RPC methods return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// A uuid.
    pub id: String,
    /// The name the user gave.
    pub name: String,
    /// The flavor.
    pub flavor: String,
    /// `BUILDING`, then `ACTIVE`.
    pub status: String,
}

/// The columns of `instances`, in [`InstanceRecord`]'s order.
type InstanceRow = (String, String, String, String);

impl From<InstanceRow> for InstanceRecord {
    fn from((id, name, flavor, status): InstanceRow) -> Self {
        InstanceRecord {
            id,
            name,
            flavor,
            status,
        }
    }
}

/// The pool of one of the supported databases, its statements traced.
enum Pool {
    Sqlite(TracedPool<Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(TracedPool<sqlx::Postgres>),
}

/// Runs `$body` with `$pool` bound to the traced pool, whichever the database: the same
/// statements serve both (`$1` placeholders, which SQLite reads too).
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match &$db.pool {
            Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($pool) => $body,
        }
    };
}

/// The database: a traced pool holding the `instances` table.
pub struct Database {
    pool: Pool,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What a `db` point's `args` show: the handle, not the pool's internals.
        f.write_str("Database")
    }
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, \
                            name TEXT NOT NULL, flavor TEXT NOT NULL, status TEXT NOT NULL)";

impl Database {
    /// Opens the database at `url` and creates the `instances` table if missing; statements
    /// are traced as `tracing` says ([`SqlTracing::from_conf`]: `enabled` and
    /// `trace_sqlalchemy`). `url` is SQLAlchemy's form of `[database] connection`:
    /// `sqlite://PATH` (created if missing) or `sqlite::memory:`, and with the cargo
    /// feature `postgres`, `postgresql://USER:PASS@HOST/DB` (a `+driver` suffix of the
    /// scheme, `postgresql+psycopg2://`, is ignored). Errors name `url` with its password
    /// masked.
    pub async fn open(url: &str, tracing: SqlTracing) -> Result<Self, DbOpenError> {
        let err = |e: sqlx::Error| DbOpenError {
            url: mask_password(url),
            source: e,
        };
        let (scheme, _) = url.split_once(':').unwrap_or((url, ""));
        let scheme = scheme.split('+').next().unwrap_or_default();
        let pool = match scheme {
            #[cfg(feature = "postgres")]
            "postgresql" | "postgres" => {
                let rest = url.split_once("://").map_or("", |(_, r)| r);
                let options: sqlx::postgres::PgConnectOptions =
                    format!("postgresql://{rest}").parse().map_err(err)?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(OPEN_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(err)?;
                Pool::Postgres(tracing.pool(pool))
            }
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(err)?
                    .create_if_missing(true);
                // One connection: an in-memory database is one per connection, and SQLite
                // writes one at a time anyway.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(OPEN_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(err)?;
                Pool::Sqlite(tracing.pool(pool))
            }
            _ => {
                return Err(err(sqlx::Error::Configuration(
                    "unsupported database: expected sqlite:// or postgresql:// \
                     (with the cargo feature `postgres`)"
                        .into(),
                )))
            }
        };
        let db = Database { pool };
        // Not a point: no profiler is current at start.
        with_pool!(db, |pool| sqlx::query(CREATE_TABLE)
            .execute(pool.get_ref())
            .await
            .map_err(err)?
            .rows_affected());
        Ok(db)
    }
}

/// How long connecting to the database may take.
const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("database {url}: {source}")]
pub struct DbOpenError {
    /// The connection URL, password masked.
    pub url: String,
    /// sqlx's error.
    #[source]
    pub source: sqlx::Error,
}

/// Inserts a new instance, `BUILDING`.
#[osprofiler::trace(name = "db")]
pub async fn instance_create(
    db: &Database,
    name: &str,
    flavor: &str,
) -> Result<InstanceRecord, DbError> {
    let record = InstanceRecord {
        id: osprofiler::TraceId::new_v4().to_text(),
        name: name.to_owned(),
        flavor: flavor.to_owned(),
        status: "BUILDING".to_owned(),
    };
    with_pool!(db, |pool| sqlx::query(
        "INSERT INTO instances (id, name, flavor, status) VALUES ($1, $2, $3, $4)"
    )
    .bind(&record.id)
    .bind(&record.name)
    .bind(&record.flavor)
    .bind(&record.status)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(record)
}

/// Sets an instance's status; fails for an unknown id.
#[osprofiler::trace(name = "db")]
pub async fn instance_update(
    db: &Database,
    id: &str,
    status: &str,
) -> Result<InstanceRecord, DbError> {
    let updated = with_pool!(db, |pool| sqlx::query(
        "UPDATE instances SET status = $1 WHERE id = $2"
    )
    .bind(status)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    if updated == 0 {
        return Err(DbError::InstanceNotFound(id.to_owned()));
    }
    select_instance(db, id).await
}

/// One instance; fails for an unknown id.
#[osprofiler::trace(name = "db")]
pub async fn instance_get(db: &Database, id: &str) -> Result<InstanceRecord, DbError> {
    select_instance(db, id).await
}

async fn select_instance(db: &Database, id: &str) -> Result<InstanceRecord, DbError> {
    let row: Option<InstanceRow> = with_pool!(db, |pool| sqlx::query_as(
        "SELECT id, name, flavor, status FROM instances WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await?);
    row.map(InstanceRecord::from)
        .ok_or_else(|| DbError::InstanceNotFound(id.to_owned()))
}

/// The RPC server's methods: each an `rpc` point with Python's `function` info.
pub struct ConductorManager {
    db: Database,
}

impl fmt::Debug for ConductorManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConductorManager")
    }
}

impl ConductorManager {
    /// The methods over `db`.
    pub fn new(db: Database) -> Self {
        ConductorManager { db }
    }
}

#[osprofiler::trace_impl(name = "rpc")]
impl ConductorManager {
    /// Creates an instance record.
    pub async fn instance_create(
        &self,
        name: String,
        flavor: String,
    ) -> Result<InstanceRecord, DbError> {
        instance_create(&self.db, &name, &flavor).await
    }

    /// Sets an instance's status.
    pub async fn instance_update(
        &self,
        id: String,
        status: String,
    ) -> Result<InstanceRecord, DbError> {
        instance_update(&self.db, &id, &status).await
    }

    /// Reads an instance.
    pub async fn instance_get(&self, id: String) -> Result<InstanceRecord, DbError> {
        instance_get(&self.db, &id).await
    }
}

#[derive(Deserialize)]
struct CreateArgs {
    name: String,
    flavor: String,
}

#[derive(Deserialize)]
struct UpdateArgs {
    id: String,
    status: String,
}

#[derive(Deserialize)]
struct GetArgs {
    id: String,
}

/// Runs `method` of `manager` with `args` (oslo.messaging's dispatcher): the reply to send.
pub async fn dispatch(
    manager: &ConductorManager,
    method: &str,
    args: Map<String, Value>,
) -> RpcReply {
    let result = match method {
        "instance_create" => match RpcReply::parse_args::<CreateArgs>(args) {
            Ok(a) => manager.instance_create(a.name, a.flavor).await,
            Err(reply) => return reply,
        },
        "instance_update" => match RpcReply::parse_args::<UpdateArgs>(args) {
            Ok(a) => manager.instance_update(a.id, a.status).await,
            Err(reply) => return reply,
        },
        "instance_get" => match RpcReply::parse_args::<GetArgs>(args) {
            Ok(a) => manager.instance_get(a.id).await,
            Err(reply) => return reply,
        },
        other => return RpcReply::unsupported(other),
    };
    RpcReply::from_result(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler::notifier::CollectingNotifier;
    use osprofiler::{Profiler, ProfilerExt};
    use std::sync::Arc;

    fn args(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect()
    }

    #[tokio::test]
    async fn methods_record_rpc_db_and_sql_points() {
        let db = Database::open("sqlite::memory:", SqlTracing::enabled())
            .await
            .unwrap();
        let manager = ConductorManager::new(db);
        let points = Arc::new(CollectingNotifier::new());
        let p = Profiler::with_notifier("k", Some("base"), Some("caller"), points.clone());
        let reply = dispatch(
            &manager,
            "instance_create",
            args(&[("name", "vm"), ("flavor", "tiny")]),
        )
        .with_profiler(Some(p))
        .await;
        assert!(reply.failure.is_none(), "{reply:?}");
        assert_eq!(reply.result["status"], "BUILDING");

        let notes = points.notifications();
        let names: Vec<&str> = notes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rpc-start",
                "db-start",
                "db-start",
                "db-stop",
                "db-stop",
                "rpc-stop"
            ]
        );
        assert_eq!(notes[0].parent_id, "caller");
        assert_eq!(
            notes[1].info["function"]["name"],
            "osprofiler_examples::conductor::instance_create"
        );
        let sql = &notes[2].info["db"];
        assert_eq!(
            sql["statement"],
            "INSERT INTO instances (id, name, flavor, status) VALUES ($1, $2, $3, $4)"
        );
        assert_eq!(sql["params"][1], "vm");
        // Each point is the child of the one before it.
        assert_eq!(notes[1].parent_id, notes[0].trace_id);
        assert_eq!(notes[2].parent_id, notes[1].trace_id);
    }

    #[tokio::test]
    async fn errors_become_failures() {
        let db = Database::open("sqlite::memory:", SqlTracing::disabled())
            .await
            .unwrap();
        let manager = ConductorManager::new(db);
        let created = dispatch(
            &manager,
            "instance_create",
            args(&[("name", "vm"), ("flavor", "tiny")]),
        )
        .await;
        let id = created.result["id"].as_str().unwrap();
        let updated = dispatch(
            &manager,
            "instance_update",
            args(&[("id", id), ("status", "ACTIVE")]),
        )
        .await;
        assert_eq!(updated.result["status"], "ACTIVE");
        let missing = dispatch(&manager, "instance_get", args(&[("id", "nope")])).await;
        assert_eq!(
            missing.failure.unwrap().message,
            "instance nope could not be found"
        );
        let bad = dispatch(&manager, "instance_get", Map::new()).await;
        assert_eq!(bad.failure.unwrap().class, "TypeError");
        let unknown = dispatch(&manager, "nothing", Map::new()).await;
        assert_eq!(unknown.failure.unwrap().class, "UnsupportedVersion");
    }
}
