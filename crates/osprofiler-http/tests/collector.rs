//! The `http://` driver against a real collector: `osprofiler-collector`'s router on an
//! in-process listener on 127.0.0.1, over a temporary SQLite store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler_collector::{Collector, CollectorConfig, Token};
use osprofiler_core::driver::memory::MemoryDriver;
use osprofiler_core::driver::{Driver, DriverOptions};
use osprofiler_core::notification::Notification;
use osprofiler_core::pyjson;
use osprofiler_http::HttpDriver;
use osprofiler_report::GetReport;
use osprofiler_sql::store::TraceStore;
use serde_json::json;

/// A collector on a free port; its address and a handle to stop it.
async fn collector(dir: &std::path::Path, token: Option<&str>) -> (String, Collector) {
    let cs = format!("sqlite://{}", dir.join("c.sqlite").display());
    let store = Arc::new(TraceStore::open(&cs).await.unwrap());
    let collector = Collector::new(
        store,
        CollectorConfig {
            token: token.and_then(Token::new),
            ..CollectorConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = collector.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), collector)
}

/// A trace of two nested points and an error, from `service` (project and service null, to
/// be filled in by the driver).
fn trace(base_id: &str) -> Vec<Notification> {
    let n = |name: &str, trace_id: &str, parent: &str, ts: &str, info: serde_json::Value| {
        serde_json::from_value::<Notification>(json!({
            "name": name, "base_id": base_id, "trace_id": trace_id, "parent_id": parent,
            "timestamp": ts, "info": info, "project": null, "service": null,
        }))
        .unwrap()
    };
    let a = "11111111-1111-4111-8111-111111111111";
    let b = "22222222-2222-4222-8222-222222222222";
    vec![
        n(
            "wsgi-start",
            a,
            base_id,
            "2026-12-06T10:00:00.000100",
            json!({"request": {"path": "/v2.1/servers", "method": "POST"}, "host": "api-1"}),
        ),
        n(
            "db-start",
            b,
            a,
            "2026-12-06T10:00:00.001000",
            json!({"db": {"statement": "SELECT 1", "params": {}}, "host": "api-1"}),
        ),
        n(
            "db-stop",
            b,
            a,
            "2026-12-06T10:00:00.003500",
            json!({"etype": "OperationalError", "message": "gone", "host": "api-1"}),
        ),
        n(
            "wsgi-stop",
            a,
            base_id,
            "2026-12-06T10:00:00.010000",
            json!({"host": "api-1"}),
        ),
    ]
}

fn options(cs: &str) -> DriverOptions {
    let mut o = DriverOptions::new(cs);
    o.project = Some("nova".into());
    o.service = Some("api".into());
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_then_read_back_as_a_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _collector) = collector(dir.path(), None).await;
    let base_id = "aaaaaaaa-0000-4000-8000-000000000001";
    let batch = trace(base_id);

    let http = HttpDriver::new(options(&base)).unwrap();
    http.notify(&batch).await.unwrap();

    // The memory store, given what the driver sends (project and service filled in).
    let memory = MemoryDriver::new();
    let filled: Vec<Notification> = batch
        .iter()
        .cloned()
        .map(|mut n| {
            n.project = Some("nova".into());
            n.service = Some("api".into());
            n
        })
        .collect();
    memory.notify(&filled).await.unwrap();

    let got = pyjson::to_string_pretty(&http.get_report(base_id).await.unwrap(), 2).unwrap();
    let want = pyjson::to_string_pretty(&memory.get_report(base_id).await.unwrap(), 2).unwrap();
    assert_eq!(got, want);
    assert!(got.contains("\"service\": \"api\""), "{got}");

    // An unknown trace is empty (404), not an error.
    assert!(http
        .get_notifications("no-such-trace")
        .await
        .unwrap()
        .is_empty());

    // The list: Python's rows.
    let other = "bbbbbbbb-0000-4000-8000-000000000002";
    let mut second = trace(other);
    for n in &mut second {
        n.info.remove("etype");
    }
    http.notify(&second).await.unwrap();
    let all = http.list_traces(&["base_id", "timestamp"]).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r["base_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{all:?}");
    assert!(ids.contains(&base_id) && ids.contains(&other), "{all:?}");
    assert!(all.iter().all(|r| r["timestamp"].is_string()), "{all:?}");
    let errors = http.list_error_traces().await.unwrap();
    let ids: Vec<&str> = errors
        .iter()
        .map(|r| r["base_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [base_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_through_every_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _collector) = collector(dir.path(), None).await;
    let http = HttpDriver::new(options(&base)).unwrap();
    let mut batch = Vec::new();
    let count = osprofiler_http::PAGE + 7;
    for i in 0..count {
        batch.extend(trace(&format!("cccccccc-0000-4000-8000-{i:012}")));
    }
    for chunk in batch.chunks(2000) {
        http.notify(chunk).await.unwrap();
    }
    let all = http.list_traces(&[]).await.unwrap();
    assert_eq!(all.len(), count);
    let unique: std::collections::HashSet<_> =
        all.iter().map(|r| r["base_id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_right_and_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (base, collector) = collector(dir.path(), Some("the-token")).await;
    let batch = trace("dddddddd-0000-4000-8000-000000000003");

    osprofiler_http::set_token(Some("bad-token-xyz".into()));
    let wrong = HttpDriver::new(options(&base)).unwrap();
    let e = wrong.notify(&batch).await.unwrap_err().to_string();
    assert!(e.contains("401"), "{e}");
    assert!(
        !e.contains("bad-token-xyz") && !e.contains("the-token"),
        "{e}"
    );

    // Through the notifier pipeline: the points count as failed, none as sent.
    use osprofiler_core::notifier::{BatchConfig, BatchNotifier};
    use osprofiler_core::{Notifier, PointKind, TraceId, TracePoint};
    let notifier = BatchNotifier::start(
        Arc::new(HttpDriver::new(options(&base)).unwrap()),
        BatchConfig::default(),
    );
    let id = TraceId::from("dddddddd-0000-4000-8000-000000000009");
    for kind in [PointKind::Start, PointKind::Stop] {
        notifier.notify(TracePoint {
            kind,
            name: "db".into(),
            base_id: id.clone(),
            trace_id: TraceId::from("dddddddd-0000-4000-8000-00000000000a"),
            parent_id: id.clone(),
            timestamp: osprofiler_core::timestamp::Timestamp::now(),
            info: None,
        });
    }
    assert!(notifier.flush(Duration::from_secs(10)));
    let stats = notifier.stats();
    assert_eq!((stats.sent, stats.failed), (0, 2), "{stats:?}");

    osprofiler_http::set_token(Some("the-token".into()));
    let right = HttpDriver::new(options(&base)).unwrap();
    right.notify(&batch).await.unwrap();
    osprofiler_http::set_token(None);
    assert!(collector.metrics().render().contains("unauthorized"));
    assert_eq!(collector.metrics().stored(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_fails_fast() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let http = HttpDriver::new(options(&format!("http://127.0.0.1:{port}"))).unwrap();
    let started = Instant::now();
    let e = http
        .notify(&trace("eeeeeeee-0000-4000-8000-000000000004"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(http.get_notifications("x").await.is_err());
}
