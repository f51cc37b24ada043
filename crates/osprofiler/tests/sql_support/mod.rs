//! Shared by the SQL driver's tests: a private database per test on the real servers, and a
//! small trace recorded through the notifier pipeline.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::sql::{decode_data, encode_data};
use osprofiler::driver::{Driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier, CollectingNotifier, Notifier};
use osprofiler::report::{Entry, Field, ReportBuilder};
use osprofiler::{Info, Notification, Profiler, TracePoint};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

/// The `host` the drivers of these tests are made with.
pub const HOST: &str = "db-host";

pub fn options(cs: &str) -> DriverOptions {
    let mut o = DriverOptions::new(cs);
    o.host = HOST.to_owned();
    o.project = Some("proj".to_owned());
    o.service = Some("api".to_owned());
    o
}

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
        use sqlx::Row;
        match self.server {
            Server::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let rows = c.fetch_all(sql).await.unwrap();
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get_unchecked(i).unwrap())
                            .collect()
                    })
                    .collect()
            }
            Server::MariaDb => {
                let mut c = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                let rows = c.fetch_all(sql).await.unwrap();
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.try_get_unchecked(i).unwrap())
                            .collect()
                    })
                    .collect()
            }
        }
    }
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

/// Sends every point to both a pipeline and a collector, to know what was stored.
#[derive(Debug)]
struct Tee(Arc<BatchNotifier>, Arc<CollectingNotifier>);

impl Notifier for Tee {
    fn notify(&self, point: TracePoint) {
        self.1.notify(point.clone());
        self.0.notify(point);
    }
}

pub fn info(v: Value) -> Option<Info> {
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Records a small trace (wsgi > db, driver; the driver point fails) through a
/// `BatchNotifier` into `driver`; returns its base id and the notifications as stored. Call
/// it off any async runtime (it blocks on the pipeline's flush).
pub fn record(driver: Arc<dyn Driver>, service: &str) -> (String, Vec<Notification>) {
    let config = BatchConfig {
        host: "point-host".to_owned(),
        project: Some("proj".to_owned()),
        service: Some(service.to_owned()),
        ..BatchConfig::default()
    };
    let batch = BatchNotifier::start(driver, config.clone());
    let seen = Arc::new(CollectingNotifier::new());
    let mut p = Profiler::with_notifier(
        "SECRET_KEY",
        None,
        None,
        Arc::new(Tee(batch.clone(), seen.clone())),
    );
    p.start(
        "wsgi",
        info(json!({"request": {"path": "/é", "query": "", "method": "GET", "scheme": "http"}})),
    );
    p.start(
        "db",
        info(json!({"db": {"statement": "SELECT 1", "params": {}}})),
    );
    std::thread::sleep(Duration::from_millis(2));
    p.stop(None);
    p.start("driver", None);
    p.stop(Some(osprofiler::error_info(
        "ValueError",
        "bad \"thing\"".into(),
    )));
    p.stop(None);
    assert!(batch.flush(Duration::from_secs(20)));
    assert_eq!(batch.stats().failed, 0, "{:?}", batch.stats());
    assert!(batch.shutdown(Duration::from_secs(5)));
    let base_id = p.base_id().to_string();
    let stored = seen
        .points()
        .into_iter()
        .map(|pt| {
            pt.into_notification(
                &config.host,
                config.project.as_deref(),
                config.service.as_deref(),
            )
        })
        .collect();
    (base_id, stored)
}

/// The report Python's SQL reader builds from these rows: host from the column (the driver's
/// host), raw payload the `data` object.
pub fn expected_report(stored: &[Notification], host: &str) -> Value {
    let mut b = ReportBuilder::new();
    for n in stored {
        let data = decode_data(&encode_data(n)).unwrap();
        b.append(Entry {
            trace_id: &n.trace_id,
            parent_id: Some(&n.parent_id),
            name: &n.name,
            project: Field::from(n.project.as_deref()),
            service: Field::from(n.service.as_deref()),
            host: Field::from(host),
            timestamp: &n.timestamp,
            raw_payload: data,
        })
        .unwrap();
    }
    serde_json::to_value(b.finish()).unwrap()
}

/// Compact JSON text: equal texts mean equal values *and* equal key order.
pub fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}
