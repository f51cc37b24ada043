//! Notifiers: where trace points go (Python's `osprofiler.notifier`).
//!
//! A trace point never waits on I/O. The usual notifier is the [`BatchNotifier`]: the point
//! goes into a bounded queue and a background worker hands batches to a
//! [`Driver`](crate::driver::Driver). The process-wide notifier is set once at start-up with
//! [`set_global`] (or by [`crate::init_from_conf`]).

mod batch;
mod collecting;

use std::fmt;
use std::sync::{Arc, OnceLock};

pub use batch::{BatchConfig, BatchNotifier, NotifierGuard, NotifierStats};
pub use collecting::CollectingNotifier;

use crate::notification::TracePoint;

/// Receives trace points. Implementations must return quickly and never block on I/O: they run
/// inside the traced service's requests.
pub trait Notifier: Send + Sync + fmt::Debug + 'static {
    /// Takes one start or stop.
    fn notify(&self, point: TracePoint);
}

/// Discards everything (a profiler with nowhere to send, and benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopNotifier;

impl Notifier for NoopNotifier {
    #[inline]
    fn notify(&self, _point: TracePoint) {}
}

static GLOBAL: OnceLock<Arc<dyn Notifier>> = OnceLock::new();

/// The process-wide notifier was already set.
#[derive(Debug, thiserror::Error)]
#[error("the process-wide notifier is already set")]
pub struct AlreadySet;

/// Sets the process-wide notifier, used by every profiler made without an explicit one. It
/// can be set once, at start-up.
pub fn set_global(notifier: Arc<dyn Notifier>) -> Result<(), AlreadySet> {
    GLOBAL.set(notifier).map_err(|_| AlreadySet)
}

/// The process-wide notifier, if set.
pub fn global() -> Option<&'static Arc<dyn Notifier>> {
    GLOBAL.get()
}

/// Sends `point` to the process-wide notifier; without one the point is discarded (as
/// Python's default no-op notifier does).
#[inline]
pub(crate) fn notify_global(point: TracePoint) {
    if let Some(n) = GLOBAL.get() {
        n.notify(point);
    }
}
