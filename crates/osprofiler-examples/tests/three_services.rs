//! "Three services, one trace", run as it is meant to run: `dbsvc`, `worker` and `api` as
//! separate processes on the real RabbitMQ, each with its own config file, all storing trace
//! points in one SQLite file. One signed HTTP request (curl, when installed) must give one
//! trace whose tree goes wsgi (api) -> rpc (api, then worker) -> rpc (worker, then dbsvc) ->
//! db (dbsvc) -> SQL statements; unsigned requests and requests signed with an unknown key
//! are served and traced nowhere.

use osprofiler::driver::GetReport;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use osprofiler::driver::{get_driver, DriverOptions};
use serde_json::{json, Value};

/// How long a process may take to get ready or to stop, and a request to be answered.
const WAIT: Duration = Duration::from_secs(60);
const KEY: &str = "SECRET_KEY";

/// A running service; killed if the test fails half-way.
struct Service {
    name: &'static str,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Starts `bin` with `args` and waits for its `ready <name> ...` line; the rest of it.
    fn start(name: &'static str, bin: &str, args: &[&str]) -> (Service, String) {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stdout = child.stdout.take().unwrap();
        let service = Service { name, child };
        let line = osprofiler_testkit::first_line(stdout, WAIT)
            .unwrap_or_else(|| panic!("{name} is not ready within {WAIT:?}"));
        let rest = line
            .strip_prefix(&format!("ready {name} "))
            .unwrap_or_else(|| panic!("{name} printed {line:?}"));
        (service, rest.to_owned())
    }

    /// SIGTERM (the services flush their points then), and waits for a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop within {WAIT:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The folder of the example binaries (`target/debug`), where `osprofiler` is too once built.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_api"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The two trace headers and the trace's id: from the real `osprofiler trace start` when the
/// CLI is built (`cargo build -p osprofiler-cli`), else signed by the library as it does.
fn trace_start(key: &str) -> (Vec<(String, String)>, String) {
    let cli = bin_dir().join("osprofiler");
    if cli.exists() {
        let out = Command::new(&cli)
            .args(["trace", "start", "--hmac-key", key])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let headers = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (name, value) = l.split_once(": ").unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let base_id = stderr
            .strip_prefix("trace ")
            .and_then(|s| s.split(':').next())
            .unwrap_or_else(|| panic!("trace start said {stderr:?}"));
        return (headers, base_id.to_owned());
    }
    osprofiler_testkit::fall_back(
        "our `osprofiler` CLI (cargo build -p osprofiler-cli)",
        "signs the headers with the library instead of `osprofiler trace start`",
    );
    let base_id = osprofiler::TraceId::new_v4().to_text();
    let (info, hmac) = osprofiler::signing::pack_ids(&base_id, &base_id, key);
    let headers = vec![
        (osprofiler::signing::X_TRACE_INFO.to_owned(), info),
        (osprofiler::signing::X_TRACE_HMAC.to_owned(), hmac),
    ];
    (headers, base_id)
}

/// `POST {api}/servers` with `body` and `headers`, with curl when installed (as the README
/// shows), else reqwest: the status and the JSON answer.
async fn post_server(api: &str, headers: &[(String, String)], body: &Value) -> (u16, Value) {
    let url = format!("{api}/servers");
    let curl_here = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if curl_here {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "60", "-X", "POST"])
            .args(["-H", "Content-Type: application/json"])
            .args(["--data", &body.to_string()])
            .args(["-w", "\n%{http_code}"]);
        for (name, value) in headers {
            cmd.args(["-H", &format!("{name}: {value}")]);
        }
        let out = cmd.arg(&url).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        return (code.parse().unwrap(), serde_json::from_str(body).unwrap());
    }
    osprofiler_testkit::fall_back("curl", "sends the request with reqwest instead of curl");
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let mut request = client
        .post(&url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

/// The config file of one service, as an OpenStack service's.
fn write_config(
    dir: &Path,
    name: &str,
    amqp: &str,
    traces: &str,
    database: Option<&str>,
) -> String {
    // oslo.messaging's form of the broker URL; the services turn it back into lapin's.
    let transport_url = amqp.replacen("amqp://", "rabbit://", 1);
    let mut text = format!(
        "[DEFAULT]\ntransport_url = {transport_url}\n\n\
         [profiler]\nenabled = true\nhmac_keys = {KEY}\nconnection_string = {traces}\n\
         trace_sqlalchemy = true\n"
    );
    if let Some(db) = database {
        text.push_str(&format!("\n[database]\nconnection = {db}\n"));
    }
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The start payload of a report node: `info["meta.raw_payload.<name>-start"]["info"]`.
fn start_info(node: &Value) -> &Value {
    let name = node["info"]["name"].as_str().unwrap();
    &node["info"][format!("meta.raw_payload.{name}-start")]["info"]
}

fn children(node: &Value) -> &[Value] {
    node["children"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `(name, service, what)` of each child of `node`: `what` is the function's name for a
/// traced fn, the statement for SQL, the path for wsgi.
fn shape(node: &Value) -> Vec<(String, String, String)> {
    children(node)
        .iter()
        .map(|c| {
            let info = start_info(c);
            let what = info["function"]["name"]
                .as_str()
                .or(info["db"]["statement"].as_str())
                .or(info["request"]["path"].as_str())
                .unwrap_or("");
            (
                c["info"]["name"].as_str().unwrap().to_owned(),
                c["info"]["service"].as_str().unwrap().to_owned(),
                what.to_owned(),
            )
        })
        .collect()
}

fn row(name: &str, service: &str, what: &str) -> (String, String, String) {
    (name.to_owned(), service.to_owned(), what.to_owned())
}

/// Every node's `parent_id` is its parent's `trace_id`; collects the services seen.
fn check_parents(node: &Value, parent: &str, services: &mut BTreeSet<String>) {
    for child in children(node) {
        assert_eq!(child["parent_id"], parent, "{child:#}");
        services.insert(child["info"]["service"].as_str().unwrap().to_owned());
        check_parents(child, child["trace_id"].as_str().unwrap(), services);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_signed_request_gives_one_trace_across_three_processes() {
    let Some(amqp) = osprofiler_testkit::rabbitmq() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("nova.sqlite").display());
    three_services(&amqp, dir.path(), &database).await;
}

/// The same with the database layer on PostgreSQL (the trace store stays a fresh SQLite
/// file, so that it holds this run's traces only).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_layer_on_postgresql() {
    let Some(amqp) = osprofiler_testkit::rabbitmq() else {
        return;
    };
    let Some(postgres) = osprofiler_testkit::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    three_services(&amqp, dir.path(), &postgres).await;
}

/// Runs the three services with the database at `database` and the trace store in `dir`,
/// sends the requests and checks the trace.
async fn three_services(amqp: &str, dir: &Path, database: &str) {
    let traces = format!("sqlite://{}", dir.join("traces.sqlite").display());
    let compute_queue = osprofiler_testkit::unique_name("osprofiler-example-compute");
    let conductor_queue = osprofiler_testkit::unique_name("osprofiler-example-conductor");

    let dbsvc_conf = write_config(dir, "dbsvc", amqp, &traces, Some(database));
    let worker_conf = write_config(dir, "worker", amqp, &traces, None);
    let api_conf = write_config(dir, "api", amqp, &traces, None);
    let (dbsvc, _) = Service::start(
        "dbsvc",
        env!("CARGO_BIN_EXE_dbsvc"),
        &["--config", &dbsvc_conf, "--queue", &conductor_queue],
    );
    let (worker, _) = Service::start(
        "worker",
        env!("CARGO_BIN_EXE_worker"),
        &[
            "--config",
            &worker_conf,
            "--queue",
            &compute_queue,
            "--conductor-queue",
            &conductor_queue,
        ],
    );
    let (api, api_url) = Service::start(
        "api",
        env!("CARGO_BIN_EXE_api"),
        &[
            "--config",
            &api_conf,
            "--listen",
            "127.0.0.1:0",
            "--worker-queue",
            &compute_queue,
        ],
    );

    // Not traced: no headers, and headers signed with a key the API does not hold.
    let (status, unsigned) = post_server(&api_url, &[], &json!({"name": "vm-0"})).await;
    assert_eq!(status, 201, "{unsigned}");
    assert_eq!(unsigned["server"]["status"], "ACTIVE");
    let (wrong_headers, wrong_base_id) = trace_start("NOT_THE_KEY");
    let (status, wrong) = post_server(&api_url, &wrong_headers, &json!({"name": "vm-x"})).await;
    assert_eq!(status, 201, "{wrong}");

    // The traced request.
    let (headers, base_id) = trace_start(KEY);
    let (status, created) = post_server(
        &api_url,
        &headers,
        &json!({"name": "vm-1", "flavor": "m1.small"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let server = &created["server"];
    assert_eq!(
        (&server["name"], &server["flavor"], &server["status"]),
        (&json!("vm-1"), &json!("m1.small"), &json!("ACTIVE"))
    );
    let instance_id = server["id"].as_str().unwrap().to_owned();

    // SIGTERM: each service flushes its points to the store and exits cleanly.
    api.stop();
    worker.stop();
    dbsvc.stop();

    let driver = get_driver(DriverOptions::new(traces.as_str()))
        .await
        .unwrap();
    let listed = driver.list_traces(&[]).await.unwrap();
    let ids: Vec<&str> = listed
        .iter()
        .filter_map(|t| t["base_id"].as_str())
        .collect();
    assert_eq!(ids, [base_id.as_str()], "only the signed request is traced");
    assert_ne!(wrong_base_id, base_id);

    let report = serde_json::to_value(driver.get_report(&base_id).await.unwrap()).unwrap();
    let mut services = BTreeSet::new();
    check_parents(&report, &base_id, &mut services);
    assert_eq!(
        services,
        BTreeSet::from(["api".into(), "compute".into(), "conductor".into()]),
        "{report:#}"
    );

    // wsgi (api) -> rpc: the API's call to the worker.
    assert_eq!(
        shape(&report),
        [row("wsgi", "api", "/servers")],
        "{report:#}"
    );
    let wsgi = &children(&report)[0];
    assert_eq!(start_info(wsgi)["request"]["method"], "POST");
    assert_eq!(
        shape(wsgi),
        [row(
            "rpc",
            "api",
            "osprofiler_examples::compute::ComputeApi::build_instance"
        )]
    );
    // -> rpc: the worker's method, in the worker.
    let api_call = &children(wsgi)[0];
    assert_eq!(
        shape(api_call),
        [row(
            "rpc",
            "compute",
            "osprofiler_examples::worker::WorkerManager::build_instance"
        )]
    );
    assert_eq!(
        start_info(&children(api_call)[0])["function"]["args"],
        r#"(WorkerManager, "vm-1", "m1.small")"#
    );
    // -> its two calls to the database layer, around the hypervisor's work.
    let worker_method = &children(api_call)[0];
    assert_eq!(
        shape(worker_method),
        [
            row(
                "rpc",
                "compute",
                "osprofiler_examples::worker::ConductorApi::instance_create"
            ),
            row(
                "driver",
                "compute",
                "osprofiler_examples::worker::driver_spawn"
            ),
            row(
                "rpc",
                "compute",
                "osprofiler_examples::worker::ConductorApi::instance_update"
            ),
        ]
    );
    // -> rpc (dbsvc) -> db (the database API) -> db (each SQL statement, with its params).
    let create = &children(worker_method)[0];
    assert_eq!(
        shape(create),
        [row(
            "rpc",
            "conductor",
            "osprofiler_examples::conductor::ConductorManager::instance_create"
        )]
    );
    let db_api = &children(&children(create)[0]);
    assert_eq!(
        shape(&children(create)[0]),
        [row(
            "db",
            "conductor",
            "osprofiler_examples::conductor::instance_create"
        )]
    );
    let sql = &children(&db_api[0]);
    assert_eq!(
        shape(&db_api[0]),
        [row(
            "db",
            "conductor",
            "INSERT INTO instances (id, name, flavor, status) VALUES ($1, $2, $3, $4)"
        )]
    );
    assert_eq!(
        start_info(&sql[0])["db"]["params"],
        json!([instance_id, "vm-1", "m1.small", "BUILDING"])
    );

    let update = &children(worker_method)[2];
    let update_method = &children(update)[0];
    assert_eq!(
        shape(update_method),
        [row(
            "db",
            "conductor",
            "osprofiler_examples::conductor::instance_update"
        )]
    );
    assert_eq!(
        shape(&children(update_method)[0]),
        [
            row(
                "db",
                "conductor",
                "UPDATE instances SET status = $1 WHERE id = $2"
            ),
            row(
                "db",
                "conductor",
                "SELECT id, name, flavor, status FROM instances WHERE id = $1"
            ),
        ]
    );
    assert_eq!(
        start_info(&children(&children(update_method)[0])[0])["db"]["params"],
        json!(["ACTIVE", instance_id])
    );

    // Nothing else in the trace.
    for (name, count) in [("wsgi", 1), ("rpc", 6), ("db", 5), ("driver", 1)] {
        assert_eq!(report["stats"][name]["count"], count, "{name}: {report:#}");
    }
    assert_eq!(report["stats"].as_object().unwrap().len(), 4);

    // The CLI shows the same tree, when it is built.
    let cli = bin_dir().join("osprofiler");
    if cli.exists() {
        let out = Command::new(&cli)
            .args(["trace", "show", &base_id, "--connection-string", &traces])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for word in ["wsgi", "rpc", "db", "driver"] {
            assert!(text.contains(word), "{word} not in:\n{text}");
        }
    } else {
        osprofiler_testkit::fall_back(
            "our `osprofiler` CLI (cargo build -p osprofiler-cli)",
            "checks the library's report, not `osprofiler trace show`",
        );
    }
}
