//! # osprofiler-http
//!
//! The `http://` driver: sends notifications to the centralized collector (`osprofiler
//! serve`, the `osprofiler-collector` crate) and reads traces back from it.
//!
//! - `notify(batch)` POSTs the batch as one JSON list (each notification as the other drivers
//!   write it: Python's `json.dumps` text, with the driver's `project` and `service` filled in
//!   when the notification has none) to `{base}/api/v1/notifications`. An answer other than
//!   2xx, a refused connection or a timeout is an error: the notifier counts the batch as
//!   failed. Every call is bounded ([`CONNECT_TIMEOUT`], [`SEND_TIMEOUT`]), so a collector
//!   that is down or slow never holds the service up.
//! - `get_notifications(base_id)` GETs `{base}/api/v1/traces/{base_id}/notifications` (the
//!   notifications as received, in arrival order; `404` is an empty trace).
//! - `list_traces` / `list_error_traces` page through `{base}/api/v1/traces` (1000 a page;
//!   `error=true`), giving Python's list rows: `base_id`, `timestamp` and the asked fields
//!   the collector has.
//!
//! The connection string is the collector's base URL: `http://HOST:PORT` (a path prefix is
//! kept: `http://proxy/osprofiler`). `https://` is registered too but refused with a clear
//! error: this build has no TLS client. The token (`Authorization: Bearer TOKEN`) is
//! [`set_token`]'s, else the environment variable `OSPROFILER_COLLECTOR_TOKEN`; it is never
//! logged nor part of an error.
//!
//! Register once, before the driver is asked for: `osprofiler_http::register()`. I/O runs on
//! an [`IoThread`] of the driver's own (`osprofiler-http`), as the other network drivers do.

#![forbid(unsafe_code)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use osprofiler_core::driver::io::IoThread;
use osprofiler_core::driver::{
    mask_password, register_driver, Driver, DriverError, DriverFuture, DriverOptions, StoredTrace,
    TraceSummary,
};
use osprofiler_core::notification::Notification;
use osprofiler_core::pyjson;
use serde_json::value::RawValue;
use serde_json::Value;

/// The environment variable the token is read from when [`set_token`] gave none.
pub const TOKEN_ENV: &str = "OSPROFILER_COLLECTOR_TOKEN";

/// The longest wait for a connection to the collector.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a whole `notify` call takes (under the notifier's own `send_timeout`).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a read (a trace, a page of the list) takes.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Traces asked for per page of the list (the collector's largest page).
pub const PAGE: usize = 1000;

static TOKEN: RwLock<Option<String>> = RwLock::new(None);

/// Registers the driver for `http://` and `https://` (refused: no TLS in this build).
pub fn register() {
    register_driver("http", factory);
    register_driver("https", factory);
}

/// Sets the token drivers made from now on send (`None`: back to the environment's,
/// [`TOKEN_ENV`]). For a program that takes it from elsewhere (the CLI's `--token`).
pub fn set_token(token: Option<String>) {
    let mut t = match TOKEN.write() {
        Ok(t) => t,
        Err(poisoned) => poisoned.into_inner(),
    };
    *t = token.filter(|t| !t.is_empty());
}

fn token() -> Option<String> {
    let set = match TOKEN.read() {
        Ok(t) => t.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    set.or_else(|| std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()))
}

fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move { HttpDriver::new(options).map(|d| Arc::new(d) as Arc<dyn Driver>) })
}

/// The `http://` driver (see the [crate docs](crate)).
pub struct HttpDriver {
    base: String,
    masked: String,
    client: reqwest::Client,
    token: Option<String>,
    project: Option<String>,
    service: Option<String>,
    io: IoThread,
}

impl std::fmt::Debug for HttpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDriver")
            .field("base", &self.masked)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl HttpDriver {
    /// A driver for the collector at `options.connection_string`. Connects lazily: nothing
    /// is sent until the first call.
    pub fn new(options: DriverOptions) -> Result<HttpDriver, DriverError> {
        let cs = options.connection_string.trim();
        let masked = mask_password(cs);
        let bad = |reason: &str| DriverError::BadConnectionString {
            connection: masked.clone(),
            reason: reason.to_owned(),
        };
        let lower = cs.to_ascii_lowercase();
        if lower.starts_with("https://") {
            return Err(bad(
                "https:// is not built yet (this build has no TLS client): reach the collector \
                 over http://, or through a local TLS proxy",
            ));
        }
        if !lower.starts_with("http://") {
            return Err(bad("expected http://HOST:PORT"));
        }
        if cs.contains(['?', '#']) {
            return Err(bad("the collector's URL takes no query or fragment"));
        }
        let base = cs.trim_end_matches('/').to_owned();
        if base.len() <= "http://".len() {
            return Err(bad("no host"));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| bad(&format!("cannot make the HTTP client: {e}")))?;
        let io = IoThread::start("osprofiler-http").map_err(|e| DriverError::Backend {
            connection: masked.clone(),
            message: format!("cannot start the driver's I/O thread: {e}"),
        })?;
        Ok(HttpDriver {
            base,
            masked,
            client,
            token: token(),
            project: options.project,
            service: options.service,
            io,
        })
    }

    fn backend(&self, message: impl std::fmt::Display) -> DriverError {
        DriverError::Backend {
            connection: self.masked.clone(),
            message: message.to_string(),
        }
    }

    /// The batch as the body: a JSON list, project and service filled in.
    fn body(&self, batch: &[Notification]) -> Result<String, DriverError> {
        let filled: Vec<Notification> = batch
            .iter()
            .map(|n| {
                let mut n = n.clone();
                if n.project.is_none() {
                    n.project.clone_from(&self.project);
                }
                if n.service.is_none() {
                    n.service.clone_from(&self.service);
                }
                n
            })
            .collect();
        pyjson::to_string(&filled).map_err(|e| self.backend(format!("cannot encode: {e}")))
    }

    /// Sends `request` on the I/O thread within `limit`; the status and body text.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        limit: Duration,
    ) -> Result<(u16, String), DriverError> {
        let request = match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let request = request.timeout(limit);
        let masked = self.masked.clone();
        let answer = self
            .io
            .run(async move {
                let response = request.send().await.map_err(describe)?;
                let status = response.status().as_u16();
                let text = response.text().await.map_err(describe)?;
                Ok::<_, String>((status, text))
            })
            .await;
        match answer {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) | Err(e) => Err(DriverError::Backend {
                connection: masked,
                message: e,
            }),
        }
    }

    fn refused(&self, status: u16, body: &str) -> DriverError {
        let why = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        self.backend(format!("the collector answered {status}: {why}"))
    }

    async fn list(
        &self,
        errors_only: bool,
        fields: &[&str],
    ) -> Result<Vec<TraceSummary>, DriverError> {
        let mut rows = Vec::new();
        let mut offset = 0usize;
        loop {
            let mut url = format!("{}/api/v1/traces?limit={PAGE}&offset={offset}", self.base);
            if errors_only {
                url.push_str("&error=true");
            }
            let (status, body) = self.send(self.client.get(url), READ_TIMEOUT).await?;
            if status != 200 {
                return Err(self.refused(status, &body));
            }
            let page: Value = serde_json::from_str(&body)
                .map_err(|e| self.backend(format!("the trace list is not JSON: {e}")))?;
            let traces = page
                .get("traces")
                .and_then(Value::as_array)
                .ok_or_else(|| self.backend("the trace list has no `traces`"))?;
            for item in traces {
                let mut row = TraceSummary::new();
                for key in ["base_id", "timestamp"].iter().chain(fields) {
                    if let Some(v) = item.get(*key) {
                        row.insert((*key).to_owned(), v.clone());
                    }
                }
                rows.push(row);
            }
            if traces.len() < PAGE {
                return Ok(rows);
            }
            offset += traces.len();
        }
    }
}

/// A reqwest error with its causes (reqwest's own text is only the outermost).
fn describe(e: reqwest::Error) -> String {
    // Its URL may hold a password: the error message names the masked one instead.
    let e = e.without_url();
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A trace id as one path segment.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl Driver for HttpDriver {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        if batch.is_empty() {
            return Ok(());
        }
        let body = self.body(batch)?;
        let request = self
            .client
            .post(format!("{}/api/v1/notifications", self.base))
            .header("content-type", "application/json")
            .body(body);
        let (status, answer) = self.send(request, SEND_TIMEOUT).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(self.refused(status, &answer))
        }
    }

    async fn get_notifications(&self, base_id: &str) -> Result<StoredTrace, DriverError> {
        let url = format!(
            "{}/api/v1/traces/{}/notifications",
            self.base,
            segment(base_id)
        );
        let (status, body) = self.send(self.client.get(url), READ_TIMEOUT).await?;
        match status {
            200 => {
                let list: Vec<Box<RawValue>> = serde_json::from_str(&body)
                    .map_err(|e| self.backend(format!("the notifications are not JSON: {e}")))?;
                Ok(StoredTrace::Notifications(list))
            }
            404 => Ok(StoredTrace::default()),
            _ => Err(self.refused(status, &body)),
        }
    }

    async fn list_traces(&self, fields: &[&str]) -> Result<Vec<TraceSummary>, DriverError> {
        self.list(false, fields).await
    }

    async fn list_error_traces(&self) -> Result<Vec<TraceSummary>, DriverError> {
        self.list(true, &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        for bad in ["https://h:1", "http://", "http://h/?x=1", "ftp://h"] {
            assert!(
                matches!(
                    HttpDriver::new(DriverOptions::new(bad)),
                    Err(DriverError::BadConnectionString { .. })
                ),
                "{bad}"
            );
        }
        let d = HttpDriver::new(DriverOptions::new("http://u:pw@h:9411/prefix/")).unwrap();
        assert_eq!(d.base, "http://u:pw@h:9411/prefix");
        assert!(!format!("{d:?}").contains("pw@"), "{d:?}");
    }

    #[test]
    fn ids_are_one_segment() {
        assert_eq!(segment("a-b_c.d"), "a-b_c.d");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
