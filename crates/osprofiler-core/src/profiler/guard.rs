//! [`Trace`]: a trace point that stops when it goes out of scope (Python's `with Trace(...)`).

use std::fmt;

use crate::id::{PointName, TraceId};
use crate::notification::Info;

use super::with_current;

/// A started trace point that sends its stop when dropped.
///
/// ```
/// use osprofiler_core::{profiler, Trace};
///
/// fn handler() {
///     let _point = Trace::start("db", None);
///     // ... work ...
/// } // "db-stop" is sent here
/// # handler();
/// ```
///
/// Without a current profiler it records nothing and costs a thread-local read. The guard
/// stops *its own* point even when guards are dropped out of order; it stops it in the
/// profiler that is current where it is dropped, so in async code keep it inside one task
/// (the `#[trace]` attribute does this for you).
#[must_use = "the point stops as soon as the guard is dropped"]
pub struct Trace {
    id: Option<TraceId>,
}

impl Trace {
    /// Starts a point named `name` with `info` in the current profiler.
    #[inline]
    pub fn start(name: impl Into<PointName>, info: Option<Info>) -> Trace {
        let id = with_current(|p| {
            p.map(|p| {
                p.start(name, info);
                p.id().clone()
            })
        });
        Trace { id }
    }

    /// True when the point was recorded (a profiler was current).
    pub fn is_recording(&self) -> bool {
        self.id.is_some()
    }

    /// Stops the point now with `info` in the stop notification (for example
    /// `{"etype": ..., "message": ...}` when the work failed).
    pub fn stop_with(mut self, info: Info) {
        self.finish(Some(info));
    }

    /// Stops the point now, recording `error` as Python records an exception: `etype` (the
    /// error's type name) and `message` (its `Display`).
    pub fn fail<E: fmt::Display + ?Sized>(self, error: &E) {
        self.stop_with(crate::error_info(
            std::any::type_name::<E>(),
            error.to_string(),
        ));
    }

    fn finish(&mut self, info: Option<Info>) {
        if let Some(id) = self.id.take() {
            with_current(|p| {
                if let Some(p) = p {
                    p.stop_id(&id, info);
                }
            });
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        if self.id.is_some() {
            let info = std::thread::panicking()
                .then(|| crate::error_info("panic", "panicked while the point was open".into()));
            self.finish(info);
        }
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace").field("id", &self.id).finish()
    }
}
