//! Reaching RabbitMQ: connecting to the first reachable broker of the transport URL, and
//! declaring the exchange and queue as oslo.messaging does.
//!
//! The driver owns an I/O thread (the core's [`IoThread`], named `osprofiler-amqp`) because
//! lapin's socket must be polled all the time (heartbeats, confirms), while its callers only
//! drive their own runtime now and then: the notifier's worker enters its runtime only while
//! it hands over a batch. Every AMQP call runs there; callers await the result from any
//! runtime.
//!
//! [`IoThread`]: osprofiler_core::driver::io::IoThread

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::transport_url::TransportUrl;

/// The queue (and routing key) of profiler notifications: oslo's `<topic>.<priority>` for
/// Python OSprofiler's topic `profiler` and priority `info`.
pub const QUEUE: &str = "profiler.info";

/// Connects to the first broker of `url` that answers within `timeout`, trying them in the
/// URL's order (as oslo.messaging does). Must run on the driver's runtime (lapin's socket
/// is registered with the runtime it is made on).
pub(crate) async fn connect(url: &TransportUrl, timeout: Duration) -> Result<Connection, String> {
    let handle = tokio::runtime::Handle::current();
    let mut errors = Vec::new();
    for broker in &url.brokers {
        let uri = url.amqp_uri(broker, timeout.as_millis().try_into().unwrap_or(u64::MAX));
        let props = ConnectionProperties::default()
            .with_connection_name("osprofiler".into())
            .with_executor(tokio_executor_trait::Tokio::default().with_handle(handle.clone()))
            .with_reactor(tokio_reactor_trait::Tokio::default().with_handle(handle.clone()));
        match tokio::time::timeout(timeout, Connection::connect_uri(uri, props)).await {
            Ok(Ok(connection)) => return Ok(connection),
            Ok(Err(e)) => errors.push(format!("{}: {e}", url.broker_display(broker))),
            Err(_) => errors.push(format!(
                "{}: no answer within {timeout:?}",
                url.broker_display(broker)
            )),
        }
    }
    Err(format!("cannot connect to RabbitMQ: {}", errors.join("; ")))
}

/// Declares the topic exchange `exchange`, the queue [`QUEUE`] and their binding, as
/// oslo.messaging's notifier declares them on its first send (non-durable, not auto-delete,
/// no arguments), so that nothing is lost before a reader exists and Python services'
/// own declarations keep matching. Returns the number of messages ready in the queue.
///
/// A deployment may have made them otherwise (oslo.messaging's `amqp_durable_queues`,
/// `rabbit_quorum_queue`, ...): when RabbitMQ refuses the declaration as inequivalent, the
/// existing exchange and queue are used as they are (passive declarations on a new channel,
/// which is then returned).
pub(crate) async fn declare(
    connection: &Connection,
    channel: Channel,
    exchange: &str,
) -> Result<(Channel, u32), String> {
    match declare_with(&channel, exchange, false).await {
        Ok(n) => Ok((channel, n)),
        Err(first) if first.contains("PRECONDITION_FAILED") => {
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| format!("cannot open a channel: {e}"))?;
            match declare_with(&channel, exchange, true).await {
                Ok(n) => Ok((channel, n)),
                Err(_) => Err(first),
            }
        }
        Err(e) => Err(e),
    }
}

/// Declares (or, `passive`, only checks) the exchange and queue, then binds them.
async fn declare_with(channel: &Channel, exchange: &str, passive: bool) -> Result<u32, String> {
    channel
        .exchange_declare(
            exchange,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                passive,
                durable: false,
                auto_delete: false,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("cannot declare exchange `{exchange}`: {e}"))?;
    let queue = channel
        .queue_declare(
            QUEUE,
            QueueDeclareOptions {
                passive,
                durable: false,
                auto_delete: false,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("cannot declare queue `{QUEUE}`: {e}"))?;
    channel
        .queue_bind(
            QUEUE,
            exchange,
            QUEUE,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("cannot bind queue `{QUEUE}` to `{exchange}`: {e}"))?;
    Ok(queue.message_count())
}
