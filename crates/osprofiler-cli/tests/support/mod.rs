//! What the CLI's process tests share: the binary run with none of the environment that
//! would change its choices, and `osprofiler serve` started on a free port and stopped by a
//! signal. Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// The `osprofiler` binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_osprofiler");

/// The binary with `args`, without the variables that name a store, token, broker or log
/// level (the test says what it wants).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("OSPROFILER_CONNECTION_STRING")
        .env_remove("OSPROFILER_COLLECTOR_TOKEN")
        .env_remove("OSPROFILER_TRANSPORT_URL")
        .env_remove("OSPROFILER_CA_FILE")
        .env_remove("RUST_LOG");
    c
}

/// A started `osprofiler serve`: its process, its stderr after the start line, the start
/// line and the address it listens on.
pub struct Started {
    pub child: Child,
    pub stderr: BufReader<ChildStderr>,
    pub start_line: String,
    pub addr: String,
}

/// Starts `serve --listen 127.0.0.1:0` with `args` and waits for its start line, which
/// names the address taken.
pub fn start_serve(args: &[&str]) -> Started {
    start_serve_over("http", args)
}

/// [`start_serve`] for a collector that must say it serves `scheme` (`http`, `https`).
pub fn start_serve_over(scheme: &str, args: &[&str]) -> Started {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut child = command(&all)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut start_line = String::new();
    stderr.read_line(&mut start_line).expect("a start line");
    let Some(addr) = start_line
        .split(&format!("listening on {scheme}://"))
        .nth(1)
        .and_then(|rest| rest.split([',', ' ', '\n']).next())
    else {
        let _ = child.kill();
        panic!("no {scheme}:// address in the start line {start_line:?}");
    };
    let addr = addr.to_owned();
    Started {
        child,
        stderr,
        start_line,
        addr,
    }
}

impl Started {
    /// Sends `signal` (`-TERM`, `-INT`) and waits for the exit; the exit code and what it
    /// wrote after its start line.
    pub fn signal(mut self, signal: &str) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop on {signal}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        (status.code(), rest)
    }
}
