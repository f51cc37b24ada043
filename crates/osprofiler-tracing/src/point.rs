//! The trace point of one span, kept in the span's extensions.
//!
//! The point lives in a profiler of its own: a fork of the profiler that was current where
//! the span was created, with the span's point opened in it. So the start's parent is
//! whatever point was current there, the stop can be sent from any thread (no thread-local
//! is consulted), and the creating context's own stack is left alone: a span that is created
//! but not entered does not become the parent of what its creator does next.

use std::sync::atomic::{AtomicUsize, Ordering};

use osprofiler_core::{Info, PointName, Profiler};
use serde_json::Value;

/// How many spans with a point are open in the process. While it is zero (no profiled span
/// anywhere) entering, exiting, recording and closing spans skip the span lookup: the cost
/// of the layer to a service that is not being profiled is this one load.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// True when some span may have a point.
#[inline(always)]
pub(crate) fn any_live() -> bool {
    LIVE.load(Ordering::Relaxed) != 0
}

/// A span's open trace point.
pub(crate) struct SpanPoint {
    /// A fork of the creating context's profiler with the span's point open in it.
    own: Profiler,
    /// The context inside the span between enters: a fork of `own` (made on the first
    /// enter) with whatever was left open in it, as a [`Profiled`](osprofiler::Profiled)
    /// future keeps its profiler between polls. A `Trace` guard or `#[trace]` point held
    /// across an `.await` inside an instrumented future is started in one enter and
    /// stopped in a later one, so it must find itself here again.
    idle: Option<Profiler>,
    /// Info for the stop: fields recorded after the start, an error event's etype.
    stop_info: Info,
}

impl SpanPoint {
    /// Opens the point `name` in `base` (a fork of the profiler current at the span's
    /// creation, or of its explicit parent span's point).
    pub(crate) fn start(mut base: Profiler, name: PointName, info: Info) -> SpanPoint {
        // Counted before the point is visible in any span's extensions.
        LIVE.fetch_add(1, Ordering::Relaxed);
        base.start(name, Some(info));
        SpanPoint {
            own: base,
            idle: None,
            stop_info: Info::new(),
        }
    }

    /// A fork of the point's profiler, for a span whose explicit parent is this one.
    pub(crate) fn fork(&self) -> Profiler {
        self.own.fork()
    }

    /// The profiler to make current while the span is entered: its innermost point is the
    /// span's, and it cannot stop it (its floor is above).
    pub(crate) fn enter(&mut self) -> Profiler {
        self.idle.take().unwrap_or_else(|| self.own.fork())
    }

    /// Takes back the profiler that was current inside the span when it exited, for the next
    /// enter. One that is not inside this span's point any more (made current by hand, or
    /// another trace's) is dropped; so is a second one when the span was entered on two
    /// threads at once (the first back is kept). Returns what it does not keep, for the
    /// caller to drop once the span's extensions are unlocked.
    #[must_use]
    pub(crate) fn exited(&mut self, inside: Profiler) -> Option<Profiler> {
        if self.idle.is_none()
            && inside.depth() >= self.own.depth()
            && inside.base_id() == self.own.base_id()
        {
            self.idle = Some(inside);
            None
        } else {
            Some(inside)
        }
    }

    /// The info the stop will carry.
    pub(crate) fn stop_info_mut(&mut self) -> &mut Info {
        &mut self.stop_info
    }

    /// Sets the error of the stop, as Python records an exception.
    pub(crate) fn fail(&mut self, etype: String, message: String) {
        self.stop_info
            .insert("etype".to_owned(), Value::String(etype));
        self.stop_info
            .insert("message".to_owned(), Value::String(message));
    }

    /// Sends the stop (from whatever thread closes the span).
    pub(crate) fn stop(mut self) {
        if std::thread::panicking() && !self.stop_info.contains_key("etype") {
            self.fail(
                "panic".to_owned(),
                "panicked while the span was open".to_owned(),
            );
        }
        let info = std::mem::take(&mut self.stop_info);
        self.own.stop((!info.is_empty()).then_some(info));
    }
}

impl Drop for SpanPoint {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
