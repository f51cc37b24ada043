//! The same notifications through Python OSprofiler's otlp driver (the real 4.4.0, with the
//! OpenTelemetry SDK and its OTLP/HTTP exporter) and through ours, each to a receiver in the
//! test: the two exports are the same span by span, but for the times (Python stamps spans
//! with its own clock when its driver runs).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::DriverOptions;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler_otlp::OtlpDriver;
use serde_json::{json, Value};
use support::trace::Recording;
use support::{attrs_json, Mode, ReceivedSpan, Receiver};

/// Everything of a span but its times, as JSON, keyed by span id.
fn comparable(spans: &[ReceivedSpan]) -> BTreeMap<String, Value> {
    spans
        .iter()
        .map(|s| {
            let span = &s.span;
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let events: Vec<Value> = span
                .events
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name,
                        "attributes": attrs_json(&e.attributes),
                        "dropped_attributes_count": e.dropped_attributes_count,
                    })
                })
                .collect();
            let value = json!({
                "service.name": s.service_name,
                "scope": s.scope,
                "trace_id": hex(&span.trace_id),
                "parent_span_id": hex(&span.parent_span_id),
                "name": span.name,
                "kind": span.kind,
                "flags": span.flags,
                "trace_state": span.trace_state,
                "attributes": attrs_json(&span.attributes),
                "dropped_attributes_count": span.dropped_attributes_count,
                "events": events,
                "dropped_events_count": span.dropped_events_count,
                "links": span.links.len(),
                "status": span.status.as_ref().map(|st| json!([st.code, st.message])),
            });
            (hex(&span.span_id), value)
        })
        .collect()
}

/// Runs `python script args...`, killed after `timeout`; panics with its stderr on failure.
fn run_python(python: &Path, script: &Path, args: &[&str], timeout: Duration) {
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start Python");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(
                status.success(),
                "Python's otlp driver failed ({status}):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "Python's otlp driver did not finish within {timeout:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn python_and_rust_export_the_same_spans() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let ours = Receiver::start(Mode::Accept);
    let theirs = Receiver::start(Mode::Accept);

    let mut options = DriverOptions::new(ours.connection_string());
    options.project = Some("nova".into());
    options.service = Some("api".into());
    options.config.otlp_service_name_prefix = Some("os".into());
    let driver = Arc::new(OtlpDriver::new(&options).unwrap());
    let recording = Arc::new(Recording::new(driver));
    let notifier = BatchNotifier::start(
        recording.clone(),
        BatchConfig {
            project: Some("nova".into()),
            service: Some("api".into()),
            ..BatchConfig::default()
        },
    );
    support::trace::run(notifier.clone());
    assert!(notifier.shutdown(Duration::from_secs(10)));
    let notifications = recording.notifications();
    let starts = notifications
        .iter()
        .filter(|n| n.name.ends_with("start"))
        .count();

    let file = std::env::temp_dir().join(format!(
        "{}.json",
        osprofiler_testkit::unique_name("osprofiler-otlp-interop")
    ));
    std::fs::write(&file, serde_json::to_vec(&notifications).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otlp_send.py");
    run_python(
        &python,
        &script,
        &[
            &theirs.connection_string(),
            "os",
            "nova",
            "api",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_file(&file);

    let rust_spans = ours.wait_for_spans(starts, Duration::from_secs(5));
    let python_spans = theirs.wait_for_spans(starts, Duration::from_secs(5));
    assert_eq!(rust_spans.len(), starts);
    assert_eq!(python_spans.len(), starts);
    // Python's exporter posts to the same path with the same content type.
    for r in theirs.requests() {
        assert_eq!(r.path, "/v1/traces");
        assert_eq!(r.content_type, "application/x-protobuf");
    }
    // The resources are the same, whole (not only `service.name`).
    let resource = |r: &Receiver| {
        r.requests()[0].request.resource_spans[0]
            .resource
            .as_ref()
            .map(|res| attrs_json(&res.attributes))
    };
    assert_eq!(resource(&ours), resource(&theirs));

    let rust = comparable(&rust_spans);
    let python = comparable(&python_spans);
    assert_eq!(
        rust.keys().collect::<Vec<_>>(),
        python.keys().collect::<Vec<_>>(),
        "the same span ids"
    );
    for (id, theirs) in &python {
        assert_eq!(
            &rust[id], theirs,
            "span {id}: ours (left) differs from Python's (right)"
        );
    }
    // Not a vacuous comparison: names, a parent and an error event are in there.
    let names: Vec<&str> = python.values().filter_map(|v| v["name"].as_str()).collect();
    assert!(names.contains(&"WSGI_POST_/v2.1/servers"), "{names:?}");
    assert!(names.contains(&"SQL_SELECT"), "{names:?}");
    assert!(python
        .values()
        .any(|v| v["events"].as_array().is_some_and(|e| !e.is_empty())));
}

/// A start and its stop, with ids made from `n`.
fn pair(n: u8, parent: u8, name: &str, start_info: Value, stop_info: Value) -> [Value; 2] {
    let id = |i: u8| {
        if i == 0 {
            BASE.to_owned()
        } else {
            format!("1b4e28ba-2fa1-41d2-883f-0016d3cca4{i:02x}")
        }
    };
    let note = |suffix: &str, info: &Value, micros: u32| {
        let mut info = info.clone();
        info["host"] = json!("node-1");
        json!({
            "name": format!("{name}-{suffix}"), "base_id": BASE, "trace_id": id(n),
            "parent_id": id(parent), "timestamp": format!("2026-11-25T04:59:00.{micros:06}"),
            "info": info, "project": "nova", "service": "api",
        })
    };
    [
        note("start", &start_info, u32::from(n) * 10),
        note("stop", &stop_info, u32::from(n) * 10 + 5),
    ]
}

const BASE: &str = "9f6e0a8c-1d2b-4c3a-8e7f-5a4b3c2d1e0f";

#[test]
fn python_and_rust_agree_on_odd_values() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    // Sequential points (Python pairs a stop with the last open start), with values of every
    // JSON type, names that Python's rstrip eats, and fields Python reads as None.
    let mut notifications: Vec<Value> = Vec::new();
    let points = [
        pair(
            1,
            0,
            "stats",
            json!({"function": {"name": "m.stats", "args": [1, 2.5, null, "é", [true]],
                                "kwargs": {"a": {"b": [false, 0]}, "n": 1.0}}}),
            json!({"function": {"result": [0]}}),
        ),
        pair(
            2,
            0,
            "compute_api",
            json!({"db": {"statement": "sélect\tx from y", "params": {"q": "ü", "l": [1, null]}}}),
            json!({"db": {"result": 0}, "etype": "DBError", "message": null}),
        ),
        pair(
            3,
            0,
            "wsgi",
            json!({"request": {"path": "/x", "query": null, "method": null, "scheme": "https"}}),
            json!({"etype": "HTTPNotFound", "message": "no /x"}),
        ),
        pair(
            4,
            0,
            "rpc",
            json!({"function": {"name": "big", "args": 18446744073709551615u64, "kwargs": -3}}),
            json!({"function": {"result": {"ok": true}}, "requests": {"status_code": 503}}),
        ),
        pair(
            5,
            0,
            "https",
            json!({"requests": {"method": "GET", "query": "a=1", "path": "/", "hostname": "h",
                                "port": 443, "scheme": "https"}}),
            json!({"requests": {"status_code": 404}}),
        ),
    ];
    for [start, stop] in points {
        notifications.push(start);
        notifications.push(stop);
    }

    let ours = Receiver::start(Mode::Accept);
    let theirs = Receiver::start(Mode::Accept);
    // Both with credentials and a path in the connection string: Python sends them as
    // basic authentication, keeps the path and appends /v1/traces.
    let with_auth_and_path = |r: &Receiver| format!("otlp://user:p%40ss@{}/otel", r.addr);
    let mut options = DriverOptions::new(with_auth_and_path(&ours));
    options.project = Some("nova".into());
    options.service = Some("api".into());
    let driver = OtlpDriver::new(&options).unwrap();
    let batch: Vec<osprofiler::Notification> = notifications
        .iter()
        .map(|n| serde_json::from_value(n.clone()).unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    use osprofiler::driver::Driver;
    rt.block_on(driver.notify(&batch)).unwrap();

    let file = std::env::temp_dir().join(format!(
        "{}.json",
        osprofiler_testkit::unique_name("osprofiler-otlp-odd")
    ));
    std::fs::write(&file, serde_json::to_vec(&notifications).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otlp_send.py");
    run_python(
        &python,
        &script,
        &[
            &with_auth_and_path(&theirs),
            "",
            "nova",
            "api",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_file(&file);

    let rust = comparable(&ours.wait_for_spans(5, Duration::from_secs(5)));
    let python = comparable(&theirs.wait_for_spans(5, Duration::from_secs(5)));
    assert_eq!(python.len(), 5);
    for (id, theirs) in &python {
        assert_eq!(
            rust.get(id),
            Some(theirs),
            "span {id}: ours (left) differs from Python's (right)"
        );
    }
    assert_eq!(rust.len(), python.len());
    for r in ours.requests().iter().chain(theirs.requests().iter()) {
        assert_eq!(r.path, "/otel/v1/traces");
        assert_eq!(r.authorization.as_deref(), Some("Basic dXNlcjpwQHNz"));
    }
}
