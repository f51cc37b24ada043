//! The three example services of `crates/osprofiler-examples` (`api`, `worker`, `dbsvc`), run
//! as tasks of this process, each sending its trace points to the collector over the
//! `http://` driver through a pipeline of its own, as three processes would.
//!
//! - `api`: the example's axum app behind `osprofiler_tower::ServerTraceLayer`, on a free
//!   loopback port: real HTTP.
//! - `worker` and `dbsvc`: RPC servers. Over RabbitMQ when the broker answers within
//!   [`PROBE_TIMEOUT`] (queues of this run's own, deleted when it stops), else in process
//!   (`osprofiler_examples::transport::LocalServer`: the server's dispatch called as a task
//!   of its own, the trace in the request context as over RabbitMQ).
//! - `dbsvc`'s SQL is real: SQLite, a file in a temporary folder, each statement a `db` point.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use lapin::Connection;
use osprofiler::driver::{mask_password, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier, NotifierStats};
use osprofiler::Notifier;
use osprofiler_examples::amqp::{self, RpcClient, RpcError, RpcServer};
use osprofiler_examples::api::{self as example_api, Compute};
use osprofiler_examples::compute::ComputeApi;
use osprofiler_examples::conductor::{self, ConductorManager, Database};
use osprofiler_examples::service::amqp_url;
use osprofiler_examples::transport::{Caller, LocalServer};
use osprofiler_examples::worker::{self, ConductorApi, WorkerManager};
use osprofiler_sqlx::SqlTracing;
use osprofiler_tower::ServerTraceLayer;
use tokio::sync::{oneshot, watch, Mutex};
use tokio::task::JoinHandle;

use super::HMAC_KEY;

/// The broker tried when none is given: a developer's local RabbitMQ.
pub const DEFAULT_TRANSPORT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/";

/// How long the broker has to answer before the RPC runs in process.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a call waits for its reply (and a service for the broker, once it answered).
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// How long each pipeline may take to deliver its last points at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the API may take to finish the requests under way at shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The `project` of every point.
const PROJECT: &str = "demo";

/// How the RPC went.
pub enum Rpc {
    /// Over RabbitMQ at `url` (password masked), on these two queues.
    Amqp {
        url: String,
        worker_queue: String,
        dbsvc_queue: String,
    },
    /// In process, because no broker answered at `url` (password masked): `why`.
    InProcess { url: String, why: String },
}

/// The services, serving.
pub struct Services {
    /// The API's address.
    pub api: SocketAddr,
    /// How the API reaches the worker and the worker the database service.
    pub rpc: Rpc,
    /// The database service's SQLite file.
    pub database: PathBuf,
    pipelines: Vec<(&'static str, Arc<BatchNotifier>)>,
    api_stop: oneshot::Sender<()>,
    api_server: JoinHandle<std::io::Result<()>>,
    compute: Compute,
    worker: Arc<WorkerManager>,
    broker: Option<Broker>,
    // Removed (with the database file) when the services stop.
    _folder: tempfile::TempDir,
}

/// The RabbitMQ side: one connection per service, as three processes would have, and the two
/// RPC servers.
struct Broker {
    connections: Vec<Connection>,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<Result<u64, RpcError>>>,
}

/// What each pipeline delivered, by service, after [`Services::stop`].
pub type Delivered = Vec<(&'static str, NotifierStats)>;

/// Starts the services, sending to the collector at `collector_url`; the RPC goes over the
/// broker at `transport_url` (an oslo.messaging URL; [`DEFAULT_TRANSPORT_URL`] when `None`)
/// when it answers.
pub async fn start(collector_url: &str, transport_url: Option<&str>) -> Result<Services> {
    let folder = tempfile::Builder::new()
        .prefix("osprofiler-demo-")
        .tempdir()
        .context("cannot make a temporary folder for the demo's database")?;
    let database = folder.path().join("nova.sqlite");
    let db = Database::open(
        &format!("sqlite://{}", database.display()),
        SqlTracing::enabled(),
    )
    .await?;
    let conductor = Arc::new(ConductorManager::new(db));

    let api_points = pipeline(collector_url, "api").await?;
    let worker_points = pipeline(collector_url, "worker").await?;
    let dbsvc_points = pipeline(collector_url, "dbsvc").await?;
    let keys = vec![HMAC_KEY.to_owned()];

    let transport_url = transport_url.unwrap_or(DEFAULT_TRANSPORT_URL);
    let url = amqp_url(transport_url)?;
    let masked = mask_password(transport_url);
    let (compute_caller, worker, rpc, broker) = match probe(&url).await {
        Ok(api_connection) => {
            let (caller, worker, rpc, broker) = over_rabbitmq(
                api_connection,
                &url,
                &masked,
                &keys,
                conductor,
                &worker_points,
                &dbsvc_points,
            )
            .await?;
            (caller, worker, rpc, Some(broker))
        }
        Err(why) => {
            let dbsvc = LocalServer::new(
                "dbsvc",
                keys.clone(),
                Some(dbsvc_points.clone() as Arc<dyn Notifier>),
                move |method, args| {
                    let conductor = conductor.clone();
                    async move { conductor::dispatch(&conductor, &method, args).await }
                },
            );
            let worker = Arc::new(WorkerManager::new(ConductorApi::new(dbsvc)));
            let serving = worker.clone();
            let worker_server = LocalServer::new(
                "worker",
                keys.clone(),
                Some(worker_points.clone() as Arc<dyn Notifier>),
                move |method, args| {
                    let serving = serving.clone();
                    async move { worker::dispatch(&serving, &method, args).await }
                },
            );
            let rpc = Rpc::InProcess { url: masked, why };
            (Caller::from(worker_server), worker, rpc, None)
        }
    };

    let compute: Compute = Arc::new(Mutex::new(ComputeApi::new(compute_caller)));
    let layer = ServerTraceLayer::new(&keys)
        .enabled(true)
        .notifier(api_points.clone());
    let app = example_api::router(compute.clone(), layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("the API cannot listen on a loopback port")?;
    let api = listener.local_addr().context("the API's address")?;
    let (api_stop, stopped) = oneshot::channel::<()>();
    let api_server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Services {
        api,
        rpc,
        database,
        pipelines: vec![
            ("api", api_points),
            ("worker", worker_points),
            ("dbsvc", dbsvc_points),
        ],
        api_stop,
        api_server,
        compute,
        worker,
        broker,
        _folder: folder,
    })
}

/// The API's connection to the broker at `url` (lapin's form), or why there is none. A TCP
/// connection is tried first, so that a broker that is not there is said in one line, not in
/// lapin's log.
async fn probe(url: &str) -> std::result::Result<Connection, String> {
    let uri: lapin::uri::AMQPUri = url.parse()?;
    let address = (uri.authority.host.as_str(), uri.authority.port);
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("{}:{}: {e}", address.0, address.1)),
        Err(_) => return Err(format!("{}:{}: no answer", address.0, address.1)),
    }
    amqp::connect(url, "osprofiler-demo-api", PROBE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())
}

/// The worker and the database service behind queues of their own on the broker at `url`
/// (which answered `api_connection`): the API's caller, the worker, how the RPC goes, and
/// what to stop.
async fn over_rabbitmq(
    api_connection: Connection,
    url: &str,
    masked: &str,
    keys: &[String],
    conductor: Arc<ConductorManager>,
    worker_points: &Arc<BatchNotifier>,
    dbsvc_points: &Arc<BatchNotifier>,
) -> Result<(Caller, Arc<WorkerManager>, Rpc, Broker)> {
    // Queues of this run's own: another demo, or the examples' own processes, may be
    // serving `compute` and `conductor` on the same broker.
    let run = osprofiler::TraceId::new_v4().to_text();
    let run = &run[..8];
    let worker_queue = format!("osprofiler-demo-worker-{run}");
    let dbsvc_queue = format!("osprofiler-demo-dbsvc-{run}");
    let (stop, stopping) = watch::channel(false);
    let mut broker = Broker {
        connections: vec![api_connection],
        stop,
        servers: Vec::new(),
    };
    let started = async {
        let dbsvc_connection = amqp::connect(url, "osprofiler-demo-dbsvc", RPC_TIMEOUT).await?;
        let dbsvc = RpcServer::bind(&dbsvc_connection, url, &dbsvc_queue, keys.to_vec())
            .await?
            .notifier(dbsvc_points.clone());
        broker.connections.push(dbsvc_connection);
        broker.servers.push(tokio::spawn(dbsvc.serve(
            move |method, args| {
                let conductor = conductor.clone();
                async move { conductor::dispatch(&conductor, &method, args).await }
            },
            stopped(stopping.clone()),
        )));

        let worker_connection = amqp::connect(url, "osprofiler-demo-worker", RPC_TIMEOUT).await?;
        let to_dbsvc = RpcClient::new(&worker_connection, url, &dbsvc_queue, RPC_TIMEOUT).await?;
        let worker = Arc::new(WorkerManager::new(ConductorApi::new(to_dbsvc)));
        let server = RpcServer::bind(&worker_connection, url, &worker_queue, keys.to_vec())
            .await?
            .notifier(worker_points.clone());
        broker.connections.push(worker_connection);
        let serving = worker.clone();
        broker.servers.push(tokio::spawn(server.serve(
            move |method, args| {
                let serving = serving.clone();
                async move { worker::dispatch(&serving, &method, args).await }
            },
            stopped(stopping.clone()),
        )));

        let to_worker =
            RpcClient::new(&broker.connections[0], url, &worker_queue, RPC_TIMEOUT).await?;
        Ok::<_, RpcError>((Caller::from(to_worker), worker))
    }
    .await;
    match started {
        Ok((caller, worker)) => {
            let rpc = Rpc::Amqp {
                url: masked.to_owned(),
                worker_queue,
                dbsvc_queue,
            };
            Ok((caller, worker, rpc, broker))
        }
        Err(e) => {
            broker.stop().await;
            Err(anyhow!("RabbitMQ at {masked} answered, but the demo's RPC servers could not start on it: {e}"))
        }
    }
}

/// Completes once `stop` says so (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A service's pipeline: the `http://` driver to the collector, as `osprofiler::init_from_conf`
/// makes it for `connection_string = http://...`.
async fn pipeline(collector_url: &str, service: &str) -> Result<Arc<BatchNotifier>> {
    let mut options = DriverOptions::new(collector_url);
    options.project = Some(PROJECT.to_owned());
    options.service = Some(service.to_owned());
    let host = options.host.clone();
    let driver = crate::show::open_driver(options)
        .await
        .with_context(|| format!("the {service} service's driver"))?;
    Ok(BatchNotifier::start(
        driver,
        BatchConfig {
            host,
            project: Some(PROJECT.to_owned()),
            service: Some(service.to_owned()),
            ..BatchConfig::default()
        },
    ))
}

impl Broker {
    /// Stops the RPC servers (each finishes the request under way), then closes the
    /// connections.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for server in self.servers {
            match server.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("osprofiler demo: an RPC server failed: {e}"),
                Err(e) => eprintln!("osprofiler demo: an RPC server task failed: {e}"),
            }
        }
        for connection in self.connections {
            amqp::close(connection).await;
        }
    }
}

impl Services {
    /// Stops the API (after the requests under way), the RPC servers and their connections,
    /// then delivers what each pipeline still holds: what each delivered in all.
    pub async fn stop(self) -> Delivered {
        let _ = self.api_stop.send(());
        match tokio::time::timeout(STOP_TIMEOUT, self.api_server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => eprintln!("osprofiler demo: the API server failed: {e}"),
            Ok(Err(e)) => eprintln!("osprofiler demo: the API server task failed: {e}"),
            Err(_) => eprintln!("osprofiler demo: the API did not stop within {STOP_TIMEOUT:?}"),
        }
        self.compute.lock().await.close().await;
        self.worker.conductor().close().await;
        if let Some(broker) = self.broker {
            broker.stop().await;
        }
        let pipelines = self.pipelines;
        let delivered = tokio::task::spawn_blocking(move || {
            pipelines
                .into_iter()
                .map(|(service, notifier)| {
                    notifier.shutdown(FLUSH_TIMEOUT);
                    (service, notifier.stats())
                })
                .collect()
        })
        .await;
        delivered.unwrap_or_default()
    }
}
