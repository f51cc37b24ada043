//! The queue pipeline: points never wait on the driver; a full queue drops and counts; flush
//! and shutdown deliver everything queued; driver failures are counted and the pipeline goes
//! on when the driver recovers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use osprofiler::driver::memory::MemoryDriver;
use osprofiler::driver::{Driver, DriverError};
use osprofiler::notifier::{BatchConfig, BatchNotifier, NotifierStats};
use osprofiler::{Notification, Profiler};

/// A driver that blocks while `closed` and fails while `broken`.
#[derive(Debug, Default)]
struct Gate {
    closed: AtomicBool,
    broken: AtomicBool,
    stored: Mutex<Vec<Notification>>,
    batches: Mutex<Vec<usize>>,
}

#[async_trait]
impl Driver for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        while self.closed.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if self.broken.load(Ordering::SeqCst) {
            return Err(DriverError::Backend {
                connection: "gate://".into(),
                message: "broken".into(),
            });
        }
        self.batches.lock().unwrap().push(batch.len());
        self.stored.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

fn config(capacity: usize) -> BatchConfig {
    BatchConfig {
        queue_capacity: capacity,
        max_batch: 64,
        host: "test-host".into(),
        project: Some("proj".into()),
        service: Some("api".into()),
        ..BatchConfig::default()
    }
}

#[test]
fn flush_delivers_everything_in_order_with_project_and_service() {
    let store = Arc::new(MemoryDriver::new());
    let pipeline = BatchNotifier::start(store.clone(), config(1024));
    let mut p = Profiler::with_notifier("k", None, None, pipeline.clone());
    for _ in 0..300 {
        p.start("db", None);
        p.stop(None);
    }
    assert!(pipeline.flush(Duration::from_secs(10)));
    let stored = store.notifications();
    assert_eq!(stored.len(), 600);
    assert_eq!(
        pipeline.stats(),
        NotifierStats {
            sent: 600,
            dropped: 0,
            failed: 0
        }
    );
    for pair in stored.chunks(2) {
        assert_eq!(pair[0].name, "db-start");
        assert_eq!(pair[1].name, "db-stop");
        assert_eq!(pair[0].trace_id, pair[1].trace_id);
        assert_eq!(pair[0].info["host"], "test-host");
        assert_eq!(pair[0].project.as_deref(), Some("proj"));
        assert_eq!(pair[0].service.as_deref(), Some("api"));
    }
    assert!(pipeline.shutdown(Duration::from_secs(10)));
}

#[test]
fn a_stuck_driver_never_blocks_the_traced_code() {
    let gate = Arc::new(Gate::default());
    gate.closed.store(true, Ordering::SeqCst);
    let pipeline = BatchNotifier::start(gate.clone(), config(16));
    let mut p = Profiler::with_notifier("k", None, None, pipeline.clone());
    // 10,000 points against a driver that does not return until the gate opens, which happens
    // only after the loop: if a point waited on the driver, the loop would never finish.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let tracer = std::thread::spawn(move || {
        for _ in 0..5_000 {
            p.start("db", None);
            p.stop(None);
        }
        done_tx.send(()).unwrap();
        p
    });
    let finished = done_rx.recv_timeout(Duration::from_secs(60)).is_ok();
    gate.closed.store(false, Ordering::SeqCst);
    assert!(finished, "trace points blocked on a stuck driver");
    let mut p = tracer.join().unwrap();
    let stats = pipeline.stats();
    // At most the queue plus the batch in the driver's hands got through.
    assert!(stats.dropped >= 10_000 - 16 - 64, "{stats:?}");
    assert!(pipeline.flush(Duration::from_secs(10)));
    let stats = pipeline.stats();
    assert_eq!(stats.sent + stats.dropped, 10_000, "{stats:?}");
    assert_eq!(gate.stored.lock().unwrap().len() as u64, stats.sent);
    // Points after the driver's return arrive.
    p.start("after", None);
    p.stop(None);
    assert!(pipeline.flush(Duration::from_secs(10)));
    assert_eq!(pipeline.stats().sent, stats.sent + 2);
}

#[test]
fn driver_failures_are_counted_and_recovery_is_seen() {
    let gate = Arc::new(Gate::default());
    gate.broken.store(true, Ordering::SeqCst);
    let pipeline = BatchNotifier::start(gate.clone(), config(1024));
    let mut p = Profiler::with_notifier("k", None, None, pipeline.clone());
    p.start("lost", None);
    p.stop(None);
    assert!(pipeline.flush(Duration::from_secs(10)));
    assert_eq!(pipeline.stats().failed, 2);
    gate.broken.store(false, Ordering::SeqCst);
    p.start("kept", None);
    p.stop(None);
    assert!(pipeline.flush(Duration::from_secs(10)));
    let stats = pipeline.stats();
    assert_eq!((stats.sent, stats.failed, stats.dropped), (2, 2, 0));
    let names: Vec<String> = gate
        .stored
        .lock()
        .unwrap()
        .iter()
        .map(|n| n.name.clone())
        .collect();
    assert_eq!(names, ["kept-start", "kept-stop"]);
}

#[test]
fn batches_are_used_when_points_arrive_faster_than_the_driver() {
    let gate = Arc::new(Gate::default());
    gate.closed.store(true, Ordering::SeqCst);
    let pipeline = BatchNotifier::start(gate.clone(), config(4096));
    let mut p = Profiler::with_notifier("k", None, None, pipeline.clone());
    for _ in 0..1000 {
        p.start("db", None);
        p.stop(None);
    }
    gate.closed.store(false, Ordering::SeqCst);
    assert!(pipeline.flush(Duration::from_secs(10)));
    let batches = gate.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 2000);
    assert!(batches.iter().all(|b| *b <= 64));
    assert!(batches.len() < 100, "{batches:?}");
}

#[test]
fn the_guard_delivers_on_drop_and_later_points_are_dropped_and_counted() {
    let store = Arc::new(MemoryDriver::new());
    let pipeline = BatchNotifier::start(store.clone(), config(1024));
    let mut p = Profiler::with_notifier("k", None, None, pipeline.clone());
    {
        let _guard = pipeline.guard();
        p.start("a", None);
        p.stop(None);
    }
    assert_eq!(store.notifications().len(), 2);
    p.start("late", None);
    assert_eq!(pipeline.stats().dropped, 1);
    assert!(!pipeline.flush(Duration::from_millis(100)));
    assert!(!pipeline.shutdown(Duration::from_millis(100)));
}
