//! The driver against the real Redis on loopback (`osprofiler_testkit::redis()`): every test
//! uses its own base ids and deletes its keys.

mod support;

use osprofiler::driver::GetReport;
use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::{get_driver, Driver, DriverError, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{error_info, Info, Profiler};
use osprofiler_redis::RedisDriver;
use serde_json::{json, Value};
use support::{notification, options, redis_cli, uuid, Cleanup};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn connect(rt: &tokio::runtime::Runtime, url: &str) -> Arc<RedisDriver> {
    Arc::new(rt.block_on(RedisDriver::connect(&options(url))).unwrap())
}

/// A trace as a service makes it: wsgi > (db, rpc that fails), sent through the pipeline.
fn make_trace(notifier: Arc<BatchNotifier>, base_id: &str) {
    let mut p = Profiler::with_notifier("SECRET_KEY", Some(base_id), None, notifier);
    let mut request = Info::new();
    request.insert(
        "request".into(),
        json!({"path": "/v2/servers", "query": "", "method": "GET", "scheme": "http"}),
    );
    p.start("wsgi", Some(request));
    p.start("db", None);
    p.stop(None);
    p.start("rpc", None);
    p.stop(Some(error_info("ValueError", "bo\u{e9}m".into())));
    p.stop(None);
}

fn names(node: &Value) -> Vec<String> {
    node["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["info"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_trace_written_through_the_notifier_reads_back() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    let rt = runtime();
    let driver = connect(&rt, &url);
    let notifier = BatchNotifier::start(driver.clone(), BatchConfig::default());
    let base_id = uuid();
    let _cleanup = Cleanup::new(&url, &[&base_id]);
    make_trace(notifier.clone(), &base_id);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 6);

    // Stored as Python stores it: newest first, Python's JSON text.
    let list = redis_cli(
        &url,
        &["LRANGE", &format!("osprofiler_opt:{base_id}"), "0", "-1"],
    );
    let list: Vec<&str> = list.lines().collect();
    assert_eq!(list.len(), 6);
    assert!(
        list[0].starts_with(&format!(
            "{{\"name\": \"wsgi-stop\", \"base_id\": \"{base_id}\", \"trace_id\": \""
        )),
        "{}",
        list[0]
    );
    assert!(list[1].contains(r#""etype": "ValueError", "message": "bo\u00e9m""#));
    assert!(list[5].starts_with("{\"name\": \"wsgi-start\""));
    // The driver's project and service, as Python's driver sets them.
    assert!(list[5].ends_with(r#""project": "osprofiler-rs", "service": "redis-test"}"#));

    let report = serde_json::to_value(rt.block_on(driver.get_report(&base_id)).unwrap()).unwrap();
    assert_eq!(names(&report), ["wsgi"]);
    let wsgi = &report["children"][0];
    // Siblings sort by their millisecond start; ties keep the store's order, which is
    // newest first (LRANGE of an LPUSHed list), as in Python's report.
    let children = wsgi["children"].as_array().unwrap();
    let same_ms = children[0]["info"]["started"] == children[1]["info"]["started"];
    let expected = if same_ms {
        ["rpc", "db"]
    } else {
        ["db", "rpc"]
    };
    assert_eq!(names(wsgi), expected);
    assert_eq!(
        wsgi["info"]["meta.raw_payload.wsgi-start"]["info"]["request"]["path"],
        "/v2/servers"
    );
    let rpc = children
        .iter()
        .find(|c| c["info"]["name"] == "rpc")
        .unwrap();
    assert_eq!(rpc["info"]["exception"], "ValueError");
    assert_eq!(rpc["parent_id"], wsgi["trace_id"]);
    assert_eq!(wsgi["parent_id"], base_id.as_str());
    assert_eq!(report["stats"]["rpc"]["count"], 1);
    assert_eq!(report["info"]["name"], "total");

    // filter_error_trace: the error record, as Python writes it.
    let record = redis_cli(&url, &["GET", &format!("osprofiler_error:{base_id}")]);
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["base_id"], base_id.as_str());
    let errors = rt.block_on(driver.list_error_traces()).unwrap();
    let ours: Vec<_> = errors
        .iter()
        .filter(|e| e["base_id"] == base_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["timestamp"], record["timestamp"]);

    // No TTL unless asked for.
    assert_eq!(
        redis_cli(&url, &["TTL", &format!("osprofiler_opt:{base_id}")]),
        "-1"
    );
    assert!(notifier.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_missing_trace_is_an_empty_report() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    let rt = runtime();
    let driver = connect(&rt, &url);
    let report = rt.block_on(driver.get_report(&uuid())).unwrap();
    assert!(report.is_empty());
}

#[test]
fn keys_expire_with_a_ttl() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    let rt = runtime();
    let driver = connect(&rt, &format!("{url}/0?ttl=120"));
    assert_eq!(driver.ttl(), Some(120));
    let base_id = uuid();
    let _cleanup = Cleanup::new(&url, &[&base_id]);
    let mut stop = notification(&base_id, "t1", "db-stop", "2026-11-25T10:00:00.000002");
    stop.info.insert("etype".into(), json!("IOError"));
    let batch = [
        notification(&base_id, "t1", "db-start", "2026-11-25T10:00:00.000001"),
        stop,
    ];
    rt.block_on(driver.notify(&batch)).unwrap();
    for key in [
        format!("osprofiler_opt:{base_id}"),
        format!("osprofiler_error:{base_id}"),
    ] {
        let ttl: i64 = redis_cli(&url, &["TTL", &key]).parse().unwrap();
        assert!((1..=120).contains(&ttl), "{key}: TTL {ttl}");
    }
}

#[test]
fn legacy_keys_are_read_as_python_reads_them() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    let rt = runtime();
    let driver = connect(&rt, &url);
    let base_id = uuid();
    let _cleanup = Cleanup::new(&url, &[&base_id]);
    // The legacy layout: one string key per notification.
    let legacy = serde_json::to_string(&notification(
        &base_id,
        "old",
        "legacy-start",
        "2026-11-25T10:00:00.000000",
    ))
    .unwrap();
    let key = format!("osprofiler:{base_id}_2026-11-25T10:00:00.000000");
    redis_cli(&url, &["SET", &key, &legacy]);
    rt.block_on(driver.notify(&[notification(
        &base_id,
        "new",
        "db-start",
        "2026-11-25T10:00:00.005000",
    )]))
    .unwrap();
    let report = serde_json::to_value(rt.block_on(driver.get_report(&base_id)).unwrap()).unwrap();
    assert_eq!(names(&report), ["legacy", "db"]);
    assert_eq!(report["children"][1]["info"]["started"], 5);

    let listed = rt.block_on(driver.list_traces(&[])).unwrap();
    let ours: Vec<_> = listed
        .iter()
        .filter(|t| t["base_id"] == base_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["timestamp"], "2026-11-25T10:00:00.000000");
    redis_cli(&url, &["DEL", &key]);
}

#[test]
fn list_traces_gives_every_trace_with_its_first_timestamp() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    let rt = runtime();
    let driver = connect(&rt, &url);
    let one = uuid();
    let three = uuid();
    // Someone else's key under our prefix, of another type, is passed over.
    let junk = uuid();
    let _cleanup = Cleanup::new(&url, &[&one, &three, &junk]);
    redis_cli(
        &url,
        &["SET", &format!("osprofiler_opt:{junk}"), "not a list"],
    );
    // A trace of one notification (Python's list skips it) and one of three (Python's
    // shows its second-newest timestamp).
    rt.block_on(driver.notify(&[
        notification(&three, "a", "wsgi-start", "2026-11-25T09:00:00.000001"),
        notification(&one, "x", "db-start", "2026-11-25T09:00:00.500000"),
        notification(&three, "b", "db-start", "2026-11-25T09:00:00.000002"),
    ]))
    .unwrap();
    rt.block_on(driver.notify(&[notification(
        &three,
        "b",
        "db-stop",
        "2026-11-25T09:00:00.000003",
    )]))
    .unwrap();
    let listed = rt.block_on(driver.list_traces(&["name"])).unwrap();
    let find = |id: &str| {
        listed
            .iter()
            .position(|t| t["base_id"] == id)
            .unwrap_or_else(|| panic!("{id} is listed"))
    };
    let (i3, i1) = (find(&three), find(&one));
    assert_eq!(listed[i3]["timestamp"], "2026-11-25T09:00:00.000001");
    assert_eq!(listed[i3]["name"], "wsgi-start");
    assert_eq!(listed[i1]["timestamp"], "2026-11-25T09:00:00.500000");
    assert!(i3 < i1, "oldest first");
    assert!(!listed.iter().any(|t| t["base_id"] == junk.as_str()));
    // Keys in the stored notification's order, only those asked for.
    let keys: Vec<&String> = listed[i3].keys().collect();
    assert_eq!(keys, ["name", "base_id", "timestamp"]);
}

#[test]
fn bad_connection_strings_give_one_clear_error() {
    osprofiler_redis::register();
    let rt = runtime();
    for cs in [
        "redis://:hunter2@127.0.0.1:notaport",
        "redis://:hunter2@127.0.0.1/x",
        "redis://:hunter2@127.0.0.1?ttl=soon",
        "redis://:hunter2@127.0.0.1?bogus=1",
        "redissentinel://:hunter2@",
    ] {
        let e = rt.block_on(get_driver(DriverOptions::new(cs))).unwrap_err();
        assert!(
            matches!(e, DriverError::BadConnectionString { .. }),
            "{cs}: {e}"
        );
        let text = e.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(":***@"), "{text}");
    }
}

#[test]
fn the_registry_makes_both_schemes() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    osprofiler_redis::register();
    let rt = runtime();
    let driver = rt.block_on(get_driver(DriverOptions::new(url))).unwrap();
    assert_eq!(driver.name(), "redis");
}

#[test]
fn values_that_are_not_notifications_are_left_out() {
    let Some(url) = osprofiler_testkit::redis() else {
        return;
    };
    let rt = runtime();
    let driver = connect(&rt, &url);
    let base_id = uuid();
    let _cleanup = Cleanup::new(&url, &[&base_id]);
    rt.block_on(driver.notify(&[notification(
        &base_id,
        "a",
        "db-start",
        "2026-11-25T10:00:00.000000",
    )]))
    .unwrap();
    let key = format!("osprofiler_opt:{base_id}");
    redis_cli(&url, &["LPUSH", &key, "not json {"]);
    redis_cli(&url, &["LPUSH", &key, r#"{"no": "name"}"#]);
    let report = rt.block_on(driver.get_report(&base_id)).unwrap();
    assert_eq!(report.node_count(), 1);
    assert_eq!(report.skipped().len(), 1, "the object without a name");
}
