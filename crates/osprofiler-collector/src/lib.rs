//! # osprofiler-collector
//!
//! The centralized collector's HTTP side: a [`Collector`] takes notifications over HTTP and
//! serves traces as JSON, over one [`TraceStore`] (SQLite or PostgreSQL, Python's `data` table
//! beside the notifications as received; see `osprofiler_sql::store` and
//! `docs/collector.md`). It is an axum [`Router`]; the `osprofiler serve` command runs it.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/v1/notifications` | a JSON list of notifications (or one): `202 {"accepted": N, "duplicates": D}`; `400` naming what is wrong and where, `401`, `413`, `503` (store down); nothing of a refused body is stored |
//! | `GET /api/v1/traces` | a page of traces, newest first; filters `error`, `service`, `project`, `host`, `since`, `until`, `min_duration_ms`, `q`; `limit` (1 to 1000, default 50), `offset` |
//! | `GET /api/v1/traces/{base_id}` | exactly what `osprofiler trace show ID --json` prints: Python's report of the notifications as received, in arrival order; `404` for an unknown trace |
//! | `GET /api/v1/traces/{base_id}/notifications` | every stored notification of the trace as received, in arrival order, as a JSON list; `404` for an unknown trace |
//! | `GET /api/v1/openapi.json` | the OpenAPI 3 document of these routes |
//! | `GET /healthz` | `200` when the store answers, else `503` |
//! | `GET /metrics` | counters in Prometheus' text format ([`Metrics`]) |
//! | `GET /`, `/traces/{base_id}`, `/compare/{a}/{b}`, `/ui/{file}` | the web UI (docs/ui.md): the trace list, a trace, two traces compared, and the UI's files, with `ETag` revalidation |
//!
//! With a token configured ([`CollectorConfig::token`]), the `/api/v1/notifications` and
//! `/api/v1/traces...` routes require `Authorization: Bearer TOKEN` (compared in constant
//! time) and answer `401` otherwise; `/healthz`, `/metrics`, the OpenAPI document and the
//! UI's pages (which hold no trace data: they call the API from the browser) do not.
//! The token is never logged nor printed by `Debug`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use osprofiler_collector::{Collector, CollectorConfig};
//! use osprofiler_sql::store::TraceStore;
//!
//! let store = Arc::new(TraceStore::open("sqlite:///var/lib/osprofiler/collector.db").await?);
//! let collector = Collector::new(store, CollectorConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9411").await?;
//! axum::serve(listener, collector.router()).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "amqp")]
pub mod amqp;
mod metrics;
#[cfg(feature = "tls")]
pub mod tls;
mod ui;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tower_http::limit::RequestBodyLimitLayer;

pub use metrics::Metrics;
use osprofiler_core::driver::DriverError;
use osprofiler_core::pyjson;
use osprofiler_core::timestamp::Timestamp;
use osprofiler_sql::store::{
    DeadLetter, Incoming, IngestOutcome, TraceQuery, TraceStore, MAX_LIMIT,
};

/// The OpenAPI 3 document of the routes (`openapi.json` in this crate's folder), served at
/// `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every route the [`Collector::router`] serves: (method, path in axum's and OpenAPI's
/// syntax). The OpenAPI document lists exactly these (a test checks it).
pub const ROUTES: [(&str, &str); 7] = [
    ("POST", "/api/v1/notifications"),
    ("GET", "/api/v1/traces"),
    ("GET", "/api/v1/traces/{base_id}"),
    ("GET", "/api/v1/traces/{base_id}/notifications"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
];

/// The default largest request body: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 << 20;

/// How many traces a page holds when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 50;

/// A bearer token. Its `Debug` form hides it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A token; `None` for an empty string (no token).
    pub fn new(token: impl Into<String>) -> Option<Token> {
        let token = token.into();
        (!token.is_empty()).then_some(Token(token))
    }

    /// Whether `presented` is this token, compared in constant time (for tokens of the same
    /// length; the length itself is not hidden).
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// How a [`Collector`] behaves.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// When set, API requests must carry `Authorization: Bearer TOKEN`.
    pub token: Option<Token>,
    /// The largest `POST /api/v1/notifications` body, in bytes (default
    /// [`DEFAULT_BODY_LIMIT`]); a larger one gets `413`.
    pub body_limit: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            token: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// The collector over one store: its HTTP [`router`](Collector::router), its
/// [`ingest`](Collector::ingest) path (shared with other sources, such as AMQP) and its
/// [`Metrics`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Collector {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Arc<TraceStore>,
    config: CollectorConfig,
    metrics: Metrics,
}

/// Why a body was refused: where (`[3].timestamp`; empty for the body itself) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    /// The place in the body, as a path (`[3].timestamp`, `timestamp` in a single object).
    pub at: String,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

impl std::error::Error for BodyError {}

/// Reads a request body: a JSON list of notification objects, or one notification object
/// (see [`Incoming::parse`] for what each must hold). Any error refuses the whole body.
pub fn parse_body(body: &[u8]) -> Result<Vec<Incoming>, BodyError> {
    let whole = |message: String| BodyError {
        at: String::new(),
        message,
    };
    let text =
        std::str::from_utf8(body).map_err(|e| whole(format!("the body is not UTF-8 text: {e}")))?;
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let list: Vec<Box<RawValue>> =
                serde_json::from_str(text).map_err(|e| whole(format!("not JSON: {e}")))?;
            list.into_iter()
                .enumerate()
                .map(|(i, raw)| {
                    Incoming::parse(raw).map_err(|e| BodyError {
                        at: if e.field.is_empty() {
                            format!("[{i}]")
                        } else {
                            format!("[{i}].{}", e.field)
                        },
                        message: e.message,
                    })
                })
                .collect()
        }
        Some(b'{') => {
            let raw: Box<RawValue> =
                serde_json::from_str(text).map_err(|e| whole(format!("not JSON: {e}")))?;
            let one = Incoming::parse(raw).map_err(|e| BodyError {
                at: e.field,
                message: e.message,
            })?;
            Ok(vec![one])
        }
        _ => {
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                return Err(whole(
                    "not JSON: expected a list of notification objects, or one notification object"
                        .to_owned(),
                ));
            }
            Err(whole(
                "expected a list of notification objects, or one notification object".to_owned(),
            ))
        }
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut r = (status, value.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(status: StatusCode, message: impl fmt::Display) -> Response {
    json_response(status, &json!({"error": message.to_string()}))
}

fn store_error(e: &DriverError) -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        format_args!("the store failed: {e}"),
    )
}

impl Collector {
    /// A collector over `store`.
    pub fn new(store: Arc<TraceStore>, config: CollectorConfig) -> Collector {
        Collector {
            shared: Arc::new(Shared {
                store,
                config,
                metrics: Metrics::default(),
            }),
        }
    }

    /// Its counters.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Its store.
    pub fn store(&self) -> &Arc<TraceStore> {
        &self.shared.store
    }

    /// Stores a batch received from `source` (`http`, `amqp`, ...), counting it in the
    /// [`Metrics`]: received, stored, duplicates, the store's time, or its failure.
    pub async fn ingest(
        &self,
        source: &str,
        batch: Vec<Incoming>,
    ) -> Result<IngestOutcome, DriverError> {
        self.shared.metrics.received(source, batch.len() as u64);
        self.store_batch(source, batch).await
    }

    /// [`ingest`](Self::ingest) without counting the batch as received: for a source that
    /// counts once and may store a batch again after a failure.
    pub(crate) async fn store_batch(
        &self,
        source: &str,
        batch: Vec<Incoming>,
    ) -> Result<IngestOutcome, DriverError> {
        let metrics = &self.shared.metrics;
        let started = Instant::now();
        match self.shared.store.ingest(batch).await {
            Ok(outcome) => {
                metrics.batch_stored(
                    outcome.accepted as u64,
                    outcome.duplicates as u64,
                    started.elapsed(),
                );
                Ok(outcome)
            }
            Err(e) => {
                metrics.batch_failed(started.elapsed());
                tracing::warn!("osprofiler collector: storing a batch from {source} failed: {e}");
                Err(e)
            }
        }
    }

    /// Sets aside messages that could not be read (see [`TraceStore::dead_letter`]),
    /// counting them in the [`Metrics`].
    pub async fn dead_letter(&self, letters: Vec<DeadLetter>) -> Result<(), DriverError> {
        let n = letters.len() as u64;
        if n == 0 {
            return Ok(());
        }
        self.shared.store.dead_letter(letters).await?;
        self.shared.metrics.dead_lettered(n);
        Ok(())
    }

    /// Deletes the traces whose first notification is older than `max_age` (retention);
    /// returns how many were deleted.
    pub async fn delete_older_than(
        &self,
        max_age: std::time::Duration,
    ) -> Result<u64, DriverError> {
        let age = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::from_micros(Timestamp::now().as_micros().saturating_sub(age));
        let deleted = self.shared.store.delete_older_than(cutoff).await?;
        if deleted > 0 {
            tracing::info!("osprofiler collector: retention deleted {deleted} traces");
        }
        Ok(deleted)
    }

    /// Retention in the background: [`delete_older_than`](Self::delete_older_than)`(max_age)`
    /// now and then every `every`, for as long as the returned future runs (spawn it; drop
    /// or abort it to stop). A failure is logged and tried again at the next round.
    pub async fn retain(self, max_age: std::time::Duration, every: std::time::Duration) {
        loop {
            if let Err(e) = self.delete_older_than(max_age).await {
                tracing::warn!("osprofiler collector: retention failed: {e}");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// The HTTP routes ([`ROUTES`]; see the [crate docs](crate)).
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for (method, path) in ROUTES {
            router = router.route(path, self.route(method, path));
        }
        router
            .merge(ui::routes())
            .fallback(|| async { error_response(StatusCode::NOT_FOUND, "no such route") })
            .with_state(self.shared.clone())
    }

    fn route(&self, method: &str, path: &str) -> MethodRouter<Arc<Shared>> {
        let filter = match Method::from_bytes(method.as_bytes()) {
            Ok(Method::POST) => MethodFilter::POST,
            Ok(Method::GET) => MethodFilter::GET,
            _ => unreachable!("ROUTES uses GET and POST"),
        };
        match path {
            // tower-http refuses a too long `Content-Length` at once (its `413` then gets a
            // JSON body), and bounds a body without one as it is read.
            "/api/v1/notifications" => on(filter, post_notifications)
                .layer(RequestBodyLimitLayer::new(self.shared.config.body_limit))
                .layer(axum::middleware::map_response_with_state(
                    self.shared.clone(),
                    json_too_large,
                )),
            "/api/v1/traces" => on(filter, list_traces),
            "/api/v1/traces/{base_id}" => on(filter, get_trace),
            "/api/v1/traces/{base_id}/notifications" => on(filter, get_notifications),
            "/api/v1/openapi.json" => on(filter, || async {
                ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
            }),
            "/healthz" => on(filter, healthz),
            "/metrics" => on(filter, metrics_text),
            other => unreachable!("no handler for {other}"),
        }
    }
}

impl Shared {
    /// `None` when the request may go on, else the `401` to answer.
    fn refuse_unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let token = self.config.token.as_ref()?;
        let presented = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .and_then(|v| {
                let (scheme, rest) = v.split_at(v.len().min(7));
                scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
            });
        if presented.is_some_and(|p| token.matches(p)) {
            return None;
        }
        self.metrics.rejected("unauthorized");
        let mut r = error_response(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (Authorization: Bearer TOKEN)",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"osprofiler\""),
        );
        Some(r)
    }
}

/// Gives tower-http's `413` (refused on its `Content-Length`) a JSON body like ours, and
/// counts it. Every `413` closes the connection (`Connection: close`): the rest of the body
/// is left unread, so the connection cannot carry another request, and a client that reused
/// it would write into a closed socket.
async fn json_too_large(State(shared): State<Arc<Shared>>, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let mut response = if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        shared.metrics.rejected("too_large");
        error_response(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large")
    } else {
        response
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Bodies above this are parsed on a blocking thread.
const PARSE_INLINE: usize = 256 << 10;

async fn post_notifications(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(r) = shared.refuse_unauthorized(&headers) {
        return r;
    }
    let limit = shared.config.body_limit;
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .into_iter()
                .chain(std::iter::once(&e as &dyn std::error::Error))
                .any(|e| e.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit exceeded");
            return if too_large {
                shared.metrics.rejected("too_large");
                error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format_args!("the body is larger than {limit} bytes"),
                )
            } else {
                shared.metrics.rejected("unreadable");
                error_response(
                    StatusCode::BAD_REQUEST,
                    format_args!("cannot read the body: {e}"),
                )
            };
        }
    };
    let parsed = if bytes.len() > PARSE_INLINE {
        match tokio::task::spawn_blocking(move || parse_body(&bytes)).await {
            Ok(p) => p,
            Err(e) => {
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, e);
            }
        }
    } else {
        parse_body(&bytes)
    };
    let batch = match parsed {
        Ok(b) => b,
        Err(e) => {
            shared.metrics.rejected("invalid");
            let mut body = json!({"error": e.to_string()});
            if !e.at.is_empty() {
                body["at"] = Value::from(e.at);
            }
            return json_response(StatusCode::BAD_REQUEST, &body);
        }
    };
    let collector = Collector { shared };
    match collector.ingest("http", batch).await {
        Ok(o) => json_response(
            StatusCode::ACCEPTED,
            &json!({"accepted": o.accepted, "duplicates": o.duplicates}),
        ),
        Err(e) => store_error(&e),
    }
}

/// Reads the query string of `GET /api/v1/traces`.
fn trace_query(raw: Option<&str>) -> Result<TraceQuery, String> {
    let mut q = TraceQuery {
        limit: DEFAULT_PAGE,
        ..TraceQuery::default()
    };
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if seen.iter().any(|k| *k == key) {
            return Err(format!("`{key}` is given twice"));
        }
        seen.push(key.to_string());
        let bad = |what: &str| format!("`{key}`: {what}, not {value:?}");
        let text = || (!value.is_empty()).then(|| value.to_string());
        match &*key {
            "error" => {
                q.error = Some(match &*value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad("expected true or false")),
                })
            }
            "service" => q.service = text(),
            "project" => q.project = text(),
            "host" => q.host = text(),
            "q" => q.q = text(),
            "since" | "until" => {
                let t = parse_time(&value)
                    .ok_or_else(|| bad("expected a UTC time as YYYY-MM-DDTHH:MM:SS[.ffffff][Z]"))?;
                if key == "since" {
                    q.since = Some(t);
                } else {
                    q.until = Some(t);
                }
            }
            "min_duration_ms" => {
                let ms: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| bad("expected a number of milliseconds, 0 or more"))?;
                q.min_duration_ms = Some(ms);
            }
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|v| (1..=MAX_LIMIT).contains(v))
                    .ok_or_else(|| bad(&format!("expected a whole number from 1 to {MAX_LIMIT}")))?
            }
            "offset" => {
                q.offset = value
                    .parse()
                    .ok()
                    .filter(|v| *v <= i64::MAX as u64)
                    .ok_or_else(|| bad("expected a whole number, 0 or more"))?
            }
            _ => {
                return Err(format!(
                    "unknown parameter `{key}` (known: error, service, project, host, since, \
                     until, min_duration_ms, q, limit, offset)"
                ))
            }
        }
    }
    Ok(q)
}

/// A time parameter: Python's `%Y-%m-%dT%H:%M:%S.%f`, the fraction optional, a final `Z`
/// allowed (always UTC).
fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    if s.contains('.') {
        Timestamp::parse(s).ok()
    } else {
        Timestamp::parse(&format!("{s}.0")).ok()
    }
}

async fn list_traces(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(r) = shared.refuse_unauthorized(&headers) {
        return r;
    }
    let query = match trace_query(raw.as_deref()) {
        Ok(q) => q,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    match shared.store.list(&query).await {
        Ok(traces) => json_response(
            StatusCode::OK,
            &json!({"traces": traces, "limit": query.limit, "offset": query.offset}),
        ),
        Err(e) => store_error(&e),
    }
}

/// Python's CLI message for a trace it does not find.
fn trace_not_found(base_id: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format_args!(
            "Trace with UUID {base_id} not found. Please check the HMAC key used in the command."
        ),
    )
}

async fn get_trace(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(base_id): Path<String>,
) -> Response {
    if let Some(r) = shared.refuse_unauthorized(&headers) {
        return r;
    }
    let list = match shared.store.notifications_json(&base_id).await {
        Ok(Some(list)) => list,
        Ok(None) => return trace_not_found(&base_id),
        Err(e) => return store_error(&e),
    };
    // Big traces take a while to build (on all cores): off the async workers. The report
    // is read from the list's text as `trace show FILE.json` reads a file: it is what
    // reading the notifications one by one in this order gives.
    let built = tokio::task::spawn_blocking(move || {
        osprofiler_report::report_from_json_text(list)
            .map_err(|e| format!("the stored notifications are not JSON: {e}"))
    })
    .await;
    let report = match built {
        Ok(Ok(report)) if report.is_empty() => return trace_not_found(&base_id),
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    // Written as it is sent, in chunks: a report of a million notifications is most of a
    // gigabyte of text, which is neither held whole nor made to wait for its last byte.
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter::new(chunks);
        let written = pyjson::write_pretty(&mut out, &report, 2)
            .map_err(std::io::Error::other)
            // Python's CLI prints it with `print`.
            .and_then(|()| std::io::Write::write_all(&mut out, b"\n"));
        match written {
            Ok(()) => out.finish(),
            // The client went away, or (never seen) the report cannot be written: the
            // response ends early and the client sees a cut body.
            Err(e) => tracing::debug!("osprofiler collector: sending a report stopped: {e}"),
        }
    });
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// An [`std::io::Write`] that sends what is written, in chunks of [`ChunkWriter::CHUNK`]
/// bytes, to a response body (from a blocking thread).
struct ChunkWriter {
    buf: Vec<u8>,
    to: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl ChunkWriter {
    const CHUNK: usize = 1 << 20;

    fn new(to: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> ChunkWriter {
        ChunkWriter {
            buf: Vec::with_capacity(Self::CHUNK),
            to,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::CHUNK));
        self.to
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }

    fn finish(mut self) {
        if !self.buf.is_empty() {
            let _ = self.send();
        }
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn get_notifications(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(base_id): Path<String>,
) -> Response {
    if let Some(r) = shared.refuse_unauthorized(&headers) {
        return r;
    }
    match shared.store.notifications_json(&base_id).await {
        Ok(Some(list)) => ([(header::CONTENT_TYPE, "application/json")], list).into_response(),
        Ok(None) => trace_not_found(&base_id),
        Err(e) => store_error(&e),
    }
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let store = shared.store.ping().await;
    let broker = shared.metrics.broker();
    let mut body = serde_json::Map::new();
    let mut problems = Vec::new();
    match &store {
        Ok(()) => {
            body.insert("store".into(), "ok".into());
        }
        Err(e) => {
            body.insert("store".into(), "unavailable".into());
            problems.push(format!("the store does not answer: {e}"));
        }
    }
    match broker {
        None => {}
        Some(true) => {
            body.insert("broker".into(), "ok".into());
        }
        Some(false) => {
            body.insert("broker".into(), "unavailable".into());
            problems.push("the AMQP broker is not connected".to_owned());
        }
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    body.insert(
        "status".into(),
        if problems.is_empty() {
            "ok"
        } else {
            "unavailable"
        }
        .into(),
    );
    if !problems.is_empty() {
        body.insert("error".into(), problems.join("; ").into());
    }
    json_response(status, &Value::Object(body))
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_refused_with_the_place_named() {
        let good = r#"{"name": "a-start", "base_id": "b", "trace_id": "t", "parent_id": null, "timestamp": "2026-01-01T00:00:00.000001"}"#;
        assert_eq!(parse_body(good.as_bytes()).unwrap().len(), 1);
        assert_eq!(
            parse_body(format!(" [{good}, {good}]").as_bytes())
                .unwrap()
                .len(),
            2
        );
        assert!(parse_body(b"[]").unwrap().is_empty());
        let err = |b: &str| parse_body(b.as_bytes()).unwrap_err().to_string();
        let bad_ts = good.replace("00:00:00.000001", "00:00:60.000001");
        assert_eq!(
            parse_body(format!("[{good}, {good}, {good}, {bad_ts}]").as_bytes())
                .unwrap_err()
                .at,
            "[3].timestamp"
        );
        assert_eq!(
            err(&format!("[{good}, 5]")),
            "[1]: expected a notification object, found a number"
        );
        assert!(
            err(&bad_ts).starts_with("timestamp: time data"),
            "{}",
            err(&bad_ts)
        );
        assert!(err("[1,").starts_with("not JSON: "), "{}", err("[1,"));
        assert_eq!(
            err("5"),
            "expected a list of notification objects, or one notification object"
        );
        assert!(err("nope").starts_with("not JSON"));
        assert!(err("").starts_with("not JSON"));
        assert!(parse_body(b"[\xff]")
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
    }

    #[test]
    fn trace_queries() {
        let q = trace_query(Some(
            "error=true&service=api&project=nova&host=h%201&since=2026-01-01T00:00:00Z\
             &until=2026-01-02T00:00:00.5&min_duration_ms=1.5&q=a%25b&limit=10&offset=20",
        ))
        .unwrap();
        assert_eq!(q.error, Some(true));
        assert_eq!(q.host.as_deref(), Some("h 1"));
        assert_eq!(q.q.as_deref(), Some("a%b"));
        assert_eq!(q.since, Timestamp::parse("2026-01-01T00:00:00.0").ok());
        assert_eq!(q.until, Timestamp::parse("2026-01-02T00:00:00.5").ok());
        assert_eq!((q.limit, q.offset, q.min_duration_ms), (10, 20, Some(1.5)));
        assert_eq!(trace_query(None).unwrap().limit, DEFAULT_PAGE);
        for (bad, says) in [
            ("limit=0", "`limit`"),
            ("limit=1001", "`limit`"),
            ("offset=-1", "`offset`"),
            ("error=yes", "`error`"),
            ("since=yesterday", "`since`"),
            ("min_duration_ms=-1", "`min_duration_ms`"),
            ("min_duration_ms=NaN", "`min_duration_ms`"),
            ("servce=api", "unknown parameter `servce`"),
            ("q=a&q=b", "`q` is given twice"),
        ] {
            let e = trace_query(Some(bad)).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn tokens_are_hidden_and_compared_whole() {
        let t = Token::new("s3cret").unwrap();
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cre"));
        assert!(!t.matches(b"s3cretx"));
        assert!(!t.matches(b""));
        assert!(Token::new("").is_none());
        let config = CollectorConfig {
            token: Some(t),
            ..CollectorConfig::default()
        };
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
