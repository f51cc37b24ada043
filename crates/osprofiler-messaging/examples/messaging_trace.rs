//! A traced "request" published to RabbitMQ as Python OSprofiler's messaging driver would,
//! then read back from the `profiler.info` queue and printed as a tree.
//!
//!     cargo run -p osprofiler-messaging --example messaging_trace -- [TRANSPORT_URL]
//!
//! The default broker is `rabbit://guest:guest@127.0.0.1:5672/`. Reading takes only this
//! trace's messages from the queue; every other message stays queued. Python's CLI reads the
//! same trace (before this example's reader takes it) with
//! `osprofiler trace show --json ID --connection-string messaging:// --transport-url URL`.

use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::DriverOptions;
use osprofiler::driver::GetReport;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::report::Node;
use osprofiler::{profiler, Profiler, Trace};
use osprofiler_messaging::MessagingDriver;

fn print(node: Node<'_>, depth: usize) {
    let info = node.info();
    println!(
        "{:indent$}{} {}..{} ms",
        "",
        info.name(),
        info.started(),
        info.finished(),
        indent = depth * 2
    );
    for child in node.children() {
        print(child, depth + 1);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "rabbit://guest:guest@127.0.0.1:5672/".into());
    let mut options = DriverOptions::new("messaging://");
    options.config.transport_url = Some(url);
    options.service = Some("example".into());
    let driver = Arc::new(
        MessagingDriver::connect(options)
            .await?
            .with_idle_timeout(Duration::from_millis(500)),
    );

    let notifier = BatchNotifier::start(
        driver.clone(),
        BatchConfig {
            service: Some("example".into()),
            ..BatchConfig::default()
        },
    );
    let p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let base_id = p.base_id().to_string();
    profiler::set_current(Some(p));
    {
        let _request = Trace::start("wsgi", None);
        let _db = Trace::start("db", None);
        std::thread::sleep(Duration::from_millis(5));
    }
    profiler::clean();
    notifier.flush(Duration::from_secs(10));
    println!("trace {base_id}: {:?}", notifier.stats());

    let report = driver.get_report(&base_id).await?;
    for root in report.roots() {
        print(root, 0);
    }
    Ok(())
}
