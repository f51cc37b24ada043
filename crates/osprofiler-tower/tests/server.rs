//! The layer in real servers (axum, plain hyper) on loopback sockets, called over HTTP with
//! reqwest: every `unpack` case of the reference's signing conformance file replayed as a
//! request, the profiler seen by handlers (across `.await`, in spawned tasks, per task), and
//! the `wsgi` notifications.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::{Json, Router};
use osprofiler::notifier::CollectingNotifier;
use osprofiler::signing::pack_ids;
use osprofiler::{profiler, Profiler, Trace};
use osprofiler_tower::{ServerTraceLayer, TRACEPARENT_KEY, TRACESTATE_KEY};
use serde_json::{json, Value};

/// What a handler can see of its profiler.
fn ids(p: Option<Profiler>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!({
            "base_id": p.base_id().to_string(),
            "parent_id": p.parent_id().to_string(),
            "id": p.id().to_string(),
            "hmac_key": p.hmac_key(),
        }),
    }
}

/// The handler: its profiler before and after an `.await`, and in a spawned task that
/// records a `db` point.
async fn seen() -> Json<Value> {
    let before = ids(profiler::get());
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    let after = ids(profiler::get());
    let spawned = profiler::spawn(async {
        let _db = Trace::start("db", None);
        tokio::task::yield_now().await;
        ids(profiler::get())
    })
    .await
    .expect("the spawned task ran");
    Json(json!({"before": before, "after": after, "spawned": spawned}))
}

/// Serves the test app with `layer` on a fresh loopback port; its points go to the returned
/// collector.
async fn serve(layer: ServerTraceLayer) -> (SocketAddr, Arc<CollectingNotifier>) {
    let points = Arc::new(CollectingNotifier::new());
    let app = Router::new()
        .route("/seen/{case}", any(seen))
        .layer(layer.notifier(points.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, points)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap()
}

fn conformance() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../osprofiler/tests/conformance/signing.json"
    );
    let text = std::fs::read_to_string(path).expect("the signing conformance file");
    serde_json::from_str(&text).unwrap()
}

/// Python's `WsgiMiddleware._trace_is_valid` on the decoded object the reference expects.
fn middleware_accepts(expect: &Value) -> bool {
    let Some(obj) = expect.as_object() else {
        return false;
    };
    obj.contains_key("base_id")
        && obj.contains_key("hmac_key")
        && obj
            .keys()
            .all(|k| ["base_id", "hmac_key", "parent_id"].contains(&k.as_str()))
}

/// A header value cannot hold a line break: a case's trailing newline goes as a tab, which
/// is white space to HTTP and to the HMAC check alike.
fn header_text(s: &str) -> String {
    s.replace(['\n', '\r'], "\t")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unpack_case_replayed_over_http() {
    let cases = conformance()["unpack"].as_array().unwrap().clone();
    assert!(cases.len() >= 40, "the conformance file has its cases");
    let http = client();
    let mut profiled = 0;
    for (i, case) in cases.iter().enumerate() {
        let why = case["why"].as_str().unwrap();
        let keys: Vec<String> = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        let (addr, points) = serve(ServerTraceLayer::new(keys).enabled(true)).await;
        let url = format!("http://{addr}/seen/{i}?case={i}&x=a%20b");
        let response = http
            .get(&url)
            .header(
                "X-Trace-Info",
                header_text(case["x_trace_info"].as_str().unwrap()),
            )
            .header(
                "X-Trace-HMAC",
                header_text(case["x_trace_hmac"].as_str().unwrap()),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {i} ({why}): {e}"));
        assert_eq!(response.status(), 200, "case {i} ({why})");
        let seen: Value = response.json().await.unwrap();
        let expect = &case["expect"];

        if !middleware_accepts(expect) {
            assert_eq!(
                seen,
                json!({"before": null, "after": null, "spawned": null}),
                "case {i} ({why}): must run unprofiled"
            );
            assert!(points.points().is_empty(), "case {i} ({why})");
            continue;
        }
        profiled += 1;
        let base_id = expect["base_id"].as_str().unwrap();
        let parent_id = expect["parent_id"].as_str().unwrap_or(base_id);
        let before = &seen["before"];
        assert_eq!(before["base_id"], base_id, "case {i} ({why})");
        assert_eq!(before["parent_id"], parent_id, "case {i} ({why})");
        assert_eq!(before["hmac_key"], expect["hmac_key"], "case {i} ({why})");
        assert_eq!(
            &seen["after"], before,
            "case {i}: the same profiler across .await"
        );
        let wsgi_id = before["id"].as_str().unwrap();
        assert_eq!(seen["spawned"]["base_id"], base_id, "case {i}");
        assert_eq!(
            seen["spawned"]["parent_id"], wsgi_id,
            "case {i}: the spawned task's point is a child of the wsgi point"
        );

        let n = points.notifications();
        let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["wsgi-start", "db-start", "db-stop", "wsgi-stop"],
            "case {i}"
        );
        let (start, stop) = (&n[0], &n[3]);
        assert_eq!(start.base_id, base_id);
        assert_eq!(start.parent_id, parent_id);
        assert_eq!(start.trace_id, wsgi_id);
        assert_eq!(
            Value::Object(start.info.clone()),
            json!({
                "request": {
                    "path": format!("/seen/{i}"),
                    "query": format!("case={i}&x=a%20b"),
                    "method": "GET",
                    "scheme": "http",
                },
                "host": osprofiler::hostname(),
            }),
            "case {i}"
        );
        assert_eq!(
            (stop.trace_id.as_str(), stop.parent_id.as_str()),
            (wsgi_id, parent_id)
        );
        assert_eq!(
            Value::Object(stop.info.clone()),
            json!({"host": osprofiler::hostname()}),
            "case {i}: Python's stop carries no info"
        );
        assert_eq!(n[1].parent_id, wsgi_id);
    }
    let accepted = cases
        .iter()
        .filter(|c| middleware_accepts(&c["expect"]))
        .count();
    assert_eq!(profiled, accepted);
    assert!(profiled >= 10, "the file holds accepted cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_see_only_their_own_trace() {
    let (addr, points) = serve(ServerTraceLayer::new(["k1", "k2"]).enabled(true)).await;
    let http = client();
    let requests = (0..24).map(|i| {
        let http = http.clone();
        async move {
            let mut req = http.post(format!("http://{addr}/seen/{i}"));
            let base = format!("base-{i}");
            if i % 3 != 0 {
                let key = if i % 2 == 0 { "k1" } else { "k2" };
                let (info, hmac) = pack_ids(&base, &format!("parent-{i}"), key);
                req = req
                    .header("X-Trace-Info", info)
                    .header("X-Trace-HMAC", hmac);
            }
            let seen: Value = req.send().await.unwrap().json().await.unwrap();
            (i, base, seen)
        }
    });
    let results = futures_join_all(requests).await;
    for (i, base, seen) in results {
        if i % 3 == 0 {
            assert_eq!(seen["before"], Value::Null, "request {i}");
            assert_eq!(seen["after"], Value::Null, "request {i}");
            assert_eq!(seen["spawned"], Value::Null, "request {i}");
        } else {
            assert_eq!(seen["before"]["base_id"], base, "request {i}");
            assert_eq!(seen["after"]["base_id"], base, "request {i}");
            assert_eq!(seen["spawned"]["base_id"], base, "request {i}");
            assert_eq!(seen["before"]["parent_id"], format!("parent-{i}"));
        }
    }
    // 16 traced requests, 4 notifications each.
    assert_eq!(points.points().len(), 16 * 4);
}

/// `join_all` without a futures dependency: spawn each and wait in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_disabled_layer_ignores_valid_headers() {
    let (addr, points) = serve(ServerTraceLayer::new(["k"])).await;
    let (info, hmac) = pack_ids("b", "p", "k");
    let seen: Value = client()
        .get(format!("http://{addr}/seen/0"))
        .header("X-Trace-Info", info)
        .header("X-Trace-HMAC", hmac)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["before"], Value::Null);
    assert!(points.points().is_empty());
}

#[tokio::test]
async fn an_incoming_traceparent_is_recorded_in_the_wsgi_point() {
    let (addr, points) = serve(ServerTraceLayer::new(["k"]).enabled(true)).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (info, hmac) = pack_ids("b", "p", "k");
    let http = client();
    let response = http
        .get(format!("http://{addr}/seen/1"))
        .header("X-Trace-Info", info)
        .header("X-Trace-HMAC", hmac)
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=value")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let n = points.notifications();
    assert_eq!(n[0].name, "wsgi-start");
    assert_eq!(n[0].info[TRACEPARENT_KEY], traceparent);
    assert_eq!(n[0].info[TRACESTATE_KEY], "vendor=value");
    assert!(n[0].info["request"].is_object());

    // Without trace headers a traceparent alone starts nothing.
    let response = http
        .get(format!("http://{addr}/seen/2"))
        .header("traceparent", traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(points.points().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_hyper_server_takes_the_layer() {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceBuilder;

    let points = Arc::new(CollectingNotifier::new());
    let service = ServiceBuilder::new()
        .layer(
            ServerTraceLayer::new(["hyper-key"])
                .enabled(true)
                .notifier(points.clone()),
        )
        .service_fn(|req: http::Request<Incoming>| async move {
            let body = ids(profiler::get()).to_string();
            let _ = req;
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(body))))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });

    let (info, hmac) = pack_ids("hyper-base", "hyper-parent", "hyper-key");
    let http = client();
    let seen: Value = http
        .put(format!("http://{addr}/objects/o1?v=2"))
        .header("X-Trace-Info", info)
        .header("X-Trace-HMAC", hmac)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["base_id"], "hyper-base");
    assert_eq!(seen["parent_id"], "hyper-parent");
    assert_eq!(seen["hmac_key"], "hyper-key");
    let n = points.notifications();
    assert_eq!(n.len(), 2);
    assert_eq!(
        n[0].info["request"],
        json!({"path": "/objects/o1", "query": "v=2", "method": "PUT", "scheme": "http"})
    );

    let unsigned: Value = http
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unsigned, Value::Null);
    assert_eq!(points.points().len(), 2);
}

#[tokio::test]
async fn around_the_whole_router_unmatched_paths_are_traced_too() {
    use axum::extract::Request;
    use axum::ServiceExt;
    use tower_layer::Layer;

    let points = Arc::new(CollectingNotifier::new());
    let router = Router::new().route("/seen/{case}", any(seen));
    let app = ServerTraceLayer::new(["k"])
        .enabled(true)
        .notifier(points.clone())
        .layer(router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
    });
    let (info, hmac) = pack_ids("b", "p", "k");
    let response = client()
        .get(format!("http://{addr}/nowhere?x=1"))
        .header("X-Trace-Info", info)
        .header("X-Trace-HMAC", hmac)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "the app's own answer, unchanged");
    let n = points.notifications();
    let names: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["wsgi-start", "wsgi-stop"]);
    assert_eq!(n[0].info["request"]["path"], "/nowhere");
    assert_eq!(
        n[1].info.len(),
        1,
        "a 404 is a response, not an error: no etype"
    );
}
