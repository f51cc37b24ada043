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
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use osprofiler::driver::mask_password;
use osprofiler::{rpc, TraceId};
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
        let mut context = Map::new();
        context.insert("user_id".into(), Value::String("demo".into()));
        context.insert("project_id".into(), Value::String("demo".into()));
        Ok(RpcClient {
            url: url.to_owned(),
            queue: queue.to_owned(),
            channel,
            replies,
            timeout,
            context,
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
        match reply.failure {
            Some(failure) => Err(RpcError::Remote(failure)),
            None => Ok(reply.result),
        }
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
