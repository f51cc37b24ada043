//! Trace headers: signing and verifying `X-Trace-Info` / `X-Trace-HMAC` (`docs/wire.md`, trace headers).
//!
//! `X-Trace-Info` is URL-safe base64 (with padding) of the JSON object written as Python's
//! `json.dumps` writes it; `X-Trace-HMAC` is the lower-case hex HMAC-SHA1 of those base64
//! bytes. A receiver holding several keys (rotation) accepts the header if any key matches.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::notifier::Notifier;
use crate::{pyjson, Profiler, TraceId};

type HmacSha1 = Hmac<Sha1>;

/// The header carrying the signed trace ids.
pub const X_TRACE_INFO: &str = "X-Trace-Info";
/// The header carrying the signature of [`X_TRACE_INFO`].
pub const X_TRACE_HMAC: &str = "X-Trace-HMAC";

/// Why [`signed_pack`] could not sign.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The data did not serialize to JSON.
    #[error("trace info is not serializable as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Signs `data` with `key`: returns (`X-Trace-Info`, `X-Trace-HMAC`), byte for byte what
/// Python's `osprofiler._utils.signed_pack` returns for the same data and key.
///
/// ```
/// let data = serde_json::json!({"base_id": "c386bbc4-cd61-4e30-98f1-6adf91b7584a"});
/// let (info, hmac) = osprofiler_core::signing::signed_pack(&data, "kéy-ünicode").unwrap();
/// assert_eq!(info, "eyJiYXNlX2lkIjogImMzODZiYmM0LWNkNjEtNGUzMC05OGYxLTZhZGY5MWI3NTg0YSJ9");
/// assert_eq!(hmac, "bdc1ed0a1c4d2a965346fffbe08e48caec597df0");
/// ```
pub fn signed_pack<T: Serialize + ?Sized>(
    data: &T,
    key: &str,
) -> Result<(String, String), PackError> {
    let json = pyjson::to_string(data)?;
    let info = URL_SAFE.encode(json.as_bytes());
    let hmac = sign(info.as_bytes(), key);
    Ok((info, hmac))
}

/// Signs trace ids for onward calls: the usual case of [`signed_pack`], without a JSON value
/// in between.
pub fn pack_ids(base_id: &str, parent_id: &str, key: &str) -> (String, String) {
    let mut json = String::with_capacity(base_id.len() + parent_id.len() + 32);
    json.push_str("{\"base_id\": ");
    pyjson::write_str(&mut json, base_id);
    json.push_str(", \"parent_id\": ");
    pyjson::write_str(&mut json, parent_id);
    json.push('}');
    let info = URL_SAFE.encode(json.as_bytes());
    let hmac = sign(info.as_bytes(), key);
    (info, hmac)
}

/// Verifies the two header values against `keys` (Python's `signed_unpack`): the decoded
/// object with `"hmac_key"` set to the key that matched, or `None` for anything else (no
/// keys, empty values, a wrong signature, bad base64, not JSON, not an object). White space
/// around the HMAC is ignored; signatures are compared in constant time.
pub fn signed_unpack(info: &str, hmac: &str, keys: &[&str]) -> Option<Map<String, Value>> {
    let key = matching_key(info, hmac, keys.iter().map(|k| (*k, mac(k))))?;
    decode_object(info, key)
}

/// [`signed_unpack`] for a service's fixed set of keys: what a middleware holds. The same
/// verdicts, cheaper: each key's HMAC state is prepared once (no keyed set-up, two SHA-1
/// blocks, per key and request), and the key that matched last is tried first, so with
/// rotation the steady state costs one HMAC of the header, not one per older key.
///
/// ```
/// use osprofiler_core::signing::{pack_ids, Verifier};
///
/// let verifier = Verifier::new(["old-key", "SECRET_KEY"]);
/// let (info, hmac) = pack_ids("b", "p", "SECRET_KEY");
/// let trace = verifier.unpack(&info, &hmac).unwrap();
/// assert_eq!(trace["hmac_key"], "SECRET_KEY");
/// assert!(verifier.unpack(&info, "00").is_none());
/// ```
pub struct Verifier {
    /// The keys in the order given, each with its prepared HMAC state; a key that signs
    /// exactly as an earlier one does (see [`hmac_equivalent`]) is left out.
    keys: Vec<(Arc<str>, HmacSha1)>,
    /// The index of the key that matched last, tried first: with rotation, nearly every
    /// request is signed with the same key, so the steady state costs one HMAC whatever
    /// its place in the list. Since no two kept keys sign alike, the order in which they
    /// are tried never changes which key matches.
    last_match: AtomicUsize,
}

impl Verifier {
    /// A verifier for these keys (Python's `hmac_keys`, for key rotation).
    pub fn new<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let mut kept: Vec<(Arc<str>, HmacSha1)> = Vec::new();
        for key in keys {
            let key = key.as_ref();
            if !kept.iter().any(|(k, _)| hmac_equivalent(k, key)) {
                kept.push((Arc::from(key), mac(key)));
            }
        }
        Verifier {
            keys: kept,
            last_match: AtomicUsize::new(0),
        }
    }

    /// How many distinct keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key (then nothing verifies).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Exactly [`signed_unpack`] with these keys.
    pub fn unpack(&self, info: &str, hmac: &str) -> Option<Map<String, Value>> {
        let key = self.matching_key(info, hmac)?;
        decode_object(info, key)
    }

    /// The key that signed `info`, trying the last one that matched first.
    fn matching_key(&self, info: &str, hmac: &str) -> Option<&Arc<str>> {
        let first = self.last_match.load(Ordering::Relaxed).min(self.keys.len());
        let order = (first..self.keys.len()).chain(0..first);
        let keys = order.map(|i| (i, self.keys[i].1.clone()));
        let index = matching_key(info, hmac, keys)?;
        if index != first {
            self.last_match.store(index, Ordering::Relaxed);
        }
        Some(&self.keys[index].0)
    }
}

impl Clone for Verifier {
    fn clone(&self) -> Self {
        Verifier {
            keys: self.keys.clone(),
            last_match: AtomicUsize::new(self.last_match.load(Ordering::Relaxed)),
        }
    }
}

/// Whether two keys make the same HMAC of everything: HMAC hashes a key longer than a block
/// (64 bytes) and pads the key with zero bytes to a block, so `"k"` and `"k\0"` sign alike.
fn hmac_equivalent(a: &str, b: &str) -> bool {
    fn block(key: &str) -> Vec<u8> {
        let mut b = if key.len() > 64 {
            Sha1::digest(key.as_bytes()).to_vec()
        } else {
            key.as_bytes().to_vec()
        };
        while b.last() == Some(&0) {
            b.pop();
        }
        b
    }
    a == b || block(a) == block(b)
}

/// A verified incoming trace, in the shape Python's `WsgiMiddleware` accepts
/// (`_trace_is_valid`): what a callee's profiler is made from
/// ([`SignedTrace::into_profiler`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTrace {
    /// The service key that matched: the callee signs its onward calls with it.
    pub hmac_key: Arc<str>,
    /// `None` (JSON `null` or `""`): a new trace, as Python's `profiler.init(base_id=None)`.
    pub base_id: Option<TraceId>,
    /// `None` when absent, `null` or `""`: the `base_id` is the parent.
    pub parent_id: Option<TraceId>,
}

impl SignedTrace {
    /// The callee's profiler for this trace (Python's `profiler.init(hmac_key, base_id,
    /// parent_id)`), reporting to `notifier`, or to the process-wide notifier when `None`.
    pub fn into_profiler(self, notifier: Option<Arc<dyn Notifier>>) -> Profiler {
        Profiler::from_ids(self.hmac_key, self.base_id, self.parent_id, notifier)
    }
}

impl Verifier {
    /// Verifies trace headers as Python's `WsgiMiddleware` does: the HMAC matches one of the
    /// keys ([`signed_unpack`]), and the object holds `base_id` and nothing else but
    /// `parent_id` and `hmac_key` (`_trace_is_valid`; a `hmac_key` inside is replaced by the
    /// key that matched, as Python's). Ids must be strings or `null`: Python would also take
    /// numbers or lists, which no profiler can use. Anything else is `None`.
    ///
    /// The same verdict as [`Verifier::unpack`] followed by those checks, but the payload is
    /// read straight into the ids, with no JSON map in between: this is the per-request path
    /// of the HTTP and gRPC middleware.
    ///
    /// ```
    /// use osprofiler_core::signing::{pack_ids, signed_pack, Verifier};
    ///
    /// let verifier = Verifier::new(["old-key", "SECRET_KEY"]);
    /// let (info, hmac) = pack_ids("b", "p", "SECRET_KEY");
    /// let trace = verifier.verify_trace(&info, &hmac).unwrap();
    /// assert_eq!(&*trace.hmac_key, "SECRET_KEY");
    /// assert_eq!(trace.base_id.unwrap().to_string(), "b");
    /// assert_eq!(trace.parent_id.unwrap().to_string(), "p");
    ///
    /// // Signed, but not a trace Python's middleware would take: an unknown key.
    /// let odd = serde_json::json!({"base_id": "b", "user": "x"});
    /// let (info, hmac) = signed_pack(&odd, "SECRET_KEY").unwrap();
    /// assert!(verifier.unpack(&info, &hmac).is_some());
    /// assert!(verifier.verify_trace(&info, &hmac).is_none());
    /// ```
    pub fn verify_trace(&self, info: &str, hmac: &str) -> Option<SignedTrace> {
        let hmac_key = self.matching_key(info, hmac)?;
        // From text, not bytes: serde_json checks the UTF-8 of skipped strings only then.
        let ids: TraceIds = with_decoded(info, |bytes| {
            serde_json::from_str(std::str::from_utf8(bytes).ok()?).ok()
        })?;
        Some(SignedTrace {
            hmac_key: hmac_key.clone(),
            base_id: ids.base_id?.into_id()?,
            parent_id: match ids.parent_id {
                Some(id) => id.into_id()?,
                None => None,
            },
        })
    }
}

/// The signed object of a trace header, read without a map: an unknown key fails the read.
/// A repeated key keeps its last value, as Python's `json.loads`, so an id is judged only
/// once the whole object is read.
struct TraceIds {
    /// `None`: absent.
    base_id: Option<IdValue>,
    parent_id: Option<IdValue>,
}

/// An id as the JSON holds it: text (read as a [`TraceId`]: a uuid costs no allocation),
/// `null` or `""` (no id), or anything else (which no profiler can use).
enum IdValue {
    Text(TraceId),
    Null,
    Other,
}

impl IdValue {
    /// `Some(None)` for no id, `Some(Some(id))` for text, `None` for anything else.
    fn into_id(self) -> Option<Option<TraceId>> {
        match self {
            IdValue::Text(id) => Some(Some(id)),
            IdValue::Null => Some(None),
            IdValue::Other => None,
        }
    }

    fn text(s: &str) -> Self {
        if s.is_empty() {
            IdValue::Null
        } else {
            IdValue::Text(TraceId::from(s))
        }
    }
}

impl<'de> serde::Deserialize<'de> for IdValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

        struct Visit;

        impl<'de> Visitor<'de> for Visit {
            type Value = IdValue;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<IdValue, E> {
                Ok(IdValue::text(v))
            }
            fn visit_unit<E>(self) -> Result<IdValue, E> {
                Ok(IdValue::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<IdValue, E> {
                Ok(IdValue::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<IdValue, E> {
                Ok(IdValue::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<IdValue, E> {
                Ok(IdValue::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<IdValue, E> {
                Ok(IdValue::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IdValue::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IdValue::Other)
            }
        }

        d.deserialize_any(Visit)
    }
}

impl<'de> serde::Deserialize<'de> for TraceIds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Field {
            BaseId,
            ParentId,
            HmacKey,
        }

        struct Visit;

        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = TraceIds;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a trace object: base_id, optional parent_id and hmac_key")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TraceIds, A::Error> {
                let mut ids = TraceIds {
                    base_id: None,
                    parent_id: None,
                };
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::BaseId => ids.base_id = Some(map.next_value()?),
                        Field::ParentId => ids.parent_id = Some(map.next_value()?),
                        // Replaced by the key that matched, whatever it holds.
                        Field::HmacKey => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(ids)
            }
        }

        d.deserialize_map(Visit)
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys: they are what lets anyone start traces.
        f.debug_struct("Verifier")
            .field("keys", &format_args!("[{} hidden]", self.keys.len()))
            .finish()
    }
}

/// The first of `keys` whose HMAC of `info` is `hmac` (lower-case hex, white space around it
/// ignored as Python's `str.strip()` ignores it, compared in constant time), as Python's
/// `signed_unpack` tries its keys. Each key comes with a tag (what it is to the caller) and a
/// fresh HMAC state keyed with it.
fn matching_key<T>(info: &str, hmac: &str, keys: impl Iterator<Item = (T, HmacSha1)>) -> Option<T> {
    if info.is_empty() {
        return None;
    }
    // An HMAC-SHA1 is 20 bytes: hex of any other length matches no key.
    let mut given = [0u8; 20];
    if !decode_hex_into(hmac.trim_matches(is_python_space), &mut given) {
        return None;
    }
    keys.into_iter().find_map(|(key, mut m)| {
        m.update(info.as_bytes());
        m.verify_slice(&given).is_ok().then_some(key)
    })
}

/// Python's `str.isspace()`, what `str.strip()` removes: Unicode white space plus the
/// information separators U+001C to U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Runs `read` on the URL-safe base64 decoding of `info`: in a buffer on the stack when it
/// fits (a trace header's ids always do), else on the heap. `None` for what Python's
/// `base64.urlsafe_b64decode` refuses (see [`python_urlsafe_b64decode`]).
fn with_decoded<R>(info: &str, read: impl FnOnce(&[u8]) -> Option<R>) -> Option<R> {
    let mut buf = [0u8; 384];
    match URL_SAFE.decode_slice(info.as_bytes(), &mut buf) {
        Ok(n) => read(&buf[..n]),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => read(
            &URL_SAFE
                .decode(info.as_bytes())
                .ok()
                .or_else(|| python_urlsafe_b64decode(info))?,
        ),
        Err(base64::DecodeSliceError::DecodeError(_)) => read(&python_urlsafe_b64decode(info)?),
    }
}

/// Python's `base64.urlsafe_b64decode` for text the strict decoder refused (what
/// `signed_pack` writes is read by the strict one, with the same bytes): ASCII only; `-`
/// and `+` are 62, `_` and `/` are 63; every other character outside the alphabet is
/// skipped; the data ends at the padding that completes a group (`=` after one character
/// of a group is skipped; what follows the padding is ignored); bits left over in the last
/// character are dropped; a group cut short without its padding is refused. This is
/// `binascii.a2b_base64` in its default, non-strict mode.
fn python_urlsafe_b64decode(info: &str) -> Option<Vec<u8>> {
    if !info.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(info.len() / 4 * 3 + 2);
    // Characters of the current group so far, the bits not yet written, the `=` seen since
    // the last character of the alphabet.
    let (mut group, mut left, mut pads) = (0u32, 0u32, 0u32);
    for &c in info.as_bytes() {
        let v = match c {
            b'=' => {
                if group >= 2 {
                    pads += 1;
                    if group + pads >= 4 {
                        return Some(out);
                    }
                }
                continue;
            }
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => continue,
        };
        let v = u32::from(v);
        pads = 0;
        // Each value written is below 256 by construction.
        match group {
            0 => left = v,
            1 => {
                out.push((left << 2 | v >> 4) as u8);
                left = v & 0x0f;
            }
            2 => {
                out.push((left << 4 | v >> 2) as u8);
                left = v & 0x03;
            }
            _ => out.push((left << 6 | v) as u8),
        }
        group = (group + 1) % 4;
    }
    (group == 0).then_some(out)
}

/// The decoded object of `info` with `"hmac_key"` set to `key`, as Python's `signed_unpack`
/// returns it once a key matched; `None` when it is not base64 of a JSON object.
fn decode_object(info: &str, key: &str) -> Option<Map<String, Value>> {
    let bytes = match URL_SAFE.decode(info.as_bytes()) {
        Ok(bytes) => bytes,
        Err(_) => python_urlsafe_b64decode(info)?,
    };
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(mut map) => {
            map.insert("hmac_key".to_owned(), Value::String(key.to_owned()));
            Some(map)
        }
        _ => None,
    }
}

fn mac(key: &str) -> HmacSha1 {
    // HMAC accepts keys of any length; this cannot fail.
    match HmacSha1::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

fn sign(data: &[u8], key: &str) -> String {
    let mut m = mac(key);
    m.update(data);
    encode_hex(&m.finalize().into_bytes())
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Lower-case hex only: Python compares the hex text, so an upper-case HMAC never matches.
/// Fills `out` from `s` when `s` is exactly twice as long; false for anything else.
fn decode_hex_into(s: &str, out: &mut [u8]) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if s.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `trace_headers` fuzz target: serde_json does not check the UTF-8 of a
    /// string it skips, so `verify_trace` took a signed object whose ignored `hmac_key` was
    /// not UTF-8, which `unpack` (and Python's `json.loads`) refuse.
    #[test]
    fn verify_trace_refuses_what_unpack_refuses_invalid_utf8() {
        let payload = b"{\"base_id\": \"b\", \"hmac_key\": \"\xff\"}";
        let info = URL_SAFE.encode(payload);
        let hmac = sign(info.as_bytes(), "k");
        let verifier = Verifier::new(["k"]);
        assert_eq!(verifier.unpack(&info, &hmac), None);
        assert_eq!(verifier.verify_trace(&info, &hmac), None);
    }

    /// Found by `crates/osprofiler/tests/python_oracle.rs`: Python's `signed_unpack` strips
    /// the HMAC with `str.strip()`, which also removes U+001C..U+001F, and decodes with
    /// `base64.urlsafe_b64decode`, which skips characters outside the alphabet, takes `+` and
    /// `/`, ignores what follows the padding and drops leftover bits. Each verdict below was
    /// checked with Python OSprofiler 4.4.0.
    #[test]
    fn unpack_reads_what_pythons_signed_unpack_reads() {
        let (info, hmac) = signed_pack(&serde_json::json!({"a": 1}), "k").unwrap();
        assert_eq!(info, "eyJhIjogMX0=");
        let v = Verifier::new(["k"]);
        for wrapped in [format!("\u{1d}{hmac}\u{1f}"), format!("{hmac}\u{1c}\u{a0}")] {
            assert!(
                signed_unpack(&info, &wrapped, &["k"]).is_some(),
                "{wrapped:?}"
            );
            assert!(v.unpack(&info, &wrapped).is_some(), "{wrapped:?}");
        }
        // Other spellings of the same bytes, each signed as it is.
        for other in [
            "eyJhIjogMX0",        // no padding: refused, as Python's "Incorrect padding"
            "eyJhIjogMX0==",      // padding beyond the group: ignored
            "eyJhIjogMX0=YWJj",   // data after the padding: ignored
            "ey!JhI\njogMX0=",    // characters outside the alphabet: skipped
            "eyJhIjogMX1=",       // leftover bits: dropped
            "eyJhIjogMX0=\u{e9}", // not ASCII: refused
        ] {
            let signature = sign(other.as_bytes(), "k");
            let accepted = !matches!(other, "eyJhIjogMX0" | "eyJhIjogMX0=\u{e9}");
            let got = signed_unpack(other, &signature, &["k"]);
            assert_eq!(got.is_some(), accepted, "{other:?}");
            if let Some(got) = got {
                assert_eq!(got["a"], 1, "{other:?}");
            }
            assert_eq!(
                v.unpack(other, &signature),
                signed_unpack(other, &signature, &["k"])
            );
            assert_eq!(v.verify_trace(other, &signature), None, "no base_id");
        }
        // Beyond the stack buffer too.
        let long = format!("{{\"base_id\": \"{}\"}}", "b".repeat(600));
        let spelled = format!("{}==", URL_SAFE.encode(&long));
        let signature = sign(spelled.as_bytes(), "k");
        let trace = v.verify_trace(&spelled, &signature).unwrap();
        assert_eq!(trace.base_id.unwrap().to_string(), "b".repeat(600));
        assert_eq!(
            python_urlsafe_b64decode("+/8=").as_deref(),
            Some(&[0xfb, 0xff][..])
        );
        assert_eq!(
            python_urlsafe_b64decode("-_8=").as_deref(),
            Some(&[0xfb, 0xff][..])
        );
        assert_eq!(python_urlsafe_b64decode("YQ").as_deref(), None);
        assert_eq!(python_urlsafe_b64decode("Y").as_deref(), None);
        assert_eq!(
            python_urlsafe_b64decode("=Y=Q==").as_deref(),
            Some(&b"a"[..])
        );
        assert_eq!(python_urlsafe_b64decode("").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn pack_ids_equals_signed_pack() {
        let data = serde_json::json!({"base_id": "a", "parent_id": "b\u{e9}\"x"});
        assert_eq!(
            pack_ids("a", "b\u{e9}\"x", "k"),
            signed_pack(&data, "k").unwrap()
        );
    }

    #[test]
    fn round_trip_with_rotation() {
        let (info, hmac) = pack_ids("base", "parent", "new-key");
        let got = signed_unpack(&info, &hmac, &["old-key", "new-key"]).unwrap();
        assert_eq!(got["base_id"], "base");
        assert_eq!(got["parent_id"], "parent");
        assert_eq!(got["hmac_key"], "new-key");
        assert!(signed_unpack(&info, &hmac, &["old-key"]).is_none());
        assert!(signed_unpack(&info, "", &["new-key"]).is_none());
        assert!(signed_unpack(&info, "zz", &["new-key"]).is_none());
    }

    /// A verdict as text: the key that matched, the base id and the parent id.
    type Verdict = Option<(String, Option<String>, Option<String>)>;

    /// What [`Verifier::verify_trace`] must decide, written the plain way: the map of
    /// [`Verifier::unpack`], then Python's `_trace_is_valid` and string-or-null ids.
    fn reference(v: &Verifier, info: &str, hmac: &str) -> Verdict {
        let map = v.unpack(info, hmac)?;
        if !map.contains_key("base_id")
            || !map
                .keys()
                .all(|k| matches!(k.as_str(), "base_id" | "parent_id" | "hmac_key"))
        {
            return None;
        }
        // An empty id is no id, as Python's `_Profiler` reads it (`base_id or uuid4()`).
        let id = |k: &str| match map.get(k) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.is_empty() => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        };
        Some((
            map["hmac_key"].as_str()?.to_owned(),
            id("base_id")?,
            id("parent_id")?,
        ))
    }

    /// [`Verifier::verify_trace`]'s verdict, as text.
    fn typed(v: &Verifier, info: &str, hmac: &str) -> Verdict {
        let t = v.verify_trace(info, hmac)?;
        let text = |id: Option<TraceId>| id.map(|id| id.to_string());
        Some((t.hmac_key.to_string(), text(t.base_id), text(t.parent_id)))
    }

    #[test]
    fn verify_trace_takes_what_python_middleware_takes() {
        let v = Verifier::new(["a", "k"]);
        let check = |json: &str, want: Option<(&str, Option<&str>, Option<&str>)>| {
            let info = URL_SAFE.encode(json);
            let hmac = sign(info.as_bytes(), "k");
            let want =
                want.map(|(k, b, p)| (k.to_owned(), b.map(str::to_owned), p.map(str::to_owned)));
            assert_eq!(typed(&v, &info, &hmac), want, "{json}");
            assert_eq!(reference(&v, &info, &hmac), want, "{json}");
        };
        check(
            r#"{"base_id": "b", "parent_id": "p"}"#,
            Some(("k", Some("b"), Some("p"))),
        );
        check(r#"{"base_id": "b"}"#, Some(("k", Some("b"), None)));
        check(
            r#"{"base_id": null, "parent_id": null}"#,
            Some(("k", None, None)),
        );
        check(
            r#"{"base_id": "b", "hmac_key": 7}"#,
            Some(("k", Some("b"), None)),
        );
        check(
            r#"{"base_id": "x", "base_id": "b"}"#,
            Some(("k", Some("b"), None)),
        );
        check(r#"{"base_\u0069d": "b"}"#, Some(("k", Some("b"), None)));
        check(
            r#"{"base_id": "", "parent_id": ""}"#,
            Some(("k", None, None)),
        );
        check(
            r#"{"base_id": "0b21fbac-7825-4d68-8792-3986bb968a43"}"#,
            Some(("k", Some("0b21fbac-7825-4d68-8792-3986bb968a43"), None)),
        );
        check(r#"{"parent_id": "p"}"#, None);
        check(r#"{"base_id": "b", "user": "u"}"#, None);
        check(r#"{"base_id": 1}"#, None);
        check(r#"{"base_id": "b", "parent_id": ["p"]}"#, None);
        check(r#"["base_id"]"#, None);
        check(r#"{"base_id": "b""#, None);
        check("", None);
    }

    #[test]
    fn the_key_that_matched_last_is_tried_first_with_the_same_verdicts() {
        let v = Verifier::new(["old-1", "old-2", "new"]);
        for key in ["new", "new", "old-1", "old-2", "new", "old-1"] {
            let (info, hmac) = pack_ids("b", "p", key);
            assert_eq!(&*v.verify_trace(&info, &hmac).unwrap().hmac_key, key);
            assert_eq!(v.unpack(&info, &hmac).unwrap()["hmac_key"], key);
            assert_eq!(&*v.keys[v.last_match.load(Ordering::Relaxed)].0, key);
            assert!(v.verify_trace(&info, &sign(b"other", key)).is_none());
        }
        let (info, hmac) = pack_ids("b", "p", "unknown");
        assert!(v.verify_trace(&info, &hmac).is_none());
        assert!(Verifier::new(Vec::<String>::new())
            .verify_trace(&info, &hmac)
            .is_none());
    }

    #[test]
    fn keys_that_sign_alike_are_kept_once_the_first_named() {
        // A key longer than a block signs as its SHA-1 digest; this one's digest is UTF-8.
        let long = format!("{}00077465", "x".repeat(60));
        let hashed = String::from_utf8(Sha1::digest(long.as_bytes()).to_vec()).unwrap();
        let v = Verifier::new(["k", "k\0", "k", "other", "k\0\0", &long, &hashed]);
        assert_eq!(v.len(), 3);
        // "k\0" signs as "k": Python would name "k", the first in its list.
        let (info, hmac) = pack_ids("b", "p", "k\0");
        assert_eq!(&*v.verify_trace(&info, &hmac).unwrap().hmac_key, "k");
        assert_eq!(
            signed_unpack(&info, &hmac, &["k", "k\0"]).unwrap()["hmac_key"],
            "k"
        );
        let (info, hmac) = pack_ids("b", "p", &hashed);
        assert_eq!(*v.verify_trace(&info, &hmac).unwrap().hmac_key, *long);
        assert!(!hmac_equivalent("k", "K"));
    }

    proptest::proptest! {
        /// Any object over the keys and values that matter gets the reference's verdict.
        #[test]
        fn verify_trace_agrees_with_the_map_path(
            fields in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["base_id", "parent_id", "hmac_key", "other", "base_i\\u0064"]),
                    proptest::sample::select(vec!["null", "\"id\"", "\"\"", "\"\\u00e9\"", "1", "[]", "{}", "true"]),
                ),
                0..5,
            ),
            sign_with in proptest::sample::select(vec!["k", "a", "z"]),
        ) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            let json = format!("{{{}}}", body.join(", "));
            let info = URL_SAFE.encode(&json);
            let hmac = sign(info.as_bytes(), sign_with);
            let v = Verifier::new(["a", "k"]);
            proptest::prop_assert_eq!(typed(&v, &info, &hmac), reference(&v, &info, &hmac), "{}", json);
        }
    }
}
