//! Shared by the integration tests: the layer installed process-wide (worker threads of a
//! multi-thread runtime do not see a thread-local default subscriber), fresh profilers with
//! their own collecting notifier, and checks on what they recorded.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Once};

use osprofiler::notifier::CollectingNotifier;
use osprofiler::report::{build_report, Node, Report};
use osprofiler::{profiler, Notification, Profiler};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

/// Installs registry + layer as the global default, once per test binary.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(osprofiler_tracing::layer());
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    });
}

/// A profiler reporting to its own collector.
pub fn new_profiler() -> (Arc<CollectingNotifier>, Profiler) {
    let points = Arc::new(CollectingNotifier::new());
    let p = Profiler::with_notifier("SECRET_KEY", Some("base-0"), Some("root-0"), points.clone());
    (points, p)
}

/// Runs `f` on this thread with a fresh profiler current; returns what it recorded.
pub fn recorded(f: impl FnOnce()) -> Vec<Notification> {
    install();
    let (points, p) = new_profiler();
    profiler::set_current(Some(p));
    f();
    profiler::clean();
    points.notifications()
}

pub fn names(ns: &[Notification]) -> Vec<&str> {
    ns.iter().map(|n| n.name.as_str()).collect()
}

/// The one notification named `name`.
pub fn one<'a>(ns: &'a [Notification], name: &str) -> &'a Notification {
    let found: Vec<_> = ns.iter().filter(|n| n.name == name).collect();
    assert_eq!(found.len(), 1, "exactly one {name} in {:?}", names(ns));
    found[0]
}

/// The trace id of the point `name` (from its start).
pub fn id(ns: &[Notification], name: &str) -> String {
    one(ns, &format!("{name}-start")).trace_id.clone()
}

/// Checks that the point `child` has a start and a stop with the same id, both naming
/// `parent_id` as parent.
pub fn assert_parent(ns: &[Notification], child: &str, parent_id: &str) {
    let start = one(ns, &format!("{child}-start"));
    let stop = one(ns, &format!("{child}-stop"));
    assert_eq!(start.trace_id, stop.trace_id, "{child}: stop matches start");
    assert_eq!(start.parent_id, parent_id, "{child}: parent of start");
    assert_eq!(stop.parent_id, parent_id, "{child}: parent of stop");
}

/// Every start has exactly one stop, all in one trace.
pub fn assert_balanced(ns: &[Notification]) {
    let mut open: HashMap<&str, i32> = HashMap::new();
    for n in ns {
        assert_eq!(n.base_id, "base-0");
        *open.entry(&n.trace_id).or_default() += if n.name.ends_with("-start") { 1 } else { -1 };
    }
    assert!(
        open.values().all(|v| *v == 0),
        "unbalanced: {:?}",
        names(ns)
    );
}

/// `info` of a notification without `host`.
pub fn info(n: &Notification) -> Value {
    let mut info = n.info.clone();
    assert_eq!(
        info.shift_remove("host"),
        Some(Value::from(osprofiler::hostname()))
    );
    Value::Object(info)
}

/// The report the stores would build from these notifications.
pub fn report(ns: &[Notification]) -> Report {
    build_report(
        ns.iter()
            .map(|n| serde_json::value::to_raw_value(n).expect("a notification is JSON")),
    )
}

/// The tree as `name(child, child)` text, children in report order.
pub fn tree(report: &Report) -> String {
    fn node(n: Node<'_>, out: &mut String) {
        out.push_str(n.info().name());
        if n.children().len() > 0 {
            out.push('(');
            for (i, c) in n.children().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                node(c, out);
            }
            out.push(')');
        }
    }
    let mut out = String::new();
    for (i, r) in report.roots().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        node(r, &mut out);
    }
    out
}
