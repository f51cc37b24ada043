//! The web UI end to end in a real browser (issue 10, point 6): `osprofiler serve` on a free
//! port with a temporary SQLite store and AMQP ingest from a private RabbitMQ vhost; traces
//! written by Python OSprofiler (its messaging driver, through the vhost) and by ours
//! (`osprofiler demo --connection-string http://ADDR`, over the collector's HTTP API); then
//! `node --test crates/osprofiler-ui/e2e/ui.test.mjs`, which drives Debian's headless Chromium
//! with playwright-core through the list, a trace and the compare page and fails on any step,
//! page error, console error or request to another host.
//!
//! Needs `npm ci --prefix crates/osprofiler-ui/e2e` and Chromium (scripts/ci-services.sh does
//! both): skipped with a message when either is missing, a failure in CI.
//!
//! Screenshots go to `target/ui-screenshots/`; with `UPDATE_SCREENSHOTS=1`, to
//! `docs/screenshots/` (the README shows them).

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{command, start_serve, Started};

mod support;

/// How long the browser tests may take in all.
const NODE_TIMEOUT: Duration = Duration::from_secs(300);

/// A word only in the info of the nested Python trace, for the list's text filter.
const PY_MARKER: &str = "e2e-widgets";

/// A trace written by Python OSprofiler's profiler itself (`profiler.init`, nested
/// `profiler.Trace`s, one failing), sent with its messaging driver; prints the base id.
const PY_NESTED: &str = r#"
import sys, time, warnings
warnings.filterwarnings("ignore")
from oslo_config import cfg
from osprofiler import notifier, profiler
from osprofiler.drivers import base

url, marker = sys.argv[1], sys.argv[2]
conf = cfg.ConfigOpts()
conf([])
driver = base.get_driver("messaging://", context={}, conf=conf, transport_url=url,
                         project="pyproj", service="pysvc", host="py-host")
notifier.set(driver.notify)
profiler.init("SECRET_KEY")
with profiler.Trace("wsgi", info={"request": {"method": "GET", "path": "/v2/" + marker,
                                              "query": "limit=5", "scheme": "http"}}):
    with profiler.Trace("db", info={"db": {"statement": "SELECT * FROM widgets WHERE id = %(id)s",
                                           "params": {"id": 7}}}):
        time.sleep(0.004)
    with profiler.Trace("rpc", info={"function": {"name": "widgets.worker.resize",
                                                  "args": "(7,)", "kwargs": "{}"}}):
        time.sleep(0.002)
        try:
            with profiler.Trace("db", info={"db": {"statement": "UPDATE widgets SET size = 2",
                                                   "params": {}}}):
                time.sleep(0.003)
                raise ValueError("disk full")
        except ValueError:
            pass
print(profiler.get().get_base_id())
"#;

/// What the browser tests need besides the collector: Chromium, node and playwright-core.
/// `None` (skipped, with a message) when one is missing; a panic in CI.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let e2e = osprofiler_testkit::workspace_root().join("crates/osprofiler-ui/e2e");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.is_file());
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let playwright = e2e
        .join("node_modules/playwright-core/package.json")
        .is_file();
    let missing = [
        (
            chromium.is_none(),
            "Chromium (apt-get install chromium, or set CHROMIUM)",
        ),
        (!node, "node"),
        (
            !playwright,
            "playwright-core (npm ci --prefix crates/osprofiler-ui/e2e)",
        ),
    ]
    .into_iter()
    .filter_map(|(gone, what)| gone.then_some(what))
    .collect::<Vec<_>>();
    if !missing.is_empty() {
        let missing = missing.join(", ");
        assert!(
            !osprofiler_testkit::in_ci(),
            "the browser tests need {missing} in CI (scripts/ci-services.sh installs them)"
        );
        eprintln!("SKIPPED: the browser tests need {missing}");
        return None;
    }
    Some((chromium.unwrap(), e2e))
}

/// A running `osprofiler serve`; its log is collected in the background.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let Started {
            child,
            stderr,
            start_line: line,
            addr,
        } = start_serve(args);
        let log = Arc::new(Mutex::new(line));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Server { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` from the collector; the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The collector's list of traces (the newest 1000).
fn listed(addr: &str) -> Vec<Value> {
    let (status, body) = get(addr, "/api/v1/traces?limit=1000");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["traces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Where the screenshots go: `docs/screenshots/` with UPDATE_SCREENSHOTS=1, else
/// `target/ui-screenshots/`.
fn screenshot_dir() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        osprofiler_testkit::workspace_root().join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("CARGO_TARGET_TMPDIR is target/tmp")
            .join("ui-screenshots")
    }
}

#[test]
fn web_ui_in_chromium() {
    let Some((chromium, e2e)) = browser_tools() else {
        return;
    };
    let Some(vhost) = osprofiler_testkit::Vhost::new() else {
        return;
    };
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("collector.sqlite").display());
    let url = vhost.transport_url();
    let server = Server::start(&["--store", &store, "--transport-url", &url]);
    let addr = server.addr.clone();

    // Python's side: a flat trace of 5 points from the interop publisher, and a nested one
    // from Python's profiler (one point fails).
    let script = osprofiler_testkit::python_publish_script();
    let published =
        osprofiler_testkit::run(&python, &[script.to_str().unwrap(), &url, "10", "uipy"]);
    assert_eq!(published.trim(), "10");
    let nested = osprofiler_testkit::run(&python, &["-c", PY_NESTED, &url, PY_MARKER])
        .trim()
        .to_owned();
    assert!(!nested.is_empty(), "Python printed no base id");

    // Ours: the demo, three times, over the collector's HTTP API.
    let cs = format!("http://{addr}");
    for _ in 0..3 {
        let o = command(&["demo", "--connection-string", &cs])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "demo: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // Everything stored: Python's notifications arrive over AMQP, in their own time.
    let deadline = Instant::now() + Duration::from_secs(60);
    let traces = loop {
        let traces = listed(&addr);
        let points = |pred: &dyn Fn(&str) -> bool| {
            traces
                .iter()
                .filter(|t| pred(t["base_id"].as_str().unwrap_or_default()))
                .map(|t| t["points"].as_u64().unwrap_or(0))
                .collect::<Vec<_>>()
        };
        let flat = points(&|id| id.starts_with("uipy-"));
        let deep = points(&|id| id == nested);
        let ours = points(&|id| !id.starts_with("uipy-") && id != nested);
        if flat == [5] && deep == [4] && ours.len() == 3 {
            break traces;
        }
        assert!(
            Instant::now() < deadline,
            "the traces were not all listed within 60 s: {traces:#?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let ids = |pred: &dyn Fn(&Value) -> bool| {
        traces
            .iter()
            .filter(|t| pred(t))
            .map(|t| t["base_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let is_python = |t: &Value| {
        let id = t["base_id"].as_str().unwrap();
        id.starts_with("uipy-") || id == nested
    };
    let python_ids = ids(&is_python);
    let ours = ids(&|t| !is_python(t));
    let errors = ids(&|t| t["errors"].as_u64().unwrap_or(0) > 0);
    assert!(errors.contains(&nested), "{traces:#?}");
    assert!(errors.len() < traces.len(), "{traces:#?}");
    let setup = started.elapsed();

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let env = json!({
        "python": python_ids,
        "ours": ours,
        "errors": errors,
        "service": { "name": "pysvc", "ids": python_ids },
        "text": { "q": PY_MARKER, "ids": [nested] },
        "nested": nested,
    });
    let mut node = Command::new("node")
        .arg("--test")
        .arg(e2e.join("ui.test.mjs"))
        .current_dir(&e2e)
        .env("COLLECTOR_URL", format!("http://{addr}"))
        .env("SCREENSHOT_DIR", &shots)
        .env("UI_TRACES", env.to_string())
        .env("CHROMIUM", &chromium)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(node.stdout.take().unwrap()));
    let err = read(Box::new(node.stderr.take().unwrap()));
    let browser_start = Instant::now();
    let status = loop {
        if let Some(s) = node.try_wait().unwrap() {
            break Some(s);
        }
        if browser_start.elapsed() > NODE_TIMEOUT {
            let _ = node.kill();
            let _ = node.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    let Some(status) = status else {
        panic!(
            "the browser tests did not finish within {NODE_TIMEOUT:?}:\n{output}\n--- collector log:\n{}",
            server.log()
        );
    };
    assert!(
        status.success(),
        "the browser tests failed ({status}):\n{output}\n--- collector log:\n{}",
        server.log()
    );
    eprintln!("{output}");
    eprintln!(
        "browser tests passed (setup {setup:?}, browser {:?}); screenshots in {}",
        browser_start.elapsed(),
        shots.display()
    );
}
