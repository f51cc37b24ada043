//! [`MessagingDriver`]: the `messaging://` driver, publishing and reading
//! oslo.messaging notifications on RabbitMQ.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use osprofiler_core::driver::io::IoThread;
use osprofiler_core::driver::{ConnectionString, Driver, DriverError, DriverOptions, StoredTrace};
use osprofiler_core::timestamp::Timestamp;
use osprofiler_core::Notification;
use percent_encoding::percent_decode_str;

use crate::message::write_message;
use crate::publisher::{Publisher, State};
use crate::reader::read_trace;
use crate::transport_url::{TransportUrl, DEFAULT_TRANSPORT_URL};

/// How long a report read waits for more notifications of the trace: Python's default
/// (`idle_timeout=1` of its driver, `--idle-timeout 1` of its CLI).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest a connect (per broker), a channel setup, or the publishing and confirming of
/// one batch may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `messaging://` driver: Python OSprofiler's messaging driver (oslo.messaging
/// notifications, exchange `control_exchange`, queue `profiler.info`) on RabbitMQ.
///
/// Made by [`MessagingDriver::connect`] (or the registry, see [`crate::register`]), which
/// connects at once so that a broker that is not there is reported at start-up. A connection
/// lost later is made again on the next batch.
pub struct MessagingDriver {
    display: String,
    transport: TransportUrl,
    exchange: String,
    publisher_id: String,
    idle_timeout: Duration,
    timeout: Duration,
    state: Arc<tokio::sync::Mutex<State>>,
    // Last: dropped after `state`'s connection is closed.
    runtime: IoThread,
}

impl std::fmt::Debug for MessagingDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingDriver")
            .field("connection", &self.display)
            .field("exchange", &self.exchange)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// What the connection string adds: `messaging://[?idle_timeout=SECONDS][&transport_url=URL]`.
#[derive(Debug, Default)]
struct CsOptions {
    idle_timeout: Option<Duration>,
    transport_url: Option<String>,
}

fn parse_connection_string(cs: &ConnectionString) -> Result<CsOptions, DriverError> {
    let bad = |reason: String| DriverError::BadConnectionString {
        connection: cs.to_string(),
        reason,
    };
    let rest = cs.rest();
    let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !place.trim_matches('/').is_empty() {
        return Err(bad(
            "messaging:// names no broker: give it with the transport URL \
             (--transport-url, [DEFAULT] transport_url, or ?transport_url=...)"
                .into(),
        ));
    }
    let mut out = CsOptions::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| bad(format!("`{key}` is not UTF-8")))?;
        match key {
            "idle_timeout" => {
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e9)
                    .ok_or_else(|| {
                        bad(format!("idle_timeout `{value}` is not a number of seconds"))
                    })?;
                out.idle_timeout = Some(Duration::from_secs_f64(secs));
            }
            "transport_url" => out.transport_url = Some(value.into_owned()),
            other => return Err(bad(format!("unknown option `{other}`"))),
        }
    }
    Ok(out)
}

impl MessagingDriver {
    /// Makes the driver and connects to the broker.
    ///
    /// The broker is the transport URL: the connection string's `transport_url` option,
    /// else `options.config.transport_url`, else oslo.messaging's default
    /// (`rabbit://guest:guest@localhost:5672/`). The exchange is
    /// `options.config.control_exchange`; `publisher_id` is `options.host`.
    ///
    /// Errors name the connection string and the transport URL, passwords masked. An
    /// unreachable broker fails within [`DEFAULT_TIMEOUT`] per broker of the URL.
    pub async fn connect(options: DriverOptions) -> Result<MessagingDriver, DriverError> {
        let cs = ConnectionString::parse(&options.connection_string);
        let extra = parse_connection_string(&cs)?;
        let url_text = extra
            .transport_url
            .or_else(|| options.config.transport_url.clone())
            .unwrap_or_else(|| DEFAULT_TRANSPORT_URL.to_owned());
        let transport =
            TransportUrl::parse(&url_text).map_err(|e| DriverError::BadConnectionString {
                connection: cs.to_string(),
                reason: e.to_string(),
            })?;
        let exchange = if options.config.control_exchange.is_empty() {
            "openstack".to_owned()
        } else {
            options.config.control_exchange.clone()
        };
        let runtime = IoThread::start("osprofiler-amqp").map_err(|e| DriverError::Backend {
            connection: cs.to_string(),
            message: format!("cannot start the AMQP runtime: {e}"),
        })?;
        let driver = MessagingDriver {
            display: format!("{cs} (transport {transport}, exchange {exchange})"),
            transport,
            exchange,
            publisher_id: options.host,
            // The connection string's `idle_timeout` wins over the config's (the CLI's
            // `--idle-timeout`, default 1 s as Python's CLI).
            idle_timeout: extra.idle_timeout.unwrap_or_else(|| {
                Duration::try_from_secs_f64(options.config.idle_timeout)
                    .unwrap_or(DEFAULT_IDLE_TIMEOUT)
            }),
            timeout: DEFAULT_TIMEOUT,
            state: Arc::default(),
            runtime,
        };
        driver.ensure_connected().await?;
        Ok(driver)
    }

    /// How long [`get_notifications`](Driver::get_notifications) waits for more notifications of the trace
    /// (Python's `--idle-timeout`; default 1 s).
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// The longest a connect (per broker) or one batch's publishing and confirming may take
    /// (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The idle timeout in use.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The exchange notifications are published to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    fn backend(&self, message: String) -> DriverError {
        DriverError::Backend {
            connection: self.display.clone(),
            message,
        }
    }

    /// Connects unless connected; returns the connection.
    async fn ensure_connected(&self) -> Result<Arc<lapin::Connection>, DriverError> {
        let state = self.state.clone();
        let url = self.transport.clone();
        let exchange = self.exchange.clone();
        let timeout = self.timeout;
        let limit = timeout * (url.brokers.len() as u32 + 1);
        self.runtime
            .run(async move {
                let mut state = state.lock().await;
                tokio::time::timeout(limit, state.ensure(&url, &exchange, timeout))
                    .await
                    .map_err(|_| format!("no connection within {limit:?}"))?
                    .map(|p| p.connection.clone())
            })
            .await
            .and_then(|r| r)
            .map_err(|e| self.backend(e))
    }
}

#[async_trait]
impl Driver for MessagingDriver {
    fn name(&self) -> &'static str {
        "messaging"
    }

    /// Publishes the batch, in order, and returns once RabbitMQ has confirmed every message.
    /// On any failure the connection is dropped and made again on the next batch.
    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut bodies = Vec::with_capacity(batch.len());
        for n in batch {
            let mut body = Vec::with_capacity(512);
            write_message(&mut body, n, &self.publisher_id, now)
                .map_err(|e| self.backend(format!("cannot encode a notification: {e}")))?;
            bodies.push(body);
        }
        let state = self.state.clone();
        let url = self.transport.clone();
        let exchange = self.exchange.clone();
        let timeout = self.timeout;
        // On the driver's runtime: measured a little faster than polling the publishes on
        // the caller's (the notifier's) runtime, which saves two thread hops per batch.
        self.runtime
            .run(async move {
                let mut state = state.lock().await;
                let publisher = state.ensure(&url, &exchange, timeout).await?;
                let outcome = tokio::time::timeout(timeout, publisher.publish(&exchange, &bodies))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "RabbitMQ did not confirm {} messages within {timeout:?}",
                            bodies.len()
                        ))
                    });
                if outcome.is_err() {
                    if let Some(p) = state.publisher.take() {
                        p.close().await;
                    }
                }
                outcome
            })
            .await
            .and_then(|r| r)
            .map_err(|e| self.backend(e))
    }

    /// Reads trace `base_id` from the `profiler.info` queue until no notification of it has
    /// arrived for the idle timeout (see the [crate docs](crate)); an empty report when
    /// none came. Other traces' messages are left in the queue.
    async fn get_notifications(&self, base_id: &str) -> Result<StoredTrace, DriverError> {
        let connection = self.ensure_connected().await?;
        let exchange = self.exchange.clone();
        let base_id = base_id.to_owned();
        let (idle, timeout) = (self.idle_timeout, self.timeout);
        let outcome = self
            .runtime
            .run(read_trace(connection, exchange, base_id, idle, timeout))
            .await
            .and_then(|r| r)
            .map_err(|e| self.backend(e))?;
        tracing::debug!(
            read = outcome.read,
            of_trace = outcome.of_trace,
            "messaging report read"
        );
        Ok(StoredTrace::Notifications(outcome.notifications))
    }
}

impl Drop for MessagingDriver {
    /// Closes the connection politely (within 2 s; the broker then logs no abrupt close),
    /// waiting for it up to 3 s: without the wait the I/O thread would be stopped under
    /// lapin's I/O loop, which then logs errors and the broker an abrupt close.
    fn drop(&mut self) {
        let state = self.state.clone();
        let close = async move {
            let close = async {
                let publisher: Option<Publisher> = state.lock().await.publisher.take();
                if let Some(p) = publisher {
                    p.close().await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
        };
        let _ = self.runtime.run_blocking(close, Duration::from_secs(3));
    }
}
