//! [`OtlpDriver`]: pairs the notifications of each batch into spans and exports the spans
//! that ended in it, in one OTLP/HTTP request per batch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use osprofiler_core::driver::{Driver, DriverError, DriverFuture, DriverOptions};
use osprofiler_core::notification::Notification;

use crate::endpoint::Endpoint;
use crate::export::Exporter;
use crate::mapping;
use crate::spans::{Finished, OpenSpans, Outcome};

/// Python's exporter reads these (in seconds); so does this driver.
const TIMEOUT_ENV: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
];

/// How an [`OtlpDriver`] is bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpOptions {
    /// The longest one export may take, connect to last byte of the answer. Default 5 s
    /// (below the notifier's 10 s batch timeout, so that a slow collector fails with a
    /// message naming it), or `$OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` /
    /// `$OTEL_EXPORTER_OTLP_TIMEOUT` in seconds, as Python's exporter reads them.
    pub timeout: Duration,
    /// The longest the TCP connect may take. Default 2 s (never more than `timeout`).
    pub connect_timeout: Duration,
    /// Starts that may wait for their stops; when full, the oldest open start is dropped
    /// (and counted). Default 65,536.
    pub max_open_spans: usize,
}

impl Default for OtlpOptions {
    fn default() -> Self {
        OtlpOptions {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_open_spans: 65_536,
        }
    }
}

impl OtlpOptions {
    /// The defaults, with the timeout from Python's exporter variables when one is set to a
    /// positive number of seconds.
    pub fn from_env() -> Self {
        let mut options = OtlpOptions::default();
        let from_env = TIMEOUT_ENV
            .iter()
            .find_map(|name| parse_timeout(&std::env::var(name).ok()?));
        if let Some(timeout) = from_env {
            options.timeout = timeout;
        }
        options
    }
}

/// A timeout in seconds (`"2.5"`); `None` unless it is a positive number.
fn parse_timeout(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
}

/// What the driver has done so far (see [`OtlpDriver::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtlpStats {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans in exports that failed (collector down, slow or refusing): lost.
    pub failed: u64,
    /// Stops whose start was never seen (or was evicted): dropped.
    pub unmatched_stops: u64,
    /// Open starts dropped because the map of open spans was full, or a start with the
    /// same `trace_id` came again.
    pub evicted_starts: u64,
    /// Starts waiting for their stops now.
    pub open: u64,
}

#[derive(Debug, Default)]
struct Counters {
    exported: AtomicU64,
    failed: AtomicU64,
    unmatched_stops: AtomicU64,
    evicted_starts: AtomicU64,
    open: AtomicU64,
    warned_unmatched: AtomicBool,
    warned_evicted: AtomicBool,
}

/// The `otlp://` driver: Python OSprofiler's otlp driver, write-only.
///
/// Each [`notify`](Driver::notify) batch is paired into spans (a start waits in memory for its
/// stop, bounded by [`OtlpOptions::max_open_spans`]); the spans that ended in the batch go out
/// in one request. Reading is not possible (`get_report` and the lists are
/// [`DriverError::Unsupported`]): the spans live in the OTel backend.
#[derive(Debug)]
pub struct OtlpDriver {
    exporter: Exporter,
    masked: String,
    prefix: Option<String>,
    project: Option<String>,
    service: Option<String>,
    open: Mutex<OpenSpans>,
    counters: Counters,
}

impl OtlpDriver {
    /// A driver for `options.connection_string` with [`OtlpOptions::from_env`]. Nothing is
    /// connected until the first export, so a collector that is not up yet is no error.
    pub fn new(options: &DriverOptions) -> Result<Self, DriverError> {
        Self::with_options(options, OtlpOptions::from_env())
    }

    /// A driver with explicit bounds.
    pub fn with_options(options: &DriverOptions, otlp: OtlpOptions) -> Result<Self, DriverError> {
        let endpoint = Endpoint::parse(&options.connection_string)?;
        let masked = endpoint.masked.clone();
        let connect_timeout = otlp.connect_timeout.min(otlp.timeout);
        Ok(OtlpDriver {
            exporter: Exporter::new(endpoint, otlp.timeout, connect_timeout),
            masked,
            prefix: options.config.otlp_service_name_prefix.clone(),
            project: options.project.clone(),
            service: options.service.clone(),
            open: Mutex::new(OpenSpans::new(otlp.max_open_spans)),
            counters: Counters::default(),
        })
    }

    /// The connection string, password masked.
    pub fn connection(&self) -> &str {
        &self.masked
    }

    /// The counters so far.
    pub fn stats(&self) -> OtlpStats {
        let c = &self.counters;
        OtlpStats {
            exported: c.exported.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            unmatched_stops: c.unmatched_stops.load(Ordering::Relaxed),
            evicted_starts: c.evicted_starts.load(Ordering::Relaxed),
            open: c.open.load(Ordering::Relaxed),
        }
    }

    /// `service.name` for a span: the driver's project and service (as Python's driver,
    /// which has them from `notifier.create`), else the notification's.
    fn service_name(&self, n: &Notification) -> String {
        mapping::service_name(
            self.prefix.as_deref(),
            self.project.as_deref().or(n.project.as_deref()),
            self.service.as_deref().or(n.service.as_deref()),
        )
    }

    fn lock(&self) -> MutexGuard<'_, OpenSpans> {
        match self.open.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Pairs `batch` and returns the spans that ended in it.
    fn pair(&self, batch: &[Notification]) -> Vec<Finished> {
        let mut finished = Vec::new();
        let (mut unmatched, mut evicted) = (0u64, 0u64);
        let mut open = self.lock();
        for n in batch {
            match open.take(n, || self.service_name(n)) {
                Outcome::Opened { evicted: e } => evicted += e as u64,
                Outcome::Finished(f) => finished.push(*f),
                Outcome::Unmatched => unmatched += 1,
            }
        }
        let c = &self.counters;
        c.open.store(open.len() as u64, Ordering::Relaxed);
        drop(open);
        if unmatched > 0 {
            c.unmatched_stops.fetch_add(unmatched, Ordering::Relaxed);
            if !c.warned_unmatched.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "osprofiler: {}: dropping stops whose start was never seen; further ones are only counted",
                    self.masked
                );
            }
        }
        if evicted > 0 {
            c.evicted_starts.fetch_add(evicted, Ordering::Relaxed);
            if !c.warned_evicted.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "osprofiler: {}: too many open spans, dropping the oldest starts; further ones are only counted",
                    self.masked
                );
            }
        }
        finished
    }
}

/// The registry's factory for `otlp://` (see [`crate::register`]).
pub fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move {
        let driver = OtlpDriver::new(&options)?;
        Ok(Arc::new(driver) as Arc<dyn Driver>)
    })
}

#[async_trait]
impl Driver for OtlpDriver {
    fn name(&self) -> &'static str {
        "otlp"
    }

    /// Pairs the batch and exports the spans that ended in it. A failed export loses those
    /// spans (counted in [`OtlpStats::failed`]); the starts still open wait for later batches.
    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        let finished = self.pair(batch);
        if finished.is_empty() {
            return Ok(());
        }
        let n = finished.len() as u64;
        match self.exporter.export(finished).await {
            Ok(()) => {
                self.counters.exported.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(message) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                Err(DriverError::Backend {
                    connection: self.masked.clone(),
                    message,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_connection_strings_fail_at_creation() {
        let err = OtlpDriver::new(&DriverOptions::new("otlp://u:pw@")).unwrap_err();
        assert!(matches!(err, DriverError::BadConnectionString { .. }));
        assert!(err.to_string().contains("otlp://u:***@"), "{err}");
    }

    #[test]
    fn service_name_prefers_the_drivers_project_and_service() {
        let mut options = DriverOptions::new("otlp://127.0.0.1:4318");
        options.config.otlp_service_name_prefix = Some("os".into());
        options.project = Some("nova".into());
        let driver = OtlpDriver::new(&options).unwrap();
        let n = Notification {
            name: "x-start".into(),
            base_id: String::new(),
            trace_id: String::new(),
            parent_id: String::new(),
            timestamp: String::new(),
            info: Default::default(),
            project: Some("other".into()),
            service: Some("api".into()),
        };
        assert_eq!(driver.service_name(&n), "os-nova-api");
    }

    #[tokio::test]
    async fn reading_is_unsupported() {
        let driver = OtlpDriver::new(&DriverOptions::new("otlp://127.0.0.1:4318")).unwrap();
        assert!(matches!(
            driver.get_notifications("x").await,
            Err(DriverError::Unsupported {
                driver: "otlp",
                operation: "get_report"
            })
        ));
        assert!(driver.list_traces(&[]).await.is_err());
        assert!(driver.list_error_traces().await.is_err());
    }

    #[tokio::test]
    async fn a_batch_without_finished_spans_sends_nothing() {
        // Nothing listens on port 9 here: an export would fail.
        let driver = OtlpDriver::new(&DriverOptions::new("otlp://127.0.0.1:9")).unwrap();
        driver.notify(&[]).await.unwrap();
        assert_eq!(driver.stats(), OtlpStats::default());
    }

    #[tokio::test]
    async fn open_starts_are_bounded_and_counted() {
        let otlp = OtlpOptions {
            max_open_spans: 2,
            ..OtlpOptions::default()
        };
        let driver =
            OtlpDriver::with_options(&DriverOptions::new("otlp://127.0.0.1:9"), otlp).unwrap();
        let start = |i: u8| Notification {
            name: "rpc-start".into(),
            base_id: "58989008-6a17-49af-9b56-9643d037cdff".into(),
            trace_id: format!("00000000-0000-4000-8000-0000000000{i:02x}"),
            parent_id: "58989008-6a17-49af-9b56-9643d037cdff".into(),
            timestamp: "2026-11-25T04:59:00.000001".into(),
            info: Default::default(),
            project: None,
            service: None,
        };
        let mut stop = start(1);
        stop.name = "rpc-stop".into();
        // Three starts into room for two, then the stop of the evicted first one: nothing
        // is exported (no request is made: port 9 would refuse it).
        driver
            .notify(&[start(1), start(2), start(3), stop])
            .await
            .unwrap();
        let stats = driver.stats();
        assert_eq!(stats.evicted_starts, 1);
        assert_eq!(stats.unmatched_stops, 1);
        assert_eq!(stats.open, 2);
        assert_eq!(stats.exported + stats.failed, 0);
    }

    #[test]
    fn timeouts_in_seconds_as_python_reads_them() {
        assert_eq!(parse_timeout(" 2.5 "), Some(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout("0"), None);
        assert_eq!(parse_timeout("-1"), None);
        assert_eq!(parse_timeout("soon"), None);
        assert_eq!(parse_timeout("inf"), None);
    }
}
