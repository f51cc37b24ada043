//! The same signed requests through Python OSprofiler 4.4.0's `WsgiMiddleware` (run as a
//! subprocess, `tests/python/wsgi_points.py`) and through our layer: the notifications must
//! agree (names, ids, and info: the `request` dict, path normalisation included).

use std::sync::Arc;

use http::{Request, Response};
use osprofiler::notifier::CollectingNotifier;
use osprofiler::signing::pack_ids;
use osprofiler_tower::ServerTraceLayer;
use serde_json::{json, Value};
use tower::{service_fn, ServiceExt};
use tower_layer::Layer;

/// Requests whose path or query take webob's normalisation through its corners.
const TARGETS: &[(&str, &str)] = &[
    ("GET", "/v2/servers/detail?limit=10&marker=abc"),
    ("POST", "/v2/servers"),
    ("DELETE", "/a%20b?x=%20y"),
    ("GET", "/a%41b"),
    ("PUT", "/caf%C3%A9/%c3%a9?q=%C3%A9"),
    ("GET", "/x;y=1/z?"),
    ("GET", "/%2Fslash"),
    ("GET", "/a+b?c+d"),
    ("PATCH", "/~user/!$&'()*+,;=:@"),
    ("GET", "/a%zz?%zz"),
    ("HEAD", "/"),
];

fn python_points(cases: &Value) -> Option<Value> {
    let python = osprofiler_testkit::python()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/wsgi_points.py");
    Some(osprofiler_testkit::run_python_json(
        &python,
        std::path::Path::new(script),
        cases,
    ))
}

#[tokio::test]
async fn our_wsgi_points_equal_pythons() {
    let cases: Vec<Value> = TARGETS
        .iter()
        .enumerate()
        .map(|(i, (method, target))| {
            json!({
                "method": method,
                "target": target,
                "base_id": format!("0b21fbac-7825-4d68-8792-3986bb96{i:04}"),
                "parent_id": format!("c324c985-9b81-4e76-aec9-d28663ca{i:04}"),
                "key": if i % 2 == 0 { "k1" } else { "k2" },
            })
        })
        .collect();
    let Some(python) = python_points(&Value::Array(cases.clone())) else {
        return;
    };

    let points = Arc::new(CollectingNotifier::new());
    let layer = ServerTraceLayer::new(["k1", "k2"])
        .enabled(true)
        .notifier(points.clone());
    let inner = service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(()))
    });
    for (i, case) in cases.iter().enumerate() {
        let (info, hmac) = pack_ids(
            case["base_id"].as_str().unwrap(),
            case["parent_id"].as_str().unwrap(),
            case["key"].as_str().unwrap(),
        );
        let req = Request::builder()
            .method(case["method"].as_str().unwrap())
            .uri(case["target"].as_str().unwrap())
            .header("X-Trace-Info", info)
            .header("X-Trace-HMAC", hmac)
            .body(())
            .unwrap();
        layer.layer(inner).oneshot(req).await.unwrap();
        let ours: Vec<Value> = points
            .take()
            .into_iter()
            .map(|p| {
                let n = p.into_notification("h", None, None);
                let mut info = n.info;
                info.remove("host");
                json!({"name": n.name, "base_id": n.base_id, "parent_id": n.parent_id, "info": info})
            })
            .collect();
        assert_eq!(
            Value::Array(ours),
            python[i],
            "request {i}: {} {}",
            case["method"],
            case["target"]
        );
    }
}
