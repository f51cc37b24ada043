//! A long-lived consumer of the `profiler.info` queue, for a collector: it takes the
//! messages in batches and acknowledges a batch only when told to (after the caller has
//! stored it), so that nothing taken is lost when the caller or its store fails.
//!
//! The exchange and queue are declared as oslo.messaging declares them
//! ([`broker::declare`](crate::broker)), so Python services keep publishing to the same
//! queue whichever side declared it first. Several consumers (several collectors) may read
//! one queue: RabbitMQ shares the messages between them (competing consumers), and a message
//! one of them took but did not acknowledge goes back to the queue when its channel closes
//! (a crash, a lost connection, [`QueueConsumer::close`]).
//!
//! Runs on the caller's tokio runtime, which must keep running while the consumer lives
//! (lapin's socket is served by it: heartbeats, deliveries).

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

use crate::broker::{self, QUEUE};
use crate::transport_url::TransportUrl;

/// How a [`QueueConsumer`] reads.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// The topic exchange the queue is bound to (oslo's `control_exchange`, `openstack`).
    pub exchange: String,
    /// How many unacknowledged messages RabbitMQ may hand this consumer at once (AMQP
    /// `basic.qos` prefetch count). At least the batch size, so a batch fills while the
    /// previous one is stored.
    pub prefetch: u16,
    /// The longest a connect (per broker) or the channel setup may take.
    pub timeout: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            exchange: "openstack".to_owned(),
            prefetch: 2000,
            timeout: crate::DEFAULT_TIMEOUT,
        }
    }
}

/// One message taken from the queue.
#[derive(Debug)]
pub struct Delivered {
    /// Its body, as sent.
    pub body: Vec<u8>,
    /// Whether RabbitMQ delivered it before (to a consumer that did not acknowledge it).
    pub redelivered: bool,
}

/// A batch of messages taken in queue order, to be acknowledged together with
/// [`QueueConsumer::ack`].
#[derive(Debug)]
pub struct Batch {
    /// The messages, in queue order.
    pub messages: Vec<Delivered>,
    last_tag: u64,
}

/// A consumer of [`QUEUE`] on one connection and channel. See the [module docs](self).
pub struct QueueConsumer {
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
    tag: String,
    broker: String,
    /// The batch being taken (kept across a cancelled [`QueueConsumer::next_batch`]).
    pending: Vec<Delivered>,
    pending_tag: u64,
    pending_deadline: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for QueueConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueConsumer")
            .field("broker", &self.broker)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl QueueConsumer {
    /// Connects to the first broker of `url` that answers, declares the exchange and the
    /// queue as oslo.messaging does, sets the prefetch and starts consuming. Errors name the
    /// broker (password masked) and what failed.
    pub async fn connect(
        url: &TransportUrl,
        options: &ConsumerOptions,
    ) -> Result<QueueConsumer, String> {
        let connection = broker::connect(url, options.timeout).await?;
        let setup = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(|e| format!("cannot open a channel: {e}"))?;
            let (channel, _) = broker::declare(&connection, channel, &options.exchange).await?;
            channel
                .basic_qos(options.prefetch, BasicQosOptions::default())
                .await
                .map_err(|e| format!("cannot set the prefetch count: {e}"))?;
            let tag = format!(
                "osprofiler-collector-{}",
                osprofiler_core::TraceId::new_v4()
            );
            let consumer = channel
                .basic_consume(
                    QUEUE,
                    &tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| format!("cannot consume `{QUEUE}`: {e}"))?;
            Ok::<_, String>((channel, tag, consumer))
        };
        let outcome = match tokio::time::timeout(options.timeout, setup).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "RabbitMQ did not open `{QUEUE}` within {:?}",
                options.timeout
            )),
        };
        match outcome {
            Ok((channel, tag, consumer)) => Ok(QueueConsumer {
                broker: url.to_string(),
                connection,
                channel,
                consumer,
                tag,
                pending: Vec::new(),
                pending_tag: 0,
                pending_deadline: None,
            }),
            Err(e) => {
                let _ = connection.close(200, "setup failed").await;
                Err(e)
            }
        }
    }

    /// The transport URL it consumes from, password masked.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// Waits up to `wait` for a first message, then takes the messages that follow it until
    /// `max` are taken or `linger` has passed since the first. `Ok(None)` when nothing came
    /// within `wait`. An error means the connection or the channel is gone: the messages
    /// taken and not acknowledged go back to the queue (RabbitMQ requeues them).
    ///
    /// Cancel-safe: dropped before it returns (in a `select!`), it keeps the messages it
    /// took, and the next call goes on with them. Nothing taken is ever skipped, which
    /// matters because [`ack`](Self::ack) acknowledges every message up to a batch's last.
    pub async fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
        linger: Duration,
    ) -> Result<Option<Batch>, String> {
        let deadline = match self.pending_deadline {
            Some(d) => d,
            None => {
                let first = match tokio::time::timeout(wait, self.consumer.next()).await {
                    Err(_) => return Ok(None),
                    Ok(next) => Self::delivery(next)?,
                };
                self.take(first);
                let d = tokio::time::Instant::now() + linger;
                self.pending_deadline = Some(d);
                d
            }
        };
        while self.pending.len() < max {
            match tokio::time::timeout_at(deadline, self.consumer.next()).await {
                Err(_) => break,
                Ok(next) => {
                    let d = Self::delivery(next)?;
                    self.take(d);
                }
            }
        }
        self.pending_deadline = None;
        let messages = std::mem::take(&mut self.pending);
        Ok(Some(Batch {
            messages,
            last_tag: self.pending_tag,
        }))
    }

    fn take(&mut self, d: lapin::message::Delivery) {
        self.pending_tag = d.delivery_tag;
        self.pending.push(Delivered {
            body: d.data,
            redelivered: d.redelivered,
        });
    }

    fn delivery(
        next: Option<lapin::Result<lapin::message::Delivery>>,
    ) -> Result<lapin::message::Delivery, String> {
        match next {
            None => Err(format!("RabbitMQ ended the consumer of `{QUEUE}`")),
            Some(Err(e)) => Err(format!("reading `{QUEUE}` failed: {e}")),
            Some(Ok(d)) => Ok(d),
        }
    }

    /// Acknowledges every message of `batch` (and of the batches before it), within
    /// `timeout`.
    pub async fn ack(&self, batch: &Batch, timeout: Duration) -> Result<(), String> {
        let ack = self
            .channel
            .basic_ack(batch.last_tag, BasicAckOptions { multiple: true });
        match tokio::time::timeout(timeout, ack).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("cannot acknowledge: {e}")),
            Err(_) => Err(format!(
                "RabbitMQ did not take the acknowledgement within {timeout:?}"
            )),
        }
    }

    /// How many messages wait in the queue, ready for a consumer (not counting those taken
    /// and not yet acknowledged): the consumers' lag.
    pub async fn queue_depth(&self, timeout: Duration) -> Result<u32, String> {
        let declare = self.channel.queue_declare(
            QUEUE,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        );
        match tokio::time::timeout(timeout, declare).await {
            Ok(Ok(q)) => Ok(q.message_count()),
            Ok(Err(e)) => Err(format!("cannot read the depth of `{QUEUE}`: {e}")),
            Err(_) => Err(format!("RabbitMQ did not answer within {timeout:?}")),
        }
    }

    /// Whether the connection is still up.
    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Stops consuming and closes the channel and the connection, within `timeout`: the
    /// messages taken and not acknowledged go back to the queue.
    pub async fn close(self, timeout: Duration) {
        let close = async {
            let _ = self
                .channel
                .basic_cancel(&self.tag, BasicCancelOptions::default())
                .await;
            let _ = self.channel.close(200, "closing").await;
            let _ = self.connection.close(200, "closing").await;
        };
        let _ = tokio::time::timeout(timeout, close).await;
    }
}
