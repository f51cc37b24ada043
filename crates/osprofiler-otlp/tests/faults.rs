//! Faults: a collector that is gone (connection refused), slow (never answers), refusing
//! (4xx/5xx) or back again. Each export is bounded and fails with an error naming the
//! endpoint; the traced code never waits for the collector (it goes through the
//! `BatchNotifier`); spans sent after the collector's return arrive.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::{Driver, DriverError, DriverOptions};
use osprofiler::notification::Notification;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::Profiler;
use osprofiler_otlp::{OtlpDriver, OtlpOptions};
use serde_json::json;
use support::{Mode, Receiver};

const BASE: &str = "58989008-6a17-49af-9b56-9643d037cdff";

fn driver(cs: &str, timeout: Duration) -> OtlpDriver {
    let options = OtlpOptions {
        timeout,
        ..OtlpOptions::default()
    };
    OtlpDriver::with_options(&DriverOptions::new(cs), options).unwrap()
}

/// A start and a stop of one point: one span to export.
fn one_span() -> Vec<Notification> {
    ["rpc-start", "rpc-stop"]
        .iter()
        .map(|name| {
            serde_json::from_value(json!({
                "name": name, "base_id": BASE,
                "trace_id": "457c1bc8-fd6f-4c83-ba5a-1da9eb64831e", "parent_id": BASE,
                "timestamp": "2026-11-25T04:59:10.042928", "info": {"host": "h"},
                "project": "nova", "service": "api",
            }))
            .unwrap()
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The backend error of one export, and how long it took.
fn export_error(driver: &OtlpDriver) -> (String, String, Duration) {
    let started = Instant::now();
    let result = runtime().block_on(driver.notify(&one_span()));
    let took = started.elapsed();
    match result {
        Err(DriverError::Backend {
            connection,
            message,
        }) => (connection, message, took),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[test]
fn a_refused_connection_names_the_endpoint() {
    let gone = Receiver::start(Mode::Accept);
    let addr = gone.addr;
    gone.stop();
    let cs = format!("otlp://user:secret@{addr}");
    let driver = driver(&cs, Duration::from_secs(5));
    let (connection, message, took) = export_error(&driver);
    assert_eq!(connection, format!("otlp://user:***@{addr}"));
    assert!(
        message.contains(&format!("POST http://{addr}/v1/traces")),
        "{message}"
    );
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message}"
    );
    assert!(took < Duration::from_secs(5), "refused, not timed out");
    assert_eq!(driver.stats().failed, 1);
    assert_eq!(driver.stats().exported, 0);
}

#[test]
fn error_answers_are_errors() {
    for code in [400, 503] {
        let receiver = Receiver::start(Mode::Status(code));
        let driver = driver(&receiver.connection_string(), Duration::from_secs(5));
        let (connection, message, _) = export_error(&driver);
        assert_eq!(connection, receiver.connection_string());
        assert!(
            message.contains(&format!("the collector answered {code}")),
            "{message}"
        );
        assert!(
            message.contains("refused by the test receiver"),
            "{message}"
        );
    }
}

#[test]
fn a_slow_collector_times_out_within_the_bound() {
    let receiver = Receiver::start(Mode::Stall);
    let bound = Duration::from_millis(500);
    let driver = driver(&receiver.connection_string(), bound);
    let (_, message, took) = export_error(&driver);
    assert!(message.contains("timed out"), "{message}");
    assert!(took >= bound, "{took:?}");
    // The bound holds (the margin is for a loaded machine, not a measured figure).
    assert!(took < bound + Duration::from_secs(2), "{took:?}");
}

/// Starts and stops `n` points in one trace; returns how long the traced code took.
fn traced_work(notifier: &Arc<BatchNotifier>, name: &str, n: usize) -> Duration {
    let started = Instant::now();
    let mut profiler = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    for _ in 0..n {
        profiler.start(name.to_owned(), None);
        profiler.stop(None);
    }
    started.elapsed()
}

fn names(receiver: &Receiver) -> Vec<String> {
    receiver.spans().into_iter().map(|s| s.span.name).collect()
}

#[test]
fn gone_slow_and_back_never_blocks_the_traced_code() {
    let first = Receiver::start(Mode::Accept);
    let addr = first.addr;
    let cs = first.connection_string();
    let timeout = Duration::from_secs(2);
    let otlp = Arc::new(driver(&cs, timeout));
    let notifier = BatchNotifier::start(otlp.clone(), BatchConfig::default());
    let flush = Duration::from_secs(30);

    // Up: spans arrive. A point opened now ends only after the outage.
    traced_work(&notifier, "before", 1);
    let mut long = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    long.start("opened", None);
    assert!(notifier.flush(flush));
    assert_eq!(first.wait_for_spans(1, Duration::from_secs(5)).len(), 1);
    first.stop();

    // Gone: exports are refused; the points are counted as failed.
    traced_work(&notifier, "gone", 50);
    assert!(notifier.flush(flush));
    let failed_gone = notifier.stats().failed;
    assert!(failed_gone > 0);
    assert_eq!(otlp.stats().failed, 50);

    // Slow: the collector takes requests and never answers. While the worker waits for it,
    // the traced code goes on: it takes less time than one export's bound.
    let slow = Receiver::start_on(addr, Mode::Stall);
    traced_work(&notifier, "slow", 1);
    std::thread::sleep(Duration::from_millis(100)); // the worker is now in the stalled export
    let took = traced_work(&notifier, "slow", 500);
    assert!(
        took < timeout,
        "the traced code waited for the collector: {took:?}"
    );
    assert!(notifier.flush(flush));
    assert!(notifier.stats().failed > failed_gone);
    assert_eq!(otlp.stats().failed, 50 + 501);
    slow.stop();

    // Back: later spans arrive, with the point opened before the outage.
    let back = Receiver::start_on(addr, Mode::Accept);
    traced_work(&notifier, "back", 3);
    long.stop(None);
    assert!(notifier.flush(flush));
    let spans = back.wait_for_spans(4, Duration::from_secs(5));
    assert_eq!(spans.len(), 4, "{:?}", names(&back));
    assert_eq!(names(&back), ["back", "back", "back", "opened"]);
    let stats = otlp.stats();
    assert_eq!(stats.exported, 1 + 4);
    assert_eq!(stats.open, 0);
    assert_eq!(notifier.stats().dropped, 0);
    assert!(notifier.shutdown(flush));
}
