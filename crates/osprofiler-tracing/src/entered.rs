//! Which profiled spans are entered on this thread, and what was current before each.
//!
//! Entering a span that has a point makes a profiler whose innermost point is the span's
//! current on the thread (so work inside nests under it); exiting gives back the profiler that
//! was current before. `tracing` lets spans exit out of order (guards dropped by hand), so
//! this is a stack that tolerates it, like tracing-subscriber's own `SpanStack`: a span that
//! exits from below the top hands what it saved to the entry above it, and the top keeps
//! its profiler until it exits itself.

use std::cell::RefCell;

use osprofiler_core::Profiler;
use tracing_core::span;

struct Entry {
    span: span::Id,
    /// The profiler current before this span was entered, restored when it exits.
    saved: Option<Profiler>,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Makes `profiler` current for the span `id` just entered.
pub(crate) fn push(id: &span::Id, profiler: Profiler) {
    let saved = osprofiler_core::profiler::set_current(Some(profiler));
    let entry = Entry {
        span: id.clone(),
        saved,
    };
    // During thread teardown there is nowhere to keep the entry: give the profiler back now.
    if let Err(_gone) = ENTERED.try_with(|s| s.borrow_mut().push(entry)) {
        osprofiler_core::profiler::clean();
    }
}

/// The span `id` exits: when it is the innermost entered span, restores the profiler it
/// saved and returns the one that was current inside it (for reuse); from below the top,
/// hands its saved profiler to the entry above and returns `None`. A span not entered on
/// this thread (its guard moved here, against `tracing`'s rules) changes nothing.
pub(crate) fn pop(id: &span::Id) -> Option<Profiler> {
    let found = ENTERED
        .try_with(|s| {
            let mut stack = s.borrow_mut();
            let pos = stack.iter().rposition(|e| &e.span == id)?;
            let entry = stack.remove(pos);
            if pos < stack.len() {
                // Out of order: the span above now restores what this one saved; the
                // profiler made for this span (kept there) is dropped.
                let dropped = std::mem::replace(&mut stack[pos].saved, entry.saved);
                Some((false, dropped))
            } else {
                Some((true, entry.saved))
            }
        })
        .ok()
        .flatten();
    match found {
        Some((true, saved)) => osprofiler_core::profiler::set_current(saved),
        // Dropped here, outside the borrow.
        Some((false, _dropped)) => None,
        None => None,
    }
}

/// How many profiled spans are entered on this thread (tests).
#[cfg(test)]
pub(crate) fn depth() -> usize {
    ENTERED.with(|s| s.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::{profiler, Profiler};

    fn profiler_with_base(base: &str) -> Profiler {
        Profiler::with_notifier(
            "k",
            Some(base),
            None,
            std::sync::Arc::new(osprofiler_core::notifier::NoopNotifier),
        )
    }

    fn current_base() -> Option<String> {
        profiler::get().map(|p| p.base_id().to_string())
    }

    #[test]
    fn in_order_exits_restore_each_level() {
        profiler::set_current(Some(profiler_with_base("outer")));
        let (a, b) = (span::Id::from_u64(1), span::Id::from_u64(2));
        push(&a, profiler_with_base("a"));
        push(&b, profiler_with_base("b"));
        assert_eq!(current_base().as_deref(), Some("b"));
        assert_eq!(
            pop(&b).map(|p| p.base_id().to_string()).as_deref(),
            Some("b")
        );
        assert_eq!(current_base().as_deref(), Some("a"));
        pop(&a);
        assert_eq!(current_base().as_deref(), Some("outer"));
        assert_eq!(depth(), 0);
        profiler::clean();
    }

    #[test]
    fn out_of_order_exit_hands_over_what_it_saved() {
        profiler::clean();
        let (a, b) = (span::Id::from_u64(1), span::Id::from_u64(2));
        push(&a, profiler_with_base("a"));
        push(&b, profiler_with_base("b"));
        assert!(pop(&a).is_none());
        // `b` is still entered: its profiler stays current.
        assert_eq!(current_base().as_deref(), Some("b"));
        pop(&b);
        assert_eq!(current_base(), None);
        assert_eq!(depth(), 0);
    }

    #[test]
    fn an_unknown_exit_changes_nothing() {
        profiler::set_current(Some(profiler_with_base("outer")));
        assert!(pop(&span::Id::from_u64(9)).is_none());
        assert_eq!(current_base().as_deref(), Some("outer"));
        profiler::clean();
    }
}
