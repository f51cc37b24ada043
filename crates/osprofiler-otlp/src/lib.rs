//! The `otlp://` driver of OSprofiler: trace points exported as OpenTelemetry spans over
//! OTLP/HTTP (protobuf), with Python OSprofiler 4.4.0's otlp-driver mapping, so that Rust and
//! Python services of one deployment show up alike in Jaeger, Tempo or any OTLP collector.
//!
//! # Use
//!
//! ```no_run
//! # async fn run() -> Result<(), osprofiler::driver::DriverError> {
//! osprofiler_otlp::register(); // once, before the notifier is made
//! let mut conf = osprofiler::ProfilerConfig::default();
//! conf.enabled = true;
//! conf.connection_string = Some("otlp://127.0.0.1:4318".into());
//! let profiling = osprofiler::init_from_conf(&conf, Some("nova"), Some("api")).await;
//! # Ok(()) }
//! ```
//!
//! # Connection string
//!
//! `otlp://[user[:password]@]host[:port][/path]`, read as Python reads it: the spans are
//! `POST`ed to `http://host:port[/path]/v1/traces` (port 80 when none is named; the usual
//! collector port is 4318), `Content-Type: application/x-protobuf`. A user and password become
//! HTTP basic authentication (as Python's `requests` does); messages mask the password. A
//! trailing `/` is dropped and a query or fragment refused (Python would build a broken URL).
//! There is no `https` (Python has none either). `[profiler_otlp] service_name_prefix`
//! prefixes the service name.
//!
//! # Mapping (Python's `osprofiler/drivers/otlp.py`)
//!
//! | span field | from |
//! |---|---|
//! | trace id | the 128 bits of `base_id` (a uuid) |
//! | span id | the low 64 bits of `trace_id` |
//! | parent span id | the low 64 bits of `parent_id`; none when `parent_id == base_id` (the root) |
//! | name | `WSGI_<method>_<path>` (info `request`), `SQL_<first word of the statement, upper-cased>` (info `db`), `REQUESTS_<method>_<hostname>` (info `requests`), else the point name cut by Python's `rstrip("-start")` (which strips a *set* of characters: `driver` becomes `drive`) |
//! | kind | `SERVER` if the notification name contains `wsgi`; `CLIENT` if it contains `db`, `http` or `api`; else `INTERNAL` |
//! | attributes (start) | `db.statement`, `db.params` (Python's JSON of the params); `http.path`, `http.query`, `http.method`, `http.scheme` (wsgi); the same plus `http.hostname`, `http.port` (requests); `args`, `kwargs`, `name` (function) |
//! | attributes (stop) | `result` (of `db` or `function`, when truthy), `status_code` (requests), `error = true` with an error |
//! | events | an error stop (`info.etype`) adds the event `log` with `error.kind` and `message` |
//! | times | start and end from the timestamps of the start and stop notifications (Python uses the driver's clock; this driver runs later, in the notifier's worker) |
//! | resource | `service.name` = `<prefix>-<project>-<service>` (or `<project>-<service>`) |
//! | scope | `osprofiler.drivers.otlp`, as Python's |
//!
//! Attribute values keep their JSON type (strings, integers, floats, booleans, lists as
//! arrays, objects as key-value lists, `null` as an empty value), as Python's encoder writes
//! the same values. [`mapping`] has the rules and the few places where this driver does not
//! fail where Python would.
//!
//! # Pairing, batching and limits
//!
//! A span needs both ends, so a start waits in memory for its stop, found by `trace_id`
//! (Python pairs by position, which mixes up concurrent requests). The notifier's worker hands
//! the driver batches; each batch's ended spans go out in **one** request. Bounds:
//! - at most [`OtlpOptions::max_open_spans`] starts wait (65,536); when full the oldest is
//!   dropped. A start whose stop never comes is never exported (as in Python) and stays until
//!   pushed out that way;
//! - a stop whose start was never seen is dropped; both are counted ([`OtlpDriver::stats`])
//!   and logged once;
//! - every export is bounded by [`OtlpOptions::timeout`] (5 s, or Python's
//!   `OTEL_EXPORTER_OTLP_TIMEOUT` in seconds) and the connect by 2 s. A refused connection,
//!   a timeout or a 4xx/5xx answer fails the batch with a [`DriverError::Backend`] naming the
//!   connection string and the URL: its spans are lost and counted (no retry, so that an
//!   outage costs spans, never the notifier's queue or the traced code's time), and the
//!   next batch connects again. Starts still waiting for their stops are kept, so a point
//!   that spans an outage is exported when it ends.
//!
//! Reading is not supported: `get_report`, `list_traces` and `list_error_traces` return
//! [`DriverError::Unsupported`] (Python's driver returns empty results): read the trace in
//! the OTel backend.
//!
//! [`DriverError::Backend`]: osprofiler::driver::DriverError::Backend
//! [`DriverError::Unsupported`]: osprofiler::driver::DriverError::Unsupported

#![forbid(unsafe_code)]

mod driver;
mod endpoint;
mod export;
pub mod mapping;
mod spans;

pub use driver::{factory, OtlpDriver, OtlpOptions, OtlpStats};

/// The scheme this crate serves.
pub const SCHEME: &str = "otlp";

/// Registers the `otlp` scheme with the core's driver registry, so that
/// `osprofiler::driver::get_driver` (and `init_from_conf`) can make an [`OtlpDriver`].
pub fn register() {
    osprofiler_core::driver::register_driver(SCHEME, factory);
}
