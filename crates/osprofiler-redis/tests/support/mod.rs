//! Shared by the integration tests: private `redis-server` processes (never the shared Redis
//! on 6379, which other tests use), and small helpers.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use osprofiler::driver::DriverOptions;
use osprofiler::Notification;
use serde_json::Value;

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// The `redis-server` binary, or None (the test is skipped; in CI a panic).
pub fn redis_server() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("redis-server"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !osprofiler_testkit::in_ci(),
            "redis-server is required in CI but is not on PATH"
        );
        eprintln!("SKIPPED: redis-server is not on PATH (apt-get install redis-server)");
    }
    found
}

/// A `redis-server` child process of this test on its own port, killed when dropped.
pub struct PrivateRedis {
    binary: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a server (no persistence) on a free port and waits until it answers.
    pub fn start() -> Option<PrivateRedis> {
        Self::start_with(Vec::new())
    }

    /// Same, with extra `redis-server` arguments.
    pub fn start_with(extra: Vec<String>) -> Option<PrivateRedis> {
        let binary = redis_server()?;
        let mut server = PrivateRedis {
            binary,
            port: free_port(),
            dir: tempfile::tempdir().expect("a temp dir"),
            extra,
            child: None,
        };
        server.spawn();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("redis-server starts"));
        wait_until(Duration::from_secs(10), || {
            osprofiler_testkit::reachable(&format!("127.0.0.1:{}", self.port))
        });
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal (`STOP`, `CONT`) to the server.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {}", self.pid());
    }

    /// Kills the server (SIGKILL: as a crash) and waits until the port is closed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        wait_until(Duration::from_secs(10), || {
            !osprofiler_testkit::reachable(&format!("127.0.0.1:{}", self.port))
        });
    }

    /// Starts it again on the same port (empty: nothing was saved).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Sentinel (`redis-server <conf> --sentinel`) on a free port, monitoring `master_port` as
/// `service_name`; killed when dropped.
pub struct PrivateSentinel {
    pub port: u16,
    _dir: tempfile::TempDir,
    child: Child,
}

impl PrivateSentinel {
    /// `auth_pass`: the master's password, if it has one.
    pub fn start(
        binary: &Path,
        service_name: &str,
        master_port: u16,
        auth_pass: Option<&str>,
    ) -> PrivateSentinel {
        let port = free_port();
        let dir = tempfile::tempdir().expect("a temp dir");
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {service_name} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {service_name} 5000\n{}",
                dir.path().display(),
                auth_pass.map_or(String::new(), |pw| format!(
                    "sentinel auth-pass {service_name} {pw}\n"
                ))
            ),
        )
        .expect("the sentinel config is written");
        let child = Command::new(binary)
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel starts");
        wait_until(Duration::from_secs(10), || {
            osprofiler_testkit::reachable(&format!("127.0.0.1:{port}"))
        });
        PrivateSentinel {
            port,
            _dir: dir,
            child,
        }
    }
}

impl Drop for PrivateSentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 20 ms until it holds; panics after `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "gave up waiting after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `redis-cli -p <port> args...` and returns its output (for checks the driver does
/// not make: TTLs, raw values).
pub fn redis_cli(url: &str, args: &[&str]) -> String {
    try_redis_cli(url, args).unwrap_or_else(|e| panic!("redis-cli {args:?} failed: {e}"))
}

/// [`redis_cli`] for polling a server that may answer an error for a while (`-LOADING`
/// while a replica loads its copy during a failover): the error instead of a panic.
pub fn try_redis_cli(url: &str, args: &[&str]) -> Result<String, String> {
    let hp = osprofiler_testkit::host_port(url, 6379);
    let (host, port) = hp.rsplit_once(':').expect("host:port");
    let out = Command::new("redis-cli")
        .args(["-h", host, "-p", port, "--raw"])
        .args(args)
        .output()
        .expect("redis-cli runs");
    let text = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{text} {}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}

/// Driver options for `url` with `filter_error_trace` on and a project and service.
pub fn options(url: &str) -> DriverOptions {
    let mut o = DriverOptions::new(url);
    o.project = Some("osprofiler-rs".into());
    o.service = Some("redis-test".into());
    o.config.filter_error_trace = true;
    o
}

/// A notification made by hand.
pub fn notification(base_id: &str, trace_id: &str, name: &str, ts: &str) -> Notification {
    let mut info = osprofiler::Info::new();
    info.insert("host".into(), Value::from("test-host"));
    Notification {
        name: name.into(),
        base_id: base_id.into(),
        trace_id: trace_id.into(),
        parent_id: base_id.into(),
        timestamp: ts.into(),
        info,
        project: Some("p".into()),
        service: Some("s".into()),
    }
}

/// A fresh uuid-shaped base id (Python's CLI wants one).
pub fn uuid() -> String {
    osprofiler::TraceId::new_v4().to_string()
}

/// Deletes a trace's keys (`osprofiler_opt:`, `osprofiler_error:`) when dropped, so a test
/// that fails leaves nothing behind on the shared Redis.
pub struct Cleanup {
    url: String,
    base_ids: Vec<String>,
}

impl Cleanup {
    pub fn new(url: &str, base_ids: &[&str]) -> Cleanup {
        Cleanup {
            url: url.to_owned(),
            base_ids: base_ids.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let hp = osprofiler_testkit::host_port(&self.url, 6379);
        let Some((host, port)) = hp.rsplit_once(':') else {
            return;
        };
        for id in &self.base_ids {
            for prefix in ["osprofiler_opt:", "osprofiler_error:"] {
                let _ = Command::new("redis-cli")
                    .args(["-h", host, "-p", port, "DEL", &format!("{prefix}{id}")])
                    .output();
            }
        }
    }
}
