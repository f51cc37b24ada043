//! Spans as trace points on one thread: names, parents, infos of every field kind, nesting
//! with `#[trace]`, out-of-order exits and closes, spans closed on another thread, explicit
//! parents, error events and panics, and the report built from it all.

mod support;

use std::fmt;

use osprofiler::{profiler, Trace};
use serde_json::json;
use support::*;
use tracing::field::Empty;

#[derive(Debug)]
#[allow(dead_code)]
struct Point {
    x: i32,
}

struct Shown;

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shown by Display")
    }
}

#[test]
fn fields_of_every_kind_become_info() {
    let ns = recorded(|| {
        let span = tracing::info_span!(
            "kinds",
            s = "text",
            i = -5i64,
            u = 7u64,
            b = true,
            f = 1.5f64,
            d = ?Point { x: 1 },
            disp = %Shown,
            big = u128::MAX,
            small = -3i128,
            nan = f64::NAN,
            later = Empty,
            db.statement = "SELECT 1",
            db.params = "{}",
        );
        span.record("later", 42u64);
        span.record("s", "changed");
    });
    assert_eq!(names(&ns), ["kinds-start", "kinds-stop"]);
    assert_eq!(
        info(&ns[0]),
        json!({
            "s": "text", "i": -5, "u": 7, "b": true, "f": 1.5,
            "d": "Point { x: 1 }", "disp": "shown by Display",
            "big": u128::MAX.to_string(), "small": -3, "nan": "NaN",
            "db": {"statement": "SELECT 1", "params": "{}"},
            "function": {"name": "spans::kinds"},
        })
    );
    // Recorded after the start: in the stop.
    assert_eq!(info(&ns[1]), json!({"later": 42, "s": "changed"}));
}

#[test]
fn a_span_without_fields_has_the_function_name_only() {
    let ns = recorded(|| {
        let _s = tracing::info_span!("bare").entered();
    });
    assert_eq!(names(&ns), ["bare-start", "bare-stop"]);
    assert_eq!(info(&ns[0]), json!({"function": {"name": "spans::bare"}}));
    assert_eq!(info(&ns[1]), json!({}));
    assert_parent(&ns, "bare", "root-0");
}

#[tracing::instrument]
fn lookup(user: &str, limit: u64, verbose: bool, ratio: f64, tags: &[&str]) -> usize {
    user.len()
}

#[test]
fn instrument_args_become_info() {
    let ns = recorded(|| {
        lookup("alice", 10, true, 0.25, &["a", "b"]);
    });
    assert_eq!(names(&ns), ["lookup-start", "lookup-stop"]);
    assert_eq!(
        info(&ns[0]),
        json!({
            "user": "alice", "limit": 10, "verbose": true, "ratio": 0.25,
            "tags": "[\"a\", \"b\"]",
            "function": {"name": "spans::lookup"},
        })
    );
}

#[tracing::instrument(fields(osprofiler.name = "db", db.statement = %sql))]
fn query(sql: &str) {}

#[test]
fn the_name_field_names_the_point() {
    let ns = recorded(|| query("SELECT 2"));
    assert_eq!(names(&ns), ["db-start", "db-stop"]);
    assert_eq!(ns[0].info["db"]["statement"], "SELECT 2");
    assert!(ns[0].info.get("osprofiler.name").is_none());
    assert!(ns[0].info.get("osprofiler").is_none());
    assert_eq!(ns[0].info["function"]["name"], "spans::query");
}

#[test]
fn dashes_in_span_names_become_underscores() {
    let ns = recorded(|| drop(tracing::info_span!("my-span")));
    assert_eq!(names(&ns), ["my_span-start", "my_span-stop"]);
}

// Nesting with `#[trace]`: db (trace) > lookup_user (span) > driver (trace) > fetch (span).

#[osprofiler::trace(name = "db")]
fn db_call(user: u32) -> u32 {
    lookup_user(user)
}

#[tracing::instrument]
fn lookup_user(user: u32) -> u32 {
    driver_call(user)
}

#[osprofiler::trace(name = "driver")]
fn driver_call(user: u32) -> u32 {
    let _s = tracing::info_span!("fetch", user).entered();
    user + 1
}

#[test]
fn spans_and_trace_points_nest_both_ways() {
    let ns = recorded(|| {
        db_call(7);
        // After the span closed, points go back to the profiler's root.
        let _after = Trace::start("after", None);
    });
    assert_eq!(
        names(&ns),
        [
            "db-start",
            "lookup_user-start",
            "driver-start",
            "fetch-start",
            "fetch-stop",
            "driver-stop",
            "lookup_user-stop",
            "db-stop",
            "after-start",
            "after-stop"
        ]
    );
    assert_parent(&ns, "db", "root-0");
    assert_parent(&ns, "lookup_user", &id(&ns, "db"));
    assert_parent(&ns, "driver", &id(&ns, "lookup_user"));
    assert_parent(&ns, "fetch", &id(&ns, "driver"));
    assert_parent(&ns, "after", "root-0");
    assert_balanced(&ns);

    let report = report(&ns);
    assert_eq!(tree(&report), "db(lookup_user(driver(fetch))), after");
    let span_node = report
        .roots()
        .next()
        .and_then(|db| db.children().next())
        .expect("the span's node");
    assert_eq!(span_node.info().name(), "lookup_user");
    assert_eq!(span_node.info().error(), None);
    let start: serde_json::Value = serde_json::from_str(
        span_node
            .info()
            .payload("lookup_user-start")
            .expect("start payload")
            .get(),
    )
    .unwrap();
    assert_eq!(start["info"]["user"], 7);
    assert_eq!(start["info"]["function"]["name"], "spans::lookup_user");
}

#[test]
fn a_created_span_is_not_a_parent_until_entered() {
    let ns = recorded(|| {
        let span = tracing::info_span!("later");
        {
            let _beside = Trace::start("beside", None);
        }
        span.in_scope(|| {
            let _inside = Trace::start("inside", None);
        });
    });
    assert_parent(&ns, "later", "root-0");
    assert_parent(&ns, "beside", "root-0");
    assert_parent(&ns, "inside", &id(&ns, "later"));
    assert_balanced(&ns);
}

#[test]
fn spans_exited_and_closed_out_of_order() {
    let ns = recorded(|| {
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        let ga = a.enter();
        let gb = b.enter();
        drop(ga); // a exits while b, entered after it, is still entered
        {
            let _t = Trace::start("in_b", None);
        }
        drop(gb);
        {
            let _t = Trace::start("outside", None);
        }
        drop(a); // siblings close in creation order, not LIFO
        drop(b);
        // The thread's profiler is back as it was: no point left open.
        assert_eq!(profiler::get().map(|p| p.depth()), Some(0));
    });
    assert_eq!(
        names(&ns),
        [
            "a-start",
            "b-start",
            "in_b-start",
            "in_b-stop",
            "outside-start",
            "outside-stop",
            "a-stop",
            "b-stop"
        ]
    );
    assert_parent(&ns, "a", "root-0");
    assert_parent(&ns, "b", "root-0");
    assert_parent(&ns, "in_b", &id(&ns, "b"));
    assert_parent(&ns, "outside", "root-0");
    assert_balanced(&ns);
}

#[test]
fn a_span_closed_on_another_thread_stops_its_own_point() {
    let ns = recorded(|| {
        let outer = tracing::info_span!("outer").entered();
        let moved = tracing::info_span!("moved");
        std::thread::spawn(move || {
            // Entered and closed where no profiler is current: the span carries its trace.
            moved.in_scope(|| {
                let _t = Trace::start("on_thread", None);
            });
            drop(moved);
        })
        .join()
        .unwrap();
        drop(outer);
    });
    assert_parent(&ns, "outer", "root-0");
    assert_parent(&ns, "moved", &id(&ns, "outer"));
    assert_parent(&ns, "on_thread", &id(&ns, "moved"));
    assert_balanced(&ns);
}

#[test]
fn an_explicit_parent_wins_over_the_current_span() {
    let ns = recorded(|| {
        let parent = tracing::info_span!("parent");
        let _current = tracing::info_span!("current").entered();
        let child = tracing::info_span!(parent: &parent, "child");
        let root = tracing::info_span!(parent: None, "root");
        drop((child, root));
    });
    assert_parent(&ns, "parent", "root-0");
    assert_parent(&ns, "current", "root-0");
    assert_parent(&ns, "child", &id(&ns, "parent"));
    // `parent: None` is a tracing root: its point nests where the profiler is.
    assert_parent(&ns, "root", &id(&ns, "current"));
    assert_balanced(&ns);
}

#[derive(Debug)]
struct NotFound;

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such user")
    }
}

#[tracing::instrument(err)]
fn failing(user: u32) -> Result<u32, NotFound> {
    Err(NotFound)
}

#[test]
fn an_error_event_marks_the_stop() {
    let ns = recorded(|| {
        let _ = failing(3);
        let _s = tracing::info_span!("logged").entered();
        tracing::error!(error.type = "ValueError", "bad value {}", 5);
        tracing::warn!("only a warning");
    });
    assert_eq!(
        info(one(&ns, "failing-stop")),
        json!({"etype": "error", "message": "no such user"})
    );
    assert_eq!(
        info(one(&ns, "logged-stop")),
        json!({"etype": "ValueError", "message": "bad value 5"})
    );
    let report = report(&ns);
    let errors: Vec<_> = report
        .roots()
        .map(|n| n.info().error().map(|e| e.into_owned()))
        .collect();
    assert_eq!(errors, [Some("error".into()), Some("ValueError".into())]);
}

#[test]
fn a_panic_marks_the_stop() {
    let ns = recorded(|| {
        let caught = std::panic::catch_unwind(|| {
            let _s = tracing::info_span!("doomed").entered();
            panic!("boom");
        });
        assert!(caught.is_err());
    });
    assert_eq!(info(one(&ns, "doomed-stop"))["etype"], "panic");
    assert_balanced(&ns);
}

#[test]
fn a_span_made_without_a_profiler_stays_out_of_a_later_trace() {
    support::install();
    profiler::clean();
    let early = tracing::info_span!("early");
    let ns = recorded(|| {
        early.in_scope(|| {
            let _t = Trace::start("inside", None);
        });
    });
    drop(early);
    assert_eq!(names(&ns), ["inside-start", "inside-stop"]);
    assert_parent(&ns, "inside", "root-0");
}

#[test]
fn reentering_a_span_keeps_what_was_left_open_inside() {
    let ns = recorded(|| {
        let span = tracing::info_span!("polled");
        for i in 0..3 {
            span.in_scope(|| {
                let _t = Trace::start(format!("poll{i}"), None);
            });
        }
        // As an instrumented future does: a guard started in one poll, dropped in a later
        // one.
        let across = span.in_scope(|| Trace::start("across", None));
        span.in_scope(|| {
            let _t = Trace::start("inner", None);
        });
        span.in_scope(|| drop(across));
        span.in_scope(|| {
            let _t = Trace::start("next", None);
        });
    });
    let polled = id(&ns, "polled");
    for i in 0..3 {
        assert_parent(&ns, &format!("poll{i}"), &polled);
    }
    assert_parent(&ns, "across", &polled);
    assert_parent(&ns, "inner", &id(&ns, "across"));
    assert_parent(&ns, "next", &polled);
    assert_balanced(&ns);
}
