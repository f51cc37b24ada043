//! The current profiler of this thread (or of the task being polled on it).
//!
//! Python keeps its profiler in a thread-local; so do we. Async tasks carry their own
//! profiler in a [`Profiled`](super::Profiled) wrapper that swaps it in for each poll, so the
//! thread-local always holds the profiler of whatever runs on the thread right now.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use super::Profiler;

thread_local! {
    static CURRENT: Cell<Option<Profiler>> = const { Cell::new(None) };
    /// `CURRENT.is_some()`, kept beside it: a `const` `Cell<bool>` has no destructor and no
    /// lazy initialisation, so the unprofiled fast path is one plain thread-local load.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// True when this thread (or the task polled on it) has a profiler.
#[inline(always)]
pub(crate) fn is_active() -> bool {
    ACTIVE.try_with(Cell::get).unwrap_or(false)
}

/// Puts a taken profiler back into the thread-local when dropped, even while unwinding.
struct PutBack(Option<Profiler>);

impl Drop for PutBack {
    #[inline]
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = CURRENT.try_with(|c| c.set(Some(p)));
            let _ = ACTIVE.try_with(|a| a.set(true));
        }
    }
}

/// Runs `f` with the current profiler, if there is one.
///
/// The profiler is taken out of the thread-local while `f` runs (no `RefCell`: a re-entrant
/// call, say from a `Debug` impl that is itself traced, sees no profiler instead of panicking)
/// and put back afterwards, also when `f` panics. During thread teardown it behaves as if
/// there were none.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&mut Profiler>) -> R) -> R {
    if !is_active() {
        return f(None);
    }
    let mut slot = PutBack(CURRENT.try_with(Cell::take).ok().flatten());
    f(slot.0.as_mut())
}

/// Puts `profiler` in place as the current one and returns the one it replaces.
#[inline]
pub(crate) fn replace(profiler: Option<Profiler>) -> Option<Profiler> {
    let active = profiler.is_some();
    let previous = CURRENT.try_with(|c| c.replace(profiler)).ok().flatten();
    let _ = ACTIVE.try_with(|a| a.set(active));
    previous
}

/// A scope in which a profiler is current: made by [`enter`](super::enter), it restores the
/// thread's previous profiler when dropped (also while unwinding).
///
/// As `tracing::span::Entered`, it is `!Send`: the profiler is current on *this* thread, so
/// the guard must be dropped here, and holding it across an `.await` would leak the profiler
/// into whatever task the thread polls next. Use [`ProfilerExt::with_profiler`] for a future.
///
/// The profiler is borrowed from a slot rather than owned, because a scope usually changes it
/// (a point opened inside stays open on its stack): on drop, the profiler as the scope left it
/// goes back into the slot, ready for the next scope or for a future to carry
/// (`osprofiler-tower` opens its `wsgi` point this way, then hands the profiler to the
/// request's future).
///
/// [`ProfilerExt::with_profiler`]: super::ProfilerExt::with_profiler
#[must_use = "the profiler is current only until the guard is dropped"]
pub struct Entered<'a> {
    slot: &'a mut Option<Profiler>,
    /// `!Send` and `!Sync`: the guard belongs to the thread whose thread-local it changed.
    _not_send: PhantomData<*mut ()>,
}

impl<'a> Entered<'a> {
    /// Swaps the profiler in `slot` with the current one; on drop the (possibly changed)
    /// profiler goes back into `slot` and the thread's own comes back.
    #[inline]
    pub(crate) fn new(slot: &'a mut Option<Profiler>) -> Self {
        let previous = replace(slot.take());
        *slot = previous;
        Entered {
            slot,
            _not_send: PhantomData,
        }
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        let previous = self.slot.take();
        *self.slot = replace(previous);
    }
}

impl fmt::Debug for Entered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The slot holds the thread's previous profiler while the scope lasts.
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}
