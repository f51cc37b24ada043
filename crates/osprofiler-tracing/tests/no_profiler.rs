//! With no profiler the layer records nothing and changes no context: spans, events, records,
//! `#[instrument]` sync and async fns, spans sent to other workers. The process-wide notifier
//! of this test binary collects whatever would be sent; a profiled run at the end shows it
//! does receive points when there is a profiler.

mod support;

use std::sync::Arc;

use osprofiler::notifier::{self, CollectingNotifier};
use osprofiler::{profiler, Profiler, Trace};
use tracing::Instrument;

#[tracing::instrument(err)]
fn sync_work(n: u64) -> Result<u64, String> {
    tracing::info!(n, "working");
    let span = tracing::info_span!("inner", later = tracing::field::Empty);
    span.record("later", 5);
    span.in_scope(|| Trace::start("guard", None).is_recording())
        .then_some(n)
        .ok_or_else(|| "not recorded".to_owned())
}

#[tracing::instrument]
async fn async_work(n: u64) -> u64 {
    tokio::task::yield_now().await;
    assert!(!profiler::is_active());
    n
}

#[test]
fn nothing_is_recorded_without_a_profiler() {
    support::install();
    let global = Arc::new(CollectingNotifier::new());
    notifier::set_global(global.clone()).expect("first global notifier");
    profiler::clean();

    assert_eq!(sync_work(3), Err("not recorded".to_owned()));
    tracing::info_span!("check").in_scope(|| assert!(!profiler::is_active()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let spawned = tokio::spawn(async_work(1).instrument(tracing::info_span!("spawned")));
        assert_eq!(async_work(2).await, 2);
        assert_eq!(spawned.await.unwrap(), 1);
    });
    assert!(!profiler::is_active());
    assert!(global.points().is_empty(), "{:?}", global.points());

    // The control: with a profiler on the same notifier, the same code is recorded.
    profiler::set_current(Some(Profiler::new("KEY", None, None)));
    assert_eq!(sync_work(4), Ok(4));
    profiler::clean();
    let names: Vec<String> = global.notifications().into_iter().map(|n| n.name).collect();
    assert_eq!(
        names,
        [
            "sync_work-start",
            "inner-start",
            "guard-start",
            "guard-stop",
            "inner-stop",
            "sync_work-stop"
        ]
    );
}
