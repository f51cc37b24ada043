//! Bad input never panics: random and corrupted trace headers, config values and stored
//! notifications give an error or `None`.

use base64::Engine as _;
use osprofiler::signing::{pack_ids, signed_unpack};
use osprofiler::ProfilerConfig;
use proptest::prelude::*;

fn corrupt(s: &str, at: usize, byte: u8) -> String {
    let mut bytes = s.as_bytes().to_vec();
    if !bytes.is_empty() {
        let i = at % bytes.len();
        bytes[i] = byte;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_headers_are_rejected_without_panic(info in ".*", hmac in ".*", keys in proptest::collection::vec(".*", 0..4)) {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        // Random text essentially never carries a valid signature.
        prop_assert!(signed_unpack(&info, &hmac, &keys).is_none());
    }

    #[test]
    fn corrupted_signed_headers_never_panic(base in "[a-f0-9-]{0,40}", parent in ".{0,40}", key in ".{1,20}", at in 0usize..200, byte in any::<u8>()) {
        let (info, hmac) = pack_ids(&base, &parent, &key);
        let good = signed_unpack(&info, &hmac, &[&key]).expect("a valid header is accepted");
        prop_assert_eq!(good["base_id"].as_str(), Some(base.as_str()));
        prop_assert_eq!(good["parent_id"].as_str(), Some(parent.as_str()));
        let bad_info = corrupt(&info, at, byte);
        let got = signed_unpack(&bad_info, &hmac, &[&key]);
        if bad_info != info {
            prop_assert!(got.is_none());
        }
        let bad_hmac = corrupt(&hmac, at, byte);
        let got = signed_unpack(&info, &bad_hmac, &[&key]);
        if bad_hmac.trim() != hmac {
            prop_assert!(got.is_none());
        }
    }

    #[test]
    fn signed_garbage_payloads_are_rejected(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        // A valid signature over bytes that are not a base64 JSON object.
        let info = base64::engine::general_purpose::URL_SAFE.encode(&payload);
        let hmac = {
            use hmac::Mac;
            let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"k").unwrap();
            m.update(info.as_bytes());
            m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let got = signed_unpack(&info, &hmac, &["k"]);
        let is_object = serde_json::from_slice::<serde_json::Value>(&payload).map(|v| v.is_object()).unwrap_or(false);
        prop_assert_eq!(got.is_some(), is_object);
    }

    /// Whatever the hosts, users and passwords of a (multi-host) URL, the masked string
    /// shows no password and keeps every host that has credentials, and the path. Passwords
    /// here are distinctive (`PW<n>x`), so that finding one in the output can only mean it
    /// leaked. (A host without credentials right before one with them may be shown as part
    /// of the user name: `h1,u:p@h2` cannot be told from a password holding a comma.)
    #[test]
    fn masked_urls_never_show_a_password(
        scheme in "(rabbit|redis|mysql\\+pymysql|postgresql)",
        hosts in proptest::collection::vec(
            ("[a-z][a-z0-9.]{0,12}(:[0-9]{1,5})?", proptest::option::of("[a-z]{0,8}"), "[a-z,@:]{0,6}"),
            1..4,
        ),
        path in "(/[a-z]{0,6})?(\\?[a-z=&]{0,8})?",
    ) {
        let mut authority = Vec::new();
        for (i, (host, user, extra)) in hosts.iter().enumerate() {
            authority.push(match user {
                Some(user) => format!("{user}:PW{i}{extra}x@{host}"),
                None => host.clone(),
            });
        }
        let url = format!("{scheme}://{}{path}", authority.join(","));
        let masked = osprofiler::driver::mask_password(&url);
        for (i, (host, user, _)) in hosts.iter().enumerate() {
            if user.is_some() {
                prop_assert!(!masked.contains(&format!("PW{i}")), "{url} -> {masked}");
                prop_assert!(masked.contains(&format!("@{host}")), "{url} -> {masked}");
            }
        }
        prop_assert!(masked.ends_with(&path), "{url} -> {masked}");
    }

    #[test]
    fn config_values_never_panic(option in "[a-z_]{1,24}", value in ".*") {
        let mut conf = ProfilerConfig::default();
        let _ = conf.set(&option, &value, "test");
        let _ = conf.apply_env([(format!("OSPROFILER_{}", option.to_uppercase()), value.clone())]);
    }

    #[test]
    fn config_files_never_panic(text in ".*", opt in "(enabled|hmac_keys|socket_timeout|es_scroll_size|connection_string)", value in ".*") {
        let _ = ProfilerConfig::from_ini_str(&text);
        let _ = ProfilerConfig::from_toml_str(&text);
        let _ = ProfilerConfig::from_ini_str(&format!("[profiler]\n{opt} = {value}\n"));
        let _ = ProfilerConfig::from_toml_str(&format!("[profiler]\n{opt} = {value}\n"));
    }
}

fn sample_notifications() -> Vec<String> {
    let cases: serde_json::Value =
        serde_json::from_str(include_str!("conformance/reports.json")).unwrap();
    cases[6]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn corrupted_notifications_are_skipped_not_fatal(which in 0usize..64, at in 0usize..400, byte in any::<u8>(), garbage in ".{0,80}") {
        let mut texts = sample_notifications();
        let i = which % texts.len();
        texts[i] = corrupt(&texts[i], at, byte);
        texts.push(garbage);
        let raws: Vec<Box<serde_json::value::RawValue>> = texts
            .into_iter()
            .filter_map(|t| serde_json::value::RawValue::from_string(t).ok())
            .collect();
        let n = raws.len();
        let report = osprofiler::report::build_report(raws);
        // Whatever was refused is accounted for; the report still serializes.
        prop_assert!(report.skipped().len() <= n);
        prop_assert!(serde_json::to_string(&report).is_ok());
    }

    #[test]
    fn random_report_files_never_panic(text in ".{0,200}") {
        let _ = osprofiler::report::report_from_json_file_contents(&text);
    }
}
