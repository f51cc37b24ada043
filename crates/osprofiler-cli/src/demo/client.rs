//! The demo's client: `POST /servers` to the example API, each request starting a trace with
//! headers signed as `osprofiler trace start --hmac-key SECRET_KEY` signs them.

use anyhow::{Context, Result};
use osprofiler::signing::{pack_ids, X_TRACE_HMAC, X_TRACE_INFO};
use serde_json::{json, Value};

use super::HMAC_KEY;

/// The servers asked for, by name and flavor. The worker's simulated hypervisor cannot host
/// `m1.xlarge`: that request fails (`502`), with the error in its trace.
pub const REQUESTS: [(&str, &str); 4] = [
    ("vm-1", "m1.tiny"),
    ("vm-2", "m1.small"),
    ("vm-3", "m1.xlarge"),
    ("vm-4", "m1.medium"),
];

/// One request sent and its answer.
pub struct Sent {
    /// The trace it started.
    pub base_id: String,
    /// The server's name.
    pub name: &'static str,
    /// Its flavor.
    pub flavor: &'static str,
    /// The API's answer.
    pub status: reqwest::StatusCode,
    /// The API's error, when it failed.
    pub error: Option<String>,
}

impl Sent {
    /// Whether the API said it failed.
    pub fn failed(&self) -> bool {
        !self.status.is_success()
    }
}

/// Asks the API at `api_url` for the server `name` of `flavor`, in a new trace.
pub async fn create_server(
    client: &reqwest::Client,
    api_url: &str,
    name: &'static str,
    flavor: &'static str,
) -> Result<Sent> {
    let base_id = osprofiler::TraceId::new_v4().to_string();
    let (info, hmac) = pack_ids(&base_id, &base_id, HMAC_KEY);
    let response = client
        .post(format!("{api_url}/servers"))
        .header(X_TRACE_INFO, info)
        .header(X_TRACE_HMAC, hmac)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json!({"name": name, "flavor": flavor}).to_string())
        .send()
        .await
        .with_context(|| format!("POST {api_url}/servers"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("POST {api_url}/servers: reading the answer"))?;
    let error = (!status.is_success()).then(|| {
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(body)
    });
    Ok(Sent {
        base_id,
        name,
        flavor,
        status,
        error,
    })
}
