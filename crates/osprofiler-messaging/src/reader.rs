//! Reading one trace from the `profiler.info` queue.
//!
//! As Python's reader, it consumes the queue until no notification of the trace has arrived
//! for the idle timeout, and keeps the priority-`INFO` notifications whose payload has the
//! trace's `base_id`, in queue order. Unlike Python's reader, which acknowledges (and so
//! destroys) every message it reads, this one acknowledges only the trace's own
//! notifications: every other message stays unacknowledged while it reads and is handed back
//! (requeued, in its place) at the end, so other traces can still be read.
//!
//! Python starts counting the idle time at once; on a queue with a long backlog it can stop
//! before reaching the trace. Here the idle time counts from the later of the last
//! notification of the trace and the moment the backlog that was queued at the start has
//! been read (or the queue has been silent for the idle timeout).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions};
use lapin::types::FieldTable;
use lapin::Connection;
use serde_json::value::RawValue;

use crate::broker::{self, QUEUE};
use crate::message::read_message;

/// How often the reader says how far it got (a `tracing` event at `info` level).
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What one read found.
#[derive(Debug)]
pub(crate) struct ReadOutcome {
    pub(crate) notifications: Vec<Box<RawValue>>,
    pub(crate) read: u64,
    pub(crate) of_trace: usize,
}

/// Reads trace `base_id` through `connection`. Runs on the driver's runtime.
pub(crate) async fn read_trace(
    connection: Arc<Connection>,
    exchange: String,
    base_id: String,
    idle: Duration,
    op_timeout: Duration,
) -> Result<ReadOutcome, String> {
    let setup = async {
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a channel: {e}"))?;
        let (channel, backlog) = broker::declare(&connection, channel, &exchange).await?;
        let tag = format!("osprofiler-reader-{}", osprofiler_core::TraceId::new_v4());
        let consumer = channel
            .basic_consume(
                QUEUE,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume `{QUEUE}`: {e}"))?;
        Ok::<_, String>((channel, backlog, tag, consumer))
    };
    let (channel, backlog, tag, mut consumer) = tokio::time::timeout(op_timeout, setup)
        .await
        .map_err(|_| format!("RabbitMQ did not open the queue within {op_timeout:?}"))??;
    tracing::info!(
        "reading `{QUEUE}` for trace {base_id}: {backlog} messages queued; \
         stopping when no notification of the trace arrives for {idle:?}"
    );

    let start = Instant::now();
    let mut read: u64 = 0;
    let mut own: Vec<(u64, Box<RawValue>)> = Vec::new();
    let mut last_tag: Option<u64> = None;
    let mut last_own = start;
    let mut last_any = start;
    let mut drained_at = (backlog == 0).then_some(start);
    let mut next_progress = start + PROGRESS_EVERY;
    let mut failure = None;
    loop {
        let now = Instant::now();
        if drained_at.is_none() && now.duration_since(last_any) >= idle {
            // Someone else took part of the backlog, or it shrank: the queue is silent.
            drained_at = Some(now);
        }
        let wake = match drained_at {
            Some(d) => last_own.max(d) + idle,
            None => last_any + idle,
        };
        if drained_at.is_some() && now >= wake {
            break;
        }
        if now >= next_progress {
            tracing::info!(
                "read {read} messages ({} of trace {base_id}); waiting for more...",
                own.len()
            );
            next_progress = now + PROGRESS_EVERY;
        }
        let wait = wake.min(next_progress).saturating_duration_since(now);
        let delivery = match tokio::time::timeout(wait, consumer.next()).await {
            Err(_) => continue,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                failure = Some(format!("reading `{QUEUE}` failed: {e}"));
                break;
            }
            Ok(Some(Ok(delivery))) => delivery,
        };
        read += 1;
        let now = Instant::now();
        last_any = now;
        if drained_at.is_none() && read >= u64::from(backlog) {
            drained_at = Some(now);
        }
        let tag_no = delivery.delivery_tag;
        match read_message(&delivery.data) {
            Some(m)
                if m.priority.as_deref() == Some("INFO")
                    && m.base_id.as_deref() == Some(base_id.as_str()) =>
            {
                own.push((tag_no, m.payload));
                last_own = now;
            }
            _ => last_tag = Some(tag_no),
        }
    }

    // Stop the flow, take the trace's own messages, hand every other one back.
    let finish = async {
        let _ = channel
            .basic_cancel(&tag, BasicCancelOptions::default())
            .await;
        for (tag_no, _) in &own {
            channel
                .basic_ack(*tag_no, BasicAckOptions::default())
                .await
                .map_err(|e| format!("cannot acknowledge: {e}"))?;
        }
        if let Some(tag_no) = last_tag {
            channel
                .basic_nack(
                    tag_no,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await
                .map_err(|e| format!("cannot requeue: {e}"))?;
        }
        let _ = channel.close(200, "done").await;
        Ok::<_, String>(())
    };
    match tokio::time::timeout(op_timeout, finish).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("after reading trace {base_id}: {e}"),
        Err(_) => tracing::warn!("after reading trace {base_id}: RabbitMQ did not answer"),
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let of_trace = own.len();
    tracing::info!(
        "read {read} messages in {:.1?}: {of_trace} notifications of trace {base_id}",
        start.elapsed()
    );
    Ok(ReadOutcome {
        notifications: own.into_iter().map(|(_, payload)| payload).collect(),
        read,
        of_trace,
    })
}
