//! # osprofiler-http
//!
//! The `http://` and `https://` driver: sends notifications to the centralized collector
//! (`osprofiler serve`, the `osprofiler-collector` crate) and reads traces back from it.
//!
//! - `notify(batch)` POSTs the batch as one JSON list (each notification as the other drivers
//!   write it: Python's `json.dumps` text, with the driver's `project` and `service` filled in
//!   when the notification has none) to `{base}/api/v1/notifications`. An answer other than
//!   2xx, a refused connection, a failed TLS handshake or a timeout is an error: the notifier
//!   counts the batch as failed. Every call is bounded ([`CONNECT_TIMEOUT`], [`SEND_TIMEOUT`]),
//!   so a collector that is down or slow never holds the service up.
//! - `get_notifications(base_id)` GETs `{base}/api/v1/traces/{base_id}/notifications` (the
//!   notifications as received, in arrival order; `404` is an empty trace).
//! - `list_traces` / `list_error_traces` page through `{base}/api/v1/traces` (1000 a page;
//!   `error=true`), giving Python's list rows: `base_id`, `timestamp` and the asked fields
//!   the collector has.
//!
//! The connection string is the collector's base URL: `http://HOST:PORT` or
//! `https://HOST:PORT` (a path prefix is kept: `http://proxy/osprofiler`). The token
//! (`Authorization: Bearer TOKEN`) is [`set_token`]'s, else the environment variable
//! `OSPROFILER_COLLECTOR_TOKEN`; it is never logged nor part of an error.
//!
//! `https://` needs the cargo feature `tls` (rustls with the `ring` provider; without it,
//! `https://` is refused with an error saying so). The server's certificate is checked
//! against the system's roots and, for a private CA, the PEM certificates of
//! [`set_ca_file`]'s file, else of the file the environment variable `OSPROFILER_CA_FILE`
//! names. A CA file that cannot be read is an error when the driver is made; a certificate
//! that is not trusted fails each call, as a refused connection does.
//!
//! Register once, before the driver is asked for: `osprofiler_http::register()`. I/O runs on
//! an [`IoThread`] of the driver's own (`osprofiler-http`), as the other network drivers do,
//! through one hyper client (HTTP/1.1, connections kept alive).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
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

/// The environment variable naming a PEM file of CA certificates trusted for `https://`
/// (besides the system's roots) when [`set_ca_file`] gave none.
pub const CA_FILE_ENV: &str = "OSPROFILER_CA_FILE";

/// The longest wait for a connection to the collector (TCP; the TLS handshake is bounded by
/// the call's own limit).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a whole `notify` call takes (under the notifier's own `send_timeout`).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a read (a trace, a page of the list) takes.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Traces asked for per page of the list (the collector's largest page).
pub const PAGE: usize = 1000;

/// How long an idle kept-alive connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

static TOKEN: RwLock<Option<String>> = RwLock::new(None);
static CA_FILE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Registers the driver for `http://` and `https://` (`https://` is refused when this
/// crate is built without its `tls` feature).
pub fn register() {
    register_driver("http", factory);
    register_driver("https", factory);
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    match lock.write() {
        Ok(t) => t,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn read_clone<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(t) => t.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Sets the token drivers made from now on send (`None`: back to the environment's,
/// [`TOKEN_ENV`]). For a program that takes it from elsewhere (the CLI's `--token`).
pub fn set_token(token: Option<String>) {
    *write_lock(&TOKEN) = token.filter(|t| !t.is_empty());
}

/// Sets the PEM file of CA certificates that drivers made from now on trust for
/// `https://`, besides the system's roots (`None`: back to the environment's,
/// [`CA_FILE_ENV`]). For a program that takes it from elsewhere (a command-line option).
pub fn set_ca_file(path: Option<PathBuf>) {
    *write_lock(&CA_FILE) = path.filter(|p| !p.as_os_str().is_empty());
}

/// What a driver sends and trusts beyond its connection string: the token and the CA file.
#[derive(Clone, Default)]
pub struct HttpSettings {
    /// `Authorization: Bearer TOKEN` on every request.
    pub token: Option<String>,
    /// A PEM file of CA certificates trusted for `https://`, besides the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl HttpSettings {
    /// The settings [`HttpDriver::new`] takes: [`set_token`]'s token, else
    /// `$OSPROFILER_COLLECTOR_TOKEN`; [`set_ca_file`]'s file, else `$OSPROFILER_CA_FILE`.
    pub fn configured() -> HttpSettings {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        HttpSettings {
            token: read_clone(&TOKEN).or_else(|| env(TOKEN_ENV).and_then(|t| t.into_string().ok())),
            ca_file: read_clone(&CA_FILE).or_else(|| env(CA_FILE_ENV).map(PathBuf::from)),
        }
    }
}

fn factory(options: DriverOptions) -> DriverFuture {
    Box::pin(async move { HttpDriver::new(options).map(|d| Arc::new(d) as Arc<dyn Driver>) })
}

#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// The `http://` driver (see the [crate docs](crate)).
pub struct HttpDriver {
    base: String,
    masked: String,
    client: Client<Connector, Full<Bytes>>,
    /// The `Authorization` header: the bearer token, else the URL's user and password.
    authorization: Option<HeaderValue>,
    project: Option<String>,
    service: Option<String>,
    io: IoThread,
}

impl std::fmt::Debug for HttpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDriver")
            .field("base", &self.masked)
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl HttpDriver {
    /// A driver for the collector at `options.connection_string`, with the token and CA
    /// file of [`HttpSettings::configured`]. Connects lazily: nothing is sent until the
    /// first call.
    pub fn new(options: DriverOptions) -> Result<HttpDriver, DriverError> {
        HttpDriver::with_settings(options, HttpSettings::configured())
    }

    /// A driver for the collector at `options.connection_string` with `settings` (not the
    /// process-wide ones).
    pub fn with_settings(
        options: DriverOptions,
        settings: HttpSettings,
    ) -> Result<HttpDriver, DriverError> {
        let cs = options.connection_string.trim();
        let masked = mask_password(cs);
        let bad = |reason: &str| DriverError::BadConnectionString {
            connection: masked.clone(),
            reason: reason.to_owned(),
        };
        let lower = cs.to_ascii_lowercase();
        let scheme_len = if lower.starts_with("http://") {
            "http://".len()
        } else if lower.starts_with("https://") {
            if cfg!(not(feature = "tls")) {
                return Err(bad(
                    "https:// needs TLS, which this build leaves out (osprofiler-http's cargo \
                     feature `tls`): reach the collector over http://, or build with it",
                ));
            }
            "https://".len()
        } else {
            return Err(bad("expected http://HOST:PORT or https://HOST:PORT"));
        };
        if cs.contains(['?', '#']) {
            return Err(bad("the collector's URL takes no query or fragment"));
        }
        // The user and password of the URL go into the `Authorization` header (as a proxy in
        // front of the collector may want them), not into the request's URI.
        let rest = cs[scheme_len..].trim_end_matches('/');
        let host_end = rest.find('/').unwrap_or(rest.len());
        let (userinfo, host_and_path) = match rest[..host_end].rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        if host_and_path.is_empty() || host_and_path.starts_with('/') {
            return Err(bad("no host"));
        }
        let base = format!("{}{host_and_path}", &lower[..scheme_len]);
        if base.parse::<Uri>().is_err() {
            return Err(bad("not a URL"));
        }
        let authorization = match (&settings.token, userinfo) {
            (Some(t), _) => Some(
                HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| bad("the token is not a valid header value"))?,
            ),
            (None, Some(u)) => Some(
                HeaderValue::from_str(&format!("Basic {}", base64(&percent_decode(u))))
                    .map_err(|_| bad("bad user or password"))?,
            ),
            (None, None) => None,
        }
        .map(|mut v| {
            v.set_sensitive(true);
            v
        });
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        http.enforce_http(false);
        #[cfg(feature = "tls")]
        let connector = {
            let tls = if base.starts_with("https://") {
                tls::client_config(settings.ca_file.as_deref()).map_err(|e| bad(&e))?
            } else {
                tls::plain_only()
            };
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http)
        };
        #[cfg(not(feature = "tls"))]
        let connector = http;
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector);
        let io = IoThread::start("osprofiler-http").map_err(|e| DriverError::Backend {
            connection: masked.clone(),
            message: format!("cannot start the driver's I/O thread: {e}"),
        })?;
        Ok(HttpDriver {
            base,
            masked,
            client,
            authorization,
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

    /// Sends `method` to `url` (with a JSON `body`) on the I/O thread within `limit`; the
    /// status and body text.
    async fn send(
        &self,
        method: Method,
        url: String,
        body: Option<String>,
        limit: Duration,
    ) -> Result<(u16, String), DriverError> {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(a) = &self.authorization {
            request = request.header(AUTHORIZATION, a.clone());
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| self.backend(format!("cannot make the request: {e}")))?;
        let client = self.client.clone();
        let answer = self
            .io
            .run(async move {
                let call = async {
                    let response = client.request(request).await.map_err(|e| describe(&e))?;
                    let status = response.status().as_u16();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| describe(&e))?
                        .to_bytes();
                    Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
                };
                match tokio::time::timeout(limit, call).await {
                    Ok(answer) => answer,
                    Err(_) => Err(format!("timed out after {}s", limit.as_secs_f64())),
                }
            })
            .await;
        match answer {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) | Err(e) => Err(self.backend(e)),
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
            let (status, body) = self.send(Method::GET, url, None, READ_TIMEOUT).await?;
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

/// An error with its causes (hyper's own text is only the outermost), and what to do when
/// the collector's certificate is not trusted.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.ends_with(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    if text.contains("UnknownIssuer") {
        text.push_str(&format!(
            " (the collector's certificate is not trusted: give its CA's PEM file in \
             {CA_FILE_ENV})"
        ));
    } else if text.contains("not valid for name") {
        text.push_str(" (the URL's host must be one of the names the certificate holds)");
    }
    text
}

/// `%XX` escapes of a URL's user information decoded.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Standard base64 with padding (for `Authorization: Basic`).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(feature = "tls")]
mod tls {
    //! The client's TLS: rustls with the `ring` provider, the system's roots and a CA file.

    use std::path::Path;
    use std::sync::Arc;

    use rustls::{ClientConfig, RootCertStore};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    /// The `ring` provider (rustls 0.23.48 deprecates it for lacking post-quantum key
    /// exchange; the other provider, aws-lc-rs, needs cmake and a long C build).
    #[allow(deprecated)]
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn config(roots: RootCertStore) -> Result<ClientConfig, String> {
        // ALPN (`http/1.1`) is hyper-rustls' to set.
        Ok(ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot make the TLS client: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }

    /// A config for an `http://` collector, never used for a handshake.
    pub(super) fn plain_only() -> ClientConfig {
        config(RootCertStore::empty()).expect("the ring provider's defaults are consistent")
    }

    /// Trusts the system's roots and the certificates of `ca_file`.
    pub(super) fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
        let mut roots = RootCertStore::empty();
        // Certificates the system's store holds but rustls cannot parse are skipped, as are
        // missing stores: the CA file may be all there is.
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
        if let Some(path) = ca_file {
            let name = path.display();
            let pem = std::fs::read(path)
                .map_err(|e| format!("the CA file {name} ({}): {e}", super::CA_FILE_ENV))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("the CA file {name}: not PEM: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "the CA file {name}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)"
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("the CA file {name}: a certificate is refused: {e}"))?;
            }
        }
        if roots.is_empty() {
            return Err(format!(
                "no trusted CA for https://: the system has no root certificates and no CA \
                 file is given ({})",
                super::CA_FILE_ENV
            ));
        }
        config(roots)
    }
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
        let url = format!("{}/api/v1/notifications", self.base);
        let (status, answer) = self
            .send(Method::POST, url, Some(body), SEND_TIMEOUT)
            .await?;
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
        let (status, body) = self.send(Method::GET, url, None, READ_TIMEOUT).await?;
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
        for bad in [
            "http://",
            "http://h/?x=1",
            "ftp://h",
            "http:///path",
            "https://",
        ] {
            assert!(
                matches!(
                    HttpDriver::new(DriverOptions::new(bad)),
                    Err(DriverError::BadConnectionString { .. })
                ),
                "{bad}"
            );
        }
        let d = HttpDriver::with_settings(
            DriverOptions::new("http://u:p%40w@h:9411/prefix/"),
            HttpSettings::default(),
        )
        .unwrap();
        assert_eq!(d.base, "http://h:9411/prefix");
        assert!(!format!("{d:?}").contains("p%40w@"), "{d:?}");
        // The URL's user and password: Basic u:p@w.
        assert_eq!(
            d.authorization.as_ref().unwrap().to_str().unwrap(),
            format!("Basic {}", base64(b"u:p@w"))
        );
        // The token wins.
        let d = HttpDriver::with_settings(
            DriverOptions::new("http://u:pw@h:9411"),
            HttpSettings {
                token: Some("tok".into()),
                ca_file: None,
            },
        )
        .unwrap();
        assert_eq!(d.authorization.as_ref().unwrap(), "Bearer tok");
        assert!(!format!("{d:?}").contains("tok"), "{d:?}");
    }

    #[test]
    fn https_needs_the_tls_feature() {
        let made =
            HttpDriver::with_settings(DriverOptions::new("https://h:1"), HttpSettings::default());
        if cfg!(feature = "tls") {
            let d = made.unwrap();
            assert_eq!(d.base, "https://h:1");
        } else {
            let e = made.unwrap_err().to_string();
            assert!(e.contains("`tls`"), "{e}");
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_bad_ca_file_is_an_error_when_made() {
        let dir = std::env::temp_dir().join(format!("osprofiler-http-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for (file, want) in [(&missing, "missing.pem"), (&empty, "no PEM certificate")] {
            let e = HttpDriver::with_settings(
                DriverOptions::new("https://h:1"),
                HttpSettings {
                    token: None,
                    ca_file: Some(file.clone()),
                },
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(want), "{e}");
        }
        // An http:// collector never reads it.
        HttpDriver::with_settings(
            DriverOptions::new("http://h:1"),
            HttpSettings {
                token: None,
                ca_file: Some(missing),
            },
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn base64_and_percent_decoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(percent_decode("a%40b%2"), b"a@b%2");
    }

    #[test]
    fn ids_are_one_segment() {
        assert_eq!(segment("a-b_c.d"), "a-b_c.d");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
