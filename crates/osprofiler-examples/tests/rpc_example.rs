//! Runs the RPC example as it is meant to run: `rpc_server` and `rpc_client` as separate
//! processes on the real RabbitMQ, both storing trace points in one SQLite file, then reads
//! the traces back with the library's driver and checks their trees.

use osprofiler::driver::GetReport;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use osprofiler::driver::{get_driver, DriverOptions};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// Kills the server if the test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(amqp: &str, queue: &str, cs: &str, max_requests: u32) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpc_server"))
        .args([
            "--amqp-url",
            amqp,
            "--queue",
            queue,
            "--connection-string",
            cs,
        ])
        .args(["--max-requests", &max_requests.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rpc_server starts");
    let stdout = child.stdout.take().unwrap();
    let line = osprofiler_testkit::first_line(stdout, WAIT).expect("rpc_server is ready in time");
    assert_eq!(line, format!("ready {queue}"));
    Server(child)
}

/// Runs `rpc_client` to its end (bounded by `WAIT`); its output.
fn run_client(amqp: &str, queue: &str, cs: &str, key: &str, call: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpc_client"))
        .args([
            "--amqp-url",
            amqp,
            "--queue",
            queue,
            "--connection-string",
            cs,
        ])
        .args(["--hmac-key", key, "--timeout", "20"])
        .args(call)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("rpc_client starts");
    wait(&mut child, "rpc_client");
    child.wait_with_output().unwrap()
}

fn wait(child: &mut Child, what: &str) {
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The client's printed line.
fn client_line(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

async fn read_report(cs: &str, base_id: &str) -> Value {
    let driver = get_driver(DriverOptions::new(cs)).await.unwrap();
    let report = driver.get_report(base_id).await.unwrap();
    serde_json::to_value(&report).unwrap()
}

/// The start payload of a node: `info["meta.raw_payload.<name>-start"]`.
fn start_payload(node: &Value) -> &Value {
    let name = node["info"]["name"].as_str().unwrap();
    &node["info"][format!("meta.raw_payload.{name}-start")]
}

fn function_name(node: &Value) -> &str {
    start_payload(node)["info"]["function"]["name"]
        .as_str()
        .unwrap()
}

fn sqlite_in(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("traces.sqlite").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_client_through_the_server() {
    let Some(amqp) = osprofiler_testkit::rabbitmq() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cs = sqlite_in(dir.path());
    let queue = osprofiler_testkit::unique_name("osprofiler-rpc-example");
    let mut server = start_server(&amqp, &queue, &cs, 3);

    let built = run_client(
        &amqp,
        &queue,
        &cs,
        "SECRET_KEY",
        &["build-instance", "--name", "vm-1"],
    );
    assert!(built.status.success(), "{built:?}");
    let failed = run_client(
        &amqp,
        &queue,
        &cs,
        "SECRET_KEY",
        &["reboot-instance", "--id", "nope"],
    );
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let unknown_key = run_client(
        &amqp,
        &queue,
        &cs,
        "NOT_THE_KEY",
        &["build-instance", "--name", "vm-2"],
    );
    assert!(unknown_key.status.success(), "{unknown_key:?}");

    // The server stops after its 3 requests and flushes its points.
    wait(&mut server.0, "rpc_server");
    assert!(server.0.try_wait().unwrap().unwrap().success());

    // 1. A traced call: client rpc point -> server rpc point -> db and driver points.
    let line = client_line(&built);
    assert_eq!(line["result"]["name"], "vm-1");
    let base_id = line["base_id"].as_str().unwrap();
    let report = read_report(&cs, base_id).await;
    let roots = report["children"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "{report:#}");
    let client = &roots[0];
    assert_eq!(client["info"]["name"], "rpc");
    assert_eq!(client["info"]["service"], "api");
    assert_eq!(
        function_name(client),
        "osprofiler_examples::compute::ComputeApi::build_instance"
    );
    let servers = client["children"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{report:#}");
    let server_point = &servers[0];
    assert_eq!(server_point["info"]["name"], "rpc");
    assert_eq!(server_point["info"]["service"], "compute");
    assert_eq!(server_point["parent_id"], client["trace_id"]);
    let function = &start_payload(server_point)["info"]["function"];
    assert_eq!(
        function["name"],
        "osprofiler_examples::compute::ComputeManager::build_instance"
    );
    assert_eq!(function["args"], r#"(ComputeManager, "vm-1", "m1.tiny")"#);
    assert_eq!(function["kwargs"], "{}");
    let kinds: Vec<&str> = server_point["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["info"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["db", "driver"]);
    // The store holds exactly these four points under the trace's base_id.
    for (kind, count) in [("rpc", 2), ("db", 1), ("driver", 1)] {
        assert_eq!(report["stats"][kind]["count"], count, "{report:#}");
    }
    assert_eq!(report["stats"].as_object().unwrap().len(), 3);

    // 2. A failing call: both rpc points stop with Python's error info.
    let line = client_line(&failed);
    let report = read_report(&cs, line["base_id"].as_str().unwrap()).await;
    let client = &report["children"][0];
    let server_point = &client["children"][0];
    assert_eq!(
        server_point["info"]["exception"],
        "osprofiler_examples::compute::ComputeError"
    );
    assert_eq!(
        client["info"]["exception"],
        "osprofiler_examples::amqp::RpcError"
    );

    // 3. A trace signed with a key the server does not hold: the call is served, unprofiled.
    let line = client_line(&unknown_key);
    assert_eq!(line["result"]["name"], "vm-2");
    let report = read_report(&cs, line["base_id"].as_str().unwrap()).await;
    let roots = report["children"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    assert!(
        roots[0]["children"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
}
