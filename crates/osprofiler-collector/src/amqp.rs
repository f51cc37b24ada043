//! Ingest from AMQP: the collector consumes the `profiler.info` queue that Python's and this
//! project's messaging drivers publish to, and stores every notification
//! (`docs/collector.md`, AMQP ingest).
//!
//! - The exchange and queue are declared as oslo.messaging declares them, so Python services
//!   keep publishing whichever side came first.
//! - Messages are taken in batches ([`AmqpConfig::batch_size`], at most
//!   [`AmqpConfig::linger`] after a batch's first message); a batch is acknowledged only
//!   after its notifications are committed to the store. A message RabbitMQ delivers again
//!   (after a crash before the acknowledgement) is stored once: the store drops repeats.
//! - A message that cannot be read (not an oslo.messaging notification, a payload that is
//!   not a notification, a priority other than `INFO`) is set aside in the store's
//!   `osprofiler_dead_letters` table, counted, and acknowledged with its batch: never
//!   retried, never in the way of the messages behind it.
//! - While the store fails, the batch is tried again (every 0.5 s, then up to every 5 s)
//!   and nothing more is taken: the messages stay in RabbitMQ, unacknowledged, until the
//!   store is back.
//! - A lost connection is made again by itself (every 0.5 s, then up to every 5 s); the
//!   messages taken and not acknowledged go back to the queue.

use std::time::{Duration, Instant};

use osprofiler_messaging::consumer::{Batch, ConsumerOptions, Delivered, QueueConsumer};
use osprofiler_messaging::{read_message, TransportUrl};
use osprofiler_sql::store::{DeadLetter, Incoming};

use crate::Collector;

/// Notifications per batch, by default (one store transaction each).
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// Unacknowledged messages RabbitMQ may hand over at once, by default: four batches, so the
/// next batches fill while one is stored.
pub const DEFAULT_PREFETCH: u16 = 2000;

/// How long a batch waits for more messages after its first, by default.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(20);

/// How often the queue's depth (the consumers' lag) is asked for.
const DEPTH_EVERY: Duration = Duration::from_secs(5);

/// The longest an acknowledgement or a depth query may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits between attempts (reconnecting, storing again): from the first to the last,
/// doubling.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(5));

/// How often a fault that lasts is logged again.
const LOG_AGAIN: Duration = Duration::from_secs(30);

/// Where and how the collector consumes.
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// The brokers (oslo.messaging transport URL).
    pub url: TransportUrl,
    /// The topic exchange (oslo's `control_exchange`, `openstack` by default).
    pub exchange: String,
    /// Unacknowledged messages RabbitMQ may hand over at once ([`DEFAULT_PREFETCH`]); raised
    /// to the batch size when lower.
    pub prefetch: u16,
    /// Messages per batch ([`DEFAULT_BATCH_SIZE`]).
    pub batch_size: usize,
    /// How long a batch waits for more messages after its first ([`DEFAULT_LINGER`]).
    pub linger: Duration,
}

impl AmqpConfig {
    /// The defaults, on `url`.
    pub fn new(url: TransportUrl) -> AmqpConfig {
        AmqpConfig {
            url,
            exchange: "openstack".to_owned(),
            prefetch: DEFAULT_PREFETCH,
            batch_size: DEFAULT_BATCH_SIZE,
            linger: DEFAULT_LINGER,
        }
    }

    fn consumer_options(&self) -> ConsumerOptions {
        let batch = u16::try_from(self.batch_size).unwrap_or(u16::MAX);
        ConsumerOptions {
            exchange: self.exchange.clone(),
            prefetch: self.prefetch.max(batch),
            ..ConsumerOptions::default()
        }
    }
}

/// The collector's AMQP consumer: [`connect`](AmqpIngest::connect), then
/// [`run`](AmqpIngest::run) until told to stop.
#[derive(Debug)]
pub struct AmqpIngest {
    collector: Collector,
    config: AmqpConfig,
    consumer: Option<QueueConsumer>,
}

/// A batch's messages, read: the notifications to store and the messages to set aside.
struct Sorted {
    notifications: Vec<Incoming>,
    letters: Vec<DeadLetter>,
    redelivered: u64,
}

/// Reads one message: its notification, or why it is a dead letter.
pub fn read_delivery(body: &[u8]) -> Result<Incoming, String> {
    let message = read_message(body).ok_or_else(|| {
        "not an oslo.messaging notification (a JSON object with a payload, or the 2.0 \
         envelope around one)"
            .to_owned()
    })?;
    match message.priority.as_deref() {
        Some("INFO") => {}
        Some(p) => {
            return Err(format!(
                "priority {p:?}: trace points are INFO notifications"
            ))
        }
        None => return Err("no priority: trace points are INFO notifications".to_owned()),
    }
    Incoming::parse(message.payload).map_err(|e| {
        if e.field.is_empty() {
            format!("payload: {}", e.message)
        } else {
            format!("payload.{}: {}", e.field, e.message)
        }
    })
}

fn sort(messages: &[Delivered]) -> Sorted {
    let mut sorted = Sorted {
        notifications: Vec::with_capacity(messages.len()),
        letters: Vec::new(),
        redelivered: 0,
    };
    for m in messages {
        sorted.redelivered += u64::from(m.redelivered);
        match read_delivery(&m.body) {
            Ok(n) => sorted.notifications.push(n),
            Err(reason) => sorted.letters.push(DeadLetter {
                source: "amqp".to_owned(),
                reason,
                body: m.body.clone(),
            }),
        }
    }
    sorted
}

/// Doubling waits between attempts, from [`BACKOFF`]'s first to its last.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(BACKOFF.0)
    }

    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(BACKOFF.1);
        wait
    }
}

/// Logs a lasting fault at its start and every [`LOG_AGAIN`], not at every attempt.
#[derive(Default)]
struct FaultLog(Option<Instant>);

impl FaultLog {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        match self.0 {
            Some(last) if now.duration_since(last) < LOG_AGAIN => false,
            _ => {
                self.0 = Some(now);
                true
            }
        }
    }

    fn clear(&mut self) -> bool {
        self.0.take().is_some()
    }
}

/// Resolves when `stop` says so (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

impl AmqpIngest {
    /// Connects to the broker for `collector`; an error (no broker answers, the queue cannot
    /// be declared) names the broker, password masked.
    pub async fn connect(collector: Collector, config: AmqpConfig) -> Result<AmqpIngest, String> {
        let consumer = QueueConsumer::connect(&config.url, &config.consumer_options()).await?;
        collector.metrics().set_broker(Some(true));
        if let Ok(n) = consumer.queue_depth(CALL_TIMEOUT).await {
            collector.metrics().set_queue_depth(n);
        }
        Ok(AmqpIngest {
            collector,
            config,
            consumer: Some(consumer),
        })
    }

    /// Consumes and stores until `stop` turns `true`: then it takes no more, finishes the
    /// batches under way (stores and acknowledges them, or, while the store fails, leaves
    /// them to RabbitMQ), closes the channel (the messages taken beyond them go back to the
    /// queue) and returns.
    ///
    /// Batches are pipelined: while up to `prefetch / batch_size` batches (at least one, at
    /// most [`MAX_IN_FLIGHT`]) are being stored, each on a task of its own, the next is
    /// taken. They are acknowledged in queue order, each once it and every batch before it
    /// are stored.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let collector = self.collector.clone();
        let metrics = collector.metrics();
        let mut broker_log = FaultLog::default();
        let mut backoff = Backoff::new();
        let options = self.config.consumer_options();
        let in_flight_max =
            (usize::from(options.prefetch) / self.config.batch_size.max(1)).clamp(1, MAX_IN_FLIGHT);
        loop {
            if *stop.borrow() {
                break;
            }
            let Some(consumer) = self.consumer.as_mut() else {
                match QueueConsumer::connect(&self.config.url, &options).await {
                    Ok(c) => {
                        tracing::info!(
                            "osprofiler collector: consuming `{}` again on {}",
                            osprofiler_messaging::QUEUE,
                            c.broker()
                        );
                        broker_log.clear();
                        backoff = Backoff::new();
                        metrics.set_broker(Some(true));
                        self.consumer = Some(c);
                    }
                    Err(e) => {
                        if broker_log.due() {
                            tracing::warn!(
                                "osprofiler collector: the broker is unreachable, trying again: {e}"
                            );
                        }
                        tokio::select! {
                            () = stopped(&mut stop) => break,
                            () = tokio::time::sleep(backoff.next()) => {}
                        }
                    }
                }
                continue;
            };
            match consume(consumer, &collector, &self.config, in_flight_max, &mut stop).await {
                Ended::Stopped => break,
                Ended::Lost(e) => {
                    tracing::warn!("osprofiler collector: {e}; reconnecting");
                    broker_log.due();
                    self.lose_connection();
                }
            }
        }
        if let Some(c) = self.consumer.take() {
            c.close(CALL_TIMEOUT).await;
        }
        metrics.set_broker(Some(false));
    }

    fn lose_connection(&mut self) {
        self.collector.metrics().set_broker(Some(false));
        // Dropped: the connection closes, and RabbitMQ requeues what was not acknowledged.
        self.consumer = None;
    }
}

/// The most batches stored at once by one consumer.
pub const MAX_IN_FLIGHT: usize = 4;

/// Why [`consume`] returned.
enum Ended {
    /// Told to stop; every batch it could store is stored and acknowledged.
    Stopped,
    /// The connection or channel is gone (why).
    Lost(String),
}

/// Takes batches from `consumer` and stores them (see [`AmqpIngest::run`]) until told to
/// stop or the connection is lost.
async fn consume(
    consumer: &mut QueueConsumer,
    collector: &Collector,
    config: &AmqpConfig,
    in_flight_max: usize,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Ended {
    use futures_util::stream::{FuturesOrdered, StreamExt};
    let metrics = collector.metrics();
    let mut in_flight = FuturesOrdered::new();
    let mut stopping = false;
    let mut next_depth = Instant::now();
    loop {
        if Instant::now() >= next_depth {
            next_depth = Instant::now() + DEPTH_EVERY;
            if let Ok(n) = consumer.queue_depth(CALL_TIMEOUT).await {
                metrics.set_queue_depth(n);
            }
        }
        let taking = !stopping && in_flight.len() < in_flight_max;
        if stopping && in_flight.is_empty() {
            return Ended::Stopped;
        }
        tokio::select! {
            // Acknowledge first: it frees the prefetch window.
            biased;
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let (batch, stored): (Batch, bool) = match done {
                    Ok(d) => d,
                    Err(e) => return Ended::Lost(format!("a store task failed: {e}")),
                };
                if !stored {
                    // Stopped while the store failed: this batch and those after it go
                    // back to the queue when the channel closes.
                    return Ended::Stopped;
                }
                if let Err(e) = consumer.ack(&batch, CALL_TIMEOUT).await {
                    return Ended::Lost(format!(
                        "{e} (the batch is stored; RabbitMQ will deliver it again, and it \
                         will be stored once)"
                    ));
                }
            }
            () = stopped(stop), if !stopping => stopping = true,
            next = consumer.next_batch(config.batch_size, Duration::from_secs(1), config.linger), if taking => {
                match next {
                    Ok(Some(batch)) => {
                        let task = tokio::spawn(store(collector.clone(), batch, stop.clone()));
                        in_flight.push_back(task);
                    }
                    Ok(None) => {}
                    Err(e) => return Ended::Lost(e),
                }
            }
        }
    }
}

/// Stores `batch` (its dead letters, then its notifications), trying again while the store
/// fails. Gives the batch back, and whether it was stored (`false`: told to stop first).
async fn store(
    collector: Collector,
    batch: Batch,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Batch, bool) {
    let metrics = collector.metrics();
    let sorted = sort(&batch.messages);
    metrics.received("amqp", sorted.notifications.len() as u64);
    metrics.redelivered(sorted.redelivered);
    let mut letters = Some(sorted.letters);
    let mut notifications = Some(sorted.notifications);
    let mut log = FaultLog::default();
    let mut backoff = Backoff::new();
    loop {
        let mut failure = None;
        if let Some(l) = letters.take() {
            let n = l.len();
            if let Err(e) = collector.dead_letter(l).await {
                failure = Some(e.to_string());
                letters = Some(sort(&batch.messages).letters);
            } else if n > 0 {
                tracing::warn!(
                    "osprofiler collector: {n} AMQP messages could not be read; set aside in \
                     osprofiler_dead_letters"
                );
            }
        }
        if failure.is_none() {
            if let Some(n) = notifications.take() {
                if let Err(e) = collector.store_batch("amqp", n).await {
                    failure = Some(e.to_string());
                    // Read again from the messages, which are kept until acknowledged.
                    notifications = Some(sort(&batch.messages).notifications);
                }
            }
        }
        let Some(e) = failure else {
            if log.clear() {
                tracing::info!("osprofiler collector: the store is back; storing again");
            }
            return (batch, true);
        };
        if log.due() {
            tracing::warn!(
                "osprofiler collector: the store failed ({e}); keeping {} messages \
                 unacknowledged in RabbitMQ and trying again",
                batch.messages.len()
            );
        }
        tokio::select! {
            () = stopped(&mut stop) => {
                tracing::warn!(
                    "osprofiler collector: stopping while the store fails: {} messages go \
                     back to the queue",
                    batch.messages.len()
                );
                return (batch, false);
            }
            () = tokio::time::sleep(backoff.next()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_or_set_aside_with_a_reason() {
        let payload = r#"{"name": "a-start", "base_id": "b", "trace_id": "t", "parent_id": "b", "timestamp": "2026-01-01T00:00:00.000001", "info": {"host": "h"}, "project": "p", "service": "s"}"#;
        let v1 = format!(
            r#"{{"message_id": "m", "publisher_id": "h", "event_type": "profiler.s", "priority": "INFO", "payload": {payload}, "timestamp": "2026-01-01 00:00:00", "_unique_id": "u"}}"#
        );
        let n = read_delivery(v1.as_bytes()).unwrap();
        assert_eq!(n.base_id(), "b");
        assert_eq!(n.raw().get(), payload);
        let v2 = serde_json::json!({"oslo.version": "2.0", "oslo.message": v1}).to_string();
        assert_eq!(read_delivery(v2.as_bytes()).unwrap().raw().get(), payload);

        for (body, reason) in [
            ("not json".to_owned(), "not an oslo.messaging notification"),
            ("[1]".to_owned(), "not an oslo.messaging notification"),
            (v1.replace("\"INFO\"", "\"WARN\""), "priority \"WARN\""),
            (v1.replace(", \"priority\": \"INFO\"", ""), "no priority"),
            (
                v1.replace("\"trace_id\": \"t\", ", ""),
                "payload.trace_id: missing",
            ),
            (
                v1.replace(payload, "[1, 2]"),
                "payload: expected a notification object, found a list",
            ),
        ] {
            let e = read_delivery(body.as_bytes()).unwrap_err();
            assert!(e.starts_with(reason), "{e} for {body}");
        }
    }

    #[test]
    fn waits_double_up_to_the_last() {
        let mut b = Backoff::new();
        let waits: Vec<Duration> = (0..6).map(|_| b.next()).collect();
        assert_eq!(waits[0], BACKOFF.0);
        assert_eq!(waits[1], BACKOFF.0 * 2);
        assert_eq!(*waits.last().unwrap(), BACKOFF.1);
    }
}
