//! Reading pieces in parallel, merging them in order: the shape of building a big report.
//!
//! Reading a notification (validating its JSON, finding its fields, parsing its timestamp and
//! ids) needs nothing from the others, so any thread can do it; adding it to the report must
//! happen in store order, one at a time (that order decides ties). [`run`] cuts the work
//! into pieces that threads claim in order; whichever thread finds the next piece in order
//! read, and nobody else merging, merges every piece ready, then goes back to reading. So
//! both cores read while one of them also merges, however the two costs compare, and the
//! pieces waiting to be merged stay few (a thread never reads more than [`AHEAD`] pieces
//! past the merge), which bounds the memory of read-but-unmerged notifications.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// How many pieces past the last merged one a thread may read.
const AHEAD: usize = 8;

/// How many threads to use for work of `bytes` bytes: up to 4 (merging is sequential, so more
/// would mostly wait), one for small work (starting a thread costs about as much as reading
/// 100 KiB).
pub(super) fn threads_for(bytes: usize) -> usize {
    if bytes < 1 << 20 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

enum Slot<R> {
    Empty,
    Ready(R),
    /// The thread reading it panicked.
    Lost,
}

struct Merger<M> {
    next: usize,
    state: M,
}

struct Shared<R, M, S, F> {
    pieces: usize,
    slots: Mutex<Vec<Slot<R>>>,
    filled: Condvar,
    /// The next piece to claim for reading.
    claimed: AtomicUsize,
    /// How many pieces are merged (a copy of `Merger::next`, readable without the lock).
    merged: AtomicUsize,
    stop: AtomicBool,
    merger: Mutex<Merger<M>>,
    read: S,
    merge: F,
}

/// Reads pieces `0..pieces` with `read` on up to `threads` threads and hands each result to
/// `merge` with `state`, in piece order, one at a time. `merge` returns false to stop
/// everything (pieces not merged yet are then dropped). Returns the state.
///
/// A panic in `read` or `merge` stops the other threads and is resumed on the caller's.
pub(super) fn run<R, M, S, F>(pieces: usize, threads: usize, state: M, read: S, merge: F) -> M
where
    R: Send,
    M: Send,
    S: Fn(usize) -> R + Sync,
    F: Fn(&mut M, usize, R) -> bool + Sync,
{
    let shared = Shared {
        pieces,
        slots: Mutex::new((0..pieces).map(|_| Slot::Empty).collect()),
        filled: Condvar::new(),
        claimed: AtomicUsize::new(0),
        merged: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        merger: Mutex::new(Merger { next: 0, state }),
        read,
        merge,
    };
    let helpers = threads.clamp(1, pieces.max(1)) - 1;
    if helpers == 0 {
        shared.work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(|| shared.work());
            }
            shared.work();
        });
    }
    let merger = shared
        .merger
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    merger.state
}

/// Runs `f` on each of `parts`, one thread per part (the last part on the calling thread).
pub(super) fn each<P: Send>(mut parts: Vec<P>, f: impl Fn(P) + Sync) {
    let Some(last) = parts.pop() else {
        return;
    };
    if parts.is_empty() {
        return f(last);
    }
    let f = &f;
    std::thread::scope(|scope| {
        for p in parts {
            scope.spawn(move || f(p));
        }
        f(last);
    });
}

/// Marks a claimed piece lost if its reader unwinds, so that a merger waiting for it wakes.
struct LostOnUnwind<'a, R> {
    slots: &'a Mutex<Vec<Slot<R>>>,
    filled: &'a Condvar,
    stop: &'a AtomicBool,
    piece: usize,
}

impl<R> Drop for LostOnUnwind<'_, R> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::SeqCst);
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = slots.get_mut(self.piece) {
                *slot = Slot::Lost;
            }
            self.filled.notify_all();
        }
    }
}

impl<R, M, S, F> Shared<R, M, S, F>
where
    S: Fn(usize) -> R,
    F: Fn(&mut M, usize, R) -> bool,
{
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn finish(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.filled.notify_all();
    }

    fn work(&self) {
        loop {
            if self.stopped() {
                return;
            }
            // Merge what is ready, unless someone else is merging.
            match self.merger.try_lock() {
                Ok(mut m) => self.merge_ready(&mut m, 0),
                Err(std::sync::TryLockError::WouldBlock) => {}
                Err(std::sync::TryLockError::Poisoned(_)) => return self.finish(),
            }
            let next = self.claimed.load(Ordering::SeqCst);
            if next >= self.pieces || next >= self.merged.load(Ordering::SeqCst) + AHEAD {
                // Nothing left to read, or far enough ahead: merge, waiting for pieces that
                // others are reading, but only as far as needed to read again (waiting for
                // every piece the others go on reading would leave this thread idle).
                let Ok(mut m) = self.merger.lock() else {
                    return self.finish();
                };
                let until = if next >= self.pieces {
                    self.pieces
                } else {
                    (next + 1).saturating_sub(AHEAD)
                };
                self.merge_ready(&mut m, until);
                continue;
            }
            if self
                .claimed
                .compare_exchange(next, next + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            let guard = LostOnUnwind {
                slots: &self.slots,
                filled: &self.filled,
                stop: &self.stop,
                piece: next,
            };
            let result = (self.read)(next);
            std::mem::forget(guard);
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = slots.get_mut(next) {
                *slot = Slot::Ready(result);
            }
            drop(slots);
            self.filled.notify_all();
        }
    }

    /// Merges the pieces ready in order, waiting for those before `until` that others are
    /// reading. Stops everything once the last piece is merged.
    fn merge_ready(&self, m: &mut MutexGuard<'_, Merger<M>>, until: usize) {
        while m.next < self.pieces && !self.stopped() {
            let piece = m.next;
            let result = {
                let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    let Some(slot) = slots.get_mut(piece) else {
                        return self.finish();
                    };
                    match std::mem::replace(slot, Slot::Empty) {
                        Slot::Ready(r) => break r,
                        Slot::Lost => return self.finish(),
                        Slot::Empty => {
                            let claimed = piece < self.claimed.load(Ordering::SeqCst);
                            if piece >= until || !claimed || self.stopped() {
                                return;
                            }
                            slots = self
                                .filled
                                .wait(slots)
                                .unwrap_or_else(PoisonError::into_inner);
                        }
                    }
                }
            };
            if !(self.merge)(&mut m.state, piece, result) {
                return self.finish();
            }
            m.next += 1;
            self.merged.store(m.next, Ordering::SeqCst);
        }
        if m.next >= self.pieces {
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_in_order_on_any_number_of_threads() {
        for threads in [1, 2, 3, 8] {
            for pieces in [0, 1, 2, 5, 100] {
                let order = run(
                    pieces,
                    threads,
                    Vec::new(),
                    |i| i * 10,
                    |seen: &mut Vec<usize>, i, r| {
                        assert_eq!(r, i * 10);
                        seen.push(i);
                        true
                    },
                );
                assert_eq!(order, (0..pieces).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_merge_can_stop_everything() {
        let seen = run(
            50,
            2,
            Vec::new(),
            |i| i,
            |seen: &mut Vec<usize>, i, _| {
                seen.push(i);
                i < 3
            },
        );
        assert_eq!(seen, [0, 1, 2, 3]);
    }

    #[test]
    fn a_panic_while_reading_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            run(
                20,
                2,
                (),
                |i| assert!(i != 7, "piece 7"),
                |_: &mut (), _, _| true,
            )
        });
        assert!(caught.is_err());
    }
}
