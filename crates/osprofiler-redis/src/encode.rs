//! The bytes Python's Redis driver stores: each notification as `jsonutils.dumps(data)`
//! (Python's `json.dumps`: `", "` and `": "` separators, non-ASCII as `\uXXXX`, keys in the
//! order Python's profiler makes them, then `project` and `service`), and the error record
//! `{"base_id": ..., "timestamp": ...}`.

use osprofiler_core::pyjson;
use osprofiler_core::Notification;

/// Key prefix of the list that holds a trace's notifications, newest first (`LPUSH`).
pub const PREFIX_OPT: &str = "osprofiler_opt:";
/// Key prefix of the legacy layout: one string key per notification (read only).
pub const PREFIX_LEGACY: &str = "osprofiler:";
/// Key prefix of the error record of a trace (`filter_error_trace`).
pub const PREFIX_ERROR: &str = "osprofiler_error:";

/// Appends `n` as Python's driver writes it. `project` and `service` are the notification's
/// own, else the driver's (Python's driver sets its own on every notification; ours are the
/// same when the notifier and the driver share a configuration, as they do).
pub fn write_notification(
    out: &mut String,
    n: &Notification,
    project: Option<&str>,
    service: Option<&str>,
) {
    out.push_str("{\"name\": ");
    pyjson::write_str(out, &n.name);
    out.push_str(", \"base_id\": ");
    pyjson::write_str(out, &n.base_id);
    out.push_str(", \"trace_id\": ");
    pyjson::write_str(out, &n.trace_id);
    out.push_str(", \"parent_id\": ");
    pyjson::write_str(out, &n.parent_id);
    out.push_str(", \"timestamp\": ");
    pyjson::write_str(out, &n.timestamp);
    // Python's profiler leaves `info` out when it is empty; ours always holds `host`.
    if !n.info.is_empty() {
        out.push_str(", \"info\": ");
        // A map of JSON values always serializes.
        match pyjson::to_string(&n.info) {
            Ok(info) => out.push_str(&info),
            Err(_) => out.push_str("{}"),
        }
    }
    out.push_str(", \"project\": ");
    write_opt(out, n.project.as_deref().or(project));
    out.push_str(", \"service\": ");
    write_opt(out, n.service.as_deref().or(service));
    out.push('}');
}

/// The notification's JSON text (see [`write_notification`]).
pub fn notification(n: &Notification, project: Option<&str>, service: Option<&str>) -> String {
    let mut out = String::with_capacity(320);
    write_notification(&mut out, n, project, service);
    out
}

/// `osprofiler_error:<base_id>`'s value: `{"base_id": ..., "timestamp": ...}`.
pub fn error_record(n: &Notification) -> String {
    let mut out = String::with_capacity(96);
    out.push_str("{\"base_id\": ");
    pyjson::write_str(&mut out, &n.base_id);
    out.push_str(", \"timestamp\": ");
    pyjson::write_str(&mut out, &n.timestamp);
    out.push('}');
    out
}

fn write_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => pyjson::write_str(out, s),
        None => out.push_str("null"),
    }
}

/// `s` with the glob characters of `SCAN MATCH` escaped, so a base id is matched literally.
pub fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample() -> Notification {
        let mut info = osprofiler_core::Info::new();
        info.insert("etype".into(), Value::from("ValueError"));
        info.insert("message".into(), Value::from("é\"x"));
        info.insert("host".into(), Value::from("vm"));
        Notification {
            name: "db-stop".into(),
            base_id: "b".into(),
            trace_id: "t".into(),
            parent_id: "p".into(),
            timestamp: "2026-11-25T04:59:10.042928".into(),
            info,
            project: None,
            service: Some("api".into()),
        }
    }

    #[test]
    fn notification_as_python_dumps_it() {
        // Python: jsonutils.dumps(dict(payload, project=None, service="api"))
        assert_eq!(
            notification(&sample(), None, Some("ignored")),
            r#"{"name": "db-stop", "base_id": "b", "trace_id": "t", "parent_id": "p", "timestamp": "2026-11-25T04:59:10.042928", "info": {"etype": "ValueError", "message": "\u00e9\"x", "host": "vm"}, "project": null, "service": "api"}"#
        );
        assert!(notification(&sample(), Some("nova"), None).contains(r#""project": "nova""#));
        // The same as serializing the whole notification the slow way.
        let mut n = sample();
        n.project = Some("p".into());
        assert_eq!(notification(&n, None, None), pyjson::to_string(&n).unwrap());
    }

    #[test]
    fn error_record_as_python_dumps_it() {
        assert_eq!(
            error_record(&sample()),
            r#"{"base_id": "b", "timestamp": "2026-11-25T04:59:10.042928"}"#
        );
    }

    #[test]
    fn globs_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(
            glob_escape("58989008-6a17-49af-9b56-9643d037cdff"),
            "58989008-6a17-49af-9b56-9643d037cdff"
        );
    }
}
