//! # osprofiler-core
//!
//! Cross-service, per-request profiling for Rust services, wire-compatible with OpenStack's
//! Python [OSprofiler](https://docs.openstack.org/osprofiler/): the same trace headers, the
//! same notifications, the same stores and the same reports, so Rust and Python services
//! share one trace.
//!
//! Profiling is off unless a request carries trace headers signed with a key the service
//! holds. Then every trace point (a start and a stop, bound by the trace's `base_id`) goes to a
//! notifier, which ships it to a store from a background worker; tools build one tree from the
//! store and show where the time went.
//!
//! ```
//! use std::sync::Arc;
//! use osprofiler_core::notifier::CollectingNotifier;
//! use osprofiler_core::{profiler, Profiler, Trace};
//!
//! let points = Arc::new(CollectingNotifier::new());
//! profiler::set_current(Some(Profiler::with_notifier("SECRET_KEY", None, None, points.clone())));
//! {
//!     let _wsgi = Trace::start("wsgi", None);
//!     let _db = Trace::start("db", None);
//! }
//! let names: Vec<String> = points.notifications().into_iter().map(|n| n.name).collect();
//! assert_eq!(names, ["wsgi-start", "db-start", "db-stop", "wsgi-stop"]);
//! profiler::clean();
//! ```
//!
//! Parts: [`profiler`] (the context that follows threads and tasks), [`signing`] (trace
//! headers), [`notifier`] (the queue pipeline), [`driver`] (stores, chosen by connection
//! string), [`config`] (the `[profiler]` options), [`rpc`] (the trace in an RPC call's
//! context).
//!
//! This is the light core, as `tracing-core` is to `tracing`: no database, broker or HTTP
//! client among its dependencies. Services use it through the `osprofiler` facade, which
//! adds the `#[trace]` macros, the report engine (`osprofiler-report`) and the embedded
//! SQLite store (`osprofiler-sql`); stores and integrations build on this crate. How the
//! crates fit together: `docs/architecture.md`.

pub mod config;
pub mod driver;
pub mod id;
mod init;
pub mod notification;
pub mod notifier;
pub mod profiler;
pub mod propagation;
pub mod pyjson;
pub mod rpc;
pub mod signing;
pub mod timestamp;

#[doc(hidden)]
pub mod __private;

use std::sync::OnceLock;

pub use config::ProfilerConfig;
pub use id::{PointName, TraceId};
pub use init::{init_from_conf, try_init_from_conf, InitError, Profiling};
pub use notification::{Info, Notification, PointKind, TracePoint};
pub use notifier::Notifier;
pub use profiler::{Profiled, Profiler, ProfilerExt, Trace};

/// This machine's host name (Python's `socket.gethostname()`), read once.
pub fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| gethostname::gethostname().to_string_lossy().into_owned())
}

/// The stop info Python records for an exception: `{"etype": ..., "message": ...}`.
pub fn error_info(etype: &str, message: String) -> Info {
    let mut info = Info::new();
    info.insert(
        "etype".to_owned(),
        serde_json::Value::String(etype.to_owned()),
    );
    info.insert("message".to_owned(), serde_json::Value::String(message));
    info
}
