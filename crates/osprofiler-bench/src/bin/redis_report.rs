//! How long `RedisDriver::get_report` takes for one big trace: N notifications (default
//! 100,000: 50,000 points under one root) are written, the report is read RUNS times
//! (default 3), and the trace is deleted.
//!
//! ```text
//! cargo run --release -p osprofiler-bench --bin redis_report -- [REDIS_URL] [N] [RUNS]
//! ```
//!
//! Prints `get_report notifications=<n> nodes=<n> seconds=<best> (runs: ...)`, and the base
//! id while the trace exists, so Python's CLI can be timed on it too (`KEEP=1` keeps it).

use osprofiler::driver::GetReport;
use std::time::Instant;

use osprofiler::driver::{Driver, DriverOptions};
use osprofiler::{Info, Notification};
use osprofiler_redis::RedisDriver;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let n: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let driver = RedisDriver::connect(&DriverOptions::new(&url)).await?;
    let base_id = osprofiler::TraceId::new_v4().to_string();
    let root = osprofiler::TraceId::new_v4().to_string();
    let mut batch = Vec::with_capacity(512);
    for i in 0..n {
        let (trace_id, parent_id, name) = match i {
            0 => (root.clone(), base_id.clone(), "wsgi-start"),
            i if i == n - 1 => (root.clone(), base_id.clone(), "wsgi-stop"),
            i => (
                format!("{:08x}-0000-4000-8000-{:012x}", i / 2, i / 2),
                root.clone(),
                if i % 2 == 1 { "db-start" } else { "db-stop" },
            ),
        };
        let mut info = Info::new();
        info.insert("host".into(), json!("bench-host"));
        if name == "db-start" {
            info.insert(
                "db".into(),
                json!({"statement": "SELECT * FROM instances WHERE id = %s", "params": [i]}),
            );
        }
        let micros = i as u64 * 10;
        batch.push(Notification {
            name: name.into(),
            base_id: base_id.clone(),
            trace_id,
            parent_id,
            timestamp: format!(
                "2026-11-25T10:{:02}:{:02}.{:06}",
                micros / 60_000_000,
                micros / 1_000_000 % 60,
                micros % 1_000_000
            ),
            info,
            project: Some("nova".into()),
            service: Some("api".into()),
        });
        if batch.len() == 512 {
            driver.notify(&batch).await?;
            batch.clear();
        }
    }
    driver.notify(&batch).await?;
    eprintln!("trace {base_id} written ({n} notifications)");

    let mut times = Vec::new();
    let mut nodes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let report = driver.get_report(&base_id).await?;
        times.push(started.elapsed().as_secs_f64());
        nodes = report.node_count();
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "get_report notifications={n} nodes={nodes} seconds={best:.3} (runs: {})",
        times
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if std::env::var_os("KEEP").is_none() {
        let mut conn = redis::Client::open(url.as_str())?.get_connection()?;
        redis::cmd("DEL")
            .arg(format!("osprofiler_opt:{base_id}"))
            .exec(&mut conn)?;
    }
    Ok(())
}
