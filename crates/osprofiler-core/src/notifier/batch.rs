//! The queue pipeline: trace points go into a bounded queue; one named worker thread drains
//! it in batches into a driver.
//!
//! Built as OpenTelemetry's batch span processor is: a bounded channel that never blocks the
//! traced code (a full queue drops the point and counts it), flush and shutdown requests that
//! travel through the same queue (so they see every point sent before them), and a worker
//! that owns a small tokio runtime to drive async drivers.
//!
//! The worker drains the queue on a schedule ([`BatchConfig::scheduled_delay`]) instead of
//! waiting on it: a worker blocked in `recv` must be woken by every point (a futex call and a
//! context switch, several microseconds on a busy machine, paid by the traced request). A
//! sender wakes the worker only when it has gone idle (it found the queue empty and parked
//! without a deadline), so a steady stream of points costs no wake-ups at all, and an idle
//! service no timer ticks. Flush and shutdown wake it at once.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::Notifier;
use crate::driver::Driver;
use crate::notification::{Notification, TracePoint};

/// How the pipeline is sized and what it adds to every notification.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Points that may wait in the queue; more are dropped (and counted). Default 16384.
    pub queue_capacity: usize,
    /// Most notifications handed to the driver in one call. Default 512.
    pub max_batch: usize,
    /// Longest a driver call may take before its batch counts as failed. Default 10 s.
    pub send_timeout: Duration,
    /// How often a busy worker drains the queue (it sleeps this long between rounds, and goes
    /// idle after a round that found nothing). Default 10 ms: the longest a point waits before
    /// it is handed to the driver.
    pub scheduled_delay: Duration,
    /// `info.host` of every notification. Default: this machine's host name.
    pub host: String,
    /// `project` of every notification.
    pub project: Option<String>,
    /// `service` of every notification.
    pub service: Option<String>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            queue_capacity: 16_384,
            max_batch: 512,
            send_timeout: Duration::from_secs(10),
            scheduled_delay: Duration::from_millis(10),
            host: crate::hostname().to_owned(),
            project: None,
            service: None,
        }
    }
}

/// Counters of a [`BatchNotifier`], readable at any time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifierStats {
    /// Notifications the driver accepted.
    pub sent: u64,
    /// Points dropped because the queue was full or the pipeline was shut down.
    pub dropped: u64,
    /// Notifications in batches the driver failed to store (or timed out on).
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

enum Msg {
    Point(TracePoint),
    /// Deliver everything queued before this, then answer.
    Flush(mpsc::Sender<()>),
    /// Deliver everything queued, answer, and stop the worker.
    Shutdown(mpsc::Sender<()>),
}

/// A [`Notifier`] that queues points and delivers them to a driver from a worker thread.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use osprofiler_core::driver::memory::MemoryDriver;
/// use osprofiler_core::notifier::{BatchConfig, BatchNotifier};
///
/// let store = Arc::new(MemoryDriver::new());
/// let notifier = BatchNotifier::start(store.clone(), BatchConfig::default());
/// let mut profiler = osprofiler_core::Profiler::with_notifier("key", None, None, notifier.clone());
/// profiler.start("db", None);
/// profiler.stop(None);
/// assert!(notifier.flush(Duration::from_secs(5)));
/// assert_eq!(store.notifications().len(), 2);
/// assert_eq!(notifier.stats().sent, 2);
/// ```
pub struct BatchNotifier {
    tx: SyncSender<Msg>,
    wake: Arc<Wake>,
    counters: Arc<Counters>,
    worker: Mutex<Option<JoinHandle<()>>>,
    warned_full: AtomicBool,
    driver_name: &'static str,
}

impl BatchNotifier {
    /// Starts the worker thread (`osprofiler-notifier`) delivering to `driver`.
    pub fn start(driver: Arc<dyn Driver>, config: BatchConfig) -> Arc<BatchNotifier> {
        let (tx, rx) = mpsc::sync_channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let driver_name = driver.name();
        let wake = Arc::new(Wake::default());
        let worker = Worker {
            rx,
            wake: wake.clone(),
            driver,
            counters: counters.clone(),
            failing: false,
            config,
        };
        let handle = std::thread::Builder::new()
            .name("osprofiler-notifier".into())
            .spawn(move || worker.run());
        let handle = match handle {
            Ok(h) => {
                let _ = wake.worker.set(h.thread().clone());
                Some(h)
            }
            Err(e) => {
                tracing::error!("osprofiler: cannot start the notifier thread: {e}; trace points will be dropped");
                None
            }
        };
        Arc::new(BatchNotifier {
            tx,
            wake,
            counters,
            worker: Mutex::new(handle),
            warned_full: AtomicBool::new(false),
            driver_name,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> NotifierStats {
        NotifierStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }

    /// Waits until everything queued before this call has been handed to the driver (stored
    /// or failed). Returns false if that took longer than `timeout` or the worker is gone.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.request(Msg::Flush, timeout)
    }

    /// Delivers everything queued, then stops the worker. Points sent afterwards are dropped
    /// and counted. Returns false on timeout. Calling it again is harmless.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let done = self.request(Msg::Shutdown, timeout);
        let handle = match self.worker.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if done {
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
        let stats = self.stats();
        if stats.dropped > 0 || stats.failed > 0 {
            tracing::warn!(
                "osprofiler: notifier ({}) shut down: {} sent, {} dropped, {} failed",
                self.driver_name,
                stats.sent,
                stats.dropped,
                stats.failed
            );
        }
        done
    }

    /// A guard that flushes and shuts the pipeline down when dropped (end of `main`), so a
    /// short program loses nothing.
    pub fn guard(self: &Arc<Self>) -> NotifierGuard {
        NotifierGuard {
            notifier: self.clone(),
            timeout: Duration::from_secs(10),
        }
    }

    fn request(&self, make: fn(mpsc::Sender<()>) -> Msg, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (reply_tx, reply_rx) = mpsc::channel();
        let mut msg = make(reply_tx);
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        self.wake.now();
        let left = deadline.saturating_duration_since(Instant::now());
        reply_rx.recv_timeout(left).is_ok()
    }
}

impl Notifier for BatchNotifier {
    #[inline]
    fn notify(&self, point: TracePoint) {
        match self.tx.try_send(Msg::Point(point)) {
            Ok(()) => self.wake.if_idle(),
            Err(e) => self.dropped(e),
        }
    }
}

impl BatchNotifier {
    #[cold]
    fn dropped(&self, e: TrySendError<Msg>) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        if !self.warned_full.swap(true, Ordering::Relaxed) {
            let why = match e {
                TrySendError::Full(_) => "the queue is full (the backend is slow or down)",
                TrySendError::Disconnected(_) => "the notifier was shut down",
            };
            tracing::warn!(
                "osprofiler: dropping trace points: {why}; further drops are only counted"
            );
        }
    }
}

impl fmt::Debug for BatchNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchNotifier")
            .field("driver", &self.driver_name)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Flushes and shuts down a [`BatchNotifier`] when dropped.
#[must_use = "the pipeline is shut down when the guard is dropped"]
#[derive(Debug)]
pub struct NotifierGuard {
    notifier: Arc<BatchNotifier>,
    timeout: Duration,
}

impl NotifierGuard {
    /// The longest the drop waits for the queue to drain (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pipeline this guard shuts down.
    pub fn notifier(&self) -> &Arc<BatchNotifier> {
        &self.notifier
    }
}

impl Drop for NotifierGuard {
    fn drop(&mut self) {
        if !self.notifier.shutdown(self.timeout) {
            tracing::warn!(
                "osprofiler: the notifier did not drain within {:?}; some trace points may be lost",
                self.timeout
            );
        }
    }
}

/// How senders wake the worker: only when it is idle (parked with no deadline), or at once
/// for flush and shutdown.
#[derive(Debug, Default)]
struct Wake {
    /// The worker's thread, once it runs.
    worker: OnceLock<Thread>,
    /// Set by the worker before it parks with no deadline.
    idle: AtomicBool,
}

impl Wake {
    /// After a point was queued: wakes the worker if it went idle. One load on the hot path.
    #[inline]
    fn if_idle(&self) {
        // SeqCst pairs with the worker's store + re-check of the queue: either it sees the
        // point, or this sees `idle`.
        if self.idle.load(Ordering::SeqCst) && self.idle.swap(false, Ordering::SeqCst) {
            self.unpark();
        }
    }

    /// Wakes the worker whatever it is doing (flush, shutdown).
    fn now(&self) {
        self.idle.store(false, Ordering::SeqCst);
        self.unpark();
    }

    fn unpark(&self) {
        if let Some(t) = self.worker.get() {
            t.unpark();
        }
    }
}

struct Worker {
    rx: Receiver<Msg>,
    wake: Arc<Wake>,
    driver: Arc<dyn Driver>,
    counters: Arc<Counters>,
    failing: bool,
    config: BatchConfig,
}

impl Worker {
    fn run(mut self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("osprofiler: notifier cannot start its runtime: {e}");
                return;
            }
        };
        let mut batch: Vec<TracePoint> = Vec::with_capacity(self.config.max_batch);
        loop {
            // Take the first message without blocking: sleep between rounds while busy, park
            // with no deadline once a round finds nothing (senders then wake the worker).
            let first = match self.rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {
                    self.wake.idle.store(true, Ordering::SeqCst);
                    // Re-check after announcing idleness, so a point sent in between is seen
                    // here or wakes the park below.
                    match self.rx.try_recv() {
                        Ok(m) => {
                            self.wake.idle.store(false, Ordering::SeqCst);
                            m
                        }
                        Err(TryRecvError::Disconnected) => return,
                        Err(TryRecvError::Empty) => {
                            std::thread::park();
                            continue;
                        }
                    }
                }
            };
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Point(p) => {
                        batch.push(p);
                        if batch.len() >= self.config.max_batch {
                            self.deliver(&rt, &mut batch);
                        }
                    }
                    Msg::Flush(reply) => {
                        self.deliver(&rt, &mut batch);
                        let _ = reply.send(());
                    }
                    Msg::Shutdown(reply) => {
                        self.deliver(&rt, &mut batch);
                        let _ = reply.send(());
                        return;
                    }
                }
                next = match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => {
                        self.deliver(&rt, &mut batch);
                        return;
                    }
                };
            }
            self.deliver(&rt, &mut batch);
            // Busy: let points gather (a flush or shutdown unparks at once).
            std::thread::park_timeout(self.config.scheduled_delay);
        }
    }

    fn deliver(&mut self, rt: &tokio::runtime::Runtime, batch: &mut Vec<TracePoint>) {
        if batch.is_empty() {
            return;
        }
        let c = &self.config;
        let notifications: Vec<Notification> = batch
            .drain(..)
            .map(|p| p.into_notification(&c.host, c.project.as_deref(), c.service.as_deref()))
            .collect();
        let n = notifications.len() as u64;
        let driver = &self.driver;
        let timeout = c.send_timeout;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                tokio::time::timeout(timeout, driver.notify(&notifications)).await
            })
        }));
        let error = match outcome {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(e.to_string()),
            Ok(Err(_)) => Some(format!("the driver took longer than {timeout:?}")),
            Err(_) => Some("the driver panicked".to_owned()),
        };
        match error {
            None => {
                self.counters.sent.fetch_add(n, Ordering::Relaxed);
                if self.failing {
                    self.failing = false;
                    tracing::warn!("osprofiler: the {} driver works again", driver.name());
                }
            }
            Some(message) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                if !self.failing {
                    self.failing = true;
                    tracing::error!(
                        "osprofiler: cannot store trace points ({} lost so far): {message}",
                        self.counters.failed.load(Ordering::Relaxed)
                    );
                }
            }
        }
    }
}
