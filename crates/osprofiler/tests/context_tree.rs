//! The profiler follows a request across `.await` points, worker threads and spawned tasks:
//! one trace through a handler that spawns three tasks on a 2-worker runtime, each with
//! nested points; every parent id must be right.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{profiler, Notification, Profiler, ProfilerExt, Trace};

async fn handler(task_count: usize) {
    let _wsgi = Trace::start("wsgi", None);
    let mut handles = Vec::new();
    for i in 0..task_count {
        handles.push(profiler::spawn(async move {
            let _rpc = Trace::start(format!("rpc{i}"), None);
            tokio::task::yield_now().await;
            {
                let _db = Trace::start(format!("db{i}"), None);
                tokio::time::sleep(Duration::from_millis(2)).await;
                let _driver = Trace::start(format!("driver{i}"), None);
                tokio::task::yield_now().await;
            }
            tokio::task::yield_now().await;
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let _after = Trace::start("after", None);
}

fn by_name(ns: &[Notification]) -> HashMap<String, &Notification> {
    ns.iter().map(|n| (n.name.clone(), n)).collect()
}

#[test]
fn one_trace_through_spawned_tasks_on_two_workers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let points = Arc::new(CollectingNotifier::new());
    let p = Profiler::with_notifier("key", Some("base-0"), Some("parent-0"), points.clone());
    rt.block_on(handler(3).with_profiler(Some(p)));
    // Nothing leaked into the thread that ran block_on.
    assert!(!profiler::is_active());

    let ns = points.notifications();
    assert_eq!(ns.len(), 2 * (1 + 3 * 3 + 1));
    let n = by_name(&ns);
    assert!(ns.iter().all(|x| x.base_id == "base-0"));
    let id = |name: &str| n[name].trace_id.clone();
    assert_eq!(n["wsgi-start"].parent_id, "parent-0");
    for i in 0..3 {
        for (child, parent) in [
            (format!("rpc{i}"), id("wsgi-start")),
            (format!("db{i}"), id(&format!("rpc{i}-start"))),
            (format!("driver{i}"), id(&format!("db{i}-start"))),
        ] {
            let start = n[&format!("{child}-start")];
            let stop = n[&format!("{child}-stop")];
            assert_eq!(start.parent_id, parent, "{child}");
            assert_eq!(stop.parent_id, parent, "{child}");
            assert_eq!(start.trace_id, stop.trace_id, "{child}");
        }
    }
    assert_eq!(n["after-start"].parent_id, id("wsgi-start"));
    assert_eq!(n["wsgi-stop"].trace_id, id("wsgi-start"));
    // Every start has exactly one stop.
    let mut open: HashMap<&str, i32> = HashMap::new();
    for x in &ns {
        *open.entry(&x.trace_id).or_default() += if x.name.ends_with("-start") { 1 } else { -1 };
    }
    assert!(open.values().all(|v| *v == 0));
}

#[test]
fn tasks_cannot_stop_points_of_their_parent() {
    let points = Arc::new(CollectingNotifier::new());
    let p = Profiler::with_notifier("key", None, None, points.clone());
    profiler::set_current(Some(p));
    let outer = Trace::start("outer", None);
    let fork = profiler::get();
    std::thread::spawn(move || {
        profiler::with_profiler(fork, || {
            // No point of its own is open: stop does nothing (Python would pop the caller's).
            profiler::stop(None);
        })
    })
    .join()
    .unwrap();
    drop(outer);
    profiler::clean();
    let names: Vec<String> = points.notifications().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["outer-start", "outer-stop"]);
}

#[test]
fn plain_threads_keep_a_thread_local_and_spawn_thread_carries_it() {
    let points = Arc::new(CollectingNotifier::new());
    profiler::set_current(Some(Profiler::with_notifier(
        "k",
        None,
        None,
        points.clone(),
    )));
    let _outer = Trace::start("outer", None);
    let outer_id = profiler::get().unwrap().id().to_string();
    // A plain thread starts unprofiled, as in Python.
    std::thread::spawn(|| {
        assert!(!profiler::is_active());
        let _t = Trace::start("ignored", None);
    })
    .join()
    .unwrap();
    // spawn_thread carries a fork.
    profiler::spawn_thread(|| {
        let _t = Trace::start("in-thread", None);
    })
    .join()
    .unwrap();
    drop(_outer);
    profiler::clean();
    let ns = points.notifications();
    let names: Vec<&str> = ns.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "outer-start",
            "in-thread-start",
            "in-thread-stop",
            "outer-stop"
        ]
    );
    assert_eq!(ns[1].parent_id, outer_id);
}

#[test]
fn guards_dropped_out_of_order_stop_their_own_points() {
    let points = Arc::new(CollectingNotifier::new());
    profiler::set_current(Some(Profiler::with_notifier(
        "k",
        None,
        None,
        points.clone(),
    )));
    let a = Trace::start("a", None);
    let b = Trace::start("b", None);
    drop(a);
    let c = Trace::start("c", None);
    drop(b);
    drop(c);
    profiler::clean();
    let ns = points.notifications();
    let names: Vec<&str> = ns.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["a-start", "b-start", "a-stop", "c-start", "b-stop", "c-stop"]
    );
    // c opened under b (a was closed), so b is c's parent.
    assert_eq!(ns[3].parent_id, ns[1].trace_id);
}

#[test]
fn python_stack_semantics() {
    let points = Arc::new(CollectingNotifier::new());
    let mut p = Profiler::with_notifier("k", Some("b"), None, points.clone());
    assert_eq!(p.base_id().to_string(), "b");
    assert_eq!(p.id().to_string(), "b");
    assert_eq!(p.parent_id().to_string(), "b");
    p.start("x", None);
    let x = p.id().to_string();
    assert_eq!(p.parent_id().to_string(), "b");
    p.start("y", None);
    assert_eq!(p.parent_id().to_string(), x);
    p.stop(None);
    p.stop(None);
    p.stop(None); // nothing open: nothing sent
    assert_eq!(points.points().len(), 4);
    // init keeps an existing profiler, as Python's.
    profiler::set_current(Some(p));
    let again = profiler::init("other", Some("c"), None);
    assert_eq!(again.base_id().to_string(), "b");
    profiler::clean();
    assert!(profiler::get().is_none());
    let fresh = profiler::init("other", Some(""), Some(""));
    assert_eq!(
        fresh.base_id().as_uuid().map(|u| u.get_version_num()),
        Some(4)
    );
    assert_eq!(fresh.id(), fresh.base_id());
    profiler::clean();
}
