//! The layer's options: naming points from the metadata, and error events turned off; and a
//! per-layer level filter keeping debug spans out of the trace. Each test installs its own
//! layer on its own thread (`with_default`).

mod support;

use osprofiler::profiler;
use support::*;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

fn recorded_with<S>(subscriber: S, f: impl FnOnce()) -> Vec<osprofiler::Notification>
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    let (points, p) = new_profiler();
    tracing::subscriber::with_default(subscriber, || {
        profiler::set_current(Some(p));
        f();
        profiler::clean();
    });
    points.notifications()
}

#[tracing::instrument(err)]
fn fails() -> Result<(), String> {
    Err("nope".to_owned())
}

#[test]
fn points_named_by_target_and_no_error_events() {
    let layer = osprofiler_tracing::layer()
        .with_point_name(|meta| meta.target())
        .with_error_events(false);
    let ns = recorded_with(tracing_subscriber::registry().with(layer), || {
        let _ = fails();
        let _named = tracing::info_span!(target: "db-layer", "anything").entered();
        let _overridden = tracing::info_span!("x", osprofiler.name = "rpc").entered();
    });
    assert_eq!(
        names(&ns),
        [
            "config-start",
            "config-stop",
            "db_layer-start",
            "rpc-start",
            "rpc-stop",
            "db_layer-stop"
        ]
    );
    // The error event left the stop alone.
    assert_eq!(info(&ns[1]), serde_json::json!({}));
    assert_eq!(ns[0].info["function"]["name"], "config::fails");
    assert_eq!(ns[2].info["function"]["name"], "db-layer::anything");
}

#[test]
fn a_level_filter_keeps_debug_spans_out() {
    let layer = osprofiler_tracing::layer().with_filter(LevelFilter::INFO);
    let ns = recorded_with(tracing_subscriber::registry().with(layer), || {
        let _info = tracing::info_span!("kept").entered();
        let _debug = tracing::debug_span!("dropped").entered();
        let _inner = tracing::info_span!("inner").entered();
    });
    assert_eq!(
        names(&ns),
        ["kept-start", "inner-start", "inner-stop", "kept-stop"]
    );
    assert_parent(&ns, "inner", &id(&ns, "kept"));
}

#[test]
fn two_layers_on_one_registry_record_a_span_once() {
    let subscriber = tracing_subscriber::registry()
        .with(osprofiler_tracing::layer())
        .with(osprofiler_tracing::layer());
    let ns = recorded_with(subscriber, || {
        let _outer = tracing::info_span!("outer").entered();
        let _inner = tracing::info_span!("inner").entered();
    });
    assert_eq!(
        names(&ns),
        ["outer-start", "inner-start", "inner-stop", "outer-stop"]
    );
    assert_parent(&ns, "inner", &id(&ns, "outer"));
}
