//! Every case of the reference implementation's signing cases (Python OSprofiler 4.4.0,
//! `tests/conformance/signing.json`, see its README): packing byte for byte, unpacking to the same
//! object or to a rejection.

use osprofiler::signing::{signed_pack, signed_unpack};
use serde_json::Value;

fn cases() -> Value {
    let text = include_str!("conformance/signing.json");
    serde_json::from_str(text).expect("signing.json parses")
}

#[test]
fn pack_gives_pythons_bytes() {
    let cases = cases();
    let pack = cases["pack"].as_array().expect("pack cases");
    assert!(!pack.is_empty());
    for case in pack {
        let key = case["key"].as_str().unwrap();
        let (info, hmac) = signed_pack(&case["data"], key).unwrap();
        assert_eq!(info, case["x_trace_info"].as_str().unwrap(), "{case}");
        assert_eq!(hmac, case["x_trace_hmac"].as_str().unwrap(), "{case}");
    }
}

#[test]
fn pack_ids_gives_pythons_bytes() {
    let cases = cases();
    for case in cases["pack"].as_array().unwrap() {
        let data = &case["data"];
        let Some(parent) = data.get("parent_id").and_then(Value::as_str) else {
            continue;
        };
        let base = data["base_id"].as_str().unwrap();
        let (info, hmac) =
            osprofiler::signing::pack_ids(base, parent, case["key"].as_str().unwrap());
        assert_eq!(info, case["x_trace_info"].as_str().unwrap());
        assert_eq!(hmac, case["x_trace_hmac"].as_str().unwrap());
    }
}

#[test]
fn unpack_accepts_and_rejects_as_python() {
    let cases = cases();
    let unpack = cases["unpack"].as_array().expect("unpack cases");
    assert!(unpack.len() > 10);
    let mut accepted = 0;
    for case in unpack {
        let keys: Vec<&str> = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let got = signed_unpack(
            case["x_trace_info"].as_str().unwrap(),
            case["x_trace_hmac"].as_str().unwrap(),
            &keys,
        );
        let got = got.map(Value::Object).unwrap_or(Value::Null);
        assert_eq!(got, case["expect"], "case: {}", case["why"]);
        if !got.is_null() {
            accepted += 1;
        }
    }
    assert!(accepted > 0 && accepted < unpack.len());
}
