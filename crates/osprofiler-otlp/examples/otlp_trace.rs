//! Sends one traced request as OpenTelemetry spans to an OTLP/HTTP collector.
//!
//! ```text
//! cargo run -p osprofiler-otlp --example otlp_trace -- otlp://127.0.0.1:4318
//! ```
//!
//! Any OTLP/HTTP receiver works (an OpenTelemetry Collector, Jaeger, Tempo). Without one
//! the example still runs: the traced code never waits for the collector, and the lost
//! spans are counted and reported.

use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::DriverOptions;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{Info, Profiler, Trace};
use osprofiler_otlp::OtlpDriver;
use serde_json::json;

#[osprofiler::trace(name = "db")]
fn instance_get(id: u32) -> Result<String, String> {
    if id == 0 {
        Err("no instance 0".to_owned())
    } else {
        Ok(format!("instance-{id}"))
    }
}

fn request_info() -> Info {
    let info = json!({"request": {"path": "/v2.1/servers", "query": "", "method": "GET", "scheme": "http"}});
    info.as_object().cloned().unwrap_or_default()
}

fn main() {
    let connection_string = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "otlp://127.0.0.1:4318".to_owned());
    let mut options = DriverOptions::new(&connection_string);
    options.project = Some("example".into());
    options.service = Some("api".into());
    let driver = match OtlpDriver::new(&options) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let notifier = BatchNotifier::start(driver.clone(), BatchConfig::default());

    // One request: a wsgi point with two DB calls, the second failing.
    let profiler = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let base_id = profiler.base_id().to_string();
    osprofiler::profiler::with_profiler(Some(profiler), || {
        let _wsgi = Trace::start("wsgi", Some(request_info()));
        let _ = instance_get(1);
        let _ = instance_get(0);
    });

    notifier.shutdown(Duration::from_secs(10));
    let stats = driver.stats();
    println!(
        "trace {base_id} (OTel trace id {})",
        base_id.replace('-', "")
    );
    if stats.exported > 0 {
        println!(
            "exported {} spans to {} (service.name example-api)",
            stats.exported,
            driver.connection()
        );
    } else {
        println!(
            "no collector answered at {}: {} spans lost (the traced code went on regardless)",
            driver.connection(),
            stats.failed
        );
    }
}
