//! A notifier that keeps the points it gets, for tests.

use std::sync::{Mutex, MutexGuard};

use super::Notifier;
use crate::notification::{Notification, TracePoint};

/// Keeps every point in memory, synchronously (no worker): for tests that check exactly what
/// a traced program recorded.
#[derive(Debug, Default)]
pub struct CollectingNotifier {
    points: Mutex<Vec<TracePoint>>,
}

impl CollectingNotifier {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The points received so far, in order.
    pub fn points(&self) -> Vec<TracePoint> {
        self.lock().clone()
    }

    /// The points received so far as notifications (with `host`, no project or service).
    pub fn notifications(&self) -> Vec<Notification> {
        let host = crate::hostname();
        self.points()
            .into_iter()
            .map(|p| p.into_notification(host, None, None))
            .collect()
    }

    /// Removes and returns the points received so far.
    pub fn take(&self) -> Vec<TracePoint> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<TracePoint>> {
        match self.points.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Notifier for CollectingNotifier {
    fn notify(&self, point: TracePoint) {
        self.lock().push(point);
    }
}
