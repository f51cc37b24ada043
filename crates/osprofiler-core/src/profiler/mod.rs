//! The profiler: Python's `osprofiler.profiler` for threads and async tasks (`docs/wire.md`, profiler semantics).
//!
//! A [`Profiler`] holds the trace's `base_id`, the HMAC key to sign onward calls with, and the
//! stack of open trace points. The free functions ([`init`], [`get`], [`clean`], [`start`],
//! [`stop`]) act on the *current* profiler: the one of this thread, or of the task being
//! polled when it runs inside [`Profiled`]. Without a current profiler they do nothing, at the
//! cost of one thread-local read.

mod context;
mod future;
mod guard;
mod spawn;

use std::fmt;
use std::sync::Arc;

pub use future::{Profiled, ProfilerExt};
pub use guard::Trace;
pub use spawn::{spawn, spawn_blocking};
pub use spawn::{spawn_thread, with_profiler};

pub(crate) use context::with_current;
pub use context::Entered;

use crate::id::{PointName, TraceId};
use crate::notification::{Info, PointKind, TracePoint};
use crate::notifier::{self, Notifier};
use crate::timestamp::Timestamp;

/// What every handle of one trace shares.
struct Shared {
    hmac_key: Arc<str>,
    base_id: TraceId,
    /// `parent_id or base_id`: the parent of the outermost point.
    root_parent: TraceId,
    /// An explicit notifier; `None` means the process-wide one.
    notifier: Option<Arc<dyn Notifier>>,
}

/// One open trace point on the stack.
#[derive(Clone)]
struct Frame {
    id: TraceId,
    name: PointName,
}

/// A profiler: one trace's ids and key, and the stack of points open in this context.
///
/// Cloning forks it: the clone starts with the same open points (so its new points get the
/// right parent) but can only stop the points it started itself. That is how a profiler is
/// carried into a spawned task or thread.
#[derive(Clone)]
pub struct Profiler {
    shared: Arc<Shared>,
    stack: Vec<Frame>,
    /// Points below this depth belong to the context this one was forked from.
    floor: usize,
}

impl Profiler {
    /// Makes a profiler, as Python's `_Profiler(hmac_key, base_id, parent_id)`: an empty
    /// `base_id` becomes a new uuid4, a missing `parent_id` is the `base_id`. It reports to
    /// the process-wide notifier (see [`crate::notifier::set_global`]).
    pub fn new(hmac_key: &str, base_id: Option<&str>, parent_id: Option<&str>) -> Self {
        Self::build(hmac_key, base_id, parent_id, None)
    }

    /// Like [`Profiler::new`] but reporting to `notifier` instead of the process-wide one
    /// (tests, or a service that runs several pipelines).
    pub fn with_notifier(
        hmac_key: &str,
        base_id: Option<&str>,
        parent_id: Option<&str>,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        Self::build(hmac_key, base_id, parent_id, Some(notifier))
    }

    fn build(
        hmac_key: &str,
        base_id: Option<&str>,
        parent_id: Option<&str>,
        notifier: Option<Arc<dyn Notifier>>,
    ) -> Self {
        let id = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(TraceId::from);
        Self::from_ids(Arc::from(hmac_key), id(base_id), id(parent_id), notifier)
    }

    /// [`Profiler::new`] from ids already read: `None` ids as there (a new `base_id`, the
    /// `base_id` as the parent), the key shared rather than copied.
    pub(crate) fn from_ids(
        hmac_key: Arc<str>,
        base_id: Option<TraceId>,
        parent_id: Option<TraceId>,
        notifier: Option<Arc<dyn Notifier>>,
    ) -> Self {
        let base_id = base_id.unwrap_or_else(TraceId::new_v4);
        let root_parent = parent_id.unwrap_or_else(|| base_id.clone());
        Profiler {
            shared: Arc::new(Shared {
                hmac_key,
                base_id,
                root_parent,
                notifier,
            }),
            stack: Vec::new(),
            floor: 0,
        }
    }

    /// The key this trace is signed with; onward calls are signed with it too.
    pub fn hmac_key(&self) -> &str {
        &self.shared.hmac_key
    }

    /// The id shared by all points of the trace (Python's `get_base_id`).
    pub fn base_id(&self) -> &TraceId {
        &self.shared.base_id
    }

    /// The innermost open point's id, or the incoming parent id when none is open (Python's
    /// `get_id`): the `parent_id` to put in onward trace headers.
    pub fn id(&self) -> &TraceId {
        self.stack
            .last()
            .map(|f| &f.id)
            .unwrap_or(&self.shared.root_parent)
    }

    /// The parent of the innermost open point (Python's `get_parent_id`).
    pub fn parent_id(&self) -> &TraceId {
        match self.stack.len() {
            0 => &self.shared.base_id,
            1 => &self.shared.root_parent,
            n => &self.stack[n - 2].id,
        }
    }

    /// How many points are open in this context (its own and those it was forked inside).
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Opens a point: pushes a new uuid4 and sends `"<name>-start"`.
    pub fn start(&mut self, name: impl Into<PointName>, info: Option<Info>) {
        let name = name.into();
        let id = TraceId::new_v4();
        let parent_id = self.id().clone();
        self.stack.push(Frame {
            id: id.clone(),
            name: name.clone(),
        });
        self.send(PointKind::Start, name, id, parent_id, info);
    }

    /// Closes the innermost open point of this context: sends `"<name>-stop"` and pops it.
    /// Does nothing when this context has no open point of its own.
    pub fn stop(&mut self, info: Option<Info>) {
        if self.stack.len() <= self.floor {
            return;
        }
        if let Some(frame) = self.stack.pop() {
            let parent_id = self.id().clone();
            self.send(PointKind::Stop, frame.name, frame.id, parent_id, info);
        }
    }

    /// Closes the point `id` wherever it is on this context's stack (a guard dropped out of
    /// order); points opened above it stay open. Returns false when `id` is not open here.
    pub(crate) fn stop_id(&mut self, id: &TraceId, info: Option<Info>) -> bool {
        let Some(pos) = self.stack[self.floor..].iter().rposition(|f| &f.id == id) else {
            return false;
        };
        let pos = pos + self.floor;
        let frame = self.stack.remove(pos);
        let parent_id = match pos {
            0 => self.shared.root_parent.clone(),
            n => self.stack[n - 1].id.clone(),
        };
        self.send(PointKind::Stop, frame.name, frame.id, parent_id, info);
        true
    }

    /// A fork of this profiler for another task or thread (see the type's docs).
    pub fn fork(&self) -> Profiler {
        Profiler {
            shared: self.shared.clone(),
            stack: self.stack.clone(),
            floor: self.stack.len(),
        }
    }

    fn send(
        &self,
        kind: PointKind,
        name: PointName,
        trace_id: TraceId,
        parent_id: TraceId,
        info: Option<Info>,
    ) {
        let point = TracePoint {
            kind,
            name,
            base_id: self.shared.base_id.clone(),
            trace_id,
            parent_id,
            timestamp: Timestamp::now(),
            info,
        };
        match &self.shared.notifier {
            Some(n) => n.notify(point),
            None => notifier::notify_global(point),
        }
    }
}

impl fmt::Debug for Profiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiler")
            .field("base_id", &self.shared.base_id)
            .field("id", self.id())
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

/// Makes a profiler for the current thread or task if there is none (Python's `init`) and
/// returns a fork of the current one.
pub fn init(hmac_key: &str, base_id: Option<&str>, parent_id: Option<&str>) -> Profiler {
    with_current(|current| {
        if let Some(p) = current {
            return Some(p.fork());
        }
        None
    })
    .unwrap_or_else(|| {
        let p = Profiler::new(hmac_key, base_id, parent_id);
        let fork = p.fork();
        set_current(Some(p));
        fork
    })
}

/// Makes the profiler in `slot` current until the returned guard is dropped, then restores
/// the thread's previous one and puts the profiler, as the scope left it, back into `slot`.
///
/// The guard of the integrations: a server layer enters the request's profiler while it
/// opens the request's point and calls the inner service, then hands the profiler (with the
/// point open on its stack) to the response future.
///
/// ```
/// use osprofiler_core::{profiler, Profiler, Trace};
///
/// let mut slot = Some(Profiler::new("SECRET_KEY", Some("base"), None));
/// let point = {
///     let _entered = profiler::enter(&mut slot);
///     assert!(profiler::is_active());
///     Trace::start("wsgi", None)
/// };
/// assert!(!profiler::is_active());
/// // The point is open in the profiler back in `slot`: stop it there.
/// profiler::with_profiler(slot.take(), || drop(point));
/// ```
///
/// `!Send`, as `tracing`'s `Entered`: for a future, use [`ProfilerExt::with_profiler`], which
/// enters its profiler on every poll.
#[inline]
pub fn enter(slot: &mut Option<Profiler>) -> Entered<'_> {
    Entered::new(slot)
}

/// Makes `profiler` the current one of this thread or task, returning the one it replaces.
pub fn set_current(profiler: Option<Profiler>) -> Option<Profiler> {
    context::replace(profiler)
}

/// A fork of the current profiler, or `None` when profiling is off here (Python's `get`).
/// Use it to read the ids, to sign onward calls, or to carry the trace into another task.
#[inline]
pub fn get() -> Option<Profiler> {
    with_current(|p| p.map(|p| p.fork()))
}

/// True when a profiler is current: the check that keeps unprofiled code fast.
#[inline]
pub fn is_active() -> bool {
    context::is_active()
}

/// Removes the current profiler (Python's `clean`).
pub fn clean() {
    set_current(None);
}

/// Opens a point in the current profiler, if any (Python's `profiler.start`).
#[inline]
pub fn start(name: impl Into<PointName>, info: Option<Info>) {
    with_current(|p| {
        if let Some(p) = p {
            p.start(name, info);
        }
    });
}

/// Closes the innermost open point of the current profiler, if any (Python's
/// `profiler.stop`).
#[inline]
pub fn stop(info: Option<Info>) {
    with_current(|p| {
        if let Some(p) = p {
            p.stop(info);
        }
    });
}
