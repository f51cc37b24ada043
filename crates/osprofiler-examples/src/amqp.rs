//! A small RPC over RabbitMQ with lapin: the messages, the connection, and the caller's side.
//!
//! A request is published to the server's queue through the default exchange, as JSON:
//!
//! ```json
//! {"method": "build_instance",
//!  "args": {"name": "vm-1", "flavor": "m1.tiny"},
//!  "context": {"user_id": "demo", "project_id": "demo",
//!              "trace_info": {"hmac_key": "SECRET_KEY", "base_id": "<uuid>", "parent_id": "<uuid>"}}}
//! ```
//!
//! with the AMQP properties `reply_to` (RabbitMQ's direct reply-to, `amq.rabbitmq.reply-to`)
//! and `correlation_id` (a new uuid per call). The server answers on `reply_to` with the same
//! `correlation_id` and the body `{"result": <JSON>, "failure": null}` or `{"result": null,
//! "failure": {"class": "...", "message": "..."}}`.
//!
//! This is oslo.messaging's RPC in miniature: the same three parts (`method`, `args`, the
//! request context), the trace in the context as nova's `ProfilerRequestContextSerializer`
//! puts it there, and oslo's failure `class`/`message`. oslo.messaging itself also wraps the
//! body in its 2.0 envelope, flattens the context into `_context_*` keys and uses its own
//! reply queues; this example does not speak that dialect.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use osprofiler::driver::mask_password;
use osprofiler::rpc::{TraceInfo, TRACE_INFO_KEY};
use osprofiler::{rpc, Notifier, Profiler, ProfilerExt, TraceId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The local RabbitMQ of a developer's machine.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// RabbitMQ's direct reply-to pseudo-queue: replies come back without a queue of our own.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// One call, as published to the server's queue (see the module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcRequest {
    /// The name of the server method.
    pub method: String,
    /// Its arguments, by name.
    #[serde(default)]
    pub args: Map<String, Value>,
    /// The request context: who calls, and the trace (`trace_info`) when there is one.
    #[serde(default)]
    pub context: Map<String, Value>,
}

/// What went wrong on the server, as oslo.messaging reports a remote exception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The error's type name.
    pub class: String,
    /// The error's message.
    pub message: String,
}

/// The answer to one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcReply {
    /// The method's result (`null` on failure).
    pub result: Value,
    /// The method's error, if it failed.
    pub failure: Option<Failure>,
}

impl RpcReply {
    /// The reply for a method's outcome, as oslo.messaging's server sends it: the result as
    /// JSON, or a failure named by the error's Rust type (Python names its class).
    pub fn from_result<T: serde::Serialize, E: std::fmt::Display>(result: Result<T, E>) -> Self {
        match result.map(serde_json::to_value) {
            Ok(Ok(result)) => RpcReply {
                result,
                failure: None,
            },
            Ok(Err(e)) => RpcReply::failure("ValueError", e.to_string()),
            Err(e) => RpcReply::failure(std::any::type_name::<E>(), e.to_string()),
        }
    }

    /// The reply for a method the server does not have (oslo.messaging's
    /// `UnsupportedVersion`).
    pub fn unsupported(method: &str) -> Self {
        RpcReply::failure(
            "UnsupportedVersion",
            format!("endpoint does not support RPC method {method}"),
        )
    }

    /// The arguments of a call read as `T`, or the reply for arguments that do not fit
    /// (Python's `TypeError` for a call with the wrong arguments).
    pub fn parse_args<T: serde::de::DeserializeOwned>(args: Map<String, Value>) -> Result<T, Self> {
        serde_json::from_value(Value::Object(args))
            .map_err(|e| RpcReply::failure("TypeError", e.to_string()))
    }

    /// The caller's view of the reply: the result, or the server's failure as an error.
    pub fn into_result(self) -> Result<Value, RpcError> {
        match self.failure {
            Some(failure) => Err(RpcError::Remote(failure)),
            None => Ok(self.result),
        }
    }

    /// A failed call.
    pub fn failure(class: impl Into<String>, message: impl Into<String>) -> Self {
        RpcReply {
            result: Value::Null,
            failure: Some(Failure {
                class: class.into(),
                message: message.into(),
            }),
        }
    }
}

/// Why a call failed, on the caller's side.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The server ran the method and it failed.
    #[error("{}: {}", .0.class, .0.message)]
    Remote(Failure),
    /// No answer in time.
    #[error("no reply from queue {queue} on {url} within {timeout:?}")]
    Timeout {
        /// The server's queue.
        queue: String,
        /// The broker, password masked.
        url: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The broker refused or dropped something.
    #[error("AMQP error on {url}: {message}")]
    Amqp {
        /// The broker, password masked.
        url: String,
        /// lapin's error.
        message: String,
    },
    /// The reply was not an [`RpcReply`].
    #[error("malformed reply: {0}")]
    BadReply(String),
}

/// Who calls, as every caller of the examples puts it in the request context (the trace is
/// added per call).
pub fn caller_context() -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("user_id".into(), Value::String("demo".into()));
    context.insert("project_id".into(), Value::String("demo".into()));
    context
}

/// The callee's profiler for a request `context` (nova's `ProfilerRequestContextSerializer`):
/// takes `trace_info` out of the context and, when its key is one of `hmac_keys` (any key
/// with `trust_bus`), makes the profiler that joins the caller's trace. The profiler reports
/// to `notifier`, else to the process-wide notifier: a program that runs several services
/// gives each its own, as [`rpc::extract_known`] cannot.
pub fn callee_profiler(
    context: &mut Map<String, Value>,
    hmac_keys: &[&str],
    trust_bus: bool,
    notifier: Option<&Arc<dyn Notifier>>,
) -> Option<Profiler> {
    let info = TraceInfo::from_value(&context.remove(TRACE_INFO_KEY)?)?;
    if !trust_bus && !hmac_keys.contains(&info.hmac_key.as_str()) {
        return None;
    }
    Some(match notifier {
        Some(notifier) => Profiler::with_notifier(
            &info.hmac_key,
            Some(&info.base_id),
            Some(&info.parent_id),
            notifier.clone(),
        ),
        None => info.into_profiler(),
    })
}

/// Connects to `url` within `timeout`; errors name the URL with its password masked.
pub async fn connect(url: &str, name: &str, timeout: Duration) -> Result<Connection, RpcError> {
    let handle = tokio::runtime::Handle::current();
    let props = ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_executor(tokio_executor_trait::Tokio::default().with_handle(handle.clone()))
        .with_reactor(tokio_reactor_trait::Tokio::default().with_handle(handle));
    match tokio::time::timeout(timeout, Connection::connect(url, props)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(amqp_error(url, e)),
        Err(_) => Err(RpcError::Amqp {
            url: mask_password(url),
            message: format!("could not connect within {timeout:?}"),
        }),
    }
}

/// Closes `connection` and waits (at most `CLOSE_TIMEOUT`) for lapin's I/O thread to end, so
/// that it does not outlive the process's runtime (it would log I/O errors on its way out).
/// Close the channels first ([`RpcClient::close`]; [`RpcServer::serve`] closes its own).
pub async fn close(connection: Connection) {
    let _ = connection.close(200, "bye").await;
    let io_loop = tokio::task::spawn_blocking(move || connection.run());
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, io_loop).await;
}

/// How long [`close`] waits for the I/O thread.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// An [`RpcError::Amqp`] naming `url` with its password masked.
pub fn amqp_error(url: &str, e: impl fmt::Display) -> RpcError {
    RpcError::Amqp {
        url: mask_password(url),
        message: e.to_string(),
    }
}

/// Properties of a JSON message.
pub fn json_properties() -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
}

/// The caller's side: publishes requests to one server queue and waits for the replies.
pub struct RpcClient {
    url: String,
    queue: String,
    channel: Channel,
    replies: Consumer,
    timeout: Duration,
    /// Who calls: the rest of the request context.
    context: Map<String, Value>,
}

impl RpcClient {
    /// A client of the server consuming `queue`, on `connection` (made from `url`); each
    /// call waits at most `timeout` for its reply. Fails when no server has declared the
    /// queue (a request to a missing queue would be dropped by the broker without a word).
    pub async fn new(
        connection: &Connection,
        url: &str,
        queue: &str,
        timeout: Duration,
    ) -> Result<Self, RpcError> {
        let err = |e: lapin::Error| amqp_error(url, e);
        let channel = connection.create_channel().await.map_err(err)?;
        channel
            .queue_declare(
                queue,
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| amqp_error(url, format!("no server listens on queue {queue}: {e}")))?;
        // Direct reply-to: consume before publishing, without acknowledgements.
        let replies = channel
            .basic_consume(
                DIRECT_REPLY_TO,
                "rpc_client",
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        Ok(RpcClient {
            url: url.to_owned(),
            queue: queue.to_owned(),
            channel,
            replies,
            timeout,
            context: caller_context(),
        })
    }

    /// Calls `method` with `args` and waits for its result. The request context carries the
    /// current trace (`rpc::inject`), so the server's points join it.
    pub async fn call(
        &mut self,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let mut context = self.context.clone();
        rpc::inject(&mut context);
        let request = RpcRequest {
            method: method.to_owned(),
            args,
            context,
        };
        let body = serde_json::to_vec(&request).map_err(|e| RpcError::BadReply(e.to_string()))?;
        let correlation_id = TraceId::new_v4().to_text();
        let properties = json_properties()
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_correlation_id(correlation_id.as_str().into());
        let url = self.url.clone();
        let timeout = self.timeout;
        let exchange = async {
            self.channel
                .basic_publish(
                    "",
                    &self.queue,
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await
                .map_err(|e| amqp_error(&url, e))?
                .await
                .map_err(|e| amqp_error(&url, e))?;
            while let Some(delivery) = self.replies.next().await {
                let delivery = delivery.map_err(|e| amqp_error(&url, e))?;
                let matches = delivery
                    .properties
                    .correlation_id()
                    .as_ref()
                    .is_some_and(|c| c.as_str() == correlation_id);
                if matches {
                    return Ok(delivery.data);
                }
            }
            Err(amqp_error(&url, "the reply consumer was cancelled"))
        };
        let data = match tokio::time::timeout(timeout, exchange).await {
            Ok(data) => data?,
            Err(_) => {
                return Err(RpcError::Timeout {
                    queue: self.queue.clone(),
                    url: mask_password(&self.url),
                    timeout,
                })
            }
        };
        let reply: RpcReply =
            serde_json::from_slice(&data).map_err(|e| RpcError::BadReply(e.to_string()))?;
        reply.into_result()
    }
}

/// The server's side: consumes one queue (declared non-durable, auto-deleted) and answers
/// each request on its `reply_to`, one request at a time.
pub struct RpcServer {
    url: String,
    queue: String,
    channel: Channel,
    requests: Consumer,
    hmac_keys: Vec<String>,
    trust_bus: bool,
    max_requests: Option<u64>,
    notifier: Option<Arc<dyn Notifier>>,
}

impl RpcServer {
    /// Declares `queue` on `connection` (made from `url`) and starts consuming it: once this
    /// returns, clients can call. The server takes traces signed with `hmac_keys` only (see
    /// [`RpcServer::trust_bus`]).
    pub async fn bind(
        connection: &Connection,
        url: &str,
        queue: &str,
        hmac_keys: Vec<String>,
    ) -> Result<Self, RpcError> {
        let err = |e: lapin::Error| amqp_error(url, e);
        let channel = connection.create_channel().await.map_err(err)?;
        channel
            .queue_declare(
                queue,
                QueueDeclareOptions {
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        channel
            .basic_qos(1, BasicQosOptions::default())
            .await
            .map_err(err)?;
        let requests = channel
            .basic_consume(
                queue,
                "rpc_server",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        Ok(RpcServer {
            url: url.to_owned(),
            queue: queue.to_owned(),
            channel,
            requests,
            hmac_keys,
            trust_bus: false,
            max_requests: None,
            notifier: None,
        })
    }

    /// Sends the points of the requests it serves to `notifier` instead of the process-wide
    /// one (one pipeline per service when several run in one process).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Takes any trace from a request's context, whatever its key (what OpenStack services
    /// do: they trust their message bus), instead of only those signed with the server's
    /// keys.
    pub fn trust_bus(mut self, trust: bool) -> Self {
        self.trust_bus = trust;
        self
    }

    /// Stops after `max` requests.
    pub fn max_requests(mut self, max: Option<u64>) -> Self {
        self.max_requests = max;
        self
    }

    /// The queue served.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Serves until `stop` completes, the broker ends the consumer, or `max_requests` were
    /// served; returns how many were. Each request runs `handler(method, args)` under the
    /// trace its context carries (nova's `ProfilerRequestContextSerializer`: `trace_info`
    /// is taken out of the context first). A malformed request gets a failure reply and never
    /// stops the server; a reply that cannot be sent is logged.
    pub async fn serve<H, F>(
        mut self,
        mut handler: H,
        stop: impl Future<Output = ()>,
    ) -> Result<u64, RpcError>
    where
        H: FnMut(String, Map<String, Value>) -> F,
        F: Future<Output = RpcReply>,
    {
        let keys: Vec<&str> = self.hmac_keys.iter().map(String::as_str).collect();
        let mut handled = 0u64;
        tokio::pin!(stop);
        while self.max_requests.is_none_or(|max| handled < max) {
            let delivery = tokio::select! {
                d = self.requests.next() => d,
                () = &mut stop => break,
            };
            let delivery = match delivery {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(amqp_error(&self.url, e)),
                None => break,
            };
            let reply = match serde_json::from_slice::<RpcRequest>(&delivery.data) {
                Ok(mut request) => {
                    let profiler = callee_profiler(
                        &mut request.context,
                        &keys,
                        self.trust_bus,
                        self.notifier.as_ref(),
                    );
                    handler(request.method, request.args)
                        .with_profiler(profiler)
                        .await
                }
                Err(e) => RpcReply::failure("ValueError", format!("malformed request: {e}")),
            };
            self.reply(&delivery.properties, &reply).await;
            delivery
                .ack(BasicAckOptions::default())
                .await
                .map_err(|e| amqp_error(&self.url, e))?;
            handled += 1;
        }
        // Stop consuming before the connection goes, so the broker hands nothing more here.
        let _ = self.channel.close(200, "bye").await;
        Ok(handled)
    }

    /// Publishes `reply` to the request's `reply_to`, if it asked for one.
    async fn reply(&self, properties: &BasicProperties, reply: &RpcReply) {
        let (Some(reply_to), Some(correlation_id)) =
            (properties.reply_to(), properties.correlation_id())
        else {
            return;
        };
        let body = match serde_json::to_vec(reply) {
            Ok(body) => body,
            Err(e) => {
                log_error(&format!("reply not encoded: {e}"));
                return;
            }
        };
        let publish = async {
            self.channel
                .basic_publish(
                    "",
                    reply_to.as_str(),
                    BasicPublishOptions::default(),
                    &body,
                    json_properties().with_correlation_id(correlation_id.clone()),
                )
                .await?
                .await
        };
        match tokio::time::timeout(REPLY_TIMEOUT, publish).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log_error(&format!("reply not sent: {}", amqp_error(&self.url, e))),
            Err(_) => log_error(&format!("reply not sent within {REPLY_TIMEOUT:?}")),
        }
    }
}

/// How long publishing one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A server-side problem that does not stop the server, on stderr.
fn log_error(message: &str) {
    eprintln!("rpc server: {message}");
}

impl fmt::Debug for RpcServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys.
        f.debug_struct("RpcServer")
            .field("url", &mask_password(&self.url))
            .field("queue", &self.queue)
            .field("trust_bus", &self.trust_bus)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// Closes the client's channel (its reply consumer with it); call it before closing the
    /// connection at shutdown.
    pub async fn close(&self) {
        let _ = self.channel.close(200, "bye").await;
    }
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("url", &mask_password(&self.url))
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_shape() {
        let r: RpcRequest = serde_json::from_value(json!({"method": "m"})).unwrap();
        assert!(r.args.is_empty() && r.context.is_empty());
        let text = serde_json::to_string(&RpcReply::failure("E", "boom")).unwrap();
        assert_eq!(
            text,
            r#"{"result":null,"failure":{"class":"E","message":"boom"}}"#
        );
    }

    #[test]
    fn errors_mask_the_password() {
        let e = amqp_error("amqp://guest:secret@host:5672/%2f", "refused");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
