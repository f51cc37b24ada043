//! `osprofiler demo`, in two modes.
//!
//! Without `--connection-string` ([`live`]): a collector and the example services of
//! `crates/osprofiler-examples` run in this process, signed requests go through them, and the
//! traces are served in the web UI until Ctrl-C.
//!
//! With `--connection-string CS` (this module, for scripts): a small traced workload run in
//! this process, the way a service would be profiled, stored in CS and shown, then exit.
//! Two "services" share the process: `api` (an HTTP handler: a `wsgi` point, `db` calls, an
//! outgoing `http` call, tasks spawned with [`osprofiler::profiler::spawn`]) and `compute`
//! (reached by an RPC whose request context carries the trace, as nova's does: `rpc` and
//! parallel `driver` points, one of which fails). Each service has its own notifier pipeline
//! to the same store, as two processes would. Its code stays in this module: the trace names
//! its functions by their path (`osprofiler::demo::Db::instance_create`).

mod client;
mod collector;
pub mod live;
mod services;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;
use osprofiler::driver::memory::MemoryDriver;
use osprofiler::driver::GetReport;
use osprofiler::driver::{
    default_connection_string, mask_password, Driver, DriverError, DriverOptions,
};
use osprofiler::notification::Notification;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::profiler::{self, Profiler};
use osprofiler::signing::{pack_ids, signed_unpack};
use osprofiler::{Info, ProfilerExt, Trace};
use serde_json::{json, Value};

use crate::show::{emit, Format, ShownReport};

/// The demo's key, Python OSprofiler's default `hmac_keys`.
const HMAC_KEY: &str = "SECRET_KEY";
const PROJECT: &str = "demo";

/// Runs the scripts' demo, stores it through `options` (the connection string, and the broker of
/// `messaging://`), prints its tree and how to see it again.
pub async fn run(mut options: DriverOptions) -> Result<()> {
    let connection_string = options.connection_string.clone();
    let connection_string = connection_string.as_str();
    let masked = mask_password(connection_string);
    let transport_url = options.config.transport_url.clone();
    // As `init_from_conf` does, per service: the driver, a queue pipeline to it, and (for the
    // service of this process) the process-wide notifier. The driver is kept to read back.
    options.project = Some(PROJECT.to_owned());
    options.service = Some("api".to_owned());
    let host = options.host.clone();
    let store = crate::show::open_driver(options).await?;
    // A store that cannot show a trace again (`otlp://` is write-only; reading `messaging://`
    // takes the trace off the queue) is written through a tee, and the tree is read from
    // its in-memory copy, so the trace stays there for `trace show` or a collector.
    let copy = (!can_read_again(connection_string)).then(|| Arc::new(MemoryDriver::new()));
    let driver: Arc<dyn Driver> = match &copy {
        Some(copy) => Arc::new(Tee {
            store: store.clone(),
            copy: copy.clone(),
        }),
        None => store.clone(),
    };
    let pipeline = |service: &str| {
        BatchNotifier::start(
            driver.clone(),
            BatchConfig {
                host: host.clone(),
                project: Some(PROJECT.to_owned()),
                service: Some(service.to_owned()),
                ..BatchConfig::default()
            },
        )
    };
    let api = pipeline("api");
    let compute = pipeline("compute");
    let _ = osprofiler::notifier::set_global(api.clone());

    // A client starts the trace with signed headers (what `osprofiler trace start` prints);
    // the API's middleware verifies them and profiles the request.
    let base_id = osprofiler::TraceId::new_v4().to_string();
    let (x_trace_info, x_trace_hmac) = pack_ids(&base_id, &base_id, HMAC_KEY);
    let trace_info = signed_unpack(&x_trace_info, &x_trace_hmac, &[HMAC_KEY])
        .ok_or_else(|| anyhow!("the demo's own trace headers do not verify"))?;
    let profiler = Profiler::new(
        HMAC_KEY,
        trace_info.get("base_id").and_then(Value::as_str),
        trace_info.get("parent_id").and_then(Value::as_str),
    );
    let compute_service = ComputeService {
        notifier: compute.clone(),
    };
    tokio::spawn(api_create_server(compute_service).with_profiler(Some(profiler)))
        .await
        .context("the demo request failed")?;

    // Deliver everything (what the pipelines' guards do at the end of `main`).
    let (api2, compute2) = (api.clone(), compute.clone());
    let flushed = tokio::task::spawn_blocking(move || {
        api2.shutdown(Duration::from_secs(10)) & compute2.shutdown(Duration::from_secs(10))
    })
    .await?;
    let lost: u64 = [api.stats(), compute.stats()]
        .iter()
        .map(|s| s.failed + s.dropped)
        .sum();
    if !flushed || lost > 0 {
        bail!("could not store the demo trace in {masked} ({lost} trace points lost)");
    }

    let reader: Arc<dyn Driver> = match copy {
        Some(copy) => copy,
        None => store,
    };
    let report = reader
        .get_report(&base_id)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let shown = ShownReport::Built(report);
    if shown.is_empty() {
        bail!("the demo trace {base_id} is not in {masked} after storing it");
    }
    emit(&shown, Format::Tree, None)?;

    println!();
    if connection_string.starts_with("memory") {
        println!("Trace {base_id} was kept in memory only; store it with --connection-string sqlite://PATH.");
        return Ok(());
    }
    if connection_string.starts_with("otlp") {
        println!("Trace {base_id} was exported to {masked} (write only: see it in the OpenTelemetry backend).");
        return Ok(());
    }
    println!("Trace {base_id} is stored in {masked}. See it again with:");
    let mut command = String::from("  osprofiler trace show ");
    command.push_str(&base_id);
    if connection_string != default_connection_string() {
        command.push_str(" --connection-string ");
        command.push_str(&shell_quote(&masked));
    }
    // The broker matters to `messaging://` only (as `--transport-url` does).
    if let Some(url) = transport_url
        .as_ref()
        .filter(|_| connection_string.starts_with("messaging"))
    {
        command.push_str(" --transport-url ");
        command.push_str(&shell_quote(&mask_password(url)));
    }
    println!("{command}");
    Ok(())
}

/// `s` as one shell word.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn info(v: Value) -> Option<Info> {
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

async fn work(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

// ---- the api service ----

/// `POST /v2.1/servers`: the handler a profiled HTTP service would run (its `wsgi` point is
/// what the HTTP middleware records).
async fn api_create_server(compute: ComputeService) {
    let _wsgi = Trace::start(
        "wsgi",
        info(json!({"request": {
            "path": "/v2.1/servers",
            "query": "",
            "method": "POST",
            "scheme": "http",
        }})),
    );
    let db = Db;
    let instance = db.instance_create("demo-vm").await;

    // Independent work in parallel tasks; each task carries a fork of the trace.
    let quota = profiler::spawn(async move { Db.quota_reserve("instances", 1).await });
    let image = profiler::spawn(http_get("image.demo.invalid", "/v2/images/cirros", 4));
    let _ = tokio::join!(quota, image);

    // An RPC call: the request context carries the trace to the other service.
    let context = rpc_context();
    compute.build_and_run_instance(context, instance).await;

    db.instance_update(instance, "active").await;
}

/// The api's database layer: every method is a `db` point.
#[derive(Debug, Clone, Copy)]
struct Db;

#[osprofiler::trace_impl(name = "db")]
impl Db {
    pub async fn instance_create(&self, name: &str) -> u64 {
        work(3).await;
        let _ = name;
        42
    }

    pub async fn quota_reserve(&self, resource: &str, count: u32) {
        let _ = (resource, count);
        work(2).await;
    }

    pub async fn instance_update(&self, instance: u64, vm_state: &str) {
        let _ = (instance, vm_state);
        work(1).await;
    }
}

/// An outgoing HTTP request, recorded as the HTTP client middleware records it.
async fn http_get(hostname: &str, path: &str, ms: u64) {
    let point = Trace::start(
        "http",
        info(json!({"requests": {
            "method": "GET", "query": "", "path": path,
            "hostname": hostname, "port": 80, "scheme": "http",
        }})),
    );
    work(ms).await;
    if let Some(stop) = info(json!({"requests": {"status_code": 200}})) {
        point.stop_with(stop);
    }
}

/// `trace_info` as nova puts it in the RPC request context.
fn rpc_context() -> Value {
    match profiler::get() {
        Some(p) => json!({"trace_info": {
            "hmac_key": p.hmac_key(),
            "base_id": p.base_id().to_string(),
            "parent_id": p.id().to_string(),
        }}),
        None => json!({}),
    }
}

// ---- the compute service ----

struct ComputeService {
    notifier: Arc<BatchNotifier>,
}

impl ComputeService {
    /// The RPC server: the profiler comes from the request context (nova's
    /// `ProfilerRequestContextSerializer`), and the call runs as that service's own task.
    async fn build_and_run_instance(&self, context: Value, instance: u64) {
        let t = &context["trace_info"];
        let profiler = t["hmac_key"].as_str().map(|key| {
            Profiler::with_notifier(
                key,
                t["base_id"].as_str(),
                t["parent_id"].as_str(),
                self.notifier.clone(),
            )
        });
        let manager = ComputeManager {
            driver: LibvirtDriver,
        };
        let call = async move { manager.build_and_run_instance(instance).await };
        let _ = tokio::spawn(call.with_profiler(profiler)).await;
    }
}

/// The RPC endpoint: every method is an `rpc` point.
#[derive(Debug)]
struct ComputeManager {
    driver: LibvirtDriver,
}

#[osprofiler::trace_impl(name = "rpc")]
impl ComputeManager {
    pub async fn build_and_run_instance(&self, instance: u64) {
        let driver = self.driver;
        let spawn = profiler::spawn(async move { driver.spawn(instance).await });
        let vifs = profiler::spawn(async move {
            // The first attempt fails (an `Err` is recorded as Python records an exception);
            // the retry works.
            for attempt in 1..=3 {
                if driver.plug_vifs(instance, attempt).await.is_ok() {
                    break;
                }
            }
        });
        let _ = tokio::join!(spawn, vifs);
    }
}

/// The hypervisor driver: every method is a `driver` point.
#[derive(Debug, Clone, Copy)]
struct LibvirtDriver;

#[osprofiler::trace_impl(name = "driver")]
impl LibvirtDriver {
    pub async fn spawn(&self, instance: u64) {
        let _ = instance;
        work(12).await;
    }

    pub async fn plug_vifs(&self, instance: u64, attempt: u32) -> Result<(), VifPlugFailed> {
        let _ = instance;
        work(2).await;
        if attempt == 1 {
            Err(VifPlugFailed { port: "3f2a" })
        } else {
            Ok(())
        }
    }
}

/// The demo's one failure.
#[derive(Debug)]
struct VifPlugFailed {
    port: &'static str,
}

impl std::fmt::Display for VifPlugFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "port {} is busy", self.port)
    }
}

impl std::error::Error for VifPlugFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(
            shell_quote("sqlite:///tmp/a b.db"),
            "'sqlite:///tmp/a b.db'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}

/// Whether reading a trace from `connection_string` leaves it there to be read again.
fn can_read_again(connection_string: &str) -> bool {
    !(connection_string.starts_with("messaging") || connection_string.starts_with("otlp"))
}

/// Writes to the store and keeps a copy in memory: the demo's tree comes from the copy when
/// the store cannot be read back without losing the trace.
#[derive(Debug)]
struct Tee {
    store: Arc<dyn Driver>,
    copy: Arc<MemoryDriver>,
}

#[async_trait]
impl Driver for Tee {
    fn name(&self) -> &'static str {
        self.store.name()
    }

    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        // Only what the store accepted is shown.
        self.store.notify(batch).await?;
        self.copy.notify(batch).await
    }
}
