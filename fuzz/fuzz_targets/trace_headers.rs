//! Trace headers (crates/osprofiler-core/src/signing.rs, propagation.rs): `signed_unpack`,
//! `Verifier::unpack`, `Verifier::verify_trace` and `propagation::extract`.
//!
//! Input: `mode keys \0 info \0 hmac`, keys separated by `\n`.
//! - Raw mode: the header values as given. Nothing panics; `Verifier::unpack` and
//!   `signed_unpack` agree; what `verify_trace` takes, `unpack` takes too, and `extract` on
//!   an `http::HeaderMap` carrying the same values gives the same verdict.
//! - Signed mode: `info` is the base64 of the given bytes, signed here with the HMAC-SHA1 of
//!   one of the keys (hex written as the mode byte says: lower case, upper case, padded with
//!   white space). The oracle is `serde_json` plus the documented rules: verified iff the
//!   hex is lower case, the first key that signs alike is the one reported, and the bytes
//!   are a JSON object; `verify_trace` then takes exactly the objects whose keys are
//!   `base_id` (string or null) and optionally `parent_id` (string or null) and `hmac_key`.
//!   Whatever verifies re-signs (`signed_pack` / `pack_ids`) to headers that verify to the
//!   same thing.
#![no_main]

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use osprofiler_core::propagation;
use osprofiler_core::signing::{pack_ids, signed_pack, signed_unpack, SignedTrace, Verifier};
use osprofiler_core::TraceId;
use serde_json::{Map, Value};
use sha1::Sha1;

fn hmac_hex(key: &str, data: &[u8]) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("any key length");
    m.update(data);
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let parts = osprofiler_fuzz::split_parts(rest, 0, 3);
    let text = |i: usize| String::from_utf8_lossy(parts.get(i).copied().unwrap_or_default());
    let keys_text = text(0);
    let keys: Vec<&str> = keys_text.split('\n').collect();
    let verifier = Verifier::new(&keys);

    // Raw header values.
    let (info, hmac) = (text(1), text(2));
    let unpacked = signed_unpack(&info, &hmac, &keys);
    assert_eq!(verifier.unpack(&info, &hmac), unpacked);
    let trace = verifier.verify_trace(&info, &hmac);
    if trace.is_some() {
        assert!(unpacked.is_some());
    }
    check_extract(&verifier, &info, &hmac, &trace);

    // Signed by one of the keys.
    let payload = parts.get(1).copied().unwrap_or_default();
    let info = URL_SAFE.encode(payload);
    let signer = keys[usize::from(mode >> 2) % keys.len()];
    let hex = hmac_hex(signer, info.as_bytes());
    let hmac = match mode & 3 {
        0 => hex.clone(),
        1 => hex.to_ascii_uppercase(),
        2 => format!(" \t{hex}\n"),
        _ => format!("{hex}0"),
    };
    let unpacked = signed_unpack(&info, &hmac, &keys);
    assert_eq!(verifier.unpack(&info, &hmac), unpacked);
    let trace = verifier.verify_trace(&info, &hmac);
    check_extract(&verifier, &info, &hmac, &trace);

    // The oracle.
    let signed = match mode & 3 {
        // Lower case, or white space around it (ignored).
        0 | 2 => true,
        // Upper case: only when there is no letter to change.
        1 => !hex.bytes().any(|c| c.is_ascii_alphabetic()),
        // 41 hex digits.
        _ => false,
    };
    let key = keys
        .iter()
        .find(|k| hmac_hex(k, info.as_bytes()) == hex)
        .copied()
        .filter(|_| signed && !info.is_empty());
    let expected = key.and_then(|key| match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(mut map)) => {
            map.insert("hmac_key".into(), Value::from(key));
            Some(map)
        }
        _ => None,
    });
    assert_eq!(unpacked, expected, "signed_unpack against serde_json");
    let expected_trace = expected.as_ref().and_then(trace_of);
    assert_eq!(trace, expected_trace, "verify_trace against the rules");

    if let Some(map) = unpacked.as_ref() {
        // The object re-signed (through Python's json.dumps text) verifies to itself.
        let key = map["hmac_key"].as_str().unwrap_or_default();
        let mut data = map.clone();
        data.shift_remove("hmac_key");
        let (info2, hmac2) = signed_pack(&data, key).expect("a JSON object serializes");
        assert_eq!(
            signed_unpack(&info2, &hmac2, &[key]).as_ref(),
            Some(map),
            "re-signed object"
        );
    }
    if let Some(t) = &trace {
        // The ids re-signed for an onward call verify to the same trace.
        let (info2, hmac2) = match (&t.base_id, &t.parent_id) {
            (Some(b), Some(p)) => pack_ids(&b.to_string(), &p.to_string(), &t.hmac_key),
            (b, p) => {
                let id = |i: &Option<TraceId>| i.as_ref().map(|i| Value::from(i.to_string()));
                let mut data = Map::new();
                data.insert("base_id".into(), id(b).unwrap_or(Value::Null));
                if let Some(p) = id(p) {
                    data.insert("parent_id".into(), p);
                }
                signed_pack(&data, &t.hmac_key).expect("a JSON object serializes")
            }
        };
        assert_eq!(
            Verifier::new([&*t.hmac_key])
                .verify_trace(&info2, &hmac2)
                .as_ref(),
            Some(t),
            "re-signed trace"
        );
    }
});

/// Python's `WsgiMiddleware._trace_is_valid` plus our rule that ids are strings or null.
fn trace_of(map: &Map<String, Value>) -> Option<SignedTrace> {
    if map
        .keys()
        .any(|k| !matches!(k.as_str(), "base_id" | "parent_id" | "hmac_key"))
    {
        return None;
    }
    let id = |v: &Value| match v {
        Value::Null => Some(None),
        Value::String(s) if s.is_empty() => Some(None),
        Value::String(s) => Some(Some(TraceId::from(s.as_str()))),
        _ => None,
    };
    Some(SignedTrace {
        hmac_key: map["hmac_key"].as_str()?.into(),
        base_id: id(map.get("base_id")?)?,
        parent_id: match map.get("parent_id") {
            None => None,
            Some(v) => id(v)?,
        },
    })
}

/// `propagation::extract` on a header map holding the values: the verdict of
/// `verify_trace` when both are visible ASCII (what `HeaderValue::to_str` reads), else no
/// trace.
fn check_extract(verifier: &Verifier, info: &str, hmac: &str, trace: &Option<SignedTrace>) {
    let mut headers = http::HeaderMap::new();
    let (Ok(i), Ok(h)) = (
        http::HeaderValue::from_str(info),
        http::HeaderValue::from_str(hmac),
    ) else {
        return;
    };
    let readable = i.to_str().is_ok() && h.to_str().is_ok();
    headers.insert(propagation::TRACE_INFO, i);
    headers.insert(propagation::TRACE_HMAC, h);
    let got = propagation::extract(&headers, verifier);
    if readable {
        assert_eq!(&got, trace, "extract against verify_trace");
    } else {
        assert_eq!(got, None, "extract of a header that is not visible ASCII");
    }
}
