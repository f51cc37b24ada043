//! A traced call, end to end, in one process: an axum service behind the `osprofiler-tower`
//! layer, and a client whose reqwest calls go through [`ClientTrace`]. The caller's
//! points and the service's land in one trace, printed as a tree.
//!
//! ```text
//! cargo run -p osprofiler-reqwest --example traced_call
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use osprofiler::notifier::CollectingNotifier;
use osprofiler::report::{build_report, Node};
use osprofiler::{Profiler, ProfilerExt, Trace};
use osprofiler_reqwest::ClientTrace;
use osprofiler_tower::ServerTraceLayer;
use reqwest_middleware::ClientBuilder;

const KEY: &str = "SECRET_KEY";

fn print(node: Node<'_>, depth: usize) {
    let info = node.info();
    println!(
        "{:indent$}{} ({} ms) {}",
        "",
        info.name(),
        info.duration(),
        node.trace_id(),
        indent = depth * 2
    );
    for child in node.children() {
        print(child, depth + 1);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Both sides collect their points here; a real deployment sends them to a store.
    let points = Arc::new(CollectingNotifier::new());

    let app = Router::new()
        .route(
            "/servers",
            get(|| async {
                let _db = Trace::start("db", None);
                tokio::time::sleep(Duration::from_millis(3)).await;
                "[]"
            }),
        )
        .layer(
            ServerTraceLayer::new([KEY])
                .enabled(true)
                .notifier(points.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    )
    .with(ClientTrace::new())
    .build();

    // The caller's task: profiled, as if its own request had come in signed.
    let profiler = Profiler::with_notifier(KEY, None, None, points.clone());
    let base_id = profiler.base_id().to_string();
    let body = async {
        let _api = Trace::start("api", None);
        let response = client
            .get(format!("http://{addr}/servers?limit=10"))
            .send()
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(response.text().await?)
    }
    .with_profiler(Some(profiler))
    .await?;
    println!("response: {body}");

    let report = build_report(
        points
            .notifications()
            .iter()
            .map(serde_json::value::to_raw_value)
            .collect::<Result<Vec<_>, _>>()?,
    );
    println!("trace {base_id}:");
    for root in report.roots() {
        print(root, 1);
    }
    Ok(())
}
