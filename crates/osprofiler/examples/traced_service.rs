//! A tiny traced "service": a request handler that verifies signed trace headers, then runs
//! sync, async and impl-block trace points, with work spawned onto other tasks. It prints the
//! notifications it recorded and the report built from them.
//!
//! Run: `cargo run -p osprofiler --example traced_service`

use osprofiler::driver::GetReport;
use std::sync::Arc;
use std::time::Duration;

use osprofiler::driver::memory::MemoryDriver;
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::signing::{pack_ids, Verifier};
use osprofiler::{profiler, trace, trace_impl, ProfilerExt, Trace};

#[derive(Debug)]
struct Db;

#[trace_impl(name = "db")]
impl Db {
    pub fn instance_get(&self, id: u32) -> Result<String, std::io::Error> {
        if id == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no instance 0",
            ));
        }
        Ok(format!("instance-{id}"))
    }
}

/// A plain sync fn: its arguments are hidden (`hide_args`), its result recorded.
#[trace(name = "scheduler", hide_args, hide_result = false)]
fn pick_host(flavor: &str, hosts: &[&str]) -> String {
    hosts[flavor.len() % hosts.len()].to_owned()
}

#[trace(name = "driver", hide_result = false)]
async fn plug_vif(port: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    port * 10
}

/// What the HTTP server middleware (`osprofiler-tower`) does with each request, by hand:
/// verify the trace headers with the service's keys (Python's `WsgiMiddleware` rules), then
/// run the request under a profiler of its own.
async fn handle_request(info: &str, hmac: &str, verifier: &Verifier, pipeline: Arc<BatchNotifier>) {
    let Some(trace) = verifier.verify_trace(info, hmac) else {
        println!("unsigned request: runs unprofiled");
        return;
    };
    let p = trace.into_profiler(Some(pipeline));
    async {
        let _wsgi = Trace::start("wsgi", None);
        let db = Db;
        let _ = db.instance_get(7);
        let _ = db.instance_get(0);
        let _host = pick_host("m1.small", &["node-1", "node-2"]);
        // Two ports plugged in parallel tasks: each joins this trace under the wsgi point.
        let a = profiler::spawn(plug_vif(1));
        let b = profiler::spawn(plug_vif(2));
        let _ = (a.await, b.await);
    }
    .with_profiler(Some(p))
    .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let store = Arc::new(MemoryDriver::new());
    let pipeline = BatchNotifier::start(
        store.clone(),
        BatchConfig {
            project: Some("example".into()),
            service: Some("api".into()),
            ..BatchConfig::default()
        },
    );

    // The caller (`osprofiler trace start --hmac-key SECRET_KEY`) signs the headers.
    let base_id = "6c4a2d7e-1f7b-4a7e-9d51-2f1e3e0b5a11";
    let (info, hmac) = pack_ids(base_id, base_id, "SECRET_KEY");
    // Made once, at start-up: the keys, with key rotation (the old one still accepted).
    let verifier = Verifier::new(["OLD_KEY", "SECRET_KEY"]);
    handle_request(&info, &hmac, &verifier, pipeline.clone()).await;
    handle_request(&info, "bad-signature", &verifier, pipeline.clone()).await;

    pipeline.flush(Duration::from_secs(5));
    for n in store.notifications() {
        println!("{} {} parent={}", n.name, n.trace_id, n.parent_id);
    }
    let report = store
        .get_report(base_id)
        .await
        .expect("the memory store reads");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("a report serializes")
    );
    println!("pipeline: {:?}", pipeline.stats());
}
