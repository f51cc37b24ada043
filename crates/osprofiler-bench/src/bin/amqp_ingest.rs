//! The collector's AMQP ingest against a bare consumer of the same queue, in one run.
//!
//! Each round fills the `profiler.info` queue of a private RabbitMQ virtual host with N
//! notifications (our messaging driver, traces of 10; not timed), then times how long each
//! reader takes to empty it:
//!
//! - `bare`: a consumer that stores nothing, batches of 500, prefetch 2000, acknowledging
//!   each batch (the collector's own `QueueConsumer`, nothing else);
//! - `sqlite`: the collector (`AmqpIngest`, default batch and prefetch) into a new SQLite
//!   file;
//! - `postgres`: the same into a new PostgreSQL database on the local server.
//!
//! Modes take turns within a round (interleaved), so a slow spell of this shared machine
//! hits all of them. Prints each run and, per mode, the median rate and its ratio to the
//! bare consumer's median.
//!
//!     cargo run --release -p osprofiler-bench --bin amqp_ingest -- [--count 100000] [--rounds 3]
//!
//! Needs RabbitMQ (`rabbitmqctl` to make the virtual host) and PostgreSQL on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::{Driver, DriverOptions};
use osprofiler::{Info, Notification};
use osprofiler_collector::amqp::{AmqpConfig, AmqpIngest, DEFAULT_BATCH_SIZE, DEFAULT_PREFETCH};
use osprofiler_collector::{Collector, CollectorConfig};
use osprofiler_messaging::consumer::{ConsumerOptions, QueueConsumer};
use osprofiler_messaging::{MessagingDriver, TransportUrl};
use osprofiler_sql::store::TraceStore;
use osprofiler_testkit::{PgDatabase, Vhost};
use serde_json::Value;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `n` notifications of traces of 10, ids unique to `round`.
fn notifications(round: usize, mode: &str, n: usize) -> Vec<Notification> {
    (0..n)
        .map(|i| {
            let mut info = Info::new();
            info.insert(
                "db".into(),
                serde_json::json!({"statement": "SELECT * FROM instances WHERE uuid = %s", "params": {}}),
            );
            info.insert("host".into(), Value::from(format!("node-{}", i % 7)));
            let base = format!("{round:04}{mode:.>8}-0000-4000-8000-{:012}", i / 10);
            Notification {
                name: format!("db-{}", if i % 2 == 0 { "start" } else { "stop" }),
                base_id: base.clone(),
                trace_id: format!("{base}-{}", (i % 10) / 2),
                parent_id: base,
                timestamp: format!("2026-12-06T10:{:02}:{:02}.{:06}", (i / 60_000_000) % 60, (i / 1_000_000) % 60, i % 1_000_000),
                info,
                project: Some("nova".into()),
                service: Some("api".into()),
            }
        })
        .collect()
}

async fn fill(url: &str, notes: &[Notification]) -> Result<(), Box<dyn std::error::Error>> {
    let mut o = DriverOptions::new("messaging://");
    o.config.transport_url = Some(url.to_owned());
    o.service = Some("api".into());
    let driver = MessagingDriver::connect(o).await?;
    for chunk in notes.chunks(1000) {
        driver.notify(chunk).await?;
    }
    Ok(())
}

/// Empties the queue without storing anything; returns the time taken.
async fn bare(url: &TransportUrl, n: usize) -> Result<Duration, String> {
    let start = Instant::now();
    let options = ConsumerOptions {
        prefetch: DEFAULT_PREFETCH,
        ..ConsumerOptions::default()
    };
    let mut consumer = QueueConsumer::connect(url, &options).await?;
    let mut taken = 0;
    while taken < n {
        let batch = consumer
            .next_batch(
                DEFAULT_BATCH_SIZE,
                Duration::from_secs(10),
                Duration::from_millis(20),
            )
            .await?
            .ok_or("the queue ran dry")?;
        taken += batch.messages.len();
        consumer.ack(&batch, Duration::from_secs(5)).await?;
    }
    let took = start.elapsed();
    consumer.close(Duration::from_secs(5)).await;
    Ok(took)
}

/// Empties the queue into `store` with the collector; returns the time taken.
async fn collect(url: &TransportUrl, store: &str, n: usize) -> Result<Duration, String> {
    let store = Arc::new(TraceStore::open(store).await.map_err(|e| e.to_string())?);
    let collector = Collector::new(store.clone(), CollectorConfig::default());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let ingest = AmqpIngest::connect(collector.clone(), AmqpConfig::new(url.clone())).await?;
    let task = tokio::spawn(ingest.run(stopping));
    while collector.metrics().stored() < n as u64 {
        if start.elapsed() > Duration::from_secs(600) {
            return Err("not stored within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = start.elapsed();
    let _ = stop.send(true);
    let _ = task.await;
    store.close().await;
    Ok(took)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = arg("--count").map_or(Ok(100_000), |c| c.parse())?;
    let rounds: usize = arg("--rounds").map_or(Ok(3), |c| c.parse())?;
    let vhost = Vhost::new().ok_or("RabbitMQ is not there")?;
    let url_text = vhost.transport_url();
    let url = TransportUrl::parse(&url_text)?;
    // Declares the queue (so the fill is kept) and checks the broker.
    QueueConsumer::connect(&url, &ConsumerOptions::default())
        .await?
        .close(Duration::from_secs(5))
        .await;
    let modes = ["bare", "sqlite", "postgres"];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let dir = tempfile_dir()?;
    for round in 0..rounds {
        for (m, mode) in modes.iter().enumerate() {
            fill(&url_text, &notifications(round, mode, n)).await?;
            let took = match *mode {
                "bare" => bare(&url, n).await?,
                "sqlite" => {
                    let path = dir.join(format!("round-{round}.sqlite"));
                    collect(&url, &format!("sqlite://{}", path.display()), n).await?
                }
                _ => {
                    let db = PgDatabase::new().ok_or("PostgreSQL is not there")?;
                    let size = "SELECT pg_database_size(current_database())";
                    let empty = db.count(size);
                    let took = collect(&url, &db.url, n).await?;
                    let _ = db.query("CHECKPOINT");
                    let per = (db.count(size).saturating_sub(empty)) as f64 / n as f64;
                    println!("  PostgreSQL holds {per:.0} bytes per notification (database size, all tables and indexes)");
                    took
                }
            };
            let rate = n as f64 / took.as_secs_f64();
            println!(
                "round {round} {mode:<8} {n} in {:.3} s: {rate:.0}/s",
                took.as_secs_f64()
            );
            rates[m].push(rate);
        }
    }
    let bare_median = median(&mut rates[0].clone());
    println!("\nmode      median/s  of bare");
    for (m, mode) in modes.iter().enumerate() {
        let med = median(&mut rates[m]);
        println!("{mode:<8} {med:>9.0}  {:>6.1}%", 100.0 * med / bare_median);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(osprofiler_testkit::unique_name("amqp-ingest-bench"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
