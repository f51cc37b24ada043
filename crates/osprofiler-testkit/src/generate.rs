//! Notifications made up for tests that need many of them.

use osprofiler_core::notification::{Info, Notification};
use serde_json::Value;

/// `n` notifications as our profiler sends them, in traces of 10 (5 `db` points, start then
/// stop), base ids `{tag}-{i / 10}`: a tag keeps one test's traces apart from another's.
pub fn notifications(tag: &str, n: usize) -> Vec<Notification> {
    (0..n)
        .map(|i| {
            let mut info = Info::new();
            info.insert("host".into(), Value::from("rust-host"));
            let base = format!("{tag}-{}", i / 10);
            Notification {
                name: format!("db-{}", if i % 2 == 0 { "start" } else { "stop" }),
                base_id: base.clone(),
                trace_id: format!("{base}-p{}", (i % 10) / 2),
                parent_id: base,
                timestamp: format!("2026-12-06T10:00:00.{:06}", i % 1_000_000),
                info,
                project: Some("proj".into()),
                service: Some("svc".into()),
            }
        })
        .collect()
}
