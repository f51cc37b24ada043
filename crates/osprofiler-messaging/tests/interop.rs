//! Interop with the real Python OSprofiler 4.4.0 and oslo.messaging, both ways, on the real
//! RabbitMQ.
//!
//! Python's reader destroys what it reads, so one set of messages cannot be read by both.
//! Python's side therefore publishes every notification of its trace twice, into two private
//! virtual hosts: our reader reads one, Python's CLI the other, and the two reports must be
//! the same JSON, key order included.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use osprofiler::driver::memory::MemoryDriver;
use osprofiler::driver::GetReport;
use osprofiler::driver::{Driver, DriverError};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{Info, Notification, Profiler};
use osprofiler_messaging::MessagingDriver;
use serde_json::{json, Value};
use support::{Vhost, VhostExt};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Python's `osprofiler trace show --json ID` on the messaging driver.
fn python_trace_show(python: &Path, base_id: &str, transport_url: &str) -> Value {
    let cli = osprofiler_testkit::python_cli(python);
    let extra = ["--transport-url", transport_url, "--idle-timeout", "1"];
    let stdout = osprofiler_testkit::trace_show_json(&cli, base_id, "messaging://", &extra);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Equal as JSON values and in key order.
fn assert_same_json(ours: &Value, python: &Value) {
    assert_eq!(ours, python);
    assert_eq!(
        serde_json::to_string(ours).unwrap(),
        serde_json::to_string(python).unwrap(),
        "same values, different key order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_written_by_python_reads_as_pythons_cli_shows_it() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let (Some(ours), Some(theirs)) = (Vhost::new(), Vhost::new()) else {
        return;
    };
    let out = Command::new(&python)
        .arg(script("publish_trace.py"))
        .args([ours.transport_url(), theirs.transport_url()])
        .output()
        .expect("run Python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let base_id = stdout.lines().last().expect("a base_id").trim().to_owned();

    let driver = MessagingDriver::connect(ours.options("messaging://", "openstack"))
        .await
        .unwrap();
    let report = driver.get_report(&base_id).await.unwrap();
    assert_eq!(report.node_count(), 4);
    let our_json = serde_json::to_value(&report).unwrap();

    let their_json = python_trace_show(&python, &base_id, &theirs.transport_url());
    assert_same_json(&our_json, &their_json);
    assert_eq!(their_json["children"][0]["info"]["name"], "wsgi");
    assert_eq!(
        their_json["children"][0]["children"][1]["info"]["exception"],
        "ValueError"
    );
}

/// Sends each batch to two drivers: the broker, and a memory store that gives the report
/// the same notifications must make.
#[derive(Debug)]
struct Tee(Arc<MessagingDriver>, Arc<MemoryDriver>);

#[async_trait]
impl Driver for Tee {
    fn name(&self) -> &'static str {
        "tee"
    }

    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        self.1.notify(batch).await?;
        self.0.notify(batch).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_written_by_us_is_shown_by_pythons_cli() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let Some(vhost) = Vhost::new() else { return };
    let driver = MessagingDriver::connect(vhost.options("messaging://", "openstack"))
        .await
        .unwrap();
    let memory = Arc::new(MemoryDriver::new());
    let notifier = BatchNotifier::start(
        Arc::new(Tee(Arc::new(driver), memory.clone())),
        BatchConfig {
            host: "rust-host".into(),
            project: Some("rproj".into()),
            service: Some("rsvc".into()),
            ..BatchConfig::default()
        },
    );
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let info = |v: Value| -> Option<Info> {
        match v {
            Value::Object(m) => Some(m),
            _ => None,
        }
    };
    p.start(
        "wsgi",
        info(json!({"request": {"path": "/v2/servers", "query": "", "method": "GET", "scheme": "http"}})),
    );
    p.start(
        "db",
        info(json!({"db": {"statement": "SELECT 'é'", "params": {"id": 7}}})),
    );
    std::thread::sleep(Duration::from_millis(3));
    p.stop(None);
    p.start("driver", None);
    std::thread::sleep(Duration::from_millis(2));
    p.stop(info(json!({"etype": "IOError", "message": "disk gone"})));
    p.stop(None);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 6);
    let base_id = p.base_id().to_string();

    let expected = serde_json::to_value(memory.get_report(&base_id).await.unwrap()).unwrap();
    let shown = python_trace_show(&python, &base_id, &vhost.transport_url());
    assert_same_json(&expected, &shown);
    assert_eq!(
        shown["children"][0]["children"][1]["info"]["exception"],
        "IOError"
    );
    notifier.shutdown(Duration::from_secs(5));
}

/// The same notification published by Python's driver and by ours: the AMQP properties, the
/// routing and the body bytes are the same, but for the random ids and the send time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_notification_has_the_same_bytes_on_the_wire() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let Some(vhost) = Vhost::new() else { return };
    let info = json!({
        "request": {"path": "/v2/servers/é€😀", "query": "a=1&b=\"2\"", "method": "GET"},
        "n": [1, -2, 1.5, null, true, false, {}, []],
        "ctrl": "tab\there\u{1}\u{7f}",
        "host": "h1"
    });
    let Value::Object(info) = info else {
        unreachable!()
    };
    let sent = Notification {
        name: "wsgi-start".into(),
        base_id: "b0e4c6a0-4b6e-4f43-9d1c-6f0b1b1f5c9e".into(),
        trace_id: "7f632fe5-0581-4dc7-8e33-0b20e6acd541".into(),
        parent_id: "b0e4c6a0-4b6e-4f43-9d1c-6f0b1b1f5c9e".into(),
        timestamp: "2026-11-25T10:01:10.523880".into(),
        info,
        project: Some("proj".into()),
        service: Some("svc".into()),
    };
    // Python's profiler hands the driver the notification without project and service.
    let mut python_input = serde_json::to_value(&sent).unwrap();
    let obj = python_input.as_object_mut().unwrap();
    obj.remove("project");
    obj.remove("service");
    let out = Command::new(&python)
        .arg(script("publish_notification.py"))
        .arg(vhost.transport_url())
        .arg(python_input.to_string())
        .output()
        .expect("run Python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let driver = MessagingDriver::connect(vhost.options("messaging://", "openstack"))
        .await
        .unwrap();
    driver.notify(std::slice::from_ref(&sent)).await.unwrap();

    let raw = vhost.raw().await;
    let got = support::drain(&raw).await;
    assert_eq!(got.len(), 2);
    let (py, ours) = (&got[0], &got[1]);
    assert_eq!(
        (&py.0, &py.1),
        (&ours.0, &ours.1),
        "exchange and routing key"
    );
    assert_eq!(py.2, ours.2, "AMQP properties");
    let normalize = |body: &[u8]| -> String {
        let text = std::str::from_utf8(body).unwrap().to_owned();
        let v: Value = serde_json::from_str(&text).unwrap();
        let mut text = text;
        for key in ["message_id", "timestamp", "_unique_id"] {
            text = text.replacen(v[key].as_str().unwrap(), &format!("<{key}>"), 1);
        }
        text
    };
    let (py_body, our_body) = (normalize(&py.3), normalize(&ours.3));
    assert_eq!(py_body, our_body);
    assert!(
        py_body.contains(r#""path": "/v2/servers/\u00e9\u20ac\ud83d\ude00""#),
        "{py_body}"
    );
}
