//! How a call reaches an RPC server: over RabbitMQ ([`crate::amqp`]), or in this process
//! ([`LocalServer`]) for a program that runs the services as tasks of one process (the
//! `osprofiler demo` command) when no broker answers.
//!
//! The in-process path keeps what matters to a trace the same as over RabbitMQ: the caller
//! puts the trace in the request context (`osprofiler::rpc::inject`), the server takes it
//! from there only when it is signed with one of its keys ([`crate::amqp::callee_profiler`]),
//! and the method runs as a task of its own under that profiler, reporting to the server's
//! own pipeline. Only the broker and the JSON on the wire are left out.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use osprofiler::{rpc, Notifier, ProfilerExt};
use serde_json::{Map, Value};

use crate::amqp::{callee_profiler, caller_context, RpcClient, RpcError, RpcReply};

/// The caller's side of an RPC, whichever the transport.
#[derive(Debug)]
pub enum Caller {
    /// Over RabbitMQ (boxed: a client is large, a local server a few pointers).
    Amqp(Box<RpcClient>),
    /// Straight to a server of this process.
    InProcess(LocalServer),
}

impl From<RpcClient> for Caller {
    fn from(client: RpcClient) -> Self {
        Caller::Amqp(Box::new(client))
    }
}

impl From<LocalServer> for Caller {
    fn from(server: LocalServer) -> Self {
        Caller::InProcess(server)
    }
}

impl Caller {
    /// Calls `method` with `args` and waits for its result; the request context carries the
    /// current trace either way.
    pub async fn call(
        &mut self,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        match self {
            Caller::Amqp(client) => client.call(method, args).await,
            Caller::InProcess(server) => {
                let mut context = caller_context();
                rpc::inject(&mut context);
                server.handle(method, args, context).await.into_result()
            }
        }
    }

    /// Closes what the transport holds (the AMQP channel); call it at shutdown.
    pub async fn close(&self) {
        if let Caller::Amqp(client) = self {
            client.close().await;
        }
    }
}

/// The future of one handled request.
type Handled = Pin<Box<dyn Future<Output = RpcReply> + Send>>;

/// The server's methods: `(method, args)` to the reply.
type Handler = dyn Fn(String, Map<String, Value>) -> Handled + Send + Sync;

/// An RPC server of this process: what a queue and [`crate::amqp::RpcServer`] are over
/// RabbitMQ. Cheap to clone; every clone serves the same methods.
#[derive(Clone)]
pub struct LocalServer {
    name: Arc<str>,
    handler: Arc<Handler>,
    hmac_keys: Arc<[String]>,
    notifier: Option<Arc<dyn Notifier>>,
}

impl LocalServer {
    /// A server named `name` (for errors) whose requests run `handler(method, args)`; it
    /// takes traces signed with one of `hmac_keys` only, and its points go to `notifier`
    /// (the process-wide notifier when `None`).
    pub fn new<H, F>(
        name: &str,
        hmac_keys: Vec<String>,
        notifier: Option<Arc<dyn Notifier>>,
        handler: H,
    ) -> Self
    where
        H: Fn(String, Map<String, Value>) -> F + Send + Sync + 'static,
        F: Future<Output = RpcReply> + Send + 'static,
    {
        LocalServer {
            name: Arc::from(name),
            handler: Arc::new(move |method, args| Box::pin(handler(method, args)) as Handled),
            hmac_keys: hmac_keys.into(),
            notifier,
        }
    }

    /// Serves one request: the trace comes out of `context` as the RabbitMQ server takes it,
    /// and the method runs as a task of its own (a failure of that task is a failure reply,
    /// as a remote exception would be).
    async fn handle(
        &self,
        method: &str,
        args: Map<String, Value>,
        mut context: Map<String, Value>,
    ) -> RpcReply {
        let keys: Vec<&str> = self.hmac_keys.iter().map(String::as_str).collect();
        let profiler = callee_profiler(&mut context, &keys, false, self.notifier.as_ref());
        let call = (self.handler)(method.to_owned(), args).with_profiler(profiler);
        match tokio::spawn(call).await {
            Ok(reply) => reply,
            Err(e) => RpcReply::failure(
                "RuntimeError",
                format!("{} could not run {method}: {e}", self.name),
            ),
        }
    }
}

impl fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys.
        f.debug_struct("LocalServer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler::notifier::CollectingNotifier;
    use osprofiler::{Profiler, Trace};

    #[tokio::test]
    async fn the_trace_travels_in_the_context_to_the_servers_notifier() {
        let server_points = Arc::new(CollectingNotifier::new());
        let server = LocalServer::new(
            "echo",
            vec!["K".into()],
            Some(server_points.clone()),
            |method, args| async move {
                let _point = Trace::start("rpc", None);
                if method == "fail" {
                    return RpcReply::failure("E", "boom");
                }
                RpcReply::from_result(Ok::<_, RpcError>(Value::Object(args)))
            },
        );
        let mut caller = Caller::from(server);
        let client_points = Arc::new(CollectingNotifier::new());
        let p = Profiler::with_notifier("K", Some("base"), None, client_points.clone());
        let mut args = Map::new();
        args.insert("x".into(), 1.into());
        let (echoed, failed) = async {
            let _point = Trace::start("rpc", None);
            let echoed = caller.call("echo", args).await;
            (echoed, caller.call("fail", Map::new()).await)
        }
        .with_profiler(Some(p))
        .await;
        assert_eq!(echoed.unwrap()["x"], 1);
        assert!(matches!(failed, Err(RpcError::Remote(f)) if f.message == "boom"));
        let server = server_points.notifications();
        let client = client_points.notifications();
        assert_eq!(
            server.len(),
            4,
            "two calls, a point each, on the server's notifier"
        );
        assert_eq!(client.len(), 2);
        assert_eq!(server[0].base_id, "base");
        assert_eq!(server[0].parent_id, client[0].trace_id);

        // A key the server does not hold: served, not traced.
        let unknown = Profiler::with_notifier("other", None, None, client_points.clone());
        let reply = caller
            .call("echo", Map::new())
            .with_profiler(Some(unknown))
            .await;
        assert!(reply.is_ok());
        assert_eq!(server_points.notifications().len(), 4);
    }
}
