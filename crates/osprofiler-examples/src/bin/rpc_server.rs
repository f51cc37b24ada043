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

#![forbid(unsafe_code)]

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use osprofiler_examples::amqp::{self, RpcServer, DEFAULT_AMQP_URL};
use osprofiler_examples::compute::{dispatch, ComputeManager};
use osprofiler_examples::service;

/// How long connecting to the broker may take.
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
    let server = RpcServer::bind(
        &connection,
        &args.amqp_url,
        &args.queue,
        profiling.hmac_keys.clone(),
    )
    .await?
    .trust_bus(args.trust_bus)
    .max_requests(args.max_requests);
    service::announce_ready(&args.queue);

    let manager = ComputeManager::default();
    let manager = &manager;
    let served = server
        .serve(
            |method, args| async move { dispatch(manager, &method, args).await },
            service::shutdown_signal(),
        )
        .await;
    if let Ok(handled) = &served {
        eprintln!("rpc_server: {handled} requests");
    }
    service::finish(profiling, "rpc_server");
    amqp::close(connection).await;
    served?;
    Ok(())
}
