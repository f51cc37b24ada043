//! The collector's counters, written in Prometheus' text format (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the store batch latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Counters of one collector. Every method is cheap and never blocks for long (a mutex is
/// taken only for the per-source and per-reason counters, once per request or batch).
#[derive(Debug, Default)]
pub struct Metrics {
    received: Mutex<BTreeMap<String, u64>>,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    stored: AtomicU64,
    duplicates: AtomicU64,
    store_errors: AtomicU64,
    dead_lettered: AtomicU64,
    redelivered: AtomicU64,
    /// 0: no broker configured; 1: down; 2: connected.
    broker: AtomicU8,
    /// Messages ready in the AMQP queue when last asked; -1: not known.
    queue_depth: AtomicI64,
    /// Per bucket of [`LATENCY_BUCKETS`] (not cumulative), then one for above the last.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// `n` well-formed notifications received from `source` (`http`, `amqp`, ...).
    pub fn received(&self, source: &str, n: u64) {
        let mut map = self.received.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(source) {
            Some(v) => *v += n,
            None => {
                map.insert(source.to_owned(), n);
            }
        }
    }

    /// One request or message refused, for `reason` (`invalid`, `too_large`,
    /// `unauthorized`, ...): nothing of it was stored.
    pub fn rejected(&self, reason: &'static str) {
        let mut map = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(reason).or_insert(0) += 1;
    }

    /// One batch written: how many were new, how many repeats, and how long the store took.
    pub fn batch_stored(&self, stored: u64, duplicates: u64, took: Duration) {
        self.stored.fetch_add(stored, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.observe_latency(took);
    }

    /// One batch the store failed to write.
    pub fn batch_failed(&self, took: Duration) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        self.observe_latency(took);
    }

    /// `n` messages set aside as dead letters (they could not be read).
    pub fn dead_lettered(&self, n: u64) {
        self.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }

    /// Messages set aside so far.
    pub fn dead_letters(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// `n` messages that RabbitMQ delivered again (a consumer took them and did not
    /// acknowledge them: a crash, a lost connection).
    pub fn redelivered(&self, n: u64) {
        self.redelivered.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether the broker is connected: `None` when this collector has none (no AMQP
    /// ingest).
    pub fn set_broker(&self, connected: Option<bool>) {
        let v = match connected {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        self.broker.store(v, Ordering::Relaxed);
        if connected != Some(true) {
            self.queue_depth.store(-1, Ordering::Relaxed);
        }
    }

    /// What [`set_broker`](Self::set_broker) last said.
    pub fn broker(&self) -> Option<bool> {
        match self.broker.load(Ordering::Relaxed) {
            0 => None,
            v => Some(v == 2),
        }
    }

    /// The messages waiting in the AMQP queue, as RabbitMQ last said.
    pub fn set_queue_depth(&self, n: u32) {
        self.queue_depth.store(i64::from(n), Ordering::Relaxed);
    }

    fn observe_latency(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency[i].fetch_add(1, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Notifications stored so far.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Batches the store failed to write so far.
    pub fn store_errors(&self) -> u64 {
        self.store_errors.load(Ordering::Relaxed)
    }

    /// Notifications left out as repeats so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// The counters in Prometheus' text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let received: Vec<(String, u64)> = {
            let map = self.received.lock().unwrap_or_else(|e| e.into_inner());
            map.iter()
                .map(|(s, v)| (format!("{{source=\"{}\"}}", label(s)), *v))
                .collect()
        };
        counter(
            "osprofiler_collector_received_total",
            "Well-formed notifications received, per source.",
            &received,
        );
        counter(
            "osprofiler_collector_stored_total",
            "Notifications stored (new ones).",
            &[(String::new(), self.stored())],
        );
        counter(
            "osprofiler_collector_duplicates_total",
            "Notifications left out because the same one (base_id, trace_id, name) was stored before or came twice in a batch.",
            &[(String::new(), self.duplicates())],
        );
        let rejected: Vec<(String, u64)> = {
            let map = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
            map.iter()
                .map(|(r, v)| (format!("{{reason=\"{}\"}}", label(r)), *v))
                .collect()
        };
        counter(
            "osprofiler_collector_rejected_total",
            "Requests or messages refused (nothing of them stored), per reason.",
            &rejected,
        );
        counter(
            "osprofiler_collector_store_errors_total",
            "Batches the store failed to write.",
            &[(String::new(), self.store_errors())],
        );
        counter(
            "osprofiler_collector_dead_lettered_total",
            "Messages that could not be read, set aside in the store's osprofiler_dead_letters table.",
            &[(String::new(), self.dead_letters())],
        );
        counter(
            "osprofiler_collector_amqp_redelivered_total",
            "AMQP messages delivered again after another consumer took them without acknowledging them.",
            &[(String::new(), self.redelivered.load(Ordering::Relaxed))],
        );
        if let Some(up) = self.broker() {
            let name = "osprofiler_collector_amqp_connected";
            let _ = writeln!(
                out,
                "# HELP {name} 1 when the AMQP broker is connected, else 0."
            );
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {}", u8::from(up));
            let depth = self.queue_depth.load(Ordering::Relaxed);
            if depth >= 0 {
                let name = "osprofiler_collector_amqp_queue_messages";
                let _ = writeln!(
                    out,
                    "# HELP {name} Messages waiting in the AMQP queue (the consumers' lag), as RabbitMQ last said."
                );
                let _ = writeln!(out, "# TYPE {name} gauge");
                let _ = writeln!(out, "{name} {depth}");
            }
        }
        let name = "osprofiler_collector_store_batch_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to write one batch to the store, in seconds."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.latency[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(
            out,
            "{name}_count {}",
            self.latency_count.load(Ordering::Relaxed)
        );
        out
    }
}

/// A label value as Prometheus' text format escapes it.
fn label(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text() {
        let m = Metrics::default();
        m.received("http", 3);
        m.received("http", 2);
        m.received("a\"b", 1);
        m.rejected("invalid");
        m.batch_stored(4, 1, Duration::from_micros(1500));
        m.batch_stored(0, 2, Duration::from_secs(20));
        m.batch_failed(Duration::from_millis(3));
        assert!(!m.render().contains("amqp_connected"));
        m.dead_lettered(2);
        m.set_broker(Some(true));
        m.set_queue_depth(17);
        let text = m.render();
        for line in [
            "# TYPE osprofiler_collector_received_total counter",
            "osprofiler_collector_received_total{source=\"http\"} 5",
            "osprofiler_collector_received_total{source=\"a\\\"b\"} 1",
            "osprofiler_collector_stored_total 4",
            "osprofiler_collector_duplicates_total 3",
            "osprofiler_collector_rejected_total{reason=\"invalid\"} 1",
            "osprofiler_collector_store_errors_total 1",
            "osprofiler_collector_dead_lettered_total 2",
            "osprofiler_collector_amqp_connected 1",
            "osprofiler_collector_amqp_queue_messages 17",
            "# TYPE osprofiler_collector_store_batch_seconds histogram",
            "osprofiler_collector_store_batch_seconds_bucket{le=\"0.001\"} 0",
            "osprofiler_collector_store_batch_seconds_bucket{le=\"0.0025\"} 1",
            "osprofiler_collector_store_batch_seconds_bucket{le=\"0.005\"} 2",
            "osprofiler_collector_store_batch_seconds_bucket{le=\"10\"} 2",
            "osprofiler_collector_store_batch_seconds_bucket{le=\"+Inf\"} 3",
            "osprofiler_collector_store_batch_seconds_sum 20.0045",
            "osprofiler_collector_store_batch_seconds_count 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        m.set_broker(Some(false));
        let text = m.render();
        assert!(text.contains("osprofiler_collector_amqp_connected 0"));
        assert!(
            !text.contains("amqp_queue_messages"),
            "a lost broker's depth is not known"
        );
    }
}
