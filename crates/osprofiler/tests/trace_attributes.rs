//! `#[trace]` and `#[trace_impl]` record what Python's `@trace` and `trace_cls` record: names,
//! infos, results, errors and panics, parents of nested calls, in sync and async code.

use std::sync::Arc;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{profiler, trace, trace_impl, Notification, Profiler};
use serde_json::json;

fn profiled() -> Arc<CollectingNotifier> {
    let points = Arc::new(CollectingNotifier::new());
    profiler::set_current(Some(Profiler::with_notifier(
        "key",
        Some("base"),
        None,
        points.clone(),
    )));
    points
}

fn finish(points: &CollectingNotifier) -> Vec<Notification> {
    profiler::clean();
    points.notifications()
}

#[derive(Debug, PartialEq)]
struct DbError(&'static str);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "db failed: {}", self.0)
    }
}

#[trace(name = "db")]
fn get_user(id: u64, name: &str) -> Result<u64, DbError> {
    if name.is_empty() {
        return Err(DbError("no name"));
    }
    Ok(id + 1)
}

#[trace(name = "db", hide_args, hide_result = false, info = json!({"table": "users"}))]
fn count(password: &str) -> usize {
    password.len()
}

struct NoDebug;

#[trace(name = "driver")]
fn takes_no_debug(_conn: &NoDebug, n: u8) -> u8 {
    n
}

#[trace(name = "outer")]
fn outer() {
    inner();
}

#[trace(name = "inner")]
fn inner() {}

#[trace(name = "boom")]
fn boom() {
    panic!("it broke");
}

#[test]
fn sync_fn_start_info_is_pythons() {
    let points = profiled();
    assert_eq!(get_user(41, "alice"), Ok(42));
    let ns = finish(&points);
    assert_eq!(ns.len(), 2);
    assert_eq!(ns[0].name, "db-start");
    assert_eq!(
        serde_json::Value::Object(ns[0].info.clone()),
        json!({"function": {"name": "trace_attributes::get_user", "args": "(41, \"alice\")", "kwargs": "{}"}, "host": osprofiler::hostname()})
    );
    assert_eq!(ns[1].name, "db-stop");
    // hide_result is the default: the stop carries only the host.
    assert_eq!(ns[1].info.len(), 1);
    assert_eq!(ns[0].trace_id, ns[1].trace_id);
    assert_eq!(ns[0].parent_id, "base");
}

#[test]
fn err_results_record_etype_and_message() {
    let points = profiled();
    assert!(get_user(1, "").is_err());
    let ns = finish(&points);
    assert_eq!(ns[1].info["etype"], "trace_attributes::DbError");
    assert_eq!(ns[1].info["message"], "db failed: no name");
}

#[test]
fn hide_args_info_and_result() {
    let points = profiled();
    assert_eq!(count("secret"), 6);
    let ns = finish(&points);
    assert_eq!(ns[0].info["table"], "users");
    assert_eq!(
        ns[0].info["function"],
        json!({"name": "trace_attributes::count"})
    );
    assert!(!serde_json::to_string(&ns[0]).unwrap().contains("secret"));
    assert_eq!(ns[1].info["function"], json!({"result": "6"}));
}

#[test]
fn args_without_debug_print_their_type() {
    let points = profiled();
    assert_eq!(takes_no_debug(&NoDebug, 7), 7);
    let ns = finish(&points);
    let args = ns[0].info["function"]["args"].as_str().unwrap().to_owned();
    assert!(args.contains("NoDebug") && args.ends_with(", 7)"), "{args}");
}

#[test]
fn nested_calls_have_the_right_parents() {
    let points = profiled();
    outer();
    let ns = finish(&points);
    let names: Vec<&str> = ns.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["outer-start", "inner-start", "inner-stop", "outer-stop"]
    );
    assert_eq!(ns[1].parent_id, ns[0].trace_id);
    assert_eq!(ns[0].parent_id, "base");
}

#[test]
fn panics_are_recorded_and_go_on() {
    let points = profiled();
    let caught = std::panic::catch_unwind(boom);
    assert!(caught.is_err(), "the panic must go on");
    let ns = finish(&points);
    assert_eq!(ns.len(), 2);
    assert_eq!(ns[1].info["etype"], "panic");
    assert_eq!(ns[1].info["message"], "it broke");
}

#[test]
fn nothing_is_recorded_without_a_profiler() {
    profiler::clean();
    let points = Arc::new(CollectingNotifier::new());
    assert_eq!(get_user(1, "x"), Ok(2));
    outer();
    assert!(points.points().is_empty());
    assert!(!profiler::is_active());
}

#[derive(Debug)]
struct Manager {
    host: &'static str,
}

#[trace_impl(name = "rpc")]
impl Manager {
    pub fn build(&self, id: u32) -> u32 {
        self.helper() + id + self.host.len() as u32 - 1
    }

    fn helper(&self) -> u32 {
        1
    }

    pub fn __dunder(&self) {}

    pub async fn slow(&self) {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }

    pub async fn reboot(&self, id: u32) -> Result<(), DbError> {
        tokio::task::yield_now().await;
        self.build(id);
        tokio::task::yield_now().await;
        if id == 0 {
            return Err(DbError("zero"));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Private;

#[trace_impl(name = "rpc", trace_private = true)]
impl Private {
    fn hidden(&self) {}
}

#[test]
fn trace_impl_traces_public_methods_only_by_default() {
    let points = profiled();
    let m = Manager { host: "h" };
    assert_eq!(m.build(1), 2);
    m.__dunder();
    Private.hidden();
    let ns = finish(&points);
    let names: Vec<String> = ns
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n.name,
                n.info
                    .get("function")
                    .map(|f| f["name"].to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "rpc-start \"trace_attributes::Manager::build\"",
            "rpc-stop ",
            "rpc-start \"trace_attributes::Private::hidden\"",
            "rpc-stop ",
        ]
    );
    assert_eq!(
        ns[0].info["function"]["args"],
        format!("({:?}, 1)", Manager { host: "h" })
    );
}

#[test]
fn async_methods_follow_the_task_across_worker_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let points = Arc::new(CollectingNotifier::new());
    // A profiled task; the awaits inside may resume on either worker.
    let p = Profiler::with_notifier("key", Some("base"), None, points.clone());
    let (ok, err) = rt.block_on(osprofiler::ProfilerExt::with_profiler(
        async {
            let m = Manager { host: "h" };
            let ok = m.reboot(3).await;
            let err = m.reboot(0).await;
            (ok, err)
        },
        Some(p),
    ));
    assert_eq!(ok, Ok(()));
    assert_eq!(err, Err(DbError("zero")));
    let ns = points.notifications();
    assert_eq!(ns.len(), 8);
    let names: Vec<&str> = ns.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "rpc-start",
            "rpc-start",
            "rpc-stop",
            "rpc-stop",
            "rpc-start",
            "rpc-start",
            "rpc-stop",
            "rpc-stop"
        ]
    );
    // build is a child of reboot, reboot a child of the root.
    assert_eq!(ns[0].parent_id, "base");
    assert_eq!(ns[1].parent_id, ns[0].trace_id);
    assert_eq!(ns[3].trace_id, ns[0].trace_id);
    assert!(ns[3].info.get("etype").is_none());
    assert_eq!(ns[7].info["etype"], "trace_attributes::DbError");
    assert_eq!(ns[7].info["message"], "db failed: zero");
}

#[test]
fn a_dropped_async_call_stops_its_point_as_cancelled() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let points = Arc::new(CollectingNotifier::new());
    let p = Profiler::with_notifier("key", None, None, points.clone());
    rt.block_on(osprofiler::ProfilerExt::with_profiler(
        async {
            let m = Manager { host: "h" };
            let r = tokio::time::timeout(std::time::Duration::from_millis(5), m.slow()).await;
            assert!(r.is_err());
        },
        Some(p),
    ));
    let ns = points.notifications();
    let names: Vec<&str> = ns.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["rpc-start", "rpc-stop"]);
    assert_eq!(ns[1].info["etype"], "cancelled");
    assert_eq!(ns[0].trace_id, ns[1].trace_id);
}
