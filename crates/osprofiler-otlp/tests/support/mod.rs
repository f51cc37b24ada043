//! A small OTLP/HTTP receiver for the tests: a hyper server on 127.0.0.1 that decodes every
//! `ExportTraceServiceRequest` it is sent, on its own thread and runtime (the notifier under
//! test has its own worker thread, and the tests are plain `#[test]`s).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub mod trace;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `200 OK` with an empty `ExportTraceServiceResponse`.
    Accept,
    /// Reads the request, then never answers.
    Stall,
    /// Answers with this status.
    Status(u16),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// Its `content-type`.
    pub content_type: String,
    /// Its `authorization`, if any.
    pub authorization: Option<String>,
    /// The decoded body.
    pub request: ExportTraceServiceRequest,
}

/// One span with the `service.name` and scope it was sent under.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub service_name: String,
    pub scope: String,
    pub span: Span,
}

/// A running receiver; stops (closing its connections) when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver on a free port.
    pub fn start(mode: Mode) -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap(), mode)
    }

    /// A receiver on `addr` (to come back on the port a stopped one had).
    pub fn start_on(addr: SocketAddr, mode: Mode) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop_tx, stop_rx) = oneshot::channel();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let store = received.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(addr, mode, store, stop_rx, addr_tx));
            // Dropping the runtime cancels the connection tasks: their sockets close.
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the receiver did not start");
        Receiver {
            addr,
            received,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `otlp://127.0.0.1:PORT`.
    pub fn connection_string(&self) -> String {
        format!("otlp://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every span so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let mut out = Vec::new();
        for r in self.requests() {
            for rs in r.request.resource_spans {
                let service_name = rs
                    .resource
                    .as_ref()
                    .and_then(|r| attr(&r.attributes, "service.name"))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    let scope = ss.scope.map(|s| s.name).unwrap_or_default();
                    for span in ss.spans {
                        out.push(ReceivedSpan {
                            service_name: service_name.clone(),
                            scope: scope.clone(),
                            span,
                        });
                    }
                }
            }
        }
        out
    }

    /// Waits until at least `n` spans arrived (or `timeout`), then returns them all.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= n || Instant::now() >= deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops listening and closes every connection.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(
    addr: SocketAddr,
    mode: Mode,
    store: Arc<Mutex<Vec<Received>>>,
    mut stop: oneshot::Receiver<()>,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    addr_tx.send(listener.local_addr().unwrap()).unwrap();
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, mode, store.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    mode: Mode,
    store: Arc<Mutex<Vec<Received>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    match mode {
        Mode::Stall => {
            // Never answer (the runtime is dropped when the receiver stops).
            std::future::pending::<()>().await;
            unreachable!()
        }
        Mode::Status(code) => Ok(status(
            StatusCode::from_u16(code).unwrap(),
            "refused by the test receiver",
        )),
        Mode::Accept => match ExportTraceServiceRequest::decode(body.as_ref()) {
            Ok(request) => {
                store.lock().unwrap().push(Received {
                    path,
                    content_type,
                    authorization,
                    request,
                });
                Ok(Response::new(Full::new(Bytes::new())))
            }
            Err(e) => Ok(status(StatusCode::BAD_REQUEST, &e.to_string())),
        },
    }
}

fn status(code: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = code;
    r
}

/// An attribute's value as JSON (an empty `AnyValue` as `null`), for comparing.
pub fn attr(attrs: &[KeyValue], key: &str) -> Option<Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| any_to_json(kv.value.as_ref()))
}

/// Attributes as an ordered list of `[key, value]`, values as JSON.
pub fn attrs_json(attrs: &[KeyValue]) -> Vec<(String, Value)> {
    attrs
        .iter()
        .map(|kv| (kv.key.clone(), any_to_json(kv.value.as_ref())))
        .collect()
}

/// A span's attributes by key.
pub fn attr_map(attrs: &[KeyValue]) -> BTreeMap<String, Value> {
    attrs_json(attrs).into_iter().collect()
}

/// An OTLP value as JSON, tagged where JSON would lose the type (`{"double": 1.0}`).
pub fn any_to_json(v: Option<&AnyValue>) -> Value {
    let Some(value) = v.and_then(|v| v.value.as_ref()) else {
        return Value::Null;
    };
    match value {
        any_value::Value::StringValue(s) => json!(s),
        any_value::Value::BoolValue(b) => json!(b),
        any_value::Value::IntValue(i) => json!(i),
        any_value::Value::DoubleValue(d) => json!({ "double": d }),
        any_value::Value::ArrayValue(a) => {
            Value::Array(a.values.iter().map(|v| any_to_json(Some(v))).collect())
        }
        any_value::Value::KvlistValue(kv) => Value::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), any_to_json(kv.value.as_ref())))
                .collect(),
        ),
        any_value::Value::BytesValue(b) => json!({ "bytes": b }),
        // Newer OTLP value kinds (none are sent here).
        #[allow(unreachable_patterns)]
        _ => json!({ "other": format!("{value:?}") }),
    }
}

/// Low 64 bits of a uuid string, as the driver maps `trace_id` and `parent_id`.
pub fn low64(uuid: &str) -> [u8; 8] {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    let n = u128::from_str_radix(&hex, 16).unwrap();
    (n as u64).to_be_bytes()
}

/// The 128 bits of a uuid string, as the driver maps `base_id`.
pub fn full128(uuid: &str) -> [u8; 16] {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    u128::from_str_radix(&hex, 16).unwrap().to_be_bytes()
}
