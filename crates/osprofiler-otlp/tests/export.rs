//! A real trace through the profiler, the `BatchNotifier` and the `OtlpDriver`, received by an
//! OTLP/HTTP receiver in the test and decoded with prost: span names, kinds, ids, parents,
//! attributes, events, `service.name` and times are Python's mapping of the notifications.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use osprofiler::driver::GetReport;
use osprofiler::driver::{get_driver, Driver, DriverError, DriverOptions};
use osprofiler::notification::Notification;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::timestamp::Timestamp;
use osprofiler_otlp::OtlpDriver;
use serde_json::json;
use support::trace::Recording;
use support::{attr_map, attrs_json, full128, low64, Mode, Receiver};

fn options(cs: &str) -> DriverOptions {
    let mut o = DriverOptions::new(cs);
    o.project = Some("nova".into());
    o.service = Some("api".into());
    o.config.otlp_service_name_prefix = Some("os".into());
    o
}

fn batch_config() -> BatchConfig {
    BatchConfig {
        project: Some("nova".into()),
        service: Some("api".into()),
        host: "node-1".into(),
        ..BatchConfig::default()
    }
}

fn nanos(ts: &str) -> u64 {
    Timestamp::parse(ts).unwrap().as_micros() as u64 * 1000
}

#[test]
fn a_trace_becomes_pythons_spans() {
    let receiver = Receiver::start(Mode::Accept);
    let driver = Arc::new(OtlpDriver::new(&options(&receiver.connection_string())).unwrap());
    let recording = Arc::new(Recording::new(driver.clone()));
    let notifier = BatchNotifier::start(recording.clone(), batch_config());
    let base_id = support::trace::run(notifier.clone());
    assert!(notifier.flush(Duration::from_secs(10)));
    assert!(notifier.shutdown(Duration::from_secs(10)));
    assert_eq!(notifier.stats().failed, 0);

    let notifications = recording.notifications();
    let starts: Vec<&Notification> = notifications
        .iter()
        .filter(|n| n.name.ends_with("-start"))
        .collect();
    let stops: HashMap<&str, &Notification> = notifications
        .iter()
        .filter(|n| n.name.ends_with("-stop"))
        .map(|n| (n.trace_id.as_str(), n))
        .collect();
    assert_eq!(
        starts.len(),
        6,
        "wsgi, rpc, db (sql), http, db (error), driver"
    );

    let spans = receiver.wait_for_spans(starts.len(), Duration::from_secs(5));
    assert_eq!(spans.len(), starts.len());
    let stats = driver.stats();
    assert_eq!(stats.exported, 6);
    assert_eq!((stats.failed, stats.unmatched_stops, stats.open), (0, 0, 0));

    // One request per notifier batch that ended a span, posted as Python posts it.
    let requests = receiver.requests();
    let batches_with_stops = recording
        .batches()
        .iter()
        .filter(|b| b.iter().any(|n| n.name.ends_with("-stop")))
        .count();
    assert_eq!(requests.len(), batches_with_stops);
    for r in &requests {
        assert_eq!(r.path, "/v1/traces");
        assert_eq!(r.content_type, "application/x-protobuf");
    }

    let by_span_id: HashMap<Vec<u8>, _> =
        spans.iter().map(|s| (s.span.span_id.clone(), s)).collect();
    let mut names = Vec::new();
    for start in &starts {
        let got = by_span_id
            .get(low64(&start.trace_id).as_slice())
            .unwrap_or_else(|| panic!("no span for {}", start.name));
        let span = &got.span;
        let stop = stops[start.trace_id.as_str()];
        assert_eq!(got.service_name, "os-nova-api");
        assert_eq!(got.scope, "osprofiler.drivers.otlp");
        assert_eq!(span.trace_id, full128(&base_id));
        if start.parent_id == base_id {
            assert!(span.parent_span_id.is_empty(), "{} is a root", span.name);
        } else {
            assert_eq!(span.parent_span_id, low64(&start.parent_id));
        }
        assert_eq!(span.start_time_unix_nano, nanos(&start.timestamp));
        assert_eq!(span.end_time_unix_nano, nanos(&stop.timestamp));
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert_eq!(span.flags, 0x100);
        names.push((span.name.clone(), span.kind));
    }
    assert_eq!(
        names,
        [
            (
                "WSGI_POST_/v2.1/servers".to_owned(),
                SpanKind::Server as i32
            ),
            ("rpc".to_owned(), SpanKind::Internal as i32),
            ("SQL_SELECT".to_owned(), SpanKind::Client as i32),
            ("REQUESTS_PUT_neutron".to_owned(), SpanKind::Client as i32),
            ("db".to_owned(), SpanKind::Client as i32),
            // Python's rstrip("-start") takes the `r` of `driver` too.
            ("drive".to_owned(), SpanKind::Internal as i32),
        ]
    );

    let span = |name: &str| &spans.iter().find(|s| s.span.name == name).unwrap().span;
    // The tree: wsgi is the root, rpc its child, the SQL, HTTP and failing DB points the
    // rpc's children, the driver point the wsgi's.
    let (wsgi, rpc) = (span("WSGI_POST_/v2.1/servers"), span("rpc"));
    assert!(wsgi.parent_span_id.is_empty());
    assert_eq!(rpc.parent_span_id, wsgi.span_id);
    for child in ["SQL_SELECT", "REQUESTS_PUT_neutron", "db"] {
        assert_eq!(span(child).parent_span_id, rpc.span_id, "{child}");
        assert!(span(child).start_time_unix_nano >= rpc.start_time_unix_nano);
        assert!(span(child).end_time_unix_nano <= rpc.end_time_unix_nano);
    }
    assert_eq!(span("drive").parent_span_id, wsgi.span_id);
    assert!(wsgi.end_time_unix_nano - wsgi.start_time_unix_nano >= 2_000_000);

    assert_eq!(
        attrs_json(&wsgi.attributes),
        [
            ("http.path".into(), json!("/v2.1/servers")),
            ("http.query".into(), json!("limit=1")),
            ("http.method".into(), json!("POST")),
            ("http.scheme".into(), json!("http")),
        ]
    );
    let sql = attr_map(&span("SQL_SELECT").attributes);
    assert_eq!(
        sql["db.statement"],
        json!("SELECT instances.id FROM instances WHERE instances.uuid = %(uuid)s")
    );
    assert_eq!(
        sql["db.params"],
        json!(r#"{"uuid": "e0b1", "limit": 1, "deleted": false}"#)
    );
    let http = attr_map(&span("REQUESTS_PUT_neutron").attributes);
    assert_eq!(http["http.hostname"], json!("neutron"));
    assert_eq!(http["http.port"], json!(9696));
    assert_eq!(http["status_code"], json!(200));
    // `#[trace(hide_args)]`: the name only.
    let rpc_attrs = attr_map(&rpc.attributes);
    assert!(rpc_attrs["name"]
        .as_str()
        .unwrap()
        .ends_with("build_and_run_instance"));
    assert!(rpc.events.is_empty());
    let driver_attrs = attr_map(&span("drive").attributes);
    assert_eq!(driver_attrs["result"], json!("ok"));

    // The error: attribute `error`, event `log` with the error's kind and message, at the
    // stop's time.
    let db = span("db");
    let db_attrs = attr_map(&db.attributes);
    assert_eq!(db_attrs["error"], json!(true));
    assert!(db_attrs["args"].as_str().unwrap().contains('7'));
    assert_eq!(db.events.len(), 1);
    let event = &db.events[0];
    assert_eq!(event.name, "log");
    assert_eq!(event.time_unix_nano, db.end_time_unix_nano);
    let event_attrs = attr_map(&event.attributes);
    assert!(event_attrs["error.kind"]
        .as_str()
        .unwrap()
        .ends_with("NotFound"));
    assert_eq!(event_attrs["message"], json!("instance 7 not found"));
}

#[test]
fn a_start_waits_for_its_stop_across_batches() {
    let receiver = Receiver::start(Mode::Accept);
    let driver = Arc::new(OtlpDriver::new(&options(&receiver.connection_string())).unwrap());
    let notifier = BatchNotifier::start(driver.clone(), batch_config());
    let mut profiler = osprofiler::Profiler::with_notifier("k", None, None, notifier.clone());
    profiler.start("rpc", None);
    assert!(notifier.flush(Duration::from_secs(10)));
    // The start is in, alone: nothing to export yet.
    assert_eq!(driver.stats().open, 1);
    assert!(receiver.requests().is_empty());
    profiler.stop(None);
    assert!(notifier.flush(Duration::from_secs(10)));
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span.name, "rpc");
    assert_eq!(driver.stats().open, 0);
    // A stop without a start is dropped and counted; nothing is sent for it.
    profiler.start("x", None);
    let mut other = osprofiler::Profiler::with_notifier("k", None, None, notifier.clone());
    other.start("lost", None);
    drop(other);
    profiler.stop(None);
    assert!(notifier.flush(Duration::from_secs(10)));
    let stats = driver.stats();
    assert_eq!(stats.exported, 2);
    assert_eq!(
        stats.open, 1,
        "the start of `lost` waits for a stop that never comes"
    );
    assert_eq!(stats.unmatched_stops, 0);
}

#[test]
fn stops_without_starts_are_counted() {
    let receiver = Receiver::start(Mode::Accept);
    let driver = OtlpDriver::new(&options(&receiver.connection_string())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stop: Notification = serde_json::from_value(json!({
        "name": "db-stop", "base_id": "58989008-6a17-49af-9b56-9643d037cdff",
        "trace_id": "457c1bc8-fd6f-4c83-ba5a-1da9eb64831e",
        "parent_id": "58989008-6a17-49af-9b56-9643d037cdff",
        "timestamp": "2026-11-25T04:59:10.042928", "info": {"host": "h"},
        "project": null, "service": null,
    }))
    .unwrap();
    rt.block_on(driver.notify(&[stop.clone(), stop])).unwrap();
    assert_eq!(driver.stats().unmatched_stops, 2);
    assert!(receiver.requests().is_empty());
}

#[test]
fn the_registry_makes_it_from_the_connection_string() {
    osprofiler_otlp::register();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let driver = rt
        .block_on(get_driver(DriverOptions::new("otlp://127.0.0.1:4318")))
        .unwrap();
    assert_eq!(driver.name(), "otlp");
    let err = rt
        .block_on(get_driver(DriverOptions::new("otlp://admin:s3cret@")))
        .unwrap_err();
    assert!(matches!(err, DriverError::BadConnectionString { .. }));
    let text = err.to_string();
    assert!(text.contains("otlp://admin:***@"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    // Reading is Python's otlp driver's: not there.
    let err = rt.block_on(driver.get_report("x")).unwrap_err();
    assert!(matches!(err, DriverError::Unsupported { .. }), "{err}");
}

#[test]
fn a_path_in_the_connection_string_is_kept() {
    let receiver = Receiver::start(Mode::Accept);
    let cs = format!("{}/otel", receiver.connection_string());
    let driver = Arc::new(OtlpDriver::new(&options(&cs)).unwrap());
    let notifier = BatchNotifier::start(driver, batch_config());
    let mut profiler = osprofiler::Profiler::with_notifier("k", None, None, notifier.clone());
    profiler.start("api", None);
    profiler.stop(None);
    assert!(notifier.shutdown(Duration::from_secs(10)));
    let spans = receiver.wait_for_spans(1, Duration::from_secs(5));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span.kind, SpanKind::Client as i32);
    assert_eq!(receiver.requests()[0].path, "/otel/v1/traces");
}
