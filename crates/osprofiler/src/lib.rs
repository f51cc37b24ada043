//! # osprofiler
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
//! use osprofiler::notifier::CollectingNotifier;
//! use osprofiler::{profiler, Profiler, Trace};
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
//! This crate is the facade, as `tracing` is over `tracing-core`: it re-exports the light
//! core (`osprofiler-core`: [`profiler`], [`signing`], [`notifier`], [`driver`], [`config`],
//! [`rpc`], [`propagation`]), the report engine (`osprofiler-report`: `report`, feature
//! `report`), the `#[trace]` attributes (feature `macros`) and the SQL store
//! (`osprofiler-sql`, feature `sqlite`: the embedded default store). All are on by default.
//! A crate that only needs `#[trace]` takes `osprofiler = { default-features = false,
//! features = ["macros"] }` and compiles neither a database client nor the report engine.
//! How the crates fit together: `docs/architecture.md`.

#![forbid(unsafe_code)]

pub use osprofiler_core::{
    config, error_info, hostname, id, notification, notifier, profiler, propagation, pyjson, rpc,
    signing, timestamp,
};
pub use osprofiler_core::{
    Info, InitError, Notification, Notifier, PointKind, PointName, Profiled, Profiler,
    ProfilerConfig, ProfilerExt, Profiling, Trace, TraceId, TracePoint,
};
#[cfg(feature = "report")]
pub use osprofiler_report as report;

#[doc(hidden)]
pub use osprofiler_core::__private;

#[cfg(feature = "macros")]
pub use osprofiler_macros::{trace, trace_impl};

pub mod driver {
    //! Drivers: where notifications are stored and how traces are read back (Python's
    //! `osprofiler.drivers`), chosen by the scheme of a connection string. The core's
    //! [`driver`](osprofiler_core::driver) module, plus the SQL store this build was compiled
    //! with (`sql`, registered before any connection string is read) and `GetReport`
    //! (`driver.get_report(id)`, feature `report`).

    pub use osprofiler_core::driver::*;
    #[cfg(feature = "report")]
    pub use osprofiler_report::GetReport;
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub use osprofiler_sql as sql;

    /// Creates the driver for `options.connection_string` (Python's `get_driver`), after
    /// registering the stores this build was compiled with ([`register_builtin_stores`](crate::register_builtin_stores)).
    pub async fn get_driver(
        options: DriverOptions,
    ) -> Result<std::sync::Arc<dyn Driver>, DriverError> {
        crate::register_builtin_stores();
        osprofiler_core::driver::get_driver(options).await
    }

    /// The schemes registered, with the stores this build was compiled with.
    pub fn schemes() -> Vec<String> {
        crate::register_builtin_stores();
        osprofiler_core::driver::schemes()
    }
}

/// Registers the stores this build was compiled with: the SQL store (`sqlite://`, and
/// `postgresql://` / `mysql://` with their features). Called by [`init_from_conf`] and
/// [`driver::get_driver`]; cheap after the first call.
pub fn register_builtin_stores() {
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(osprofiler_sql::register);
    }
}

/// Sets profiling up from `conf` (Python's `init_from_conf`): when `enabled`, creates the
/// driver for `connection_string` (the embedded SQLite store when unset), starts the queue
/// pipeline and makes it the process-wide notifier. A driver that cannot start leaves the
/// service running with profiling off and one logged error, as Python does since 2.9.
///
/// The built-in stores are registered first ([`register_builtin_stores`]); stores in other
/// crates register themselves before this (`osprofiler_redis::register()`, ...).
pub async fn init_from_conf(
    conf: &ProfilerConfig,
    project: Option<&str>,
    service: Option<&str>,
) -> Profiling {
    register_builtin_stores();
    osprofiler_core::init_from_conf(conf, project, service).await
}

/// Like [`init_from_conf`], but returns the error instead of turning profiling off.
pub async fn try_init_from_conf(
    conf: &ProfilerConfig,
    project: Option<&str>,
    service: Option<&str>,
) -> Result<Profiling, InitError> {
    register_builtin_stores();
    osprofiler_core::try_init_from_conf(conf, project, service).await
}
