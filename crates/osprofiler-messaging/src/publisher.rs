//! Publishing a batch with publisher confirms, and keeping (or lazily remaking) the
//! connection that does it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};

use crate::broker::{self, QUEUE};
use crate::transport_url::TransportUrl;

/// After a failed connect, batches fail at once for this long instead of each waiting for
/// another connect: a broker that is gone costs the notifier nothing but the drops.
pub(crate) const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// One open connection with a channel in confirm mode, the exchange and queue declared.
#[derive(Debug)]
pub(crate) struct Publisher {
    pub(crate) connection: Arc<Connection>,
    channel: Channel,
}

/// The AMQP properties kombu gives every message oslo.messaging publishes.
fn properties() -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_headers(FieldTable::default())
        .with_delivery_mode(2)
        .with_priority(0)
}

impl Publisher {
    /// Connects and declares. Runs on the driver's runtime.
    pub(crate) async fn open(
        url: &TransportUrl,
        exchange: &str,
        timeout: Duration,
    ) -> Result<Publisher, String> {
        let connection = broker::connect(url, timeout).await?;
        let setup = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| format!("cannot open a channel: {e}"))?;
            let (channel, _) = broker::declare(&connection, channel, exchange).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| format!("cannot enable publisher confirms: {e}"))?;
            Ok::<_, String>(channel)
        };
        match tokio::time::timeout(timeout, setup).await {
            Ok(Ok(channel)) => Ok(Publisher {
                connection: Arc::new(connection),
                channel,
            }),
            Ok(Err(e)) => {
                let _ = connection.close(0, "setup failed").await;
                Err(e)
            }
            Err(_) => {
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    connection.close(0, "setup timed out"),
                )
                .await;
                Err(format!(
                    "RabbitMQ did not finish the channel setup within {timeout:?}"
                ))
            }
        }
    }

    /// Whether the connection and channel are still usable.
    pub(crate) fn is_usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }

    /// Publishes every body, then waits until the broker has confirmed them all. Runs on the
    /// driver's runtime; the caller bounds the time.
    pub(crate) async fn publish(&self, exchange: &str, bodies: &[Vec<u8>]) -> Result<(), String> {
        let props = properties();
        // All publishes are started before any is awaited: each one's frames are queued (and
        // its delivery tag taken) when it is first polled, and `join_all` polls them first in
        // order, so the messages keep the batch's order without a wait per message.
        let sends = bodies.iter().map(|body| {
            self.channel.basic_publish(
                exchange,
                QUEUE,
                BasicPublishOptions::default(),
                body,
                props.clone(),
            )
        });
        let mut confirms = Vec::with_capacity(bodies.len());
        for sent in join_all(sends).await {
            confirms.push(sent.map_err(|e| format!("publish failed: {e}"))?);
        }
        let mut nacked = 0usize;
        for confirmation in join_all(confirms).await {
            let confirmation = confirmation.map_err(|e| format!("no publisher confirm: {e}"))?;
            if !confirmation.is_ack() {
                nacked += 1;
            }
        }
        if nacked > 0 {
            return Err(format!(
                "RabbitMQ refused {nacked} of {} messages (nack)",
                bodies.len()
            ));
        }
        Ok(())
    }

    /// Closes the connection politely (bounded).
    pub(crate) async fn close(self) {
        let _ =
            tokio::time::timeout(Duration::from_secs(1), self.connection.close(200, "bye")).await;
    }
}

/// The publisher's state: the open connection, or when the last connect failed.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) publisher: Option<Publisher>,
    pub(crate) failed_at: Option<(Instant, String)>,
}

impl State {
    /// The usable publisher, connecting first when there is none (or it broke), unless a
    /// connect failed less than [`RECONNECT_BACKOFF`] ago.
    pub(crate) async fn ensure(
        &mut self,
        url: &TransportUrl,
        exchange: &str,
        timeout: Duration,
    ) -> Result<&Publisher, String> {
        if let Some(p) = self.publisher.take() {
            if p.is_usable() {
                return Ok(self.publisher.insert(p));
            }
            tracing::warn!("osprofiler: the RabbitMQ connection was lost; reconnecting");
            p.close().await;
        }
        if let Some((at, error)) = &self.failed_at {
            if at.elapsed() < RECONNECT_BACKOFF {
                return Err(error.clone());
            }
        }
        match Publisher::open(url, exchange, timeout).await {
            Ok(p) => {
                if self.failed_at.take().is_some() {
                    tracing::info!("osprofiler: connected to RabbitMQ again");
                }
                Ok(self.publisher.insert(p))
            }
            Err(e) => {
                self.failed_at = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }
}
