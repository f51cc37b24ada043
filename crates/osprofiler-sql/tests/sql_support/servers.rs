//! The real PostgreSQL and MariaDB servers: a private database per test.

use std::time::Duration;

use sqlx::{Connection, Executor};

/// One test per server, each running the shared test body `$body` on a new database of its own
/// (skipped when the server is not there, see [`TempDb::new`]): a failure is reported under
/// the server's test name.
macro_rules! test_on_each_server {
    (#[$attr:meta] $body:ident: $postgres:ident, $mariadb:ident $(,)?) => {
        #[$attr]
        async fn $postgres() {
            let server = $crate::sql_support::Server::Postgres;
            if let Some(db) = $crate::sql_support::TempDb::new(server).await {
                $body(db).await;
            }
        }

        #[$attr]
        async fn $mariadb() {
            let server = $crate::sql_support::Server::MariaDb;
            if let Some(db) = $crate::sql_support::TempDb::new(server).await {
                $body(db).await;
            }
        }
    };
}
pub(crate) use test_on_each_server;

/// Which server a [`TempDb`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    MariaDb,
}

/// A database of its own on a real server, dropped at the end of the test: tests run at the
/// same time and never see each other's `data` table.
#[derive(Debug)]
pub struct TempDb {
    pub server: Server,
    /// The server's admin URL (its `test` database).
    admin: String,
    pub name: String,
    /// `postgresql://postgres@127.0.0.1:5432/<name>` or `mysql://root@127.0.0.1:3306/<name>`.
    pub url: String,
}

/// `url` with its database (the last path segment) replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl TempDb {
    /// A new empty database on `server`; `None` when it is not there (the test is skipped,
    /// see `osprofiler_testkit`).
    pub async fn new(server: Server) -> Option<TempDb> {
        let admin = match server {
            Server::Postgres => osprofiler_testkit::postgres()?,
            Server::MariaDb => osprofiler_testkit::mariadb()?,
        };
        let name = osprofiler_testkit::unique_name("osp")
            .replace('-', "_")
            .to_ascii_lowercase();
        let url = with_database(&admin, &name);
        admin_execute(server, &admin, &format!("CREATE DATABASE {name}")).await;
        Some(TempDb {
            server,
            admin,
            name,
            url,
        })
    }

    /// The URL in another scheme spelling (`postgresql+psycopg2`, `mysql+pymysql`, ...).
    pub fn url_as(&self, scheme: &str) -> String {
        let rest = self.url.split_once("://").map_or("", |(_, r)| r);
        format!("{scheme}://{rest}")
    }

    /// Runs `sql` in this database.
    pub async fn execute(&self, sql: &str) {
        admin_execute(self.server, &self.url, sql).await;
    }

    /// Text columns of `sql`'s rows, in this database.
    pub async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.server {
            Server::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                texts(&c.fetch_all(sql).await.unwrap())
            }
            Server::MariaDb => {
                let mut c = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                texts(&c.fetch_all(sql).await.unwrap())
            }
        }
    }
}

/// Every column of every row, as text.
fn texts<R: sqlx::Row>(rows: &[R]) -> Vec<Vec<Option<String>>>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
{
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get_unchecked(i).unwrap())
                .collect()
        })
        .collect()
}

async fn admin_execute(server: Server, url: &str, sql: &str) {
    match server {
        Server::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            c.execute(sql).await.unwrap();
        }
        Server::MariaDb => {
            let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
            c.execute(sql).await.unwrap();
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let (server, admin, name) = (self.server, self.admin.clone(), self.name.clone());
        let sql = match server {
            Server::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            Server::MariaDb => format!("DROP DATABASE IF EXISTS {name}"),
        };
        // Its own thread and runtime: this may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let _ = tokio::time::timeout(
                    Duration::from_secs(20),
                    admin_execute(server, &admin, &sql),
                )
                .await;
            });
        })
        .join();
    }
}
