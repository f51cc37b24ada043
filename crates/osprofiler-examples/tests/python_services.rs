//! Interop with Python services (issue 4, item 8), on loopback with the real Redis as the one
//! trace store and the real Python OSprofiler 4.4.0:
//!
//! - a Python client (`tests/python/client.py`) starts a trace with Python's profiler and
//!   calls our axum service with the headers of Python's `get_trace_id_headers()`: our
//!   `ServerTraceLayer` verifies them and records a `wsgi` point in that trace;
//! - our handler calls a Python WSGI service (`tests/python/wsgi_app.py`, wrapped in Python's
//!   own `WsgiMiddleware`) through reqwest with our `ClientTrace`: it records an
//!   `http` point and signs headers that Python's middleware accepts, so the Python service's
//!   `wsgi` and `db` points join the same trace;
//! - every side writes to Redis in Python's layout (ours through `osprofiler-redis`), and the
//!   trace reads the same through our CLI's code path (`get_driver` + `get_report`) and
//!   through Python's own `osprofiler trace show --json`: one report, values and key order,
//!   whose tree is client (Python) -> wsgi (ours) -> http (ours) -> wsgi (Python) -> db
//!   (Python), every parent id right, one base id.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use osprofiler::driver::GetReport;
use osprofiler::driver::{get_driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler_reqwest::ClientTrace;
use osprofiler_tower::ServerTraceLayer;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};

const KEY: &str = "SECRET_KEY";
/// How long a process may take to get ready, and a call or a flush to finish.
const WAIT: Duration = Duration::from_secs(60);

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// The Python WSGI service, killed when dropped (the test failing half-way included); what it
/// wrote on stderr is shown then if the test failed.
struct PythonService {
    child: Child,
    /// Reads the service's stderr to its end (the process's exit).
    stderr: Option<JoinHandle<String>>,
}

impl PythonService {
    /// Starts `wsgi_app.py` and waits for its `ready PORT` line; the service and its port.
    fn start(python: &Path, redis_url: &str, project: &str) -> (PythonService, u16) {
        let mut child = Command::new(python)
            .arg(script("wsgi_app.py"))
            .args([redis_url, project])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        // Kept, not shown, unless the test fails.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let service = PythonService {
            child,
            stderr: Some(stderr),
        };
        let line = osprofiler_testkit::first_line(stdout, WAIT)
            .unwrap_or_else(|| panic!("wsgi_app.py is not ready within {WAIT:?} (or exited)"));
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("wsgi_app.py printed {line:?}"));
        (service, port)
    }
}

impl Drop for PythonService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = self.stderr.take().and_then(|h| h.join().ok());
        if std::thread::panicking() {
            eprintln!("wsgi_app.py stderr:\n{}", stderr.unwrap_or_default());
        }
    }
}

/// Deletes the trace's keys from the shared Redis when dropped, so a failed run leaves
/// nothing behind.
struct Cleanup {
    url: String,
    base_id: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let deleted = redis::Client::open(self.url.as_str()).and_then(|client| {
            let mut con = client.get_connection_with_timeout(Duration::from_secs(5))?;
            con.set_read_timeout(Some(Duration::from_secs(5)))?;
            con.set_write_timeout(Some(Duration::from_secs(5)))?;
            redis::cmd("DEL")
                .arg(format!("osprofiler_opt:{}", self.base_id))
                .arg(format!("osprofiler_error:{}", self.base_id))
                .query::<i64>(&mut con)
        });
        if let Err(e) = deleted {
            eprintln!("could not delete trace {}: {e}", self.base_id);
        }
    }
}

/// Our API's one route: calls the Python service through the traced client and answers
/// what it said.
async fn items(State((client, python)): State<(ClientWithMiddleware, String)>) -> String {
    let response = client
        .get(format!("{python}/v1/items?limit=2"))
        .send()
        .await
        .expect("the Python service answers");
    assert_eq!(response.status(), 200);
    response.text().await.expect("the Python service's body")
}

/// Our `osprofiler` binary, beside the test binaries once built (`cargo test --workspace`
/// builds it; `cargo build -p osprofiler-cli` otherwise).
fn our_cli() -> Option<PathBuf> {
    let dir = std::env::current_exe().ok()?.parent()?.parent()?.to_owned();
    let cli = dir.join("osprofiler");
    cli.exists().then_some(cli)
}

fn children(node: &Value) -> &[Value] {
    node["children"].as_array().map_or(&[], Vec::as_slice)
}

/// The payload of `<name>-<phase>` in a report node.
fn payload<'a>(node: &'a Value, phase: &str) -> &'a Value {
    let name = node["info"]["name"].as_str().expect("a node has a name");
    &node["info"][format!("meta.raw_payload.{name}-{phase}")]
}

#[test]
fn python_client_to_our_service_to_a_python_service_is_one_trace() {
    let (Some(url), Some(python)) = (osprofiler_testkit::redis(), osprofiler_testkit::python())
    else {
        return;
    };
    let project = osprofiler_testkit::unique_name("python-interop");
    let base_id = osprofiler::TraceId::new_v4().to_string();
    let _cleanup = Cleanup {
        url: url.clone(),
        base_id: base_id.clone(),
    };
    let (_python_service, python_port) = PythonService::start(&python, &url, &project);

    // Our service: the tower layer, its points (and the client's) through a batch notifier
    // into our Redis driver, in Python's layout.
    osprofiler_redis::register();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let driver = rt
        .block_on(get_driver(DriverOptions::new(url.as_str())))
        .unwrap_or_else(|e| panic!("our Redis driver connects: {e}"));
    let notifier = BatchNotifier::start(
        driver.clone(),
        BatchConfig {
            host: "rust-host".into(),
            project: Some(project.clone()),
            service: Some("rust-api".into()),
            ..BatchConfig::default()
        },
    );
    let client = ClientBuilder::new(reqwest::Client::builder().timeout(WAIT).build().unwrap())
        .with(ClientTrace::new())
        .build();
    let python_url = format!("http://127.0.0.1:{python_port}");
    let app = Router::new()
        .route("/api/items", get(items))
        .with_state((client, python_url))
        .layer(
            ServerTraceLayer::new([KEY])
                .enabled(true)
                .notifier(notifier.clone()),
        );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let api = listener.local_addr().unwrap();
    // Served by the runtime's workers while this thread runs the Python client.
    let server = rt.spawn(async move { axum::serve(listener, app).await });

    let said = osprofiler_testkit::run_python_json(
        &python,
        &script("client.py"),
        &json!({
            "url": format!("http://{api}/api/items?verbose=1"),
            "connection_string": url,
            "project": project,
            "base_id": base_id,
        }),
    );
    assert_eq!(said["status"], 200, "{said}");
    assert_eq!(said["base_id"], base_id.as_str());
    // The Python service ran in the very trace the Python client started.
    assert_eq!(said["body"]["base_id"], base_id.as_str(), "{said}");
    assert_eq!(said["body"]["items"], json!(["a", "b"]));

    // Python's drivers write as each point happens; ours batches: flush it.
    assert!(
        notifier.flush(WAIT),
        "our points reach Redis within {WAIT:?}"
    );
    let stats = notifier.stats();
    assert_eq!((stats.failed, stats.dropped), (0, 0), "{stats:?}");
    assert_eq!(stats.sent, 4, "our wsgi and http points, start and stop");
    server.abort();

    // One report, whoever reads it.
    let ours = serde_json::to_value(rt.block_on(driver.get_report(&base_id)).unwrap()).unwrap();
    let python_text = osprofiler_testkit::trace_show_json(
        &osprofiler_testkit::python_cli(&python),
        &base_id,
        &url,
        &[],
    );
    let theirs: Value = serde_json::from_str(&python_text).expect("Python's CLI prints JSON");
    assert_eq!(
        serde_json::to_string(&ours).unwrap(),
        serde_json::to_string(&theirs).unwrap(),
        "our report differs from Python's `osprofiler trace show`"
    );
    // And our command prints it byte for byte as Python's does.
    match our_cli() {
        Some(cli) => assert_eq!(
            osprofiler_testkit::trace_show_json(&cli, &base_id, &url, &[]),
            python_text,
            "our `osprofiler trace show --json` differs from Python's"
        ),
        None => osprofiler_testkit::fall_back(
            "our `osprofiler` CLI (cargo build -p osprofiler-cli)",
            "compares the library's report, not our CLI's bytes",
        ),
    }

    // Its tree: client (Python) -> wsgi (ours) -> http (ours) -> wsgi (Python) -> db (Python).
    let expected = [
        ("client", "python-client"),
        ("wsgi", "rust-api"),
        ("http", "rust-api"),
        ("wsgi", "python-wsgi"),
        ("db", "python-wsgi"),
    ];
    let roots = children(&ours);
    assert_eq!(roots.len(), 1, "one root: {ours}");
    let mut chain = Vec::new();
    let mut node = &roots[0];
    let mut parent_id = base_id.clone();
    loop {
        let info = &node["info"];
        assert_eq!(info["project"], project.as_str(), "{node}");
        assert_eq!(node["parent_id"], parent_id.as_str(), "{node}");
        for phase in ["start", "stop"] {
            let p = payload(node, phase);
            assert_eq!(p["base_id"], base_id.as_str(), "{phase} of {node}");
            assert_eq!(p["parent_id"], parent_id.as_str(), "{phase} of {node}");
            assert_eq!(p["trace_id"], node["trace_id"], "{phase} of {node}");
        }
        chain.push((
            info["name"].as_str().unwrap().to_owned(),
            info["service"].as_str().unwrap().to_owned(),
        ));
        parent_id = node["trace_id"].as_str().unwrap().to_owned();
        match children(node) {
            [] => break,
            [only] => node = only,
            more => panic!("{} children under {parent_id}: {ours}", more.len()),
        }
    }
    let chain: Vec<(&str, &str)> = chain
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    assert_eq!(chain, expected);

    // What each side recorded is what the request was.
    let client = &roots[0];
    assert_eq!(client["trace_id"], said["client_id"]);
    let our_wsgi = &children(client)[0];
    assert_eq!(
        payload(our_wsgi, "start")["info"]["request"],
        json!({"path": "/api/items", "query": "verbose=1", "method": "GET", "scheme": "http"})
    );
    assert_eq!(payload(our_wsgi, "start")["info"]["host"], "rust-host");
    let http = &children(our_wsgi)[0];
    let requests = &payload(http, "start")["info"]["requests"];
    assert_eq!(requests["path"], "/v1/items");
    assert_eq!(requests["query"], "limit=2");
    assert_eq!(requests["port"], python_port);
    assert_eq!(
        payload(http, "stop")["info"]["requests"]["status_code"],
        200
    );
    let python_wsgi = &children(http)[0];
    assert_eq!(
        payload(python_wsgi, "start")["info"]["request"],
        json!({"path": "/v1/items", "query": "limit=2", "method": "GET", "scheme": "http"})
    );
    // Python's profiler names the machine (`socket.gethostname()`), as ours does by default.
    assert_eq!(
        payload(python_wsgi, "start")["info"]["host"],
        osprofiler::hostname()
    );
}
