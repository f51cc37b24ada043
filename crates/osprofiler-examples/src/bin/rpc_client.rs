//! The RPC client of the example: starts a trace (as `osprofiler trace start` does: a new
//! `base_id`, signed with `--hmac-key`) and calls the server through `ComputeApi`, whose
//! request context carries the trace.
//!
//! ```text
//! rpc_client [--amqp-url URL] [--queue NAME] [--connection-string CS] [--hmac-key KEY]
//!            build-instance --name NAME [--flavor FLAVOR]
//! rpc_client ... reboot-instance --id ID
//! ```
//!
//! Prints one JSON line on stdout, `{"base_id": ..., "result": ...}` (or `"error"` instead of
//! `"result"`, with exit code 1), after its trace points are flushed to the store; show the
//! trace with `osprofiler trace show <base_id> --connection-string CS`.

#![forbid(unsafe_code)]

use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use osprofiler::{Profiler, ProfilerExt};
use osprofiler_examples::amqp::{self, RpcClient, DEFAULT_AMQP_URL};
use osprofiler_examples::compute::ComputeApi;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "The example's RPC client: one traced call to the compute server")]
struct Args {
    /// The broker.
    #[arg(long, env = "OSPROFILER_EXAMPLES_AMQP_URL", default_value = DEFAULT_AMQP_URL)]
    amqp_url: String,
    /// The server's queue.
    #[arg(long, default_value = "compute")]
    queue: String,
    /// Where trace points go; the embedded default store when not given.
    #[arg(long, env = "OSPROFILER_CONNECTION_STRING")]
    connection_string: Option<String>,
    /// The key the trace is signed with.
    #[arg(long, default_value = "SECRET_KEY")]
    hmac_key: String,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    #[command(subcommand)]
    call: Call,
}

#[derive(Subcommand, Debug)]
enum Call {
    /// Build an instance.
    BuildInstance {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "m1.tiny")]
        flavor: String,
    },
    /// Reboot an instance (an unknown id gives a traced error).
    RebootInstance {
        #[arg(long)]
        id: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    osprofiler_examples::init_logging();
    let args = Args::parse();
    let timeout = Duration::try_from_secs_f64(args.timeout).context("--timeout")?;
    let conf = osprofiler_examples::profiler_config(
        args.connection_string.clone(),
        vec![args.hmac_key.clone()],
    );
    let profiling = osprofiler::try_init_from_conf(&conf, Some("examples"), Some("api"))
        .await
        .context("setting profiling up")?;

    let connection = amqp::connect(&args.amqp_url, "rpc_client", timeout).await?;
    let client = RpcClient::new(&connection, &args.amqp_url, &args.queue, timeout).await?;
    let mut api = ComputeApi::new(client);

    // `osprofiler trace start`: a new trace signed with the key.
    let profiler = Profiler::new(&args.hmac_key, None, None);
    let base_id = profiler.base_id().to_text();
    let outcome = async {
        match &args.call {
            Call::BuildInstance { name, flavor } => api.build_instance(name, flavor).await,
            Call::RebootInstance { id } => api.reboot_instance(id).await,
        }
    }
    .with_profiler(Some(profiler))
    .await;

    if let Some(notifier) = &profiling.notifier {
        notifier.flush(Duration::from_secs(10));
    }
    drop(profiling);
    api.close().await;
    amqp::close(connection).await;
    match outcome {
        Ok(result) => {
            println!("{}", json!({"base_id": base_id, "result": result}));
            Ok(())
        }
        Err(e) => {
            println!("{}", json!({"base_id": base_id, "error": e.to_string()}));
            std::process::exit(1)
        }
    }
}
