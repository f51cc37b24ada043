//! The HTTP API of the three-services example (nova-api's role): axum behind the OSprofiler
//! middleware; `POST /servers` asks the worker over RPC.
//!
//! ```text
//! api --config api.conf [--listen 127.0.0.1:8080] [--worker-queue compute]
//! ```
//!
//! The config file (see `osprofiler_examples::service`) gives `[DEFAULT] transport_url` and
//! `[profiler]` (`enabled`, `hmac_keys`, `connection_string`). Start the worker first: the
//! API checks its queue at start. Prints `ready api http://ADDR` on stdout once it listens
//! (`--listen 127.0.0.1:0` picks a free port); stops on Ctrl-C or SIGTERM after the requests
//! in flight, then flushes its trace points to the store.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use osprofiler_examples::amqp::{self, RpcClient};
use osprofiler_examples::compute::ComputeApi;
use osprofiler_examples::service::{self, ServiceConfig};
use osprofiler_tower::ServerTraceLayer;
use tokio::sync::Mutex;

#[derive(Parser, Debug)]
#[command(about = "The three-services example's HTTP API: POST /servers, traced")]
struct Args {
    /// The service's config file (INI, as an OpenStack service's).
    #[arg(long)]
    config: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The worker's queue.
    #[arg(long, default_value = "compute")]
    worker_queue: String,
    /// Seconds to wait for the worker's replies (and for the broker).
    #[arg(long, default_value_t = 30.0)]
    rpc_timeout: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    osprofiler_examples::init_logging();
    let args = Args::parse();
    let timeout = Duration::try_from_secs_f64(args.rpc_timeout).context("--rpc-timeout")?;
    let conf = ServiceConfig::load(&args.config)?;
    let profiling = osprofiler::try_init_from_conf(&conf.profiler, Some("examples"), Some("api"))
        .await
        .context("setting profiling up")?;

    let connection = amqp::connect(&conf.amqp_url, "api", timeout).await?;
    let worker = RpcClient::new(&connection, &conf.amqp_url, &args.worker_queue, timeout).await?;
    let compute = Arc::new(Mutex::new(ComputeApi::new(worker)));
    let app = osprofiler_examples::api::router(
        compute.clone(),
        ServerTraceLayer::from_profiling(&profiling),
    );
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    service::announce_ready(&format!("api http://{}", listener.local_addr()?));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(service::shutdown_signal())
        .await;
    compute.lock().await.close().await;
    service::finish(profiling, "api");
    amqp::close(connection).await;
    served?;
    Ok(())
}
