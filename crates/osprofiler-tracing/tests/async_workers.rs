//! Spans across `.await` points and the workers of a 2-worker multi-thread runtime: futures
//! instrumented with both `.instrument(span)` and the core's `in_current_profiler` /
//! `with_profiler`, futures carried by their span alone (plain `tokio::spawn`),
//! `#[instrument] async fn` with `#[trace] async fn` inside and around it, and `join!`ed
//! branches of one task.

mod support;

use std::time::Duration;

use osprofiler::{profiler, ProfilerExt, Trace};
use support::*;
use tracing::Instrument;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Hops: yields and a short sleep, so that a task is likely resumed on the other worker.
async fn hop() {
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
}

#[osprofiler::trace(name = "db")]
async fn db_call(job: usize) -> usize {
    hop().await;
    fetch(job).await
}

#[tracing::instrument]
async fn fetch(job: usize) -> usize {
    hop().await;
    let _driver = Trace::start(format!("driver{job}"), None);
    hop().await;
    job
}

async fn work(job: usize) {
    hop().await;
    db_call(job).await;
    hop().await;
}

#[tracing::instrument]
async fn handler(jobs: usize) {
    let mut handles = Vec::new();
    for job in 0..jobs {
        let span = tracing::info_span!("job", job, carried = "both");
        // The span inside, the profiler context outside: the recommended order.
        handles.push(tokio::spawn(
            work(job).instrument(span).in_current_profiler(),
        ));
    }
    for job in jobs..2 * jobs {
        let span = tracing::info_span!("job", job, carried = "span");
        // No profiler carried: the span alone takes the trace to the worker.
        handles.push(tokio::spawn(work(job).instrument(span)));
    }
    for h in handles {
        h.await.unwrap();
    }
    hop().await;
    let _after = Trace::start("after", None);
}

#[test]
fn spans_nest_across_workers() {
    install();
    let rt = runtime();
    let (points, p) = new_profiler();
    rt.block_on(
        async {
            let _wsgi = Trace::start("wsgi", None);
            handler(3).await;
        }
        .with_profiler(Some(p)),
    );
    drop(rt);
    assert!(!profiler::is_active());

    let ns = points.notifications();
    // wsgi, handler, after, and per job: job, db, fetch, driver.
    assert_eq!(ns.len(), 2 * (3 + 6 * 4), "{:?}", names(&ns));
    assert_balanced(&ns);
    assert_parent(&ns, "wsgi", "root-0");
    assert_parent(&ns, "handler", &id(&ns, "wsgi"));
    assert_parent(&ns, "after", &id(&ns, "handler"));
    assert_eq!(one(&ns, "handler-start").info["jobs"], 3);

    let handler_id = id(&ns, "handler");
    for job in 0..6 {
        // Several points share the names `job`, `db`, `fetch`: follow the ids.
        let job_start = ns
            .iter()
            .find(|n| n.name == "job-start" && n.info["job"] == job)
            .expect("job span");
        assert_eq!(job_start.parent_id, handler_id, "job {job}");
        let carried = if job < 3 { "both" } else { "span" };
        assert_eq!(job_start.info["carried"], carried);
        let child_of = |name: &str, parent: &str| {
            let found: Vec<_> = ns
                .iter()
                .filter(|n| n.name == format!("{name}-start") && n.parent_id == parent)
                .collect();
            assert_eq!(found.len(), 1, "job {job}: one {name} under {parent}");
            found[0].trace_id.clone()
        };
        let db = child_of("db", &job_start.trace_id);
        let fetch = child_of("fetch", &db);
        assert_eq!(
            ns.iter()
                .find(|n| n.name == "fetch-start" && n.trace_id == fetch)
                .unwrap()
                .info["job"],
            job
        );
        assert_parent(&ns, &format!("driver{job}"), &fetch);
    }

    let report = report(&ns);
    let wsgi = report.roots().next().expect("wsgi");
    assert_eq!(report.roots().len(), 1);
    assert_eq!(wsgi.info().name(), "wsgi");
    let handler = wsgi.children().next().expect("handler");
    assert_eq!(handler.info().name(), "handler");
    let children: Vec<&str> = handler.children().map(|c| c.info().name()).collect();
    assert_eq!(children.len(), 7);
    assert_eq!(children.iter().filter(|n| **n == "job").count(), 6);
    assert_eq!(children.last(), Some(&"after"));
    for job in handler.children().filter(|c| c.info().name() == "job") {
        let db = job.children().next().expect("db");
        let fetch = db.children().next().expect("fetch");
        let driver = fetch.children().next().expect("driver");
        assert_eq!((db.info().name(), fetch.info().name()), ("db", "fetch"));
        assert!(driver.info().name().starts_with("driver"));
    }
}

#[tracing::instrument]
async fn branch(name: &'static str) {
    for i in 0..3 {
        tokio::task::yield_now().await;
        let _t = Trace::start(format!("{name}{i}"), None);
        tokio::task::yield_now().await;
    }
}

#[test]
fn joined_branches_of_one_task_nest_under_their_own_spans() {
    install();
    let rt = runtime();
    let (points, p) = new_profiler();
    rt.block_on(
        async {
            tokio::join!(branch("left"), branch("right"));
        }
        .with_profiler(Some(p)),
    );
    let ns = points.notifications();
    assert_balanced(&ns);
    let spans: Vec<_> = ns.iter().filter(|n| n.name == "branch-start").collect();
    assert_eq!(spans.len(), 2);
    for s in &spans {
        assert_eq!(s.parent_id, "root-0");
        let side = s.info["name"].as_str().unwrap();
        for i in 0..3 {
            assert_parent(&ns, &format!("{side}{i}"), &s.trace_id);
        }
    }
}

#[test]
fn the_other_order_still_records_the_span_under_its_parent() {
    install();
    let rt = runtime();
    let (points, p) = new_profiler();
    rt.block_on(
        async {
            let _wsgi = Trace::start("wsgi", None);
            let span = tracing::info_span!("outside");
            // The profiler context inside the span: see the crate docs.
            tokio::spawn(work(9).in_current_profiler().instrument(span))
                .await
                .unwrap();
        }
        .with_profiler(Some(p)),
    );
    let ns = points.notifications();
    assert_balanced(&ns);
    assert_parent(&ns, "outside", &id(&ns, "wsgi"));
    assert_parent(&ns, "db", &id(&ns, "wsgi"));
    assert_parent(&ns, "fetch", &id(&ns, "db"));
}

#[test]
fn an_instrumented_future_polled_without_a_profiler_records_nothing() {
    install();
    let rt = runtime();
    let (points, p) = new_profiler();
    rt.block_on(async {
        // Made and polled with no profiler: no points, even with a profiler elsewhere.
        let unprofiled = tokio::spawn(work(1).instrument(tracing::info_span!("plain")));
        let profiled = tokio::spawn(work(2).with_profiler(Some(p)));
        unprofiled.await.unwrap();
        profiled.await.unwrap();
    });
    let ns = points.notifications();
    assert_balanced(&ns);
    assert_eq!(
        names(&ns),
        [
            "db-start",
            "fetch-start",
            "driver2-start",
            "driver2-stop",
            "fetch-stop",
            "db-stop"
        ]
    );
}
