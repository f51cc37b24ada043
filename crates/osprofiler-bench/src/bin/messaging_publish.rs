//! Publishing speed: N notifications (N/2 start/stop pairs) traced through the
//! `BatchNotifier` into RabbitMQ with publisher confirms, timed from the first trace point
//! until the broker has confirmed the last message.
//!
//!     cargo run --release -p osprofiler-bench --bin messaging_publish -- \
//!         [--transport-url rabbit://guest:guest@127.0.0.1:5672/] [--count 100000] [--exchange X] [--max-batch 512]
//!
//! Prints `count=... seconds=... rate=...` (notifications per second). Used by
//! `scripts/bench_messaging_vs_python.sh`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::DriverOptions;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::Profiler;
use osprofiler_messaging::MessagingDriver;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        arg("--transport-url").unwrap_or_else(|| "rabbit://guest:guest@127.0.0.1:5672/".into());
    let count: usize = arg("--count").map_or(Ok(100_000), |c| c.parse())?;
    let exchange = arg("--exchange").unwrap_or_else(|| "openstack".into());
    let max_batch: usize =
        arg("--max-batch").map_or(Ok(BatchConfig::default().max_batch), |c| c.parse())?;

    let mut options = DriverOptions::new("messaging://");
    options.config.transport_url = Some(url);
    options.config.control_exchange = exchange;
    options.project = Some("bench".into());
    options.service = Some("api".into());
    let driver = MessagingDriver::connect(options).await?;
    let notifier = BatchNotifier::start(
        Arc::new(driver),
        BatchConfig {
            queue_capacity: count + 16,
            max_batch,
            project: Some("bench".into()),
            service: Some("api".into()),
            ..BatchConfig::default()
        },
    );
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());

    let start = Instant::now();
    for _ in 0..count / 2 {
        p.start("bench", None);
        p.stop(None);
    }
    let flushed = notifier.flush(Duration::from_secs(600));
    let seconds = start.elapsed().as_secs_f64();
    let stats = notifier.stats();
    notifier.shutdown(Duration::from_secs(10));
    if !flushed || stats.dropped > 0 || stats.failed > 0 {
        return Err(format!("not everything was delivered: {stats:?}").into());
    }
    println!(
        "count={} seconds={seconds:.3} rate={:.0}",
        stats.sent,
        stats.sent as f64 / seconds
    );
    Ok(())
}
