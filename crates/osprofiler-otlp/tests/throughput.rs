//! A measurement, not a check (ignored by default): how many points per second go from the
//! traced code through the `BatchNotifier` and the `OtlpDriver` into a local OTLP receiver,
//! and, on the same receiver and the same notifications, through Python's otlp driver.
//!
//! ```text
//! cargo test -p osprofiler-otlp --release --test throughput -- --ignored --nocapture
//! ```

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::DriverOptions;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::Profiler;
use osprofiler_otlp::OtlpDriver;
use support::trace::Recording;
use support::{Mode, Receiver};

const SPANS: usize = 50_000;
const PYTHON_SPANS: usize = 10_000;

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn points_per_second_into_a_local_receiver() {
    let receiver = Receiver::start(Mode::Accept);
    let mut options = DriverOptions::new(receiver.connection_string());
    options.project = Some("nova".into());
    options.service = Some("api".into());
    let driver = Arc::new(OtlpDriver::new(&options).unwrap());
    let recording = Arc::new(Recording::new(driver.clone()));
    let notifier = BatchNotifier::start(
        recording.clone(),
        BatchConfig {
            queue_capacity: 4 * SPANS,
            ..BatchConfig::default()
        },
    );
    let started = Instant::now();
    let mut profiler = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    profiler.start("wsgi", None);
    for _ in 0..SPANS - 1 {
        profiler.start("db", None);
        profiler.stop(None);
    }
    profiler.stop(None);
    let traced = started.elapsed();
    assert!(notifier.flush(Duration::from_secs(120)));
    let total = started.elapsed();
    let spans = receiver.wait_for_spans(SPANS, Duration::from_secs(10));
    assert_eq!(spans.len(), SPANS);
    assert_eq!(notifier.stats().dropped, 0);
    let points = 2 * SPANS;
    println!(
        "rust: {points} points ({SPANS} spans) in {:.3} s = {:.0} points/s end to end, \
         {} requests; traced code {:.3} s ({:.2} us/point)",
        total.as_secs_f64(),
        points as f64 / total.as_secs_f64(),
        receiver.requests().len(),
        traced.as_secs_f64(),
        traced.as_secs_f64() * 1e6 / points as f64,
    );

    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    // The same kind of notifications (the first PYTHON_SPANS pairs of ours) through Python.
    let notifications = recording.notifications();
    let mut sample: Vec<_> = notifications[1..1 + 2 * (PYTHON_SPANS - 1)].to_vec();
    sample.insert(0, notifications[0].clone());
    sample.push(notifications.last().unwrap().clone());
    let theirs = Receiver::start(Mode::Accept);
    let file = std::env::temp_dir().join(format!(
        "{}.json",
        osprofiler_testkit::unique_name("osprofiler-otlp-throughput")
    ));
    std::fs::write(&file, serde_json::to_vec(&sample).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otlp_send.py");
    let started = Instant::now();
    let status = Command::new(&python)
        .arg(&script)
        .args([&theirs.connection_string(), "", "nova", "api"])
        .arg(&file)
        .status()
        .unwrap();
    let took = started.elapsed();
    let _ = std::fs::remove_file(&file);
    assert!(status.success());
    let got = theirs
        .wait_for_spans(PYTHON_SPANS, Duration::from_secs(10))
        .len();
    println!(
        "python: {} points ({PYTHON_SPANS} spans) in {:.3} s = {:.0} points/s (interpreter start \
         included), {got} of {PYTHON_SPANS} spans arrived",
        sample.len(),
        took.as_secs_f64(),
        sample.len() as f64 / took.as_secs_f64(),
    );
}
