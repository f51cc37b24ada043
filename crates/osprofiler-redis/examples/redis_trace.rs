//! A traced piece of work stored in Redis, then read back as a report: the whole path a
//! service and an operator take.
//!
//! ```text
//! cargo run -p osprofiler-redis --example redis_trace -- [CONNECTION_STRING]
//! ```
//!
//! The default connection string is `redis://127.0.0.1:6379/0?ttl=3600` (the trace expires
//! after an hour). With `redissentinel://host:26379`, set `OSPROFILER_SENTINEL_SERVICE_NAME`
//! when the service is not `mymaster`. Python's CLI shows the same trace:
//! `osprofiler trace show --json <base id> --connection-string redis://127.0.0.1:6379`
//! (without `?ttl=`, which Python's redis client does not know).

use osprofiler::driver::GetReport;
use std::time::Duration;

use osprofiler::driver::{get_driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::report::Node;
use osprofiler::{profiler, Profiler, Trace};

#[derive(Debug)]
struct NoHost;

impl std::fmt::Display for NoHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no valid host was found")
    }
}

fn work() {
    let _api = Trace::start("wsgi", None);
    {
        let _db = Trace::start("db", None);
        std::thread::sleep(Duration::from_millis(3));
    }
    let rpc = Trace::start("rpc", None);
    std::thread::sleep(Duration::from_millis(2));
    rpc.fail(&NoHost);
}

fn print(node: &Node<'_>, depth: usize) {
    let info = node.info();
    println!(
        "{:indent$}{} {} ms{}",
        "",
        info.name(),
        info.duration(),
        info.error()
            .map_or(String::new(), |e| format!(" (error: {e})")),
        indent = depth * 2
    );
    for child in node.children() {
        print(&child, depth + 1);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let connection_string = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/0?ttl=3600".to_owned());
    osprofiler_redis::register();
    let mut options = DriverOptions::new(&connection_string);
    options.project = Some("example".into());
    options.service = Some("redis_trace".into());
    options.config.filter_error_trace = true;
    if let Ok(name) = std::env::var("OSPROFILER_SENTINEL_SERVICE_NAME") {
        options.config.sentinel_service_name = name;
    }
    let driver = get_driver(options).await?;
    let notifier = BatchNotifier::start(driver.clone(), BatchConfig::default());

    let p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let base_id = p.base_id().to_string();
    profiler::set_current(Some(p));
    work();
    profiler::clean();
    notifier.flush(Duration::from_secs(10));
    println!("trace {base_id}: {:?}", notifier.stats());

    let report = driver.get_report(&base_id).await?;
    for root in report.roots() {
        print(&root, 1);
    }
    let errors = driver.list_error_traces().await?;
    println!(
        "listed as an error trace: {}",
        errors.iter().any(|e| e["base_id"] == base_id.as_str())
    );
    notifier.shutdown(Duration::from_secs(5));
    Ok(())
}
