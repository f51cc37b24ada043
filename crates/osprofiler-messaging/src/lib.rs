//! # osprofiler-messaging
//!
//! The `messaging://` driver of [`osprofiler`]: trace points published to RabbitMQ as
//! oslo.messaging notifications, exactly as Python OSprofiler's messaging driver publishes
//! them, and traces read back from the queue. Python and Rust services can share one broker;
//! either side's `osprofiler trace show` reads what the other wrote.
//!
//! ```no_run
//! # async fn run() -> Result<(), osprofiler::driver::DriverError> {
//! use std::sync::Arc;
//! use osprofiler::driver::{Driver, DriverOptions};
//! use osprofiler::notifier::{BatchConfig, BatchNotifier};
//!
//! let mut options = DriverOptions::new("messaging://");
//! options.config.transport_url = Some("rabbit://guest:guest@127.0.0.1:5672/".into());
//! options.service = Some("api".into());
//! let driver = Arc::new(osprofiler_messaging::MessagingDriver::connect(options).await?);
//! let notifier = BatchNotifier::start(driver.clone(), BatchConfig::default());
//! // ... profilers made with `notifier` publish their points ...
//! # Ok(()) }
//! ```
//!
//! Or register the scheme once and let configuration choose: [`register`], then
//! `osprofiler::init_from_conf` or `osprofiler::driver::get_driver` with
//! `connection_string = messaging://`.
//!
//! ## Connection string and transport URL
//!
//! `messaging://`, as in Python. The broker is not in the connection string but in the
//! oslo.messaging transport URL: `[DEFAULT] transport_url` of the service's config
//! ([`osprofiler::ProfilerConfig::transport_url`]), or the CLI's `--transport-url`. Its form is
//! oslo.messaging's, `rabbit://user:pass@host:5672[,user:pass@host2:5672]/vhost`: brokers are
//! tried in order and the first that answers is used; user, password and virtual host are
//! percent-decoded; an empty path is the virtual host `/`. Without one, oslo.messaging's
//! default is used, `rabbit://guest:guest@localhost:5672/`. TLS and oslo's query options are
//! not supported (they give an error, not a silent plain connection).
//!
//! Two options may follow in the connection string, for tools that can only pass one string:
//! `messaging://?idle_timeout=5&transport_url=rabbit%3A%2F%2Fu%3Ap%40host%2F` (the URL
//! percent-encoded). Anything else after `messaging://` is refused.
//!
//! The exchange is [`osprofiler::ProfilerConfig::control_exchange`] (`[DEFAULT]
//! control_exchange`, default `openstack`); `publisher_id` is the driver's host
//! ([`osprofiler::driver::DriverOptions::host`]).
//!
//! ## What goes on the wire (`docs/stores.md`, messaging)
//!
//! - a topic exchange `control_exchange` and a queue `profiler.info` bound to it with the
//!   routing key `profiler.info`, declared as oslo.messaging declares them (non-durable, not
//!   auto-delete, no arguments), by the publisher on connecting, so nothing is lost before a
//!   reader exists; when the deployment made them otherwise (oslo's `amqp_durable_queues`,
//!   `rabbit_quorum_queue`), RabbitMQ refuses that declaration and the existing ones are used
//!   as they are;
//! - one message per notification, the oslo.messaging 1.0 message (no envelope):
//!   `{"message_id", "publisher_id", "event_type": "profiler.<service>", "priority": "INFO",
//!   "payload": <the notification>, "timestamp": "YYYY-MM-DD HH:MM:SS.ffffff", "_unique_id"}`,
//!   written as Python's `json.dumps` writes it; AMQP properties `content_type
//!   application/json`, `content_encoding utf-8`, `delivery_mode 2` (persistent), `priority
//!   0`, empty headers, as kombu sets them;
//! - publisher confirms: [`notify`](osprofiler::driver::Driver::notify) publishes the whole
//!   batch, then returns only when RabbitMQ has confirmed every message of it.
//!
//! ## Reading and the idle timeout
//!
//! [`get_notifications`](osprofiler::driver::Driver::get_notifications) (and so `get_report`) consumes `profiler.info` and keeps
//! the priority-`INFO` notifications of the trace (the 1.0 message or the 2.0 envelope
//! `{"oslo.version": "2.0", "oslo.message": "<json>"}`), in queue order, until no
//! notification of the trace has arrived for the idle timeout (default 1 s, as Python's;
//! [`MessagingDriver::with_idle_timeout`] or `?idle_timeout=N`). A trace still being written
//! (an asynchronous operation) needs a longer one. Progress is reported through `tracing`
//! events (`info` level, target `osprofiler_messaging`) at the start, every 2 s, and at the
//! end. A queue has no index: a reader reads (and holds) everything queued, and when another
//! consumer (a collector) reads the same queue, RabbitMQ shares the messages between them.
//!
//! ## What differs from Python
//!
//! - Python's reader acknowledges, and so destroys, every message it reads, other traces'
//!   included. This reader acknowledges only the notifications of the trace it shows; all
//!   other messages stay unacknowledged while it reads (so it holds them, with no prefetch
//!   limit) and are requeued, in their places, when it ends.
//! - Python counts the idle time from the start; on a queue with a long backlog it can stop
//!   before reaching the trace. Here the idle time counts from the later of the trace's last
//!   notification and the end of the backlog queued at the start.
//! - Python matches `base_id` as a regular expression (a prefix match); here it must be equal.
//! - `list_traces` and `list_error_traces` are not supported, as in Python (a queue cannot
//!   be listed without consuming it): they return
//!   [`DriverError::Unsupported`](osprofiler::driver::DriverError::Unsupported).
//! - A failed batch is reported to the notifier (counted as failed) rather than logged and
//!   forgotten inside oslo.messaging; the connection is made again, lazily, on the next
//!   batch (at most one connect attempt per 0.5 s while the broker is gone).
//! - No request context travels with a message (Python services that pass one to
//!   `notifier.create` add `_context_*` keys after `_unique_id`; readers ignore them).
//!
//! ## Consuming the queue for good
//!
//! A collector (`osprofiler serve --transport-url`) takes every message of the queue and
//! stores it: [`consumer::QueueConsumer`] takes batches and acknowledges each only after the
//! caller has stored it; [`read_message`] reads a message (1.0 or the 2.0 envelope).
//!
//! The driver runs its AMQP I/O on its own I/O thread (`osprofiler-amqp`, the core's
//! [`IoThread`](osprofiler_core::driver::io::IoThread)), so heartbeats and confirms are
//! served even while the caller's runtime is idle (the notifier's worker enters its own only
//! to hand over a batch); it can be called and dropped from any runtime.
//!
//! Every call is bounded: connect per broker, channel setup and each batch's publishing and
//! confirming within [`DEFAULT_TIMEOUT`] ([`MessagingDriver::with_timeout`]).

#![forbid(unsafe_code)]

mod broker;
pub mod consumer;
mod driver;
mod message;
mod publisher;
mod reader;
pub mod transport_url;

use std::sync::Arc;

use osprofiler_core::driver::{register_driver, Driver, DriverOptions};

pub use broker::QUEUE;
pub use driver::{MessagingDriver, DEFAULT_IDLE_TIMEOUT, DEFAULT_TIMEOUT};
pub use message::{read_message, write_message, Received};
pub use transport_url::{TransportUrl, TransportUrlError, DEFAULT_TRANSPORT_URL};

/// The future a driver factory returns.
pub type DriverFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<Arc<dyn Driver>, osprofiler_core::driver::DriverError>,
            > + Send,
    >,
>;

/// Makes a [`MessagingDriver`] for the registry (see [`MessagingDriver::connect`]).
pub fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move {
        let driver = MessagingDriver::connect(options).await?;
        Ok(Arc::new(driver) as Arc<dyn Driver>)
    })
}

/// Registers the scheme `messaging` with [`osprofiler::driver::get_driver`].
pub fn register() {
    register_driver("messaging", factory);
}
