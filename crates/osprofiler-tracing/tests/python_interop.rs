//! Python OSprofiler reads a trace made of `tracing` spans as we do: the report its
//! `Driver._parse_results` builds from the notifications (the testkit's `python/report.py`, run by the
//! interop virtualenv's interpreter) equals ours, nesting, names, infos and errors included.

mod support;

use std::time::Duration;

use osprofiler::{profiler, ProfilerExt, Trace};
use serde_json::Value;
use support::*;
use tracing::Instrument;

#[tracing::instrument(fields(osprofiler.name = "db", db.statement = "SELECT 1"))]
async fn query(id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    id
}

#[tracing::instrument(err)]
fn validate(id: u64) -> Result<(), String> {
    Err(format!("no row {id}"))
}

#[osprofiler::trace(name = "rpc")]
async fn rpc_call(id: u64) -> u64 {
    let _ = validate(id);
    query(id).await
}

#[tracing::instrument]
async fn handler(count: u64) {
    for id in 0..count {
        tokio::spawn(rpc_call(id).instrument(tracing::info_span!("job", id)))
            .await
            .unwrap();
    }
}

fn python_report(notifications: &[osprofiler::Notification]) -> Option<Value> {
    let python = osprofiler_testkit::python()?;
    let input = serde_json::to_value(notifications).unwrap();
    Some(osprofiler_testkit::run_python_json(
        &python,
        &osprofiler_testkit::python_report_script(),
        &input,
    ))
}

#[test]
fn pythons_report_of_a_span_trace_equals_ours() {
    install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (points, p) = new_profiler();
    rt.block_on(
        async {
            let _wsgi = Trace::start("wsgi", None);
            handler(2).await;
        }
        .with_profiler(Some(p)),
    );
    assert!(!profiler::is_active());
    let ns = points.notifications();
    assert_balanced(&ns);
    let ours = report(&ns);
    assert_eq!(
        tree(&ours),
        "wsgi(handler(job(rpc(validate, db)), job(rpc(validate, db))))"
    );
    let Some(theirs) = python_report(&ns) else {
        return;
    };
    assert_eq!(serde_json::to_value(&ours).unwrap(), theirs);
    let validate =
        &theirs["children"][0]["children"][0]["children"][0]["children"][0]["children"][0]["info"];
    assert_eq!(validate["name"], "validate");
    assert_eq!(validate["exception"], "error");
    assert_eq!(
        validate["meta.raw_payload.validate-stop"]["info"]["message"],
        "no row 0"
    );
}
