//! Ids of the trace tree (`base_id`, `trace_id`, `parent_id`) and names of trace points.
//!
//! Python OSprofiler uses uuid4 strings for ids, but it accepts any string that arrives in
//! trace headers. [`TraceId`] keeps ids the profiler makes as 16 bytes (no allocation, no
//! formatting on the hot path) and keeps foreign ids verbatim, so that both print exactly as
//! they arrived.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

/// One id of the trace tree: a `base_id`, `trace_id` or `parent_id`.
///
/// Cloning is cheap (a copy, or a reference count for foreign ids).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TraceId {
    /// A uuid, printed lower-case and hyphenated (as Python's `str(uuid.uuid4())`).
    Uuid(Uuid),
    /// Any other string, kept as it arrived (Python accepts any `base_id` in headers).
    Text(Arc<str>),
}

impl TraceId {
    /// A new random (version 4) uuid, from a user-space RNG: a trace point must not cost a
    /// system call.
    pub fn new_v4() -> Self {
        let bytes: [u8; 16] = rand::random();
        TraceId::Uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// The id as text, allocating only for uuids.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// The uuid, when this id is one.
    pub fn as_uuid(&self) -> Option<&Uuid> {
        match self {
            TraceId::Uuid(u) => Some(u),
            TraceId::Text(_) => None,
        }
    }
}

impl From<&str> for TraceId {
    /// Keeps the id as a compact uuid only when printing it again gives the very same text
    /// (lower-case, hyphenated); anything else is kept verbatim.
    fn from(s: &str) -> Self {
        if s.len() == 36 && !s.bytes().any(|b| b.is_ascii_uppercase()) {
            if let Ok(u) = Uuid::try_parse(s) {
                return TraceId::Uuid(u);
            }
        }
        TraceId::Text(Arc::from(s))
    }
}

impl From<String> for TraceId {
    fn from(s: String) -> Self {
        TraceId::from(s.as_str())
    }
}

impl From<Uuid> for TraceId {
    fn from(u: Uuid) -> Self {
        TraceId::Uuid(u)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceId::Uuid(u) => fmt::Display::fmt(&u.hyphenated(), f),
            TraceId::Text(s) => f.write_str(s),
        }
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl PartialEq<str> for TraceId {
    fn eq(&self, other: &str) -> bool {
        match self {
            TraceId::Uuid(u) => {
                let mut buf = Uuid::encode_buffer();
                u.hyphenated().encode_lower(&mut buf) == other
            }
            TraceId::Text(s) => &**s == other,
        }
    }
}

impl PartialEq<&str> for TraceId {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl serde::Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TraceId::Uuid(u) => {
                let mut buf = Uuid::encode_buffer();
                serializer.serialize_str(u.hyphenated().encode_lower(&mut buf))
            }
            TraceId::Text(s) => serializer.serialize_str(s),
        }
    }
}

/// The name of a trace point (`wsgi`, `rpc`, `db`, ...): notifications are named
/// `"<name>-start"` and `"<name>-stop"`.
///
/// Static names (the common case, from attributes) cost nothing to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PointName(NameRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum NameRepr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl PointName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            NameRepr::Static(s) => s,
            NameRepr::Shared(s) => s,
        }
    }
}

impl From<&'static str> for PointName {
    fn from(s: &'static str) -> Self {
        PointName(NameRepr::Static(s))
    }
}

impl From<String> for PointName {
    fn from(s: String) -> Self {
        PointName(NameRepr::Shared(Arc::from(s)))
    }
}

impl From<Arc<str>> for PointName {
    fn from(s: Arc<str>) -> Self {
        PointName(NameRepr::Shared(s))
    }
}

impl fmt::Display for PointName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PointName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_4_uuids() {
        let id = TraceId::new_v4();
        let u = id.as_uuid().expect("a uuid");
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(TraceId::new_v4(), id);
    }

    #[test]
    fn ids_print_exactly_as_they_arrived() {
        for s in [
            "c386bbc4-cd61-4e30-98f1-6adf91b7584a",
            "C386BBC4-CD61-4E30-98F1-6ADF91B7584A",
            "c386bbc4cd614e3098f16adf91b7584a",
            "not-a-uuid",
            "",
        ] {
            let id = TraceId::from(s);
            assert_eq!(id.to_string(), s);
            assert!(id == s);
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{s}\""));
        }
        assert!(TraceId::from("c386bbc4-cd61-4e30-98f1-6adf91b7584a")
            .as_uuid()
            .is_some());
        assert!(TraceId::from("C386BBC4-CD61-4E30-98F1-6ADF91B7584A")
            .as_uuid()
            .is_none());
    }

    #[test]
    fn point_names() {
        let a = PointName::from("db");
        let b = PointName::from(String::from("db"));
        assert_eq!(a.as_str(), b.as_str());
        assert_eq!(a.to_string(), "db");
    }
}
