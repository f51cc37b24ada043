//! Every `unpack` case of the reference implementation's signing cases
//! (`crates/osprofiler/tests/conformance/signing.json`), sent as the metadata of a real gRPC
//! call to a server behind `ServerTraceLayer` holding the case's keys.
//!
//! A case is traced exactly when Python's `signed_unpack` accepts it *and* the payload passes
//! the server middleware's extra rule (`docs/wire.md` 4.5: exactly `base_id`, optionally
//! `parent_id`); every other case is served unchanged and unprofiled.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::PointKind;
use osprofiler_tonic::{ServerTraceConfig, ServerTraceLayer, TRACE_HMAC, TRACE_INFO};
use serde_json::Value;
use support::{call, channel, serve, EchoService, Mode, SayRequest};
use tonic::metadata::{MetadataKey, MetadataValue};

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../osprofiler/tests/conformance/signing.json"
    );
    let text = std::fs::read_to_string(path).expect("the conformance cases are in the repository");
    let all: Value = serde_json::from_str(&text).unwrap();
    all["unpack"].as_array().unwrap().clone()
}

/// What the server middleware accepts of Python's result.
fn server_accepts(expect: &Value) -> Option<&serde_json::Map<String, Value>> {
    let object = expect.as_object()?;
    let only_ids = object
        .keys()
        .all(|k| matches!(k.as_str(), "base_id" | "parent_id" | "hmac_key"));
    (only_ids && object.contains_key("base_id")).then_some(object)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unpack_case_over_grpc() {
    let cases = cases();
    assert!(cases.len() >= 40, "the file holds the reference's cases");
    let mut servers: HashMap<Vec<String>, (tonic::transport::Channel, Arc<CollectingNotifier>)> =
        HashMap::new();
    let (mut traced, mut untraced) = (0, 0);
    for case in &cases {
        let why = case["why"].as_str().unwrap();
        let keys: Vec<String> = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        if !servers.contains_key(&keys) {
            let points = Arc::new(CollectingNotifier::new());
            let config = ServerTraceConfig::new(keys.clone())
                .enabled(true)
                .notifier(points.clone());
            let server =
                tonic::transport::Server::builder().layer(ServerTraceLayer::with_config(config));
            let addr = serve(server, EchoService(Mode::Layer)).await;
            servers.insert(keys.clone(), (channel(addr).await, points));
        }
        let (channel, points) = &servers[&keys];

        let mut request = tonic::Request::new(SayRequest {
            message: why.to_owned(),
        });
        for (name, field) in [(TRACE_INFO, "x_trace_info"), (TRACE_HMAC, "x_trace_hmac")] {
            let value = case[field].as_str().unwrap();
            // HTTP/2 forbids white space at the ends of a field value (RFC 9113 8.2.1), so
            // a client cannot send the "stripped" case as it is; send what a gRPC client can.
            let value: MetadataValue<_> = value.trim().parse().unwrap();
            if !value.is_empty() {
                let name = MetadataKey::from_bytes(name.as_str().as_bytes()).unwrap();
                request.metadata_mut().insert(name, value);
            }
        }
        points.take();
        let reply = call(channel.clone(), request).await.expect(why);
        assert_eq!(reply.message, why, "served unchanged");

        match server_accepts(&case["expect"]) {
            Some(expect) => {
                traced += 1;
                assert!(reply.profiled, "{why}: {case}");
                assert_eq!(reply.base_id, expect["base_id"].as_str().unwrap(), "{why}");
                let start = points
                    .points()
                    .into_iter()
                    .find(|p| p.kind == PointKind::Start && p.name.as_str() == "rpc")
                    .unwrap();
                let parent = expect.get("parent_id").unwrap_or(&expect["base_id"]);
                assert_eq!(start.parent_id.to_text(), parent.as_str().unwrap(), "{why}");
                assert_eq!(reply.point_id, start.trace_id.to_text());
            }
            None => {
                untraced += 1;
                assert!(!reply.profiled, "{why}: {case}");
                assert!(points.points().is_empty(), "{why}");
            }
        }
    }
    assert!(traced > 0 && untraced > 0);
    eprintln!("{traced} cases traced, {untraced} served unprofiled");
}
