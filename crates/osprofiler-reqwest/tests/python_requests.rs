//! The same calls through Python OSprofiler 4.4.0's `requests` patching (a subprocess,
//! `tests/python/requests_points.py`) and through our middleware, against one real server:
//! the `http` points must carry the same info.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use osprofiler::notifier::CollectingNotifier;
use osprofiler::{Profiler, ProfilerExt};
use osprofiler_reqwest::ClientTrace;
use reqwest_middleware::ClientBuilder;
use serde_json::{json, Value};

fn python_points(cases: &Value) -> Option<Value> {
    let python = osprofiler_testkit::python()?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/requests_points.py"
    );
    Some(osprofiler_testkit::run_python_json(
        &python,
        std::path::Path::new(script),
        cases,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_http_points_equal_pythons() {
    let app = Router::new()
        .route("/echo", any(|| async { "ok" }))
        .route(
            "/missing",
            any(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
        )
        .route("/echo/{rest}", any(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let cases: Vec<Value> = [
        ("GET", format!("http://127.0.0.1:{port}/echo?q=1&x=a%20b")),
        ("POST", format!("http://127.0.0.1:{port}/echo")),
        ("PUT", format!("http://127.0.0.1:{port}/echo/item;v=2?k=v")),
        ("DELETE", format!("http://127.0.0.1:{port}/missing")),
        ("GET", format!("http://127.0.0.1:{port}/echo/caf%C3%A9?")),
    ]
    .into_iter()
    .map(|(method, url)| json!({"method": method, "url": url}))
    .collect();
    let Some(python) = python_points(&Value::Array(cases.clone())) else {
        return;
    };

    let client = ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .unwrap(),
    )
    .with(ClientTrace::new())
    .build();
    for (i, case) in cases.iter().enumerate() {
        let points = Arc::new(CollectingNotifier::new());
        let method =
            reqwest::Method::from_bytes(case["method"].as_str().unwrap().as_bytes()).unwrap();
        let url = case["url"].as_str().unwrap();
        async { client.request(method, url).send().await.unwrap() }
            .with_profiler(Some(Profiler::with_notifier(
                "client-key",
                None,
                None,
                points.clone(),
            )))
            .await;
        let ours: Vec<Value> = points
            .notifications()
            .into_iter()
            .map(|n| {
                let mut info = n.info;
                info.remove("host");
                json!({"name": n.name, "info": info})
            })
            .collect();
        assert_eq!(Value::Array(ours), python[i], "call {i}: {url}");
    }
}
