//! Throughput of the Redis pipeline: trace points made by a profiler, queued by the
//! `BatchNotifier`, encoded and written in pipelined batches by `RedisDriver`, until the
//! last one is stored. The Rust half of `scripts/bench_redis_vs_python.sh`.
//!
//! ```text
//! cargo run --release -p osprofiler-bench --bin redis_notify -- [REDIS_URL] [NOTIFICATIONS]
//! ```
//!
//! Prints one line: `rust notifications_per_sec=<n> notifications=<n> seconds=<s> dropped=<n> failed=<n>`.
//! The keys written (base ids `bench-<pid>-<n>`) are deleted afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::DriverOptions;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::Profiler;
use osprofiler_redis::RedisDriver;

/// Start/stop pairs per trace: traces of 200 notifications.
const PAIRS_PER_TRACE: usize = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let total: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 200_000,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let driver = Arc::new(rt.block_on(RedisDriver::connect(&DriverOptions::new(&url)))?);
    let notifier = BatchNotifier::start(
        driver,
        BatchConfig {
            // Room for every point of the run: the figure is the pipeline's, not the drops'.
            queue_capacity: total + 1,
            ..BatchConfig::default()
        },
    );
    let prefix = format!("bench-{}", std::process::id());
    let traces = total.div_ceil(2 * PAIRS_PER_TRACE);

    let started = Instant::now();
    let mut made = 0;
    for t in 0..traces {
        let base_id = format!("{prefix}-{t}");
        let mut p = Profiler::with_notifier("SECRET_KEY", Some(&base_id), None, notifier.clone());
        for _ in 0..PAIRS_PER_TRACE.min((total - made) / 2) {
            p.start("db", None);
            p.stop(None);
            made += 2;
        }
    }
    let flushed = notifier.flush(Duration::from_secs(120));
    let seconds = started.elapsed().as_secs_f64();
    let stats = notifier.stats();
    notifier.shutdown(Duration::from_secs(10));
    println!(
        "rust notifications_per_sec={:.0} notifications={} seconds={seconds:.3} dropped={} failed={}{}",
        stats.sent as f64 / seconds,
        stats.sent,
        stats.dropped,
        stats.failed,
        if flushed { "" } else { " (flush timed out)" }
    );
    cleanup(&url, &prefix)?;
    Ok(())
}

/// Deletes the run's keys.
fn cleanup(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let keys: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("MATCH")
        .arg(format!("osprofiler_opt:{prefix}-*"))
        .clone()
        .iter(&mut conn)?
        .collect();
    for chunk in keys.chunks(1000) {
        redis::cmd("DEL").arg(chunk).exec(&mut conn)?;
    }
    Ok(())
}
