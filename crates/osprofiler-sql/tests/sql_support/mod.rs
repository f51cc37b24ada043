//! Shared by the SQL driver's tests: a small trace recorded through the notifier pipeline and
//! the report it must read back as, the trace lists every backend must give, a test per
//! backend for one body, and (with the server backends) a private database per test on the
//! real servers.
// Each test binary uses a part of this.
#![allow(dead_code, unused_imports, unused_macros)]

#[cfg(all(feature = "postgres", feature = "mysql"))]
mod servers;

use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::sql::{decode_data, encode_data};
use osprofiler::driver::{Driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier, CollectingNotifier, Notifier};
use osprofiler::report::{Entry, Field, ReportBuilder};
use osprofiler::{Info, Notification, Profiler, TracePoint};
use serde_json::{json, Value};
#[cfg(all(feature = "postgres", feature = "mysql"))]
pub(crate) use servers::test_on_each_server;
#[cfg(all(feature = "postgres", feature = "mysql"))]
pub use servers::{with_database, Server, TempDb};

/// The `host` the drivers of these tests are made with.
pub const HOST: &str = "db-host";

pub fn options(cs: &str) -> DriverOptions {
    let mut o = DriverOptions::new(cs);
    o.host = HOST.to_owned();
    o.project = Some("proj".to_owned());
    o.service = Some("api".to_owned());
    o
}

/// The indexes of Python's `data` table (`index=True` in its table definition), by name.
pub const PYTHON_INDEXES: [&str; 8] = [
    "ix_data_base_id",
    "ix_data_host",
    "ix_data_name",
    "ix_data_parent_id",
    "ix_data_project",
    "ix_data_service",
    "ix_data_timestamp",
    "ix_data_trace_id",
];

/// One test per backend, each running the shared test body `$body` with its own argument: a
/// failure is reported under the backend's test name. `async` bodies are awaited; one call may
/// declare the tests of several bodies, each group ending in `;`.
macro_rules! test_per_backend {
    ($(#[$attr:meta] async $body:ident: $($name:ident($arg:expr)),+;)+) => {
        $($(
            #[$attr]
            async fn $name() {
                $body($arg).await;
            }
        )+)+
    };
    ($(#[$attr:meta] $body:ident: $($name:ident($arg:expr)),+;)+) => {
        $($(
            #[$attr]
            fn $name() {
                $body($arg);
            }
        )+)+
    };
}
pub(crate) use test_per_backend;

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
/// `BatchNotifier` into `driver`; returns its base id and the notifications as stored, all six
/// (three starts, three stops). It runs on a blocking thread: it blocks on the pipeline's
/// flush.
pub async fn record(driver: Arc<dyn Driver>, service: &str) -> (String, Vec<Notification>) {
    let service = service.to_owned();
    let (base_id, stored) = tokio::task::spawn_blocking(move || record_blocking(driver, &service))
        .await
        .unwrap();
    assert_eq!(stored.len(), 6);
    (base_id, stored)
}

fn record_blocking(driver: Arc<dyn Driver>, service: &str) -> (String, Vec<Notification>) {
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

/// Checks the report a driver made with [`options`] reads back for the trace [`record`] wrote
/// (`stored`): all of it as Python's SQL reader builds it, values and key order, and the parts
/// a reader looks at.
pub fn assert_recorded_report(report: &Value, stored: &[Notification]) {
    assert_eq!(text(report), text(&expected_report(stored, HOST)));
    let wsgi = &report["children"][0]["info"];
    assert_eq!(wsgi["host"], HOST);
    assert_eq!(wsgi["project"], "proj");
    assert_eq!(
        wsgi["meta.raw_payload.wsgi-start"],
        json!({"info": {"request": {"path": "/é", "query": "", "method": "GET", "scheme": "http"},
                         "host": "point-host"}})
    );
    let driver_node = &report["children"][0]["children"][1]["info"];
    assert_eq!(driver_node["name"], "driver");
    assert_eq!(driver_node["exception"], "ValueError");
}

/// The report Python's SQL reader builds from these rows: host from the column (the driver's
/// host), raw payload the `data` object.
fn expected_report(stored: &[Notification], host: &str) -> Value {
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

fn note(base: &str, name: &str, ts: &str, etype: Option<&str>) -> Notification {
    let mut info = Info::new();
    if let Some(e) = etype {
        info.insert("etype".into(), json!(e));
        info.insert("message".into(), json!("m"));
    }
    info.insert("host".into(), json!("h"));
    Notification {
        name: name.into(),
        base_id: base.into(),
        trace_id: format!("{base}-t"),
        parent_id: base.into(),
        timestamp: ts.into(),
        info,
        project: Some("p".into()),
        service: Some("s".into()),
    }
}

/// Stores three traces, `late`, `early` and `mid` in that order (out of time order; two with
/// errors, `mid` with two), into `driver`.
pub async fn store_out_of_time_order(driver: &Arc<dyn Driver>) {
    driver
        .notify(&[
            note("late", "a-start", "2026-01-02T00:00:00.000000", None),
            note("early", "a-start", "2026-01-01T00:00:00.000000", None),
            note("late", "a-stop", "2026-01-02T00:00:01.000000", Some("E1")),
            note("early", "a-stop", "2026-01-01T00:00:01.000000", None),
            note("mid", "a-start", "2026-01-01T12:00:00.000000", None),
            note("mid", "a-stop", "2026-01-01T12:00:02.000000", Some("E2")),
            note("mid", "b-stop", "2026-01-01T12:00:03.000000", Some("E3")),
        ])
        .await
        .unwrap();
}

/// Writes three traces (two with errors) into `driver`'s empty store and checks its trace list
/// and error-trace list.
pub async fn check_trace_lists(driver: Arc<dyn Driver>) {
    // `list_traces` is Python's: each trace's first stored row, in the order stored; the error
    // list (ours alone) is oldest first.
    store_out_of_time_order(&driver).await;
    let traces = driver
        .list_traces(&["base_id", "timestamp", "service", "info"])
        .await
        .unwrap();
    assert_eq!(
        json!(traces),
        json!([
            {"base_id": "late", "timestamp": "2026-01-02T00:00:00.000000", "service": "s", "info": {"host": "h"}},
            {"base_id": "early", "timestamp": "2026-01-01T00:00:00.000000", "service": "s", "info": {"host": "h"}},
            {"base_id": "mid", "timestamp": "2026-01-01T12:00:00.000000", "service": "s", "info": {"host": "h"}},
        ])
    );
    let errors = driver.list_error_traces().await.unwrap();
    assert_eq!(
        json!(errors),
        json!([
            {"base_id": "mid", "timestamp": "2026-01-01T12:00:02.000000"},
            {"base_id": "late", "timestamp": "2026-01-02T00:00:01.000000"},
        ])
    );
}
