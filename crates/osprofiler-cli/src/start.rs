//! `trace start`: signed headers that make any profiled service start (or join) a trace.

use anyhow::Result;
use osprofiler::signing::{pack_ids, X_TRACE_HMAC, X_TRACE_INFO};

/// The two header lines for `base_id` (a new uuid4 when `None`) and `parent_id` (the base id
/// when `None`), signed with `key`.
pub fn headers(key: &str, base_id: Option<&str>, parent_id: Option<&str>) -> (String, String) {
    let base_id = match base_id {
        Some(b) => b.to_owned(),
        None => osprofiler::TraceId::new_v4().to_string(),
    };
    let parent_id = parent_id.unwrap_or(&base_id);
    let (info, hmac) = pack_ids(&base_id, parent_id, key);
    (
        base_id,
        format!("{X_TRACE_INFO}: {info}\n{X_TRACE_HMAC}: {hmac}"),
    )
}

/// `osprofiler trace start`: the headers on standard output, the trace id on standard error.
pub fn start(key: &str, base_id: Option<&str>, parent_id: Option<&str>) -> Result<()> {
    let (base_id, lines) = headers(key, base_id, parent_id);
    println!("{lines}");
    eprintln!("trace {base_id}: see it afterwards with `osprofiler trace show {base_id}`");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_verify() {
        let (base, lines) = headers("k", None, None);
        let mut it = lines.lines();
        let info = it.next().unwrap().strip_prefix("X-Trace-Info: ").unwrap();
        let hmac = it.next().unwrap().strip_prefix("X-Trace-HMAC: ").unwrap();
        let got = osprofiler::signing::signed_unpack(info, hmac, &["k"]).unwrap();
        assert_eq!(got["base_id"], base.as_str());
        assert_eq!(got["parent_id"], base.as_str());
    }
}
