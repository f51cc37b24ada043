//! # osprofiler-redis
//!
//! The `redis://` and `redissentinel://` drivers of [`osprofiler`], in Python OSprofiler's
//! Redis layout, so Python and Rust services write to one Redis and either side's tools read
//! the traces (`docs/stores.md`, Redis).
//!
//! ## Layout (Python's)
//!
//! | key | type | holds |
//! |---|---|---|
//! | `osprofiler_opt:<base_id>` | list | every notification of the trace, `LPUSH`ed, so newest first; each the JSON text Python's `json.dumps` writes |
//! | `osprofiler_error:<base_id>` | string | `{"base_id": ..., "timestamp": ...}` of an error, written only with `filter_error_trace` |
//! | `osprofiler:<base_id>...` | string | one notification each: the legacy layout, read but never written |
//!
//! Writing: the notifier's worker hands [`RedisDriver::notify`] a batch, which becomes one
//! pipeline (one `LPUSH` per trace in the batch, plus `EXPIRE`s and error `SET`s).
//! Reading: [`get_report`](osprofiler::driver::Driver::get_report) is Python's (legacy keys,
//! then `LRANGE 0 -1`, built in that order); `list_traces` lists *every* trace with the
//! timestamp of its first notification (Python's reads the second-newest one and skips
//! traces of one notification); `list_error_traces` reads the error records. Keys are found
//! with `SCAN`, never `KEYS`.
//!
//! ## Connection strings
//!
//! - `redis://[[user]:password@]host[:port][/db][?options]`: one server (port 6379).
//! - `redissentinel://[[user]:password@]host[:port][,host[:port]...][/db][?options]`: the
//!   master that these Sentinels (port 26379; tried in order) name for the service
//!   `sentinel_service_name` of the `[profiler]` options (default `mymaster`). The password
//!   is the master's; the Sentinels are asked without one, as Python's driver does (which
//!   reads a single `host:port`; a list is ours). A Sentinel that does not answer within the
//!   connect timeout is passed over for the next.
//!
//! Options (the query; anything else is refused with an error naming the string):
//! - `ttl=SECONDS`: every key written gets this expiry (refreshed on each write to the
//!   trace), so Redis does not grow without bound. Without it keys never expire, as with
//!   Python. Note that Python's redis client refuses unknown options: give `?ttl=` only to
//!   Rust services (Python services on the same Redis write keys without an expiry).
//! - `db=N`: the database, as `/N`.
//! - `socket_timeout=SECONDS`: overrides the `[profiler] socket_timeout` option.
//!
//! ## Time bounds and failures
//!
//! Every call is bounded: a connect (and each Sentinel's answer) by `max(socket_timeout,
//! 0.5 s)`, a batch write by `max(socket_timeout, 2 s)`, a read by `max(socket_timeout,
//! 60 s)`. A connection that fails is dropped and made again on a later call (asking the
//! Sentinels again, so a failover is followed); after a failed attempt, calls fail at once
//! for a pause (100 ms, doubling to 2 s) instead of waiting on a dead server. So while Redis
//! is down, batches fail fast and the notifier counts them; when it is back, the next call
//! reconnects. The connection lives on the driver's own I/O thread (`osprofiler-redis`), so
//! the driver can be called from any runtime or thread.
//!
//! [`register`] adds both schemes to [`osprofiler`]'s driver registry; the registry's
//! factory connects at once, so an unreachable server is one error at start (with
//! [`init_from_conf`](osprofiler::init_from_conf): profiling off, one logged error).
//! [`RedisDriver::new`] makes a driver that connects on first use instead.
//!
//! ## Example
//!
//! ```no_run
//! use std::time::Duration;
//! use osprofiler::driver::{get_driver, DriverOptions, GetReport};
//! use osprofiler::notifier::{BatchConfig, BatchNotifier};
//! use osprofiler::{profiler, Profiler, Trace};
//!
//! # async fn run() -> Result<(), osprofiler::driver::DriverError> {
//! osprofiler_redis::register();
//! let driver = get_driver(DriverOptions::new("redis://127.0.0.1:6379/0?ttl=86400")).await?;
//! let notifier = BatchNotifier::start(driver.clone(), BatchConfig::default());
//! let p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
//! let base_id = p.base_id().to_string();
//! profiler::set_current(Some(p));
//! {
//!     let _point = Trace::start("wsgi", None);
//! }
//! profiler::clean();
//! notifier.flush(Duration::from_secs(5));
//! let report = driver.get_report(&base_id).await?;
//! assert_eq!(report.roots().next().unwrap().info().name(), "wsgi");
//! # Ok(()) }
//! ```
//!
//! Runnable: `cargo run -p osprofiler-redis --example redis_trace -- [CONNECTION_STRING]`.
//! Speed against Python's driver: `scripts/bench_redis_vs_python.sh` (write throughput) and
//! `cargo run --release -p osprofiler-bench --bin redis_report` (`get_report` of a trace
//! of 100,000 notifications).

#![forbid(unsafe_code)]

mod driver;
pub mod encode;
mod link;
mod target;

use std::sync::Arc;

use osprofiler_core::driver::{register_driver, Driver, DriverFuture, DriverOptions};

pub use driver::RedisDriver;
pub use link::{Timeouts, FIRST_RETRY_PAUSE, MAX_RETRY_PAUSE};
pub use target::{Server, Target, DEFAULT_PORT, DEFAULT_SENTINEL_PORT};

/// The registry's factory for `redis://` and `redissentinel://`: parses the string,
/// connects (through Sentinel for `redissentinel://`) and `PING`s, within the connect
/// timeout.
pub fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move {
        let driver = RedisDriver::connect(&options).await?;
        Ok(Arc::new(driver) as Arc<dyn Driver>)
    })
}

/// Registers [`factory`] for the schemes `redis` and `redissentinel` in [`osprofiler`]'s
/// driver registry. Calling it again is harmless.
pub fn register() {
    register_driver("redis", factory);
    register_driver("redissentinel", factory);
}
