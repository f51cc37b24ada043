//! # osprofiler-examples
//!
//! Runnable examples of one OSprofiler trace across several processes. Not published; see
//! `README.md` in this folder for how to run them.
//!
//! - [`amqp`]: a small RPC over RabbitMQ with lapin (the message format is documented there),
//!   whose request context carries the trace as OpenStack's does (`osprofiler::rpc`).
//! - [`compute`]: the service: a `ComputeManager` whose methods are the RPC methods, and the
//!   callers' `ComputeApi`, both traced with `#[trace_impl(name = "rpc")]`.
//! - binaries `rpc_server` and `rpc_client` (in `src/bin/`).
//!
//! "Three services, one trace" (nova-api -> nova-compute -> nova-conductor in miniature), each
//! a process with its own config file ([`service`]):
//!
//! - [`api`]: the HTTP API (axum behind `osprofiler_tower::ServerTraceLayer`), binary `api`;
//! - [`worker`]: the worker reached over RPC, binary `worker`;
//! - [`conductor`]: the database layer, the only one with SQL (`osprofiler_sqlx`), binary
//!   `dbsvc`.
//!
//! [`transport`] lets the callers reach a server of the same process instead of a queue:
//! `osprofiler demo` runs the three services as tasks of one process, over RabbitMQ when one
//! answers and in process otherwise.

#![forbid(unsafe_code)]

pub mod amqp;
pub mod api;
pub mod compute;
pub mod conductor;
pub mod service;
pub mod transport;
pub mod worker;

use osprofiler::driver::default_connection_string;
use osprofiler::ProfilerConfig;

/// The `[profiler]` options of an example process: enabled, storing in `connection_string`
/// (the embedded default store when `None`), accepting `hmac_keys`.
pub fn profiler_config(
    connection_string: Option<String>,
    hmac_keys: Vec<String>,
) -> ProfilerConfig {
    ProfilerConfig {
        enabled: true,
        hmac_keys,
        connection_string: Some(connection_string.unwrap_or_else(default_connection_string)),
        ..ProfilerConfig::default()
    }
}

/// Logs to stderr (`RUST_LOG`, default `warn`): the driver's and pipeline's complaints.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
