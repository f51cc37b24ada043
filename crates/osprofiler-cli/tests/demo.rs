//! `osprofiler demo` without `--connection-string`, run as a new user runs it: its own home
//! (so the collector's default store is a new file in a temporary folder), the local
//! RabbitMQ, its printed addresses read back over HTTP, then SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_osprofiler");

/// A running demo: its process, what it printed so far, the rest of its output as it comes.
struct Demo {
    child: Child,
    stdout: String,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Demo {
    /// Starts `osprofiler demo` with `home` as its home and data folder.
    fn start(home: &std::path::Path) -> Demo {
        let mut child = Command::new(BIN)
            .arg("demo")
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env_remove("OSPROFILER_CONNECTION_STRING")
            .env_remove("OSPROFILER_TRANSPORT_URL")
            .env_remove("OSPROFILER_COLLECTOR_TOKEN")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the demo starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Demo {
            child,
            stdout: String::new(),
            lines,
            stderr,
        }
    }

    /// Reads standard output until a line starts with `prefix` (trimmed); returns that line.
    fn until(&mut self, prefix: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push_str(&line);
                    self.stdout.push('\n');
                    if line.trim_start().starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!("no line {prefix:?} within {within:?}:\n{}", self.stdout),
            }
        }
    }

    /// Sends SIGTERM and waits for the exit: its code, its standard error.
    fn terminate(mut self, within: Duration) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the demo did not stop within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        (status.code(), stderr.join().unwrap_or_default())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` (`http://ADDR/PATH`): status and body.
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // HTTP/1.0: the answer is not chunked, and ends with the connection.
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn json(url: &str) -> Value {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

/// Every node of a report's tree.
fn nodes(node: &Value) -> Vec<&Value> {
    let mut all = vec![node];
    for child in node["children"].as_array().into_iter().flatten() {
        all.extend(nodes(child));
    }
    all
}

#[test]
fn demo_serves_its_traces_until_sigterm() {
    let Some(_) = osprofiler_testkit::rabbitmq() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(home.path());

    // The services run, and the RPC went over RabbitMQ (it runs here).
    let worker = demo.until("worker", Duration::from_secs(60));
    assert!(worker.contains("RPC over RabbitMQ"), "{worker}");
    let trace_line = demo.until("this trace:", Duration::from_secs(120));
    let list_line = demo.until("all traces:", Duration::from_secs(5));
    let trace_url = trace_line.split_whitespace().last().unwrap().to_owned();
    let list_url = list_line.split_whitespace().last().unwrap().to_owned();
    let (base, base_id) = trace_url.rsplit_once("/traces/").expect("a trace URL");
    assert_eq!(list_url, format!("{base}/"));
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let out = demo.stdout.clone();
    assert!(out.contains("RPC over RabbitMQ"), "{out}");
    assert!(out.contains("real SQL on SQLite"), "{out}");
    // The tree printed is the trace's, in the collector's default store of this home.
    assert!(out.contains("└─ wsgi POST /servers"), "{out}");
    assert!(
        home.path()
            .join("data/osprofiler/collector.sqlite")
            .is_file(),
        "{out}"
    );

    // Several traces, one with an error, each with the three services.
    let list = json(&format!("{base}/api/v1/traces"));
    let traces = list["traces"].as_array().expect("a list");
    assert_eq!(traces.len(), 4, "{list}");
    let failed: Vec<&Value> = traces
        .iter()
        .filter(|t| t["errors"].as_u64() > Some(0))
        .collect();
    assert_eq!(failed.len(), 1, "{list}");
    assert_eq!(
        failed[0]["base_id"], base_id,
        "the trace shown is the failed one"
    );
    for t in traces {
        assert_eq!(
            t["services"],
            serde_json::json!(["api", "dbsvc", "worker"]),
            "{t}"
        );
        assert_eq!(
            t["notifications"],
            t["points"].as_u64().unwrap() * 2,
            "complete: {t}"
        );
    }

    // Its tree: wsgi, rpc and db points (SQL statements among them) from the three services.
    let report = json(&format!("{base}/api/v1/traces/{base_id}"));
    let all = nodes(&report);
    let has = |service: &str, kind: &str| {
        all.iter()
            .any(|n| n["info"]["service"] == service && n["info"]["name"] == kind)
    };
    assert!(has("api", "wsgi"), "{report}");
    assert!(has("api", "rpc") && has("worker", "rpc") && has("dbsvc", "rpc"));
    assert!(has("worker", "driver") && has("dbsvc", "db"));
    let sql: Vec<&str> = all
        .iter()
        .filter_map(|n| n["info"]["meta.raw_payload.db-start"]["info"]["db"]["statement"].as_str())
        .collect();
    assert!(
        sql.iter().any(|s| s.starts_with("INSERT INTO instances")),
        "{sql:?}"
    );
    // The failure is the worker's spawn.
    let errors: Vec<&&Value> = all
        .iter()
        .filter(|n| n["info"]["meta.raw_payload.driver-stop"]["info"]["etype"].is_string())
        .collect();
    assert_eq!(errors.len(), 1, "{report}");

    // SIGTERM: a clean exit, soon.
    let (code, stderr) = demo.terminate(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("trace 4/4 complete"), "{stderr}");
    assert!(stderr.contains("osprofiler demo: stopped"), "{stderr}");
    assert!(!stderr.contains("lost"), "{stderr}");
}
