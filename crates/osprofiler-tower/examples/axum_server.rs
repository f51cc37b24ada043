//! An axum service with the OSprofiler layer, set up from the `[profiler]` options as a real
//! service would be.
//!
//! ```text
//! cargo run -p osprofiler-tower --example axum_server -- [--addr 127.0.0.1:8080] [--threads N] [--no-layer]
//! curl -H @<(osprofiler trace start --hmac-key SECRET_KEY) http://127.0.0.1:8080/servers/42
//! osprofiler trace show <the base id printed by trace start>
//! ```
//!
//! Profiling is on with the key `SECRET_KEY` and the embedded default store unless the
//! `OSPROFILER_*` environment variables say otherwise (`OSPROFILER_ENABLED`,
//! `OSPROFILER_HMAC_KEYS`, `OSPROFILER_CONNECTION_STRING`, ...). A request without signed
//! trace headers is served untraced. `--no-layer` serves the same app without the middleware
//! (the baseline of `scripts/bench_http_middleware.sh`).

use std::time::Duration;

use axum::extract::Path;
use axum::extract::Request;
use axum::routing::get;
use axum::{Router, ServiceExt};
use osprofiler::{ProfilerConfig, Trace};
use osprofiler_tower::ServerTraceLayer;
use tower_layer::Layer;

async fn hello() -> &'static str {
    "hello\n"
}

/// A handler that does traced work: its `db` point is a child of the request's `wsgi` point.
async fn server(Path(id): Path<u64>) -> String {
    let _db = Trace::start("db", None);
    tokio::time::sleep(Duration::from_millis(2)).await;
    format!("server {id}\n")
}

struct Args {
    addr: String,
    threads: usize,
    layer: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".into(),
        threads: 2,
        layer: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => args.addr = it.next().ok_or("--addr needs HOST:PORT")?,
            "--threads" => {
                args.threads = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--threads needs a number above 0")?
            }
            "--no-layer" => args.layer = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut conf = ProfilerConfig {
        enabled: true,
        hmac_keys: vec!["SECRET_KEY".into()],
        ..ProfilerConfig::default()
    };
    conf.apply_env(std::env::vars())?;
    // Keep `profiling` until the end: dropping it flushes the queue to the store.
    let profiling = osprofiler::init_from_conf(&conf, Some("example"), Some("api")).await;

    let app = Router::new()
        .route("/", get(hello))
        .route("/servers/{id}", get(server));
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    println!(
        "listening on http://{} (middleware {}, profiling {})",
        listener.local_addr()?,
        if args.layer { "on" } else { "off" },
        if profiling.enabled() { "on" } else { "off" },
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if args.layer {
        // Around the whole router, as Python's middleware wraps the whole WSGI app: every
        // request goes through it (unmatched routes too), and axum's per-route boxing of
        // `Router::layer` is not paid.
        let app = ServerTraceLayer::from_profiling(&profiling).layer(app);
        axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
            .with_graceful_shutdown(shutdown)
            .await?;
    } else {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
    }
    drop(profiling);
    Ok(())
}
