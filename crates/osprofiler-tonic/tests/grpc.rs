//! Real gRPC calls over loopback: a tonic server behind `ServerTraceLayer` (or with
//! `ServerTraceInterceptor`) and a tonic client through `ClientTraceLayer` (or with
//! `ClientTraceInterceptor`).

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{profiler, PointKind, Profiler, ProfilerExt, Trace, TracePoint};
use osprofiler_tonic::{
    ClientTraceInterceptor, ClientTraceLayer, ServerTraceConfig, ServerTraceInterceptor,
    ServerTraceLayer,
};
use support::{call, channel, count, serve, EchoService, Mode, SayRequest, COUNT_STEP};
use tonic::service::interceptor::InterceptedService;
use tower_layer::Layer;

const KEY: &str = "SECRET_KEY";

fn request(message: &str) -> tonic::Request<SayRequest> {
    tonic::Request::new(SayRequest {
        message: message.to_owned(),
    })
}

/// A server whose profilers report to `points`, accepting `KEY` and an old key.
async fn layered_server(points: &Arc<CollectingNotifier>) -> std::net::SocketAddr {
    let config = ServerTraceConfig::new(["old-key", KEY])
        .enabled(true)
        .notifier(points.clone());
    let server = tonic::transport::Server::builder().layer(ServerTraceLayer::with_config(config));
    serve(server, EchoService(Mode::Layer)).await
}

/// name -> (start, stop) of each point, by trace id.
fn by_id(points: &[TracePoint]) -> HashMap<String, Vec<&TracePoint>> {
    let mut map: HashMap<String, Vec<&TracePoint>> = HashMap::new();
    for p in points {
        map.entry(p.trace_id.to_text()).or_default().push(p);
    }
    map
}

fn start_of<'a>(points: &'a [TracePoint], name: &str) -> Vec<&'a TracePoint> {
    points
        .iter()
        .filter(|p| p.name.as_str() == name && p.kind == PointKind::Start)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_call_continues_the_trace_on_the_server() {
    let points = Arc::new(CollectingNotifier::new());
    let addr = layered_server(&points).await;
    let client = ClientTraceLayer.layer(channel(addr).await);

    let caller = Profiler::with_notifier(KEY, None, None, points.clone());
    let base_id = caller.base_id().to_text();
    let reply = async {
        let _wsgi = Trace::start("wsgi", None);
        call(client.clone(), request("hello")).await
    }
    .with_profiler(Some(caller))
    .await
    .unwrap();

    assert!(reply.profiled && reply.had_trace_metadata);
    assert_eq!(reply.base_id, base_id);
    let points = points.points();
    // Every point of both sides is in the one trace, and each one is closed.
    assert!(points.iter().all(|p| p.base_id.to_text() == base_id));
    for (id, pair) in by_id(&points) {
        assert_eq!(pair.len(), 2, "point {id} has a start and a stop");
    }
    let wsgi = start_of(&points, "wsgi")[0];
    let rpcs = start_of(&points, "rpc");
    assert_eq!(rpcs.len(), 2, "a client and a server point");
    let (client_rpc, server_rpc) = (rpcs[0], rpcs[1]);
    let db = start_of(&points, "db")[0];
    // wsgi -> client rpc -> server rpc -> db
    assert_eq!(client_rpc.parent_id, wsgi.trace_id);
    assert_eq!(server_rpc.parent_id, client_rpc.trace_id);
    assert_eq!(db.parent_id, server_rpc.trace_id);
    // The handler ran inside the server's point.
    assert_eq!(reply.point_id, server_rpc.trace_id.to_text());
    for rpc in [client_rpc, server_rpc] {
        assert_eq!(
            serde_json::to_string(rpc.info.as_ref().unwrap()).unwrap(),
            r#"{"function":{"name":"/test.Echo/Say"}}"#
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_error_is_recorded_on_both_points() {
    let points = Arc::new(CollectingNotifier::new());
    let addr = layered_server(&points).await;
    let client = ClientTraceLayer.layer(channel(addr).await);
    let caller = Profiler::with_notifier(KEY, None, None, points.clone());
    let status = call(client, request("fail"))
        .with_profiler(Some(caller))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);

    let points = points.points();
    let stops: Vec<_> = points
        .iter()
        .filter(|p| p.name.as_str() == "rpc" && p.kind == PointKind::Stop)
        .collect();
    assert_eq!(stops.len(), 2);
    for stop in stops {
        let info = stop.info.as_ref().unwrap();
        assert_eq!(info["etype"], "tonic::status::Status");
        assert_eq!(info["message"], "NotFound: no such thing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_unsigned_or_unknown_key_metadata_runs_unprofiled() {
    let points = Arc::new(CollectingNotifier::new());
    let addr = layered_server(&points).await;
    let channel = channel(addr).await;

    let (info, hmac) = osprofiler::signing::pack_ids("b", "p", KEY);
    let (_, other_hmac) = osprofiler::signing::pack_ids("b", "p", "unknown-key");
    let (extra_info, extra_hmac) = osprofiler::signing::signed_pack(
        &serde_json::json!({"base_id": "b", "parent_id": "p", "x": 1}),
        KEY,
    )
    .unwrap();
    let cases: Vec<(&str, Option<&str>, Option<&str>)> = vec![
        ("none", None, None),
        ("unsigned", Some(&info), None),
        ("empty hmac", Some(&info), Some("")),
        ("bad hmac", Some(&info), Some("zz")),
        ("unknown key", Some(&info), Some(&other_hmac)),
        ("not base64", Some("%%%"), Some(&hmac)),
        ("extra field", Some(&extra_info), Some(&extra_hmac)),
    ];
    for (what, info, hmac) in cases {
        let mut req = request(what);
        if let Some(info) = info {
            req.metadata_mut()
                .insert("x-trace-info", info.parse().unwrap());
        }
        if let Some(hmac) = hmac {
            req.metadata_mut()
                .insert("x-trace-hmac", hmac.parse().unwrap());
        }
        let reply = call(channel.clone(), req).await.expect(what);
        assert_eq!(reply.message, what, "the call goes through unchanged");
        assert!(!reply.profiled, "{what}: ran unprofiled");
    }
    assert!(points.points().is_empty());

    // The same metadata, correctly signed, is traced: the cases above failed for their fault.
    let mut req = request("signed");
    req.metadata_mut()
        .insert("x-trace-info", info.parse().unwrap());
    req.metadata_mut()
        .insert("x-trace-hmac", hmac.parse().unwrap());
    let reply = call(channel, req).await.unwrap();
    assert!(reply.profiled);
    assert_eq!(reply.base_id, "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_profiler_no_metadata_no_point() {
    let points = Arc::new(CollectingNotifier::new());
    let addr = layered_server(&points).await;
    let channel = channel(addr).await;
    profiler::clean();

    let layered = call(ClientTraceLayer.layer(channel.clone()), request("x"))
        .await
        .unwrap();
    let intercepted = call(
        InterceptedService::new(channel, ClientTraceInterceptor),
        request("y"),
    )
    .await
    .unwrap();
    for reply in [layered, intercepted] {
        assert!(!reply.had_trace_metadata);
        assert!(!reply.profiled);
    }
    assert!(points.points().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interceptor_pair_carries_the_trace_to_the_handler() {
    let points = Arc::new(CollectingNotifier::new());
    let config = ServerTraceConfig::new([KEY])
        .enabled(true)
        .notifier(points.clone());
    let service = InterceptedService::new(
        EchoService(Mode::Interceptor),
        ServerTraceInterceptor::new(config),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let client = InterceptedService::new(channel(addr).await, ClientTraceInterceptor);

    let caller = Profiler::with_notifier(KEY, None, None, points.clone());
    let base_id = caller.base_id().to_text();
    let reply = async {
        let _api = Trace::start("rpc", None); // the caller's own point, as nova's rpcapi
        call(client, request("hello")).await
    }
    .with_profiler(Some(caller))
    .await
    .unwrap();
    assert!(reply.profiled);
    assert_eq!(reply.base_id, base_id);

    let points = points.points();
    let rpcs = start_of(&points, "rpc");
    assert_eq!(rpcs.len(), 2);
    assert_eq!(rpcs[1].parent_id, rpcs[0].trace_id);
    assert_eq!(start_of(&points, "db")[0].parent_id, rpcs[1].trace_id);
    assert!(points.iter().all(|p| p.base_id.to_text() == base_id));
}

/// The stop of point `id`.
fn stop_of<'a>(points: &'a [TracePoint], id: &osprofiler::TraceId) -> &'a TracePoint {
    points
        .iter()
        .find(|p| &p.trace_id == id && p.kind == PointKind::Stop)
        .unwrap_or_else(|| panic!("point {id} is stopped"))
}

/// A server-streaming call: both `rpc` points last until the stream's end (the server's
/// stream does its work while its body is read, under the call's profiler), and a status in
/// the trailers is recorded on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_call_ends_its_points_with_the_stream() {
    for (message, fails) in [("3", false), ("3!", true)] {
        let points = Arc::new(CollectingNotifier::new());
        let addr = layered_server(&points).await;
        let client = ClientTraceLayer.layer(channel(addr).await);
        let caller = Profiler::with_notifier(KEY, None, None, points.clone());
        let base_id = caller.base_id().to_text();

        let outcome = count(client, message).with_profiler(Some(caller)).await;
        match (&outcome, fails) {
            (Ok(replies), false) => {
                assert_eq!(replies.len(), 3);
                assert!(
                    replies.iter().all(|r| r.profiled),
                    "the stream ran under the call's profiler"
                );
            }
            (Err(status), true) => assert_eq!(status.code(), tonic::Code::Internal),
            _ => panic!("{message}: {outcome:?}"),
        }

        let points = points.points();
        assert!(points.iter().all(|p| p.base_id.to_text() == base_id));
        for (id, pair) in by_id(&points) {
            assert_eq!(
                pair.len(),
                2,
                "{message}: point {id} has a start and a stop"
            );
        }
        let rpcs = start_of(&points, "rpc");
        assert_eq!(rpcs.len(), 2, "{message}: a client and a server point");
        let (client_rpc, server_rpc) = (rpcs[0], rpcs[1]);
        assert_eq!(server_rpc.parent_id, client_rpc.trace_id);
        // The stream's work happened inside the server's point...
        let dbs = start_of(&points, "db");
        assert_eq!(dbs.len(), 3, "{message}");
        for db in &dbs {
            assert_eq!(db.parent_id, server_rpc.trace_id, "{message}");
        }
        let last_db = dbs
            .iter()
            .map(|db| stop_of(&points, &db.trace_id).timestamp)
            .max()
            .unwrap();
        let server_stop = stop_of(&points, &server_rpc.trace_id);
        let client_stop = stop_of(&points, &client_rpc.trace_id);
        // ... which ended with the stream, before the client read the stream's end.
        assert!(server_stop.timestamp >= last_db, "{message}");
        assert!(client_stop.timestamp >= server_stop.timestamp, "{message}");
        let lasted = server_stop.timestamp.as_micros() - server_rpc.timestamp.as_micros();
        assert!(
            lasted >= 3 * COUNT_STEP.as_micros() as i64,
            "{message}: the server's point lasted {lasted} us"
        );
        for stop in [server_stop, client_stop] {
            let info = stop.info.as_ref();
            let etype = info.and_then(|i| i.get("etype"));
            if fails {
                assert_eq!(etype.unwrap(), "tonic::status::Status", "{message}");
                let text = info.unwrap()["message"].as_str().unwrap();
                assert!(text.starts_with("Internal: boom"), "{message}: {text}");
            } else {
                assert!(etype.is_none(), "{message}: {info:?}");
            }
        }
    }
}
