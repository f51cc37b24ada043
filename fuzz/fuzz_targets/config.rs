//! The config readers (crates/osprofiler-core/src/config.rs): `ProfilerConfig::from_ini_str`
//! (rust-ini, oslo.config style) and `from_toml_str`, plus `set` and `apply_env`. Never
//! panic. What they accept holds only usable values (finite seconds, 0 or more; keys
//! trimmed, not empty, without commas; no option text with white space around it), and
//! writes back as an INI `[profiler]` file that reads to the same config (when its strings
//! can be written on one INI line). The first input byte picks INI (even) or TOML (odd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use osprofiler_core::ProfilerConfig;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let parsed = if mode % 2 == 0 {
        ProfilerConfig::from_ini_str(&text)
    } else {
        ProfilerConfig::from_toml_str(&text)
    };
    match parsed {
        Ok(conf) => check(&conf),
        Err(e) => {
            let _ = e.to_string();
        }
    }

    // `set` and `apply_env` on option = value lines.
    let mut conf = ProfilerConfig::default();
    let mut vars = Vec::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            if conf.set(k, v, "fuzz").is_ok() {
                check(&conf);
            }
            vars.push((format!("OSPROFILER_{k}"), v.to_owned()));
        }
    }
    let mut conf = ProfilerConfig::default();
    if conf.apply_env(vars).is_ok() {
        check(&conf);
    }
});

fn one_line(s: &str) -> bool {
    s == s.trim() && !s.contains(['\n', '\r']) && !s.starts_with(['[', ';', '#'])
}

fn check(c: &ProfilerConfig) {
    for t in [c.socket_timeout, c.idle_timeout] {
        assert!(t.is_finite() && t >= 0.0, "seconds: {t}");
    }
    for k in &c.hmac_keys {
        assert!(
            !k.is_empty() && k.trim() == k && !k.contains(','),
            "key {k:?}"
        );
    }
    let strings = [
        Some(&c.es_doc_type),
        Some(&c.es_scroll_time),
        Some(&c.sentinel_service_name),
        Some(&c.control_exchange),
        c.connection_string.as_ref(),
        c.otlp_service_name_prefix.as_ref(),
        c.transport_url.as_ref(),
    ];
    for s in strings.iter().flatten() {
        assert_eq!(
            s.trim(),
            s.as_str(),
            "option text with white space around it"
        );
    }
    let keys_ok = c.hmac_keys.iter().all(|k| one_line(k));
    if !(keys_ok && strings.iter().flatten().all(|s| one_line(s))) {
        return;
    }
    let opt = |name: &str, v: &Option<String>| match v {
        Some(v) => format!("{name} = {v}\n"),
        None => String::new(),
    };
    let ini = format!(
        "[DEFAULT]\n{}control_exchange = {}\n[profiler]\nenabled = {}\nhmac_keys = {}\n{}\
         trace_sqlalchemy = {}\ntrace_requests = {}\nfilter_error_trace = {}\nes_doc_type = {}\n\
         es_scroll_time = {}\nes_scroll_size = {}\nsocket_timeout = {}\nsentinel_service_name = {}\n\
         idle_timeout = {}\nw3c_traceparent = {}\n[profiler_otlp]\n{}",
        opt("transport_url", &c.transport_url),
        c.control_exchange,
        c.enabled,
        c.hmac_keys.join(","),
        opt("connection_string", &c.connection_string),
        c.trace_sqlalchemy,
        c.trace_requests,
        c.filter_error_trace,
        c.es_doc_type,
        c.es_scroll_time,
        c.es_scroll_size,
        c.socket_timeout,
        c.sentinel_service_name,
        c.idle_timeout,
        c.w3c_traceparent,
        opt("service_name_prefix", &c.otlp_service_name_prefix),
    );
    match ProfilerConfig::from_ini_str(&ini) {
        Ok(back) => assert_eq!(&back, c, "written as\n{ini}"),
        Err(e) => panic!("our own INI refused: {e}\n{ini}"),
    }
}
