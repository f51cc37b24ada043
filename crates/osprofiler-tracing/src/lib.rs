//! # osprofiler-tracing
//!
//! A [`tracing-subscriber`](tracing_subscriber) [`Layer`](tracing_subscriber::Layer) that
//! records the spans of [`tracing`](https://docs.rs/tracing) (`#[instrument]`,
//! `info_span!`, ...) as trace points of the current OSprofiler profiler. A Rust service that
//! is already instrumented with `tracing` joins an OSprofiler trace with no other change: when
//! a request arrives with signed trace headers (and the profiler is made current for it),
//! its spans appear in the trace tree, fields included, nested with the `#[trace]` points
//! around and inside them.
//!
//! ```
//! use std::sync::Arc;
//! use osprofiler::notifier::CollectingNotifier;
//! use osprofiler::{profiler, Profiler};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! #[tracing::instrument]
//! fn lookup(user: &str, limit: u64) -> usize {
//!     user.len()
//! }
//!
//! let subscriber = tracing_subscriber::registry().with(osprofiler_tracing::layer());
//! let points = Arc::new(CollectingNotifier::new());
//! tracing::subscriber::with_default(subscriber, || {
//!     lookup("nobody", 3); // no profiler: nothing is recorded
//!     profiler::set_current(Some(Profiler::with_notifier("KEY", None, None, points.clone())));
//!     lookup("alice", 10);
//!     profiler::clean();
//! });
//! let ns = points.notifications();
//! assert_eq!(ns.len(), 2);
//! assert_eq!(ns[0].name, "lookup-start");
//! assert_eq!(ns[0].info["user"], "alice");
//! assert_eq!(ns[0].info["limit"], 10);
//! // `<target>::<span name>`: the fn's module path and name.
//! assert!(ns[0].info["function"]["name"].as_str().unwrap().ends_with("::lookup"));
//! assert_eq!(ns[1].name, "lookup-stop");
//! ```
//!
//! `examples/instrumented_service.rs` runs a small async service on a multi-threaded runtime
//! and prints its trace tree (`cargo run -p osprofiler-tracing --example instrumented_service`).
//!
//! ## The mapping
//!
//! - **When a point starts: at the span's creation**, if a profiler is current on the thread
//!   (or task) that creates it. Creation is where the span's logical parent is current (the
//!   caller of an `#[instrument]`ed fn, the spawner of an `.instrument(span)`ed future),
//!   and it is when the span's own timing starts for other tracing backends too
//!   (`tracing-opentelemetry` also starts spans there). A first enter may happen later on a
//!   worker thread where no profiler is current. A span created with no profiler never
//!   becomes a point, even when entered later in a profiled context: long-lived spans (a
//!   connection's, a server's) must not capture the first request that enters them. Spans
//!   have no "enter" notification: entering and exiting move no trace point, only the
//!   context (below).
//! - **When it stops: when the span closes** (its last handle is dropped), on whatever thread
//!   that happens and in whatever order spans close. The point lives in a profiler of its own,
//!   kept in the span's extensions, so its stop always matches its own start.
//! - **Name**: the span's name (for `#[instrument]`, the fn's name), or a `osprofiler.name`
//!   field's value (`#[instrument(fields(osprofiler.name = "db"))]` makes Python's `db`
//!   points), or what [`TracePointLayer::with_point_name`] chooses from the metadata (say the
//!   target). A `-` in a name becomes `_`, because reports cut names at the first `-`.
//! - **Info**: each field with a value at creation, typed where JSON has a type (`&str`,
//!   `i64`, `u64`, `i128`/`u128` that fit, `bool`, finite `f64`) and as text otherwise
//!   (`?value` gives `Debug`, `%value` gives `Display`, errors their `Display`, NaN and
//!   infinities their text). Dotted names nest (`db.statement` and `db.params` give
//!   `db: {statement, params}`). Then, in the spirit of Python's `@trace`, `function: {name:
//!   "<target>::<span name>"}` (the path of an `#[instrument]`ed fn). As in Python, `host` is
//!   the profiler's. Values recorded later (`span.record(...)`, fields declared `Empty`) go
//!   into the stop's info, since the start was sent at creation.
//! - **Parent**: the point current in the profiler at creation, so a span inside a
//!   `#[trace]` fn nests under it; a span with an explicit parent (`parent: &span`) that is a
//!   point nests under that span's point instead.
//! - **Context**: while a span with a point is entered, a fork of its profiler (innermost
//!   point: the span's) is the current profiler of the thread, so `#[trace]` fns, `Trace`
//!   guards and other spans inside nest under the span; on exit the previous profiler comes
//!   back. What is left open inside (a `Trace` guard held across an `.await`) stays in the
//!   span's context until the next enter, as a [`Profiled`](osprofiler_core::Profiled)
//!   future keeps its profiler between polls. The span thus carries its trace: a future
//!   `.instrument(span)`ed in a profiled context and spawned with plain `tokio::spawn` is
//!   traced on any worker. Two futures of one task (`join!`) each nest under their own span.
//! - **Events** are not points. An `ERROR` event inside a span (e.g. from
//!   `#[instrument(err)]`) marks the stop of the nearest span that is a point with `etype`
//!   (the event's `error.type` field, else `"error"`) and `message` (its `error` field, else
//!   its message), so the span shows as failed in reports and error-trace listings; turn it
//!   off with [`TracePointLayer::with_error_events`]. A span closed while its thread panics
//!   stops with `etype: "panic"`, as `Trace` guards do.
//!
//! ## With the core's `with_profiler` / `in_current_profiler`
//!
//! Put the span *inside* the profiler context:
//! `fut.instrument(span).in_current_profiler()` (and `#[instrument] async fn`, whose span is
//! made inside its own body). The other order, `fut.in_current_profiler().instrument(span)`,
//! enters the span first and then swaps in the future's own profiler, which knows nothing of
//! the span: the span's point is still recorded with the right parent, but the work inside
//! nests beside it instead of under it.
//!
//! ## Cost
//!
//! With no profiler current and no profiled span open anywhere in the process, each span
//! callback costs one thread-local load (creation) or one atomic load (enter, exit, record,
//! close). Use a per-layer filter (`layer().with_filter(LevelFilter::INFO)`) to keep
//! debug-level spans out of traces. Figures: `benches/layer.rs`.
//!
//! ## Rules
//!
//! `tracing`'s own rule matters here: do not hold a span's `enter()` guard across an
//! `.await` (use `.instrument(span)`); a guard exited on another thread cannot give the
//! first thread its profiler back.

#![forbid(unsafe_code)]

mod entered;
mod fields;
mod layer;
mod point;

pub use fields::NAME_FIELD;
pub use layer::{layer, PointNamer, TracePointLayer};

#[allow(deprecated)]
pub use layer::OsprofilerLayer;
