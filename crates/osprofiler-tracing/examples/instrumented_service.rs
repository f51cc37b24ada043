//! A service instrumented only with `tracing` joins an OSprofiler trace.
//!
//! The handler and its helpers know nothing of OSprofiler: they use `#[instrument]` and
//! `info_span!`, and one job runs on another worker of a 2-worker runtime. Installing
//! [`osprofiler_tracing::layer`] and making a profiler current for the request (what the HTTP
//! server middleware does when a request carries signed trace headers) is all it takes; the
//! program then prints the trace's tree as `osprofiler trace show` builds it.
//!
//! Run: `cargo run -p osprofiler-tracing --example instrumented_service`

use std::sync::Arc;
use std::time::Duration;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::report::{build_report, Node};
use osprofiler::{Profiler, ProfilerExt};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument(fields(osprofiler.name = "db", db.statement = "SELECT * FROM users WHERE id = ?"))]
async fn load_user(id: u64) -> String {
    tokio::time::sleep(Duration::from_millis(3)).await;
    format!("user{id}")
}

#[tracing::instrument]
async fn resize(image: &'static str, width: u32) {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tracing::instrument(skip_all, fields(method = "GET", path = "/users/42"))]
async fn handle_request() {
    let user = load_user(42).await;
    tracing::info!(%user, "loaded");
    // Another task, on any worker: the span takes the trace there.
    tokio::spawn(resize("avatar.png", 64).instrument(tracing::info_span!("background")))
        .await
        .expect("the job ran");
}

fn print(node: Node<'_>, depth: usize) {
    let info = node.info();
    println!(
        "{:indent$}{} [{} ms .. {} ms]",
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

fn main() {
    let subscriber = tracing_subscriber::registry().with(osprofiler_tracing::layer());
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let points = Arc::new(CollectingNotifier::new());
    let profiler = Profiler::with_notifier("SECRET_KEY", None, None, points.clone());
    let base_id = profiler.base_id().to_string();
    runtime.block_on(handle_request().with_profiler(Some(profiler)));

    let notifications = points.notifications();
    println!("trace {base_id}: {} notifications", notifications.len());
    let report = build_report(
        notifications
            .iter()
            .map(|n| serde_json::value::to_raw_value(n).expect("JSON")),
    );
    for root in report.roots() {
        print(root, 1);
    }
    let start = &notifications[0];
    println!(
        "first point's info: {}",
        serde_json::to_string(&start.info).expect("JSON")
    );
}
