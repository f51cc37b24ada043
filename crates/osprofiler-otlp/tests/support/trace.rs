//! The traced workload of the tests, and a driver that records what it is handed.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use osprofiler::driver::{Driver, DriverError};
use osprofiler::notification::Notification;
use osprofiler::notifier::Notifier;
use osprofiler::{Info, Profiler, Trace};
use serde_json::{json, Value};

/// Hands every batch to `inner` and keeps a copy of it (a test double: the notifier's
/// batches as the driver saw them).
#[derive(Debug)]
pub struct Recording<D> {
    pub inner: Arc<D>,
    batches: Mutex<Vec<Vec<Notification>>>,
}

impl<D> Recording<D> {
    pub fn new(inner: Arc<D>) -> Self {
        Recording {
            inner,
            batches: Mutex::new(Vec::new()),
        }
    }

    /// The batches so far.
    pub fn batches(&self) -> Vec<Vec<Notification>> {
        self.batches.lock().unwrap().clone()
    }

    /// Every notification so far, in order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.batches().concat()
    }
}

#[async_trait]
impl<D: Driver> Driver for Recording<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        self.batches.lock().unwrap().push(batch.to_vec());
        self.inner.notify(batch).await
    }
}

fn info(v: Value) -> Info {
    v.as_object().cloned().unwrap()
}

/// A failing DB call (its stop carries `etype` and `message`).
#[derive(Debug)]
pub struct NotFound(pub u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "instance {} not found", self.0)
    }
}

#[osprofiler::trace(name = "db")]
fn instance_get(id: u32) -> Result<u32, NotFound> {
    Err(NotFound(id))
}

#[osprofiler::trace(name = "rpc", hide_args)]
fn build_and_run_instance(flavor: &str) -> usize {
    // An SQL statement point, as SQL tracing records it.
    let sql = Trace::start(
        "db",
        Some(info(json!({"db": {
            "statement": "SELECT instances.id FROM instances WHERE instances.uuid = %(uuid)s",
            "params": {"uuid": "e0b1", "limit": 1, "deleted": false},
        }}))),
    );
    drop(sql);
    // An outgoing HTTP request.
    let http = Trace::start(
        "http",
        Some(info(json!({"requests": {
            "method": "PUT", "query": "", "path": "/v2/ports/1",
            "hostname": "neutron", "port": 9696, "scheme": "http",
        }}))),
    );
    http.stop_with(info(json!({"requests": {"status_code": 200}})));
    let _ = instance_get(7);
    flavor.len()
}

/// One request to an API: `wsgi` > `rpc` (> SQL `db`, `http`, failing `db`), then a
/// `driver` point with a result. Returns the `base_id`.
pub fn run(notifier: Arc<dyn Notifier>) -> String {
    let profiler = Profiler::with_notifier("SECRET_KEY", None, None, notifier);
    let base_id = profiler.base_id().to_string();
    osprofiler::profiler::with_profiler(Some(profiler), || {
        let wsgi = Trace::start(
            "wsgi",
            Some(info(json!({"request": {
                "path": "/v2.1/servers", "query": "limit=1",
                "method": "POST", "scheme": "http",
            }}))),
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
        build_and_run_instance("m1.small");
        let driver = Trace::start(
            "driver",
            Some(info(
                json!({"function": {"name": "nova.virt.spawn", "args": "()", "kwargs": "{}"}}),
            )),
        );
        driver.stop_with(info(json!({"function": {"result": "ok"}})));
        drop(wsgi);
    });
    base_id
}
