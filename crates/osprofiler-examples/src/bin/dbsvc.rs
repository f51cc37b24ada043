//! The database layer of the three-services example (nova-conductor's role): an RPC server
//! on RabbitMQ whose methods read and write the `instances` table through a traced sqlx pool.
//!
//! ```text
//! dbsvc --config dbsvc.conf [--queue conductor]
//! ```
//!
//! The config file (see `osprofiler_examples::service`) gives `[DEFAULT] transport_url`,
//! `[profiler]` (`enabled`, `hmac_keys`, `connection_string`, `trace_sqlalchemy`) and
//! `[database] connection` (`sqlite://PATH`, or `postgresql://...` when built with the
//! cargo feature `postgres`; an in-memory SQLite database when absent). Prints
//! `ready dbsvc <queue>` on stdout once it consumes; stops on Ctrl-C or SIGTERM, then
//! flushes its trace points to the store.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use osprofiler_examples::amqp::{self, RpcServer};
use osprofiler_examples::conductor::{dispatch, ConductorManager, Database};
use osprofiler_examples::service::{self, ServiceConfig};
use osprofiler_sqlx::SqlTracing;

/// How long connecting to the broker may take.
const AMQP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(about = "The three-services example's database layer: SQL behind a RabbitMQ queue")]
struct Args {
    /// The service's config file (INI, as an OpenStack service's).
    #[arg(long)]
    config: PathBuf,
    /// The queue to consume requests from.
    #[arg(long, default_value = "conductor")]
    queue: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    osprofiler_examples::init_logging();
    let args = Args::parse();
    let conf = ServiceConfig::load(&args.config)?;
    let profiling =
        osprofiler::try_init_from_conf(&conf.profiler, Some("examples"), Some("conductor"))
            .await
            .context("setting profiling up")?;

    let db_url = conf
        .database_connection
        .as_deref()
        .unwrap_or("sqlite::memory:");
    let db = Database::open(db_url, SqlTracing::from_conf(&conf.profiler)).await?;
    let manager = ConductorManager::new(db);

    let connection = amqp::connect(&conf.amqp_url, "dbsvc", AMQP_TIMEOUT).await?;
    let server = RpcServer::bind(
        &connection,
        &conf.amqp_url,
        &args.queue,
        profiling.hmac_keys.clone(),
    )
    .await?;
    service::announce_ready(&format!("dbsvc {}", args.queue));
    let manager = &manager;
    let served = server
        .serve(
            |method, args| async move { dispatch(manager, &method, args).await },
            service::shutdown_signal(),
        )
        .await;
    service::finish(profiling, "dbsvc");
    amqp::close(connection).await;
    served?;
    Ok(())
}
