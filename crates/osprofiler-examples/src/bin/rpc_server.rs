//! The RPC server of the example: consumes requests from a RabbitMQ queue and runs each
//! method of `ComputeManager` under the trace that came in the request context.
//!
//! ```text
//! rpc_server [--amqp-url URL] [--queue NAME] [--connection-string CS]
//!            [--hmac-keys K1,K2] [--trust-bus] [--max-requests N]
//! ```
//!
//! Prints `ready <queue>` on stdout once it consumes. Stops on Ctrl-C, SIGTERM, or after
//! `--max-requests` requests, and then flushes its trace points to the store.

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::Channel;
use osprofiler::{rpc, ProfilerExt};
use osprofiler_examples::amqp::{self, RpcReply, RpcRequest, DEFAULT_AMQP_URL};
use osprofiler_examples::compute::{dispatch, ComputeManager};

/// How long one broker operation (connect, publish) may take.
const AMQP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    about = "The example's RPC server: traced ComputeManager methods behind a RabbitMQ queue"
)]
struct Args {
    /// The broker.
    #[arg(long, env = "OSPROFILER_EXAMPLES_AMQP_URL", default_value = DEFAULT_AMQP_URL)]
    amqp_url: String,
    /// The queue to consume requests from (declared non-durable, auto-deleted).
    #[arg(long, default_value = "compute")]
    queue: String,
    /// Where trace points go; the embedded default store when not given.
    #[arg(long, env = "OSPROFILER_CONNECTION_STRING")]
    connection_string: Option<String>,
    /// The HMAC keys a request's trace must be signed with (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "SECRET_KEY")]
    hmac_keys: Vec<String>,
    /// Take any trace from the request context, whatever its key (what OpenStack services
    /// do: they trust their message bus). By default only traces of one of `--hmac-keys`.
    #[arg(long)]
    trust_bus: bool,
    /// Stop after this many requests.
    #[arg(long)]
    max_requests: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    osprofiler_examples::init_logging();
    let args = Args::parse();
    let conf = osprofiler_examples::profiler_config(
        args.connection_string.clone(),
        args.hmac_keys.clone(),
    );
    let profiling = osprofiler::try_init_from_conf(&conf, Some("examples"), Some("compute"))
        .await
        .context("setting profiling up")?;

    let connection = amqp::connect(&args.amqp_url, "rpc_server", AMQP_TIMEOUT).await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| amqp::amqp_error(&args.amqp_url, e))?;
    channel
        .queue_declare(
            &args.queue,
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| amqp::amqp_error(&args.amqp_url, e))?;
    channel
        .basic_qos(1, BasicQosOptions::default())
        .await
        .map_err(|e| amqp::amqp_error(&args.amqp_url, e))?;
    let mut requests = channel
        .basic_consume(
            &args.queue,
            "rpc_server",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| amqp::amqp_error(&args.amqp_url, e))?;
    println!("ready {}", args.queue);
    std::io::stdout().flush()?;

    let manager = ComputeManager::default();
    let keys: Vec<&str> = profiling.hmac_keys.iter().map(String::as_str).collect();
    let mut handled = 0u64;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    while args.max_requests.is_none_or(|max| handled < max) {
        let delivery = tokio::select! {
            d = requests.next() => d,
            () = &mut stop => break,
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(amqp::amqp_error(&args.amqp_url, e).into()),
            None => break,
        };
        handle(
            &channel,
            &manager,
            &keys,
            args.trust_bus,
            delivery,
            &args.amqp_url,
        )
        .await?;
        handled += 1;
    }

    if let Some(notifier) = &profiling.notifier {
        notifier.flush(Duration::from_secs(10));
        let stats = notifier.stats();
        eprintln!(
            "rpc_server: {handled} requests; trace points sent {}, dropped {}, failed {}",
            stats.sent, stats.dropped, stats.failed
        );
    }
    drop(profiling);
    let _ = connection.close(200, "bye").await;
    Ok(())
}

/// Runs one request and answers it; a malformed request gets a failure reply, never stops
/// the server.
async fn handle(
    channel: &Channel,
    manager: &ComputeManager,
    keys: &[&str],
    trust_bus: bool,
    delivery: Delivery,
    url: &str,
) -> anyhow::Result<()> {
    let reply = match serde_json::from_slice::<RpcRequest>(&delivery.data) {
        Ok(mut request) => {
            // nova's ProfilerRequestContextSerializer.deserialize_context: take the trace out
            // of the context and run the method under it.
            let profiler = if trust_bus {
                rpc::extract(&mut request.context)
            } else {
                rpc::extract_known(&mut request.context, keys)
            };
            dispatch(manager, &request.method, request.args)
                .with_profiler(profiler)
                .await
        }
        Err(e) => RpcReply::failure("ValueError", format!("malformed request: {e}")),
    };
    let properties = &delivery.properties;
    if let (Some(reply_to), Some(correlation_id)) =
        (properties.reply_to(), properties.correlation_id())
    {
        let body = serde_json::to_vec(&reply)?;
        let publish = async {
            channel
                .basic_publish(
                    "",
                    reply_to.as_str(),
                    BasicPublishOptions::default(),
                    &body,
                    amqp::json_properties().with_correlation_id(correlation_id.clone()),
                )
                .await?
                .await
        };
        match tokio::time::timeout(AMQP_TIMEOUT, publish).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("rpc_server: reply not sent: {}", amqp::amqp_error(url, e)),
            Err(_) => eprintln!("rpc_server: reply not sent within {AMQP_TIMEOUT:?}"),
        }
    }
    delivery
        .ack(BasicAckOptions::default())
        .await
        .map_err(|e| amqp::amqp_error(url, e))?;
    Ok(())
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
