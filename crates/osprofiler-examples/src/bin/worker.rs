//! The worker of the three-services example (nova-compute's role): an RPC server on
//! RabbitMQ whose `build_instance` calls the database layer (`dbsvc`) over RPC.
//!
//! ```text
//! worker --config worker.conf [--queue compute] [--conductor-queue conductor]
//! ```
//!
//! The config file (see `osprofiler_examples::service`) gives `[DEFAULT] transport_url` and
//! `[profiler]` (`enabled`, `hmac_keys`, `connection_string`). Start `dbsvc` first: the
//! worker checks its queue at start. Prints `ready worker <queue>` on stdout once it
//! consumes; stops on Ctrl-C or SIGTERM, then flushes its trace points to the store.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use osprofiler_examples::amqp::{self, RpcClient, RpcServer};
use osprofiler_examples::service::{self, ServiceConfig};
use osprofiler_examples::worker::{dispatch, ConductorApi, WorkerManager};

#[derive(Parser, Debug)]
#[command(about = "The three-services example's worker: build_instance behind a RabbitMQ queue")]
struct Args {
    /// The service's config file (INI, as an OpenStack service's).
    #[arg(long)]
    config: PathBuf,
    /// The queue to consume requests from.
    #[arg(long, default_value = "compute")]
    queue: String,
    /// The database layer's queue.
    #[arg(long, default_value = "conductor")]
    conductor_queue: String,
    /// Seconds to wait for the database layer's replies (and for the broker).
    #[arg(long, default_value_t = 30.0)]
    rpc_timeout: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    osprofiler_examples::init_logging();
    let args = Args::parse();
    let timeout = Duration::try_from_secs_f64(args.rpc_timeout).context("--rpc-timeout")?;
    let conf = ServiceConfig::load(&args.config)?;
    let profiling =
        osprofiler::try_init_from_conf(&conf.profiler, Some("examples"), Some("compute"))
            .await
            .context("setting profiling up")?;

    let connection = amqp::connect(&conf.amqp_url, "worker", timeout).await?;
    let conductor =
        RpcClient::new(&connection, &conf.amqp_url, &args.conductor_queue, timeout).await?;
    let manager = WorkerManager::new(ConductorApi::new(conductor));
    let server = RpcServer::bind(
        &connection,
        &conf.amqp_url,
        &args.queue,
        profiling.hmac_keys.clone(),
    )
    .await?;
    service::announce_ready(&format!("worker {}", args.queue));
    let manager = &manager;
    let served = server
        .serve(
            |method, args| async move { dispatch(manager, &method, args).await },
            service::shutdown_signal(),
        )
        .await;
    manager.conductor().close().await;
    service::finish(profiling, "worker");
    amqp::close(connection).await;
    served?;
    Ok(())
}
