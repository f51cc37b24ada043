//! The collector's HTTP API through its router (`tower::ServiceExt::oneshot`), over a real
//! SQLite store in a temporary folder: every status each route answers, what is stored and
//! what is not, the report against Python OSprofiler's own, the OpenAPI document against the
//! routes.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use osprofiler_collector::{Collector, CollectorConfig, Token, OPENAPI, ROUTES};
use osprofiler_core::pyjson;
use osprofiler_sql::store::TraceStore;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Fixture {
    collector: Collector,
    router: Router,
    _dir: tempfile::TempDir,
}

async fn fixture(token: Option<&str>, body_limit: Option<usize>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cs = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = Arc::new(TraceStore::open(&cs).await.unwrap());
    let mut config = CollectorConfig {
        token: token.and_then(Token::new),
        ..CollectorConfig::default()
    };
    if let Some(limit) = body_limit {
        config.body_limit = limit;
    }
    let collector = Collector::new(store, config);
    let router = collector.router();
    Fixture {
        collector,
        router,
        _dir: dir,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

impl Fixture {
    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, body: impl Into<Body>, token: Option<&str>) -> Answer {
        let mut req =
            Request::post("/api/v1/notifications").header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(body.into()).unwrap()).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }
}

/// A notification's text (Python's `json.dumps` form).
fn note(base: &str, trace: &str, parent: &str, name: &str, ms: u32, info: Value) -> String {
    let ts = format!(
        "2026-11-25T04:59:{:02}.{:06}",
        10 + ms / 1000,
        (ms % 1000) * 1000
    );
    pyjson::to_string(&json!({"name": name, "base_id": base, "trace_id": trace,
        "parent_id": parent, "timestamp": ts, "info": info, "project": "nova",
        "service": if name.starts_with("wsgi") { "api" } else { "compute" }}))
    .unwrap()
}

/// A trace of three points (wsgi > rpc, db), the rpc failing.
fn trace(base: &str) -> Vec<String> {
    let (w, r, d) = (
        format!("{base}-w"),
        format!("{base}-r"),
        format!("{base}-d"),
    );
    vec![
        note(
            base,
            &w,
            base,
            "wsgi-start",
            0,
            json!({"request": {"path": "/é"}, "host": "h-api"}),
        ),
        note(
            base,
            &r,
            &w,
            "rpc-start",
            2,
            json!({"function": {"name": "f"}, "host": "h-cmp"}),
        ),
        note(
            base,
            &r,
            &w,
            "rpc-stop",
            7,
            json!({"etype": "E", "message": "m", "host": "h-cmp"}),
        ),
        note(
            base,
            &d,
            &w,
            "db-start",
            7,
            json!({"db": {"statement": "SELECT 1"}, "host": "h-api"}),
        ),
        note(base, &d, &w, "db-stop", 9, json!({"host": "h-api"})),
        note(base, &w, base, "wsgi-stop", 12, json!({"host": "h-api"})),
    ]
}

fn list(texts: &[String]) -> String {
    format!("[{}]", texts.join(", "))
}

const BASE: &str = "6f1b2c3d-0000-4000-8000-000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_accepted_once_as_a_list_or_one_object() {
    let f = fixture(None, None).await;
    let t = trace(BASE);
    let a = f
        .post(list(&[t[0].clone(), t[1].clone(), t[0].clone()]), None)
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    assert_eq!(a.json(), json!({"accepted": 2, "duplicates": 1}));
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    // One object, stored before; then one new one.
    let a = f.post(t[1].clone(), None).await;
    assert_eq!(
        (a.status, a.json()),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 0, "duplicates": 1})
        )
    );
    let a = f.post(format!("\n  {}  \n", t[2]), None).await;
    assert_eq!(
        (a.status, a.json()),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 1, "duplicates": 0})
        )
    );
    let a = f.post("[]", None).await;
    assert_eq!(
        (a.status, a.json()),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 0, "duplicates": 0})
        )
    );
    // Every stored notification, as received, in arrival order.
    let a = f
        .get(&format!("/api/v1/traces/{BASE}/notifications"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), list(&t[..3]));
    let m = f.collector.metrics();
    assert_eq!((m.stored(), m.duplicates()), (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured() {
    let token = "tok-Secret-123";
    let f = fixture(Some(token), None).await;
    let body = list(&trace(BASE));
    for auth in [
        None,
        Some("Bearer tok-Secret-12".to_owned()),
        Some("Bearer tok-Secret-1234".to_owned()),
        Some(format!("Basic {token}")),
        Some(format!("Bearer  {token}")),
        Some(token.to_owned()),
    ] {
        let mut req = Request::post("/api/v1/notifications");
        if let Some(a) = &auth {
            req = req.header(header::AUTHORIZATION, a.as_str());
        }
        let a = f.send(req.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(a.json()["error"].as_str().unwrap().contains("bearer token"));
        assert_eq!(
            a.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"osprofiler\""
        );
        assert!(!a.text().contains(token));
    }
    for path in [
        "/api/v1/traces".to_owned(),
        format!("/api/v1/traces/{BASE}"),
        format!("/api/v1/traces/{BASE}/notifications"),
    ] {
        assert_eq!(
            f.get(&path, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            f.get(&path, Some("nope")).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // Nothing was stored.
    let a = f
        .get(&format!("/api/v1/traces/{BASE}/notifications"), Some(token))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        f.get("/api/v1/traces", Some(token)).await.json()["traces"],
        json!([])
    );
    // The right token, the scheme in any case.
    let a = f.post(body.clone(), Some(token)).await;
    assert_eq!(
        (a.status, a.json()),
        (
            StatusCode::ACCEPTED,
            json!({"accepted": 6, "duplicates": 0})
        )
    );
    let req = Request::get(format!("/api/v1/traces/{BASE}"))
        .header(header::AUTHORIZATION, format!("bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(f.send(req).await.status, StatusCode::OK);
    // Health, metrics and the document need none; the token is in none of them.
    for path in ["/healthz", "/metrics", "/api/v1/openapi.json"] {
        let a = f.get(path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert!(!a.text().contains(token));
    }
    let metrics = f.get("/metrics", None).await;
    assert!(
        metrics
            .text()
            .contains("osprofiler_collector_rejected_total{reason=\"unauthorized\"} 12"),
        "{}",
        metrics.text()
    );
    assert!(!format!("{:?}", f.collector).contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_413_and_nothing_is_stored() {
    let limit = 1_500;
    let f = fixture(None, Some(limit)).await;
    let body = list(&trace(BASE));
    assert!(
        body.len() > limit && body.len() < 2 * limit,
        "{}",
        body.len()
    );
    // Refused on its Content-Length (tower-http), and while read (no length given: a stream).
    let req = Request::post("/api/v1/notifications")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body.clone()))
        .unwrap();
    let a = f.send(req).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.json(), json!({"error": "the body is too large"}));
    let chunks: Vec<Result<String, std::io::Error>> = body
        .as_bytes()
        .chunks(300)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let req = Request::post("/api/v1/notifications")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let a = f.send(req).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.json()["error"],
        format!("the body is larger than {limit} bytes")
    );
    assert_eq!(
        f.get(&format!("/api/v1/traces/{BASE}/notifications"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Under the limit, the same notifications go in.
    let a = f.post(list(&trace(BASE)[..3]), None).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert!(f
        .get("/metrics", None)
        .await
        .text()
        .contains("osprofiler_collector_rejected_total{reason=\"too_large\"} 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_body_gets_400_naming_what_and_where_and_nothing_is_stored() {
    let f = fixture(None, None).await;
    let t = trace(BASE);
    let bad_ts = t[3].replace("04:59:10.007000", "04:59:10.007000x");
    let cases: Vec<(String, Value)> = vec![
        (
            list(&[t[0].clone(), t[1].clone(), t[2].clone(), bad_ts]),
            json!("[3].timestamp"),
        ),
        (format!("[{}, 5]", t[0]), json!("[1]")),
        (t[0].replace(r#""name": "wsgi-start", "#, ""), json!("name")),
        (
            list(&[t[0].replace(r#""parent_id": "6f"#, r#""parent_id": 6, "x": "6f"#)]),
            json!("[0].parent_id"),
        ),
        (
            list(&[t[1]
                .replace(r#""info": {"#, r#""info": ["#)
                .replace("}, \"project\"", "], \"project\"")]),
            Value::Null,
        ),
        (
            list(&[t[0].replace(&format!(r#""base_id": "{BASE}""#), r#""base_id": """#)]),
            json!("[0].base_id"),
        ),
        (
            list(&[t[0].replace(r#""host": "h-api""#, r#""host": {"n": 1}"#)]),
            json!("[0].info.host"),
        ),
        ("[1, 2".to_owned(), Value::Null),
        ("5".to_owned(), Value::Null),
        ("".to_owned(), Value::Null),
        ("{\"name\": \"x\"".to_owned(), Value::Null),
    ];
    for (body, at) in cases {
        let a = f.post(body.clone(), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        let answer = a.json();
        assert!(answer["error"].is_string(), "{answer}");
        if !at.is_null() {
            assert_eq!(answer["at"], at, "{body}: {answer}");
            assert!(answer["error"]
                .as_str()
                .unwrap()
                .starts_with(at.as_str().unwrap()));
        }
    }
    let a = f
        .post(
            list(&[
                t[0].clone(),
                t[1].clone(),
                t[2].clone(),
                t[3].replace("2026-11-25T", "2026-13-25T"),
            ]),
            None,
        )
        .await;
    assert_eq!(a.json()["at"], "[3].timestamp");
    assert!(
        a.json()["error"].as_str().unwrap().contains("month"),
        "{}",
        a.text()
    );
    // The info that is not an object is named too.
    let a = f
        .post(
            t[1].replace(
                r#""info": {"function": {"name": "f"}, "host": "h-cmp"}"#,
                r#""info": "x""#,
            ),
            None,
        )
        .await;
    assert_eq!(
        a.json(),
        json!({"error": "info: expected an object, found a string", "at": "info"})
    );
    // Nothing of any of them: the valid notifications before the bad one are not stored.
    assert_eq!(
        f.get(&format!("/api/v1/traces/{BASE}/notifications"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(f.collector.metrics().stored(), 0);
    assert!(f
        .get("/metrics", None)
        .await
        .text()
        .contains("osprofiler_collector_rejected_total{reason=\"invalid\"} 13"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_are_listed_newest_first_with_filters() {
    let f = fixture(None, None).await;
    let other = "6f1b2c3d-0000-4000-8000-000000000002";
    let mut second = trace(other);
    for n in &mut second {
        *n = n
            .replace("04:59:", "05:59:")
            .replace("\"nova\"", "\"glance\"")
            .replace("\"E\"", "null");
    }
    f.post(list(&trace(BASE)), None).await;
    f.post(list(&second), None).await;
    let ids = |v: Value| -> Vec<String> {
        v["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["base_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let a = f.get("/api/v1/traces", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(ids(a.json()), [other, BASE]);
    assert_eq!(
        (a.json()["limit"].clone(), a.json()["offset"].clone()),
        (json!(50), json!(0))
    );
    let a = f.get("/api/v1/traces?limit=1&offset=1", None).await;
    assert_eq!(
        a.json()["traces"],
        json!([{"base_id": BASE, "timestamp": "2026-11-25T04:59:10.000000", "duration_ms": 12.0,
                "points": 3, "notifications": 6, "errors": 1, "services": ["api", "compute"],
                "projects": ["nova"], "hosts": ["h-api", "h-cmp"]}])
    );
    for (query, expect) in [
        ("error=true", vec![BASE]),
        ("error=false", vec![other]),
        ("project=glance", vec![other]),
        ("service=compute&host=h-cmp", vec![other, BASE]),
        ("host=nowhere", vec![]),
        ("since=2026-11-25T05:00:00Z", vec![other]),
        ("until=2026-11-25T05:00:00", vec![BASE]),
        ("min_duration_ms=12", vec![other, BASE]),
        ("min_duration_ms=12.5", vec![]),
        ("q=SELECT%201", vec![other, BASE]),
        ("q=%2F%C3%A9", vec![other, BASE]),
        ("q=wsgi&project=nova", vec![BASE]),
    ] {
        let a = f.get(&format!("/api/v1/traces?{query}"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.text());
        assert_eq!(ids(a.json()), expect, "{query}");
    }
    for query in [
        "limit=0",
        "limit=x",
        "offset=-3",
        "error=maybe",
        "since=today",
        "colour=red",
        "q=a&q=b",
    ] {
        let a = f.get(&format!("/api/v1/traces?{query}"), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(a.json()["error"].is_string());
    }
}

/// Python OSprofiler's report of `notifications` as its CLI prints it (`--json`), from
/// the testkit's `python/report.py`; `None` when the interop virtualenv is missing (skipped;
/// a failure in CI).
fn python_report_text(notifications: &[String]) -> Option<String> {
    let python = osprofiler_testkit::python()?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("n.json");
    std::fs::write(&file, list(notifications)).unwrap();
    let script = osprofiler_testkit::python_report_script();
    Some(osprofiler_testkit::run(
        &python,
        &[script.to_str().unwrap(), file.to_str().unwrap()],
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_is_pythons_report_byte_for_byte() {
    let f = fixture(None, None).await;
    let t = trace(BASE);
    // Arrival order decides: the db point arrives before the rpc stop, in two bodies.
    let arrival = vec![t[0].clone(), t[1].clone(), t[3].clone(), t[4].clone()];
    f.post(list(&arrival), None).await;
    let rest = vec![t[2].clone(), t[5].clone()];
    f.post(list(&rest), None).await;
    let order = [arrival, rest].concat();
    let a = f.get(&format!("/api/v1/traces/{BASE}"), None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    // What `osprofiler trace show --json` writes: our report builder, Python's indented text.
    let raws: Vec<Box<RawValue>> = order
        .iter()
        .map(|n| RawValue::from_string(n.clone()).unwrap())
        .collect();
    let mut expected = pyjson::to_string_pretty(&osprofiler_report::build_report(raws), 2).unwrap();
    expected.push('\n');
    assert_eq!(a.text(), expected);
    let report = a.json();
    assert_eq!(report["children"][0]["info"]["host"], "h-api");
    assert_eq!(
        report["children"][0]["children"][0]["info"]["host"],
        "h-cmp"
    );
    assert_eq!(
        report["children"][0]["children"][0]["info"]["exception"],
        "E"
    );
    assert_eq!(
        report["children"][0]["info"]["meta.raw_payload.wsgi-start"],
        serde_json::from_str::<Value>(&t[0]).unwrap()
    );
    // And what Python's CLI prints for these notifications, byte for byte.
    if let Some(python) = python_report_text(&order) {
        assert_eq!(a.text(), python);
    }
    // An unknown trace: 404 with Python's message.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for path in [
        format!("/api/v1/traces/{unknown}"),
        format!("/api/v1/traces/{unknown}/notifications"),
    ] {
        let a = f.get(&path, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(
            a.json(),
            json!({"error": format!("Trace with UUID {unknown} not found. Please check the HMAC key used in the command.")})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_follow_the_store() {
    let f = fixture(None, None).await;
    let a = f.get("/healthz", None).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::OK, json!({"status": "ok", "store": "ok"}))
    );
    f.post(list(&trace(BASE)), None).await;
    f.post(list(&trace(BASE)[..2]), None).await;
    let a = f.get("/metrics", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    for line in [
        "osprofiler_collector_received_total{source=\"http\"} 8",
        "osprofiler_collector_stored_total 6",
        "osprofiler_collector_duplicates_total 2",
        "osprofiler_collector_store_errors_total 0",
        "osprofiler_collector_store_batch_seconds_count 2",
    ] {
        assert!(
            a.text().lines().any(|l| l == line),
            "{line} not in\n{}",
            a.text()
        );
    }
    // The store goes away: health says so, a body cannot be stored (503), and it is counted.
    f.collector.store().close().await;
    let a = f.get("/healthz", None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["status"], "unavailable");
    let a = f
        .post(list(&trace("6f1b2c3d-0000-4000-8000-00000000000f")), None)
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("the store failed"));
    for path in [
        "/api/v1/traces".to_owned(),
        format!("/api/v1/traces/{BASE}"),
        format!("/api/v1/traces/{BASE}/notifications"),
    ] {
        assert_eq!(
            f.get(&path, None).await.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}"
        );
    }
    let a = f.get("/metrics", None).await;
    assert!(
        a.text()
            .lines()
            .any(|l| l == "osprofiler_collector_store_errors_total 1"),
        "{}",
        a.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_the_routes_agree() {
    let f = fixture(None, None).await;
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    // The router serves each of them (not the fallback, not 405), and no other method there.
    let concrete = |p: &str| p.replace("{base_id}", BASE);
    for (method, path) in &routed {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let req = Request::builder()
            .method(method.clone())
            .uri(concrete(path))
            .body(Body::from("[]"))
            .unwrap();
        let a = f.send(req).await;
        assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(!a.text().contains("no such route"), "{method} {path}");
        for other in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            if routed.contains(&(other.to_string(), path.clone())) {
                continue;
            }
            let req = Request::builder()
                .method(other.clone())
                .uri(concrete(path))
                .body(Body::empty())
                .unwrap();
            assert_eq!(
                f.send(req).await.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{other} {path}"
            );
        }
    }
    // Every documented response status is one the code can answer: checked in the tests above.
    let a = f.get("/api/v1/nothing", None).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::NOT_FOUND, json!({"error": "no such route"}))
    );
    let a = f.get("/api/v1/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), OPENAPI);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_traces_in_the_background() {
    let f = fixture(None, None).await;
    // A trace of 2020 and one of now.
    let mut now = String::new();
    osprofiler_core::timestamp::Timestamp::now().write_to(&mut now);
    let fresh_base = "6f1b2c3d-0000-4000-8000-0000000000ff";
    let fresh = note(
        fresh_base,
        "f-1",
        fresh_base,
        "wsgi-start",
        0,
        json!({"host": "h"}),
    )
    .replace("2026-11-25T04:59:10.000000", &now);
    assert!(fresh.contains(&now));
    let old: Vec<String> = trace(BASE)
        .iter()
        .map(|n| n.replace("2026-11-25T", "2020-01-01T"))
        .collect();
    let a = f.post(list(&[old, vec![fresh]].concat()), None).await;
    assert_eq!(a.json()["accepted"], 7);
    // Keep an hour: the 2020 trace goes at the first round.
    let hour = std::time::Duration::from_secs(3600);
    let task = tokio::spawn(
        f.collector
            .clone()
            .retain(hour, std::time::Duration::from_millis(50)),
    );
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        ids = f.get("/api/v1/traces", None).await.json()["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["base_id"].as_str().unwrap().to_owned())
            .collect();
        if ids.len() == 1 {
            break;
        }
    }
    task.abort();
    assert_eq!(ids, [fresh_base]);
    let gone = f
        .get(&format!("/api/v1/traces/{BASE}/notifications"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Keeping nothing, the trace of now goes too.
    let deleted = f
        .collector
        .delete_older_than(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        f.get("/api/v1/traces", None).await.json()["traces"],
        json!([])
    );
}

#[tokio::test]
async fn the_ui_is_served_without_a_token_and_revalidated_by_etag() {
    let f = fixture(Some("s3cret"), None).await;
    // The pages hold no data: no token needed; the API they call still wants it.
    for (path, shell) in [
        ("/", "list.html"),
        ("/traces/some-id", "trace.html"),
        ("/compare/a/b", "compare.html"),
    ] {
        let page = f.get(path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.body, osprofiler_ui::page(shell).unwrap().as_bytes());
        assert!(page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    assert_eq!(
        f.get("/api/v1/traces", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Every file the pages link is served, with its type and ETag; a revalidation with that
    // ETag gets an empty 304.
    for asset in osprofiler_ui::assets() {
        let path = format!("/ui/{}", asset.name);
        let got = f.get(&path, None).await;
        assert_eq!(got.status, StatusCode::OK, "{path}");
        assert_eq!(got.body, asset.bytes, "{path}");
        assert_eq!(got.headers[header::CONTENT_TYPE], asset.content_type);
        assert_eq!(got.headers[header::ETAG], asset.etag);
        let again = f
            .send(
                Request::get(&path)
                    .header(header::IF_NONE_MATCH, asset.etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
    }
    let missing = f.get("/ui/nope.js", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "no such UI file");
}
