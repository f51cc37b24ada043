//! Interop with the real Python OSprofiler 4.4.0 (`osprofiler_testkit::python()`) on the real
//! Redis, both ways:
//! - a trace written by Python's redis driver: our `get_report` equals what Python's own
//!   `osprofiler trace show --json` prints, values and key order;
//! - a trace written by our notifier: Python's CLI shows exactly our report, and Python's
//!   driver lists it (`list_traces`, `list_error_traces`).

mod support;

use osprofiler::driver::GetReport;
use osprofiler_testkit::run;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::Driver;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{error_info, Info, Profiler};
use osprofiler_redis::RedisDriver;
use serde_json::{json, Value};
use support::{options, uuid, Cleanup};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Python's `osprofiler trace show --json ID` on `url`, parsed (keys keep their order).
fn python_trace_show(python: &Path, url: &str, base_id: &str) -> Value {
    let cli = osprofiler_testkit::python_cli(python);
    serde_json::from_str(&osprofiler_testkit::trace_show_json(
        &cli,
        base_id,
        url,
        &[],
    ))
    .unwrap()
}

/// Compact JSON text: equal texts mean equal values *and* equal key order.
fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn a_trace_written_by_python_reads_as_pythons_cli_shows_it() {
    let (Some(url), Some(python)) = (osprofiler_testkit::redis(), osprofiler_testkit::python())
    else {
        return;
    };
    let base_id = uuid();
    let _cleanup = Cleanup::new(&url, &[&base_id]);
    run(
        &python,
        &[script("make_trace.py").to_str().unwrap(), &url, &base_id],
    );

    let rt = runtime();
    let driver = rt.block_on(RedisDriver::connect(&options(&url))).unwrap();
    let ours = serde_json::to_value(rt.block_on(driver.get_report(&base_id)).unwrap()).unwrap();
    let theirs = python_trace_show(&python, &url, &base_id);
    assert_eq!(text(&ours), text(&theirs));
    // It is the trace the script made.
    let wsgi = &ours["children"][0];
    assert_eq!(wsgi["info"]["name"], "wsgi");
    assert_eq!(wsgi["info"]["project"], "python-project");
    assert_eq!(wsgi["children"].as_array().unwrap().len(), 5);

    // Python's error record is listed by our driver.
    let errors = rt.block_on(driver.list_error_traces()).unwrap();
    assert!(errors.iter().any(|e| e["base_id"] == base_id.as_str()));
}

#[test]
fn a_trace_written_by_us_is_shown_and_listed_by_python() {
    let (Some(url), Some(python)) = (osprofiler_testkit::redis(), osprofiler_testkit::python())
    else {
        return;
    };
    let rt = runtime();
    let driver = Arc::new(rt.block_on(RedisDriver::connect(&options(&url))).unwrap());
    let notifier = BatchNotifier::start(
        driver.clone(),
        BatchConfig {
            host: "rust-host".into(),
            project: Some("rust-project".into()),
            service: Some("rust-api".into()),
            ..BatchConfig::default()
        },
    );
    let base_id = uuid();
    let _cleanup = Cleanup::new(&url, &[&base_id]);
    let mut p = Profiler::with_notifier("SECRET_KEY", Some(&base_id), None, notifier.clone());
    let mut request = Info::new();
    request.insert(
        "request".into(),
        json!({"path": "/v2/servers", "query": "name=caf\u{e9}", "method": "POST", "scheme": "https"}),
    );
    p.start("wsgi", Some(request));
    let mut rpc = Info::new();
    rpc.insert(
        "function".into(),
        json!({"name": "compute::build", "args": "(1, \"x\")", "kwargs": "{}"}),
    );
    p.start("rpc", Some(rpc));
    p.start("db", None);
    p.stop(None);
    p.stop(Some(error_info("BuildError", "no host \u{1f600}".into())));
    for i in 0..3 {
        let mut info = Info::new();
        info.insert("i".into(), json!(i));
        info.insert("nothing".into(), Value::Null);
        p.start("driver", Some(info));
        p.stop(None);
    }
    p.stop(None);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 12);

    let ours = serde_json::to_value(rt.block_on(driver.get_report(&base_id)).unwrap()).unwrap();
    let theirs = python_trace_show(&python, &url, &base_id);
    assert_eq!(text(&theirs), text(&ours));
    let wsgi = &theirs["children"][0];
    assert_eq!(wsgi["info"]["host"], "rust-host");
    let rpc = wsgi["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["info"]["name"] == "rpc")
        .unwrap();
    assert_eq!(rpc["info"]["exception"], "BuildError");
    assert_eq!(rpc["children"][0]["info"]["name"], "db");

    // Python's driver lists it (its list_traces reads the second-newest notification).
    let listed: Value = serde_json::from_str(&run(
        &python,
        &[script("list_traces.py").to_str().unwrap(), &url],
    ))
    .unwrap();
    let ours_in = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["base_id"] == base_id.as_str())
    };
    assert!(ours_in(&listed["traces"]), "not in Python's list_traces");
    assert!(
        ours_in(&listed["errors"]),
        "not in Python's list_error_traces"
    );
    assert!(notifier.shutdown(Duration::from_secs(5)));
}
