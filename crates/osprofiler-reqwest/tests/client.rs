//! The client middleware against a real axum server on loopback that has the tower layer:
//! a traced task calls the server, the server's `wsgi` point is a child of the client's
//! `http` point, and both halves build one trace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::any;
use axum::{Json, Router};
use osprofiler::notifier::CollectingNotifier;
use osprofiler::report::build_report;
use osprofiler::{profiler, Notification, Profiler, ProfilerExt, Trace};
use osprofiler_reqwest::ClientTrace;
use osprofiler_tower::{ServerTraceLayer, TRACEPARENT_KEY};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};

const KEY: &str = "client-key";

/// The server's handler: the trace headers it got and the profiler it runs in.
async fn echo(headers: HeaderMap) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let p = profiler::get();
    Json(json!({
        "x_trace_info": header("x-trace-info"),
        "traceparent": header("traceparent"),
        "base_id": p.as_ref().map(|p| p.base_id().to_string()),
        "hmac_key": p.as_ref().map(|p| p.hmac_key().to_owned()),
    }))
}

/// A handler that answers after the client has given up.
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "late"
}

/// A server with the tower layer (keys: an old one and ours) on a fresh loopback port.
async fn serve() -> (SocketAddr, Arc<CollectingNotifier>) {
    let points = Arc::new(CollectingNotifier::new());
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/slow", any(slow))
        .layer(
            ServerTraceLayer::new(["old-key", KEY])
                .enabled(true)
                .notifier(points.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, points)
}

fn client(middleware: ClientTrace) -> ClientWithMiddleware {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();
    ClientBuilder::new(http).with(middleware).build()
}

/// Runs `call` in a task with its own profiler, inside a `caller` point.
async fn traced<F: std::future::Future>(points: &Arc<CollectingNotifier>, call: F) -> F::Output {
    let profiler = Profiler::with_notifier(KEY, None, None, points.clone());
    async move {
        let _caller = Trace::start("caller", None);
        call.await
    }
    .with_profiler(Some(profiler))
    .await
}

fn raw(n: &[Notification]) -> Vec<Box<serde_json::value::RawValue>> {
    n.iter()
        .map(|n| serde_json::value::to_raw_value(n).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_call_continues_in_the_server_as_one_trace() {
    let (addr, server_points) = serve().await;
    let client_points = Arc::new(CollectingNotifier::new());
    let http = client(ClientTrace::new());
    let url = format!("http://{addr}/echo?q=1&name=a%20b");
    let seen: Value = traced(&client_points, async {
        let response = http.post(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    })
    .await;

    let c = client_points.notifications();
    let names: Vec<&str> = c.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["caller-start", "http-start", "http-stop", "caller-stop"]
    );
    let (caller, http_start, http_stop) = (&c[0], &c[1], &c[2]);
    assert_eq!(http_start.parent_id, caller.trace_id);
    assert_eq!(
        Value::Object(http_start.info.clone()),
        json!({
            "requests": {
                "method": "POST",
                "query": "q=1&name=a%20b",
                "path": "/echo",
                "hostname": "127.0.0.1",
                "port": addr.port(),
                "scheme": "http",
            },
            "host": osprofiler::hostname(),
        })
    );
    assert_eq!(http_stop.trace_id, http_start.trace_id);
    assert_eq!(
        Value::Object(http_stop.info.clone()),
        json!({"requests": {"status_code": 200}, "host": osprofiler::hostname()})
    );

    // The server verified the headers with our key and joined the trace under our point.
    assert_eq!(seen["base_id"], caller.base_id);
    assert_eq!(seen["hmac_key"], KEY);
    assert_eq!(
        seen["traceparent"],
        Value::Null,
        "no traceparent unless asked"
    );
    let s = server_points.notifications();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].name, "wsgi-start");
    assert_eq!(s[0].base_id, caller.base_id);
    assert_eq!(s[0].parent_id, http_start.trace_id);
    assert_eq!(s[0].info["request"]["path"], "/echo");

    // One trace: caller -> http -> wsgi.
    let mut all = c.clone();
    all.extend(s);
    let report = build_report(raw(&all));
    let roots: Vec<_> = report.roots().collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].info().name(), "caller");
    let http_node = roots[0].children().next().expect("the http point");
    assert_eq!(http_node.info().name(), "http");
    let wsgi_node = http_node.children().next().expect("the server's point");
    assert_eq!(wsgi_node.info().name(), "wsgi");
    assert_eq!(report.node_count(), 3);
}

#[tokio::test]
async fn an_unprofiled_call_gets_nothing_added() {
    let (addr, server_points) = serve().await;
    let seen: Value = client(ClientTrace::new().traceparent(true))
        .get(format!("http://{addr}/echo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!({"x_trace_info": null, "traceparent": null, "base_id": null, "hmac_key": null})
    );
    assert!(server_points.points().is_empty());
}

#[tokio::test]
async fn a_failed_call_stops_its_point_with_the_error() {
    // A port nobody listens on: bind one, then let it go.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let points = Arc::new(CollectingNotifier::new());
    let http = client(ClientTrace::new());
    let result = traced(&points, http.get(format!("http://{addr}/x")).send()).await;
    let err = result.expect_err("nothing listens there");
    let n = points.notifications();
    let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["caller-start", "http-start", "http-stop", "caller-stop"]
    );
    assert_eq!(n[2].info["etype"], "reqwest_middleware::error::Error");
    assert_eq!(n[2].info["message"], err.to_string());
    assert!(n[2].is_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_carries_the_otlp_ids_and_the_server_records_it() {
    let (addr, server_points) = serve().await;
    let points = Arc::new(CollectingNotifier::new());
    // Through the config, as a service turns it on.
    let mut conf = osprofiler::ProfilerConfig::default();
    conf.set("trace_requests", "true", "test").unwrap();
    conf.set("w3c_traceparent", "true", "test").unwrap();
    let http = client(ClientTrace::from_config(&conf));
    let seen: Value = traced(&points, async {
        http.get(format!("http://{addr}/echo"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
    .await;
    let n = points.notifications();
    let http_point = &n[1];
    assert_eq!(http_point.name, "http-start");
    let trace_id = uuid::Uuid::parse_str(&http_point.base_id)
        .unwrap()
        .as_u128();
    let span_id = uuid::Uuid::parse_str(&http_point.trace_id)
        .unwrap()
        .as_u128() as u64;
    let expected = format!("00-{trace_id:032x}-{span_id:016x}-01");
    assert_eq!(seen["traceparent"], expected);
    let s = server_points.notifications();
    assert_eq!(s[0].info[TRACEPARENT_KEY], expected);
}

#[tokio::test]
async fn without_points_the_headers_name_the_current_point() {
    let (addr, server_points) = serve().await;
    let points = Arc::new(CollectingNotifier::new());
    let conf = osprofiler::ProfilerConfig::default(); // trace_requests = false
    let http = client(ClientTrace::from_config(&conf));
    let seen: Value = traced(&points, async {
        http.get(format!("http://{addr}/echo"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
    .await;
    let n = points.notifications();
    let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["caller-start", "caller-stop"]);
    assert_eq!(seen["base_id"], n[0].base_id);
    assert!(seen["traceparent"].is_null(), "off by default: {seen}");
    assert_eq!(server_points.notifications()[0].parent_id, n[0].trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_from_one_task_are_siblings() {
    let (addr, server_points) = serve().await;
    let points = Arc::new(CollectingNotifier::new());
    let http = client(ClientTrace::new());
    let url = format!("http://{addr}/echo");
    traced(&points, async {
        let (a, b, c) = tokio::join!(
            http.get(&url).send(),
            http.get(&url).send(),
            http.get(&url).send()
        );
        for r in [a, b, c] {
            assert_eq!(r.unwrap().status(), 200);
        }
        // The caller's own context has no call left open in it.
        assert_eq!(profiler::get().unwrap().depth(), 1);
    })
    .await;
    let n = points.notifications();
    let caller_id = &n[0].trace_id;
    let http_starts: Vec<_> = n.iter().filter(|n| n.name == "http-start").collect();
    assert_eq!(http_starts.len(), 3);
    for start in &http_starts {
        assert_eq!(
            &start.parent_id, caller_id,
            "each call is a child of the caller"
        );
    }
    assert_eq!(n.iter().filter(|n| n.name == "http-stop").count(), 3);
    // Each server point hangs under its own call.
    let mut server_parents: Vec<String> = server_points
        .notifications()
        .into_iter()
        .filter(|n| n.name == "wsgi-start")
        .map(|n| n.parent_id)
        .collect();
    let mut call_ids: Vec<String> = http_starts.iter().map(|n| n.trace_id.clone()).collect();
    server_parents.sort();
    call_ids.sort();
    assert_eq!(server_parents, call_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_key_records_the_point_but_sends_no_trace_headers() {
    let (addr, server_points) = serve().await;
    let points = Arc::new(CollectingNotifier::new());
    let http = client(ClientTrace::new());
    // Python's `get_trace_id_headers`: a profiler without a key passes nothing on.
    let profiler = Profiler::with_notifier("", None, None, points.clone());
    let seen: Value = async {
        http.get(format!("http://{addr}/echo"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    .with_profiler(Some(profiler))
    .await;
    assert!(seen["x_trace_info"].is_null(), "{seen}");
    let names: Vec<String> = points.notifications().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["http-start", "http-stop"]);
    assert!(server_points.points().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_before_its_response_stops_its_point_as_cancelled() {
    let (addr, _server_points) = serve().await;
    let points = Arc::new(CollectingNotifier::new());
    let http = client(ClientTrace::new());
    let call = http.get(format!("http://{addr}/slow")).send();
    let timed_out = traced(
        &points,
        tokio::time::timeout(Duration::from_millis(200), call),
    )
    .await;
    assert!(timed_out.is_err(), "the server answers after 5 s");
    let n = points.notifications();
    let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["caller-start", "http-start", "http-stop", "caller-stop"]
    );
    assert_eq!(n[2].info["etype"], "cancelled");
    assert_eq!(
        n[2].info["message"],
        "the future was dropped before it completed"
    );
}
