//! Carrying a trace through RPC, as OpenStack services do it.
//!
//! An RPC call has no HTTP headers to sign: OpenStack puts the trace into the request
//! context instead. nova's `ProfilerRequestContextSerializer` (and its copies in cinder,
//! neutron, ...) adds `trace_info: {"hmac_key", "base_id", "parent_id"}` to the serialized
//! context of every outgoing call while a profiler is active, and the callee pops it and
//! calls `profiler.init(**trace_info)` before it runs the method. The message bus is trusted
//! there, so the key travels in clear and nothing is verified.
//!
//! [`inject`] and [`extract`] do the same with a JSON context object, so a Rust service and a
//! Python one can call each other. [`extract_known`] is the cautious variant: it takes the
//! trace only when its key is one of the service's own HMAC keys, which is what a service
//! reachable by untrusted publishers should use.
//!
//! ```
//! use osprofiler_core::{profiler, rpc, Profiler};
//! use serde_json::{json, Map};
//!
//! // Caller: inside a traced request.
//! profiler::set_current(Some(Profiler::new("SECRET_KEY", Some("b"), None)));
//! let mut context = Map::new();
//! context.insert("user".into(), json!("demo"));
//! assert!(rpc::inject(&mut context));
//! profiler::clean();
//!
//! // Callee: the context arrives with the message.
//! let callee = rpc::extract(&mut context).expect("a trace came with the call");
//! assert_eq!(callee.base_id().to_string(), "b");
//! assert!(!context.contains_key("trace_info")); // popped, as Python pops it
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::profiler::{self, Profiler};

/// The context key OpenStack uses.
pub const TRACE_INFO_KEY: &str = "trace_info";

/// What travels in the context: the trace's key and ids, in Python's key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceInfo {
    /// The key the trace was signed with; the callee signs onward calls with it.
    pub hmac_key: String,
    /// The trace's `base_id`.
    pub base_id: String,
    /// The caller's current point: the parent of the callee's first point.
    pub parent_id: String,
}

impl TraceInfo {
    /// The trace info of `profiler`: its key, base id, and current point as the parent.
    pub fn of(profiler: &Profiler) -> Self {
        TraceInfo {
            hmac_key: profiler.hmac_key().to_owned(),
            base_id: profiler.base_id().to_string(),
            parent_id: profiler.id().to_string(),
        }
    }

    /// The trace info of the current profiler, `None` when profiling is off here.
    pub fn current() -> Option<Self> {
        profiler::get().map(|p| Self::of(&p))
    }

    /// Reads a `trace_info` value: an object whose three fields are strings (other fields
    /// are ignored). `None` for anything else.
    pub fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let field = |k: &str| object.get(k)?.as_str().map(str::to_owned);
        Some(TraceInfo {
            hmac_key: field("hmac_key")?,
            base_id: field("base_id")?,
            parent_id: field("parent_id")?,
        })
    }

    /// The value to put under [`TRACE_INFO_KEY`].
    pub fn to_value(&self) -> Value {
        let mut object = Map::with_capacity(3);
        object.insert("hmac_key".into(), Value::String(self.hmac_key.clone()));
        object.insert("base_id".into(), Value::String(self.base_id.clone()));
        object.insert("parent_id".into(), Value::String(self.parent_id.clone()));
        Value::Object(object)
    }

    /// The callee's profiler (Python's `profiler.init(**trace_info)`), reporting to the
    /// process-wide notifier. Run the call with it: [`crate::ProfilerExt::with_profiler`] for
    /// a future, [`profiler::set_current`] on a thread.
    pub fn into_profiler(self) -> Profiler {
        Profiler::new(&self.hmac_key, Some(&self.base_id), Some(&self.parent_id))
    }
}

/// Adds the current trace to an outgoing call's context (nova's `serialize_context`).
/// Returns whether there was one to add; with profiling off the context is left unchanged.
pub fn inject(context: &mut Map<String, Value>) -> bool {
    match TraceInfo::current() {
        Some(info) => {
            context.insert(TRACE_INFO_KEY.into(), info.to_value());
            true
        }
        None => false,
    }
}

/// Takes the trace out of an incoming call's context (nova's `deserialize_context`): removes
/// `trace_info` and returns the callee's profiler, or `None` when the call carries no trace
/// or a malformed one (the key is removed either way, so it never reaches the method).
pub fn extract(context: &mut Map<String, Value>) -> Option<Profiler> {
    let value = context.remove(TRACE_INFO_KEY)?;
    TraceInfo::from_value(&value).map(TraceInfo::into_profiler)
}

/// [`extract`] that takes the trace only when its key is one of `hmac_keys` (the service's
/// own keys, as for HTTP): a publisher that does not know a key cannot make this service
/// trace.
pub fn extract_known(context: &mut Map<String, Value>, hmac_keys: &[&str]) -> Option<Profiler> {
    let value = context.remove(TRACE_INFO_KEY)?;
    let info = TraceInfo::from_value(&value)?;
    hmac_keys
        .iter()
        .any(|k| *k == info.hmac_key)
        .then(|| info.into_profiler())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(trace_info: Value) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("user_id".into(), json!("u"));
        c.insert(TRACE_INFO_KEY.into(), trace_info);
        c
    }

    #[test]
    fn inject_adds_pythons_trace_info_only_when_profiling() {
        profiler::clean();
        let mut c = Map::new();
        assert!(!inject(&mut c));
        assert!(c.is_empty());

        profiler::set_current(Some(Profiler::new("k", Some("base"), Some("parent"))));
        profiler::start("rpc", None);
        let point = profiler::get().unwrap().id().to_string();
        assert!(inject(&mut c));
        profiler::stop(None);
        profiler::clean();
        // Python's key order, and the open point as the parent.
        assert_eq!(
            serde_json::to_string(&c[TRACE_INFO_KEY]).unwrap(),
            format!(r#"{{"hmac_key":"k","base_id":"base","parent_id":"{point}"}}"#)
        );
    }

    #[test]
    fn extract_pops_and_continues_the_trace() {
        let mut c = context(json!({"hmac_key": "k", "base_id": "b", "parent_id": "p", "x": 1}));
        let p = extract(&mut c).unwrap();
        assert_eq!(
            (p.hmac_key(), p.base_id().to_string(), p.id().to_string()),
            ("k", "b".to_owned(), "p".to_owned())
        );
        assert_eq!(c.keys().collect::<Vec<_>>(), ["user_id"]);
    }

    #[test]
    fn malformed_trace_info_is_removed_and_ignored() {
        for bad in [
            json!(null),
            json!("b"),
            json!([]),
            json!({"hmac_key": "k", "base_id": "b"}),
            json!({"hmac_key": 1, "base_id": "b", "parent_id": "p"}),
        ] {
            let mut c = context(bad.clone());
            assert!(extract(&mut c).is_none(), "{bad}");
            assert!(!c.contains_key(TRACE_INFO_KEY));
        }
        let mut c = Map::new();
        assert!(extract(&mut c).is_none());
    }

    #[test]
    fn extract_known_needs_one_of_the_keys() {
        let info = json!({"hmac_key": "k2", "base_id": "b", "parent_id": "p"});
        assert!(extract_known(&mut context(info.clone()), &["k1"]).is_none());
        assert!(extract_known(&mut context(info), &["k1", "k2"]).is_some());
    }
}
