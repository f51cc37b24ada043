//! The collector served on a real TCP listener (`axum::serve`), spoken to with reqwest, over
//! SQLite and over PostgreSQL (a database of its own on the local server): ingest with a
//! token, the list, the report, the notifications, and the refusals.

use std::sync::Arc;

use osprofiler_collector::{Collector, CollectorConfig, Token};
use osprofiler_sql::store::TraceStore;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

const TOKEN: &str = "tcp-token-7f3a";
const BASE: &str = "7a1b2c3d-0000-4000-8000-0000000000aa";

fn note(trace: &str, parent: &str, name: &str, ms: u32, host: &str) -> String {
    osprofiler_core::pyjson::to_string(&json!({
        "name": name, "base_id": BASE, "trace_id": trace, "parent_id": parent,
        "timestamp": format!("2026-11-25T04:59:10.{:06}", ms * 1000),
        "info": {"host": host}, "project": "nova", "service": "api"}))
    .unwrap()
}

/// Serves a collector over `cs` on a free loopback port; returns its base URL.
async fn serve(cs: &str) -> String {
    let store = Arc::new(TraceStore::open(cs).await.unwrap());
    let config = CollectorConfig {
        token: Token::new(TOKEN),
        body_limit: 64 << 10,
    };
    let router = Collector::new(store, config).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

async fn body_json(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

async fn round_trip(url: &str) {
    let client = reqwest::Client::new();
    let w = "w-1";
    let notes = [
        note(w, BASE, "wsgi-start", 0, "h1"),
        note("d-1", w, "db-start", 1, "h2"),
        note("d-1", w, "db-stop", 3, "h2"),
        note(w, BASE, "wsgi-stop", 5, "h1"),
    ];
    let body = format!("[{}]", notes.join(", "));
    let post = |body: String, token: Option<&str>| {
        let mut req = client
            .post(format!("{url}/api/v1/notifications"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let r = post(body.clone(), None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = post(body.clone(), Some("wrong")).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Over the limit: `413` as soon as the headers are read, and the connection closed (the
    // next request takes a new one). The body's rest is unread then, and the kernel may answer
    // that with a reset that reaches the client before the response does; so the answer is a
    // `413` or a connection cut short, never anything else (tests/api.rs checks the `413`
    // itself, in process).
    match post("x".repeat(65 << 10), Some(TOKEN)).await {
        Ok(r) => {
            assert_eq!(r.status().as_u16(), 413);
            assert_eq!(r.headers()["connection"], "close");
        }
        Err(e) => assert!(
            e.is_request() && !e.is_timeout(),
            "not a connection cut short: {e:?}"
        ),
    }
    let r = post(format!("[{}, {{}}]", notes[0]), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(body_json(r).await["at"], "[1].name");
    let r = post(body.clone(), Some(TOKEN)).await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(body_json(r).await, json!({"accepted": 4, "duplicates": 0}));
    let r = post(body, Some(TOKEN)).await.unwrap();
    assert_eq!(body_json(r).await, json!({"accepted": 0, "duplicates": 4}));

    let get = |path: &str| client.get(format!("{url}{path}")).bearer_auth(TOKEN).send();
    let r = get("/api/v1/traces?service=api").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let listed = body_json(r).await;
    assert_eq!(listed["traces"][0]["base_id"], BASE);
    assert_eq!(listed["traces"][0]["hosts"], json!(["h1", "h2"]));
    assert_eq!(listed["traces"][0]["duration_ms"], json!(5.0));
    let r = get(&format!("/api/v1/traces/{BASE}")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    assert!(text.starts_with("{\n  \"info\": {\n"), "{text}");
    assert!(text.ends_with("}\n"));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["children"][0]["children"][0]["info"]["host"], "h2");
    let r = get(&format!("/api/v1/traces/{BASE}/notifications"))
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), format!("[{}]", notes.join(", ")));
    let r = get("/api/v1/traces/nope").await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(&format!("sqlite://{}", dir.path().join("c.db").display())).await;
    round_trip(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_on_postgresql() {
    let Some(admin) = osprofiler_testkit::postgres() else {
        return;
    };
    let name = osprofiler_testkit::unique_name("osp_collector")
        .replace('-', "_")
        .to_ascii_lowercase();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let cs = match admin.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{name}"),
        None => panic!("{admin} names no database"),
    };
    let url = serve(&cs).await;
    round_trip(&url).await;
    let _ = conn
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await;
}
