//! Where a SQL connection string points: the backend, its sqlx options, and the pool made
//! from them. SQLAlchemy's `dialect+driver://` forms are translated here.

use std::path::PathBuf;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::str::FromStr;
use std::time::Duration;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx::{ConnectOptions, Connection};

#[cfg(feature = "postgres")]
use super::READ_TIMEOUT;
use super::{Pool, CONNECT_TIMEOUT};
use osprofiler_core::driver::{mask_password, ConnectionString, DriverError};

/// The SQL backends, each behind its cargo feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (`sqlite`).
    Sqlite,
    /// PostgreSQL (`postgres`).
    Postgres,
    /// MySQL or MariaDB (`mysql`).
    MySql,
}

/// How long an idle server connection is kept (a backend that went away is then noticed
/// before the next batch, not by it).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Dialect {
    /// The driver's name: the canonical scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
            Dialect::MySql => "mysql",
        }
    }

    /// What messages call the database.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite database",
            Dialect::Postgres => "PostgreSQL database",
            Dialect::MySql => "MySQL database",
        }
    }

    /// `sql` with its `?` placeholders as this backend writes them (`$1`, `$2`, ... on
    /// PostgreSQL). The driver's statements have no `?` inside literals.
    pub(super) fn placeholders(self, sql: &str) -> String {
        if self != Dialect::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The statements that create Python's table and indexes, as SQLAlchemy 1.4 writes them
    /// for this backend (made idempotent).
    ///
    /// `indexed` names the columns that get Python's index: all of [`super::INDEXED`] for
    /// the SQL driver, a subset for the collector's store.
    pub(super) fn create_table_with(self, indexed: &[&str]) -> Vec<String> {
        let (id, extra) = match self {
            Dialect::Sqlite => ("id INTEGER PRIMARY KEY AUTOINCREMENT", ""),
            Dialect::Postgres => ("id SERIAL NOT NULL", ",\n    PRIMARY KEY (id)"),
            Dialect::MySql => (
                "id INTEGER NOT NULL AUTO_INCREMENT",
                ",\n    PRIMARY KEY (id)",
            ),
        };
        let mut table = format!(
            "CREATE TABLE IF NOT EXISTS data (\n    {id},\n    timestamp VARCHAR(26),\n    \
             base_id VARCHAR(255),\n    parent_id VARCHAR(255),\n    trace_id VARCHAR(255),\n    \
             project VARCHAR(255),\n    host VARCHAR(255),\n    service VARCHAR(255),\n    \
             name VARCHAR(255),\n    data JSON{extra}"
        );
        if self == Dialect::MySql {
            // MySQL has no `CREATE INDEX IF NOT EXISTS`: the indexes come with the table, in
            // one statement, so a table is never left without them.
            for column in indexed {
                table.push_str(&format!(",\n    INDEX ix_data_{column} ({column})"));
            }
            table.push_str("\n)");
            return vec![table];
        }
        table.push_str("\n)");
        let mut statements = vec![table];
        for column in indexed {
            statements.push(format!(
                "CREATE INDEX IF NOT EXISTS ix_data_{column} ON data ({column})"
            ));
        }
        statements
    }
}

/// A parsed connection string.
pub(super) enum Target {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteTarget),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgConnectOptions),
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlConnectOptions),
}

/// Where a `sqlite://` connection string points.
#[cfg(feature = "sqlite")]
pub(super) struct SqliteTarget {
    options: sqlx::sqlite::SqliteConnectOptions,
    /// `None` for an in-memory database.
    pub(super) file: Option<PathBuf>,
    pub(super) read_only: bool,
    /// Connections of a file's pool (2; the collector's store takes more).
    connections: u32,
}

/// Why no pool could be made.
pub(super) enum ConnectError {
    /// The SQLite file's folder cannot be made.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Folder(PathBuf, std::io::Error),
    Sql(sqlx::Error),
    /// The server did not answer within [`CONNECT_TIMEOUT`].
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    Timeout,
}

impl From<sqlx::Error> for ConnectError {
    fn from(e: sqlx::Error) -> Self {
        ConnectError::Sql(e)
    }
}

/// The Python (SQLAlchemy) driver names accepted after `+`, per dialect.
const PY_DRIVERS: [(&str, Dialect, &[&str]); 4] = [
    ("sqlite", Dialect::Sqlite, &["pysqlite"]),
    (
        "postgresql",
        Dialect::Postgres,
        &["psycopg2", "psycopg", "pg8000"],
    ),
    ("postgres", Dialect::Postgres, &[]),
    (
        "mysql",
        Dialect::MySql,
        &["pymysql", "mysqldb", "mysqlconnector"],
    ),
];

impl Target {
    /// Parses a SQL connection string (see the module docs for the forms).
    pub(super) fn parse(connection_string: &str) -> Result<Target, DriverError> {
        let s = connection_string.trim();
        let bad = |reason: String| DriverError::BadConnectionString {
            connection: mask_password(s),
            reason,
        };
        let cs = ConnectionString::parse(s);
        let scheme = cs.scheme();
        let (dialect_name, py_driver) = match scheme.split_once('+') {
            Some((d, p)) => (d, Some(p)),
            None => (scheme.as_str(), None),
        };
        let Some(&(_, dialect, known)) = PY_DRIVERS.iter().find(|(n, _, _)| *n == dialect_name)
        else {
            return Err(bad(format!(
                "`{scheme}` is not a SQL scheme (sqlite, postgresql, postgres, mysql)"
            )));
        };
        if let Some(p) = py_driver {
            if !known.contains(&p) {
                return Err(bad(format!(
                    "unknown driver `{p}` for {dialect_name} (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        // What follows the scheme (`://...`, or `:memory:` of `sqlite::memory:`).
        let after = &s[scheme.len()..];
        match dialect {
            Dialect::Sqlite => sqlite(after, &bad),
            Dialect::Postgres => postgres(after, &bad),
            Dialect::MySql => mysql(after, &bad),
        }
    }

    /// Settings for the collector's store, which writes big batches all the time. On a
    /// SQLite file:
    ///
    /// - a 16 MiB page cache per connection (the indexes outgrow the default 2 MiB soon),
    ///   in which a transaction may change up to 64 MiB of pages before it writes some to
    ///   the WAL early (`cache_spill`: a group of batches changes thousands of pages). Not
    ///   more: a transaction that splits a B-tree page (every batch does, its ids being
    ///   random) renumbers pages through a page number far past the end of the file, and
    ///   the commit then walks every page the cache holds to drop those past the end; with
    ///   64 MiB that walk was the writer's costliest function. Readers lose little: a
    ///   reader's cache starts empty after every write anyway, and the file is mapped;
    /// - the file read through a memory map of up to 1 GiB (no copy per page read);
    /// - no checkpoint by the writer at commit before the WAL holds 100,000 pages (400 MiB;
    ///   the store checkpoints in the background instead, see `store.rs`);
    /// - temporary files in memory: a multi-row `INSERT` keeps a statement journal (the
    ///   pages it changes, as they were, to undo that statement alone), which SQLite moves
    ///   to a temporary file past 64 KiB, and a batch of 500 goes past it. That journal is
    ///   not the WAL: what a commit makes durable is unchanged;
    /// - 4 connections (a writer, readers, the checkpoint).
    pub(super) fn tune_for_collector(&mut self) {
        match self {
            #[cfg(feature = "sqlite")]
            Target::Sqlite(t) => {
                t.options = t
                    .options
                    .clone()
                    .pragma("cache_size", "-16384")
                    .pragma("cache_spill", "-65536")
                    .pragma("mmap_size", "1073741824")
                    .pragma("wal_autocheckpoint", "100000")
                    .pragma("temp_store", "MEMORY");
                t.connections = 4;
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    pub(super) fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Target::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Target::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Target::MySql(_) => Dialect::MySql,
        }
    }

    pub(super) fn read_only(&self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            Target::Sqlite(t) => t.read_only,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// What messages name as the database: the SQLite file, or the masked string.
    pub(super) fn describe(&self, masked: &str) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Target::Sqlite(t) => match &t.file {
                Some(f) => f.display().to_string(),
                None => ":memory:".to_owned(),
            },
            #[allow(unreachable_patterns)]
            _ => masked.to_owned(),
        }
    }

    /// Makes the pool. A server is first reached with one plain connection, so a server that
    /// is down gives its own reason (refused, unknown host, bad password) within
    /// [`CONNECT_TIMEOUT`], not the pool's "timed out".
    pub(super) async fn connect(&self) -> Result<Pool, ConnectError> {
        match self {
            #[cfg(feature = "sqlite")]
            Target::Sqlite(t) => {
                if let (Some(file), false) = (&t.file, t.read_only) {
                    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| ConnectError::Folder(dir.to_path_buf(), e))?;
                    }
                }
                let in_memory = t.file.is_none();
                // An in-memory database lives as long as one connection to it: one, kept.
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(if in_memory { 1 } else { t.connections })
                    .min_connections(if in_memory { 1 } else { 0 })
                    .idle_timeout((!in_memory).then_some(IDLE_TIMEOUT))
                    .max_lifetime(None)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(t.options.clone())
                    .await?;
                Ok(Pool::Sqlite(pool))
            }
            #[cfg(feature = "postgres")]
            Target::Postgres(options) => {
                probe::<sqlx::PgConnection>(options).await?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .min_connections(0)
                    .idle_timeout(IDLE_TIMEOUT)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options.clone());
                Ok(Pool::Postgres(pool))
            }
            #[cfg(feature = "mysql")]
            Target::MySql(options) => {
                probe::<sqlx::MySqlConnection>(options).await?;
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(4)
                    .min_connections(0)
                    .idle_timeout(IDLE_TIMEOUT)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options.clone());
                Ok(Pool::MySql(pool))
            }
        }
    }
}

/// Opens and closes one connection within [`CONNECT_TIMEOUT`].
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn probe<C: Connection>(options: &C::Options) -> Result<(), ConnectError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => Err(ConnectError::Timeout),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(conn)) => {
            let _ = tokio::time::timeout(CONNECT_TIMEOUT, conn.close()).await;
            Ok(())
        }
    }
}

type Bad<'a> = &'a dyn Fn(String) -> DriverError;

#[cfg(not(feature = "sqlite"))]
fn sqlite(_after: &str, bad: Bad<'_>) -> Result<Target, DriverError> {
    Err(bad(
        "this build has no SQLite support (cargo feature `sqlite`)".to_owned(),
    ))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_after: &str, bad: Bad<'_>) -> Result<Target, DriverError> {
    Err(bad(
        "this build has no PostgreSQL support (cargo feature `postgres`)".to_owned(),
    ))
}

#[cfg(not(feature = "mysql"))]
fn mysql(_after: &str, bad: Bad<'_>) -> Result<Target, DriverError> {
    Err(bad(
        "this build has no MySQL support (cargo feature `mysql`)".to_owned(),
    ))
}

#[cfg(feature = "postgres")]
fn postgres(after: &str, bad: Bad<'_>) -> Result<Target, DriverError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&format!("postgresql{after}"))
        .map_err(|e| bad(e.to_string()))?
        .application_name("osprofiler")
        // The server abandons a statement the driver has given up on.
        .options([("statement_timeout", format!("{}", READ_TIMEOUT.as_millis()))])
        .disable_statement_logging();
    Ok(Target::Postgres(options))
}

#[cfg(feature = "mysql")]
fn mysql(after: &str, bad: Bad<'_>) -> Result<Target, DriverError> {
    let options = sqlx::mysql::MySqlConnectOptions::from_str(&format!("mysql{after}"))
        .map_err(|e| bad(e.to_string()))?
        .disable_statement_logging();
    Ok(Target::MySql(options))
}

#[cfg(feature = "sqlite")]
fn sqlite(after: &str, bad: Bad<'_>) -> Result<Target, DriverError> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::ConnectOptions;
    // `after` is `://PATH[?query]` or `:PATH` (`sqlite::memory:`).
    let rest = after.strip_prefix(':').unwrap_or(after);
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
    let options = <SqliteConnectOptions as std::str::FromStr>::from_str(&url)
        .map_err(|e| bad(e.to_string()))?;
    let params: Vec<(&str, &str)> = query
        .map(|q| q.split('&').filter_map(|kv| kv.split_once('=')).collect())
        .unwrap_or_default();
    let param = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let in_memory = path == ":memory:" || param("mode") == Some("memory");
    let read_only = param("mode") == Some("ro") || param("immutable") == Some("true");
    // Statements are not logged: the host service's logs are not ours to fill.
    let mut options = options
        .busy_timeout(super::BUSY_TIMEOUT)
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
    Ok(Target::Sqlite(SqliteTarget {
        options,
        file,
        read_only,
        connections: 2,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(cs: &str) -> String {
        match Target::parse(cs) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{cs} parsed"),
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_connection_strings() {
        let file = |cs: &str| match Target::parse(cs).unwrap() {
            Target::Sqlite(t) => (t.file, t.read_only),
            #[allow(unreachable_patterns)]
            _ => panic!("not sqlite"),
        };
        assert_eq!(
            file("sqlite:///tmp/x/y.db").0.unwrap(),
            PathBuf::from("/tmp/x/y.db")
        );
        assert_eq!(file("SQLite://rel.db").0.unwrap(), PathBuf::from("rel.db"));
        assert_eq!(
            file("sqlite+pysqlite:///tmp/a.db").0.unwrap(),
            PathBuf::from("/tmp/a.db")
        );
        assert!(file("sqlite::memory:").0.is_none());
        assert!(file("sqlite://").0.is_none());
        assert!(file("sqlite://:memory:").0.is_none());
        assert!(file("sqlite:///tmp/x.db?mode=ro").1);
        assert!(Target::parse("sqlite:///tmp/x.db?bogus=1").is_err());
    }

    #[test]
    fn python_driver_names() {
        let e = reason("postgresql+asyncpgx://u:secret@h/db");
        assert!(e.contains("unknown driver `asyncpgx`"), "{e}");
        assert!(e.contains("postgresql+asyncpgx://u:***@h/db"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = reason("mysql+foo://root@h/test");
        assert!(e.contains("pymysql"), "{e}");
        assert!(reason("redis://h").contains("not a SQL scheme"));
    }

    #[cfg(all(feature = "postgres", feature = "mysql"))]
    #[test]
    fn server_connection_strings() {
        for cs in [
            "postgresql://postgres@127.0.0.1/test",
            "postgres://u:p@h:5433/db?sslmode=disable",
            "postgresql+psycopg2://postgres@127.0.0.1/test",
        ] {
            assert_eq!(
                Target::parse(cs).unwrap().dialect(),
                Dialect::Postgres,
                "{cs}"
            );
        }
        for cs in [
            "mysql://root@127.0.0.1/test",
            "mysql+pymysql://root:pw@127.0.0.1:3306/test",
        ] {
            assert_eq!(Target::parse(cs).unwrap().dialect(), Dialect::MySql, "{cs}");
        }
        let e = reason("postgresql://u:secret@h:notaport/db");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            Dialect::Postgres.placeholders("a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(Dialect::MySql.placeholders("a = ?"), "a = ?");
    }

    #[test]
    fn tables_as_sqlalchemy_creates_them() {
        let pg = Dialect::Postgres.create_table_with(&crate::INDEXED);
        assert!(pg[0].contains("id SERIAL NOT NULL"));
        assert!(pg[0].contains("data JSON"));
        assert_eq!(pg.len(), 9);
        let my = Dialect::MySql.create_table_with(&crate::INDEXED);
        assert_eq!(my.len(), 1);
        assert!(my[0].contains("INDEX ix_data_base_id (base_id)"));
    }
}
