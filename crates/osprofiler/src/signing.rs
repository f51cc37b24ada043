//! Trace headers: signing and verifying `X-Trace-Info` / `X-Trace-HMAC` (DESIGN section 4).
//!
//! `X-Trace-Info` is URL-safe base64 (with padding) of the JSON object written as Python's
//! `json.dumps` writes it; `X-Trace-HMAC` is the lower-case hex HMAC-SHA1 of those base64
//! bytes. A receiver holding several keys (rotation) accepts the header if any key matches.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha1::Sha1;

use crate::pyjson;

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
/// let (info, hmac) = osprofiler::signing::signed_pack(&data, "kéy-ünicode").unwrap();
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
    unpack_with(info, hmac, keys.iter().map(|k| (*k, mac(k))))
}

/// [`signed_unpack`] for a service's fixed set of keys, each key's HMAC state prepared once:
/// verifying a request then costs one hash of the header per key tried, not also a keyed
/// set-up (two more SHA-1 blocks) per key. What a middleware holds.
///
/// ```
/// use osprofiler::signing::{pack_ids, Verifier};
///
/// let verifier = Verifier::new(["old-key", "SECRET_KEY"]);
/// let (info, hmac) = pack_ids("b", "p", "SECRET_KEY");
/// let trace = verifier.unpack(&info, &hmac).unwrap();
/// assert_eq!(trace["hmac_key"], "SECRET_KEY");
/// assert!(verifier.unpack(&info, "00").is_none());
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<(String, HmacSha1)>,
}

impl Verifier {
    /// A verifier for these keys, tried in order (Python's `hmac_keys`, for key rotation).
    pub fn new<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        Verifier {
            keys: keys
                .into_iter()
                .map(|k| (k.as_ref().to_owned(), mac(k.as_ref())))
                .collect(),
        }
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key (then nothing verifies).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Exactly [`signed_unpack`] with these keys.
    pub fn unpack(&self, info: &str, hmac: &str) -> Option<Map<String, Value>> {
        unpack_with(
            info,
            hmac,
            self.keys.iter().map(|(k, m)| (k.as_str(), m.clone())),
        )
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

/// The shared body of [`signed_unpack`] and [`Verifier::unpack`]: `keys` gives each key with
/// a fresh HMAC state keyed with it.
fn unpack_with<'k>(
    info: &str,
    hmac: &str,
    keys: impl Iterator<Item = (&'k str, HmacSha1)>,
) -> Option<Map<String, Value>> {
    if info.is_empty() {
        return None;
    }
    let given = decode_hex(hmac.trim())?;
    let key = keys.into_iter().find_map(|(key, mut m)| {
        m.update(info.as_bytes());
        m.verify_slice(&given).is_ok().then_some(key)
    })?;
    let bytes = URL_SAFE.decode(info.as_bytes()).ok()?;
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
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
