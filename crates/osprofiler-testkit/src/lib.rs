//! Test support shared by the osprofiler crates (a dev-dependency only).
//!
//! Tests talk to real servers on loopback (Redis, RabbitMQ, PostgreSQL, MariaDB) and to the
//! real Python OSprofiler. On a developer's machine without one of them, a test is skipped
//! with a message naming what is missing; with `CI=true` (as `.ci/run` sets it) a missing
//! server or interpreter fails the test instead, so CI can never pass by skipping.
//!
//! ```no_run
//! let Some(url) = osprofiler_testkit::redis() else { return };
//! // ... connect to `url`
//! ```

#![forbid(unsafe_code)]

mod generate;
mod pgdb;
mod proxy;
mod vhost;

pub use generate::notifications;
pub use pgdb::{psql, PgDatabase};
pub use proxy::Proxy;
pub use vhost::{rabbitmqctl, Vhost};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether this run is CI's (`CI` set to anything but `false`/`0`/empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skips (returns `None` after printing why) or, in CI, panics: `what` is missing.
fn missing<T>(what: &str, why: &str) -> Option<T> {
    if in_ci() {
        panic!("{what} is required in CI (CI=true) but {why}; `.ci/run` should have started it");
    }
    eprintln!(
        "SKIPPED: {what} {why}; start it (see .ci/run and scripts/ci-services.sh) to run this test"
    );
    None
}

/// A test goes on with a weaker check because `what` is missing (`instead` names the check it
/// makes then): allowed on a developer's machine (a `SKIPPED:` line says what was left out), a
/// panic in CI, where the full check must run.
pub fn fall_back(what: &str, instead: &str) {
    if in_ci() {
        panic!("{what} is required in CI (CI=true): without it this test would only {instead}");
    }
    eprintln!("SKIPPED: part of this test: {what} is missing, so it only {instead}");
}

/// Whether something listens at `host:port` (a TCP connect within one second).
pub fn reachable(host_port: &str) -> bool {
    let addrs: Vec<SocketAddr> = match host_port.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return false,
    };
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok())
}

/// `url` when the server at `host_port` is reachable; otherwise skipped (see the crate docs).
pub fn server(what: &str, host_port: &str, url: String) -> Option<String> {
    if reachable(host_port) {
        Some(url)
    } else {
        missing(what, &format!("is not reachable at {host_port}"))
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The local Redis, `redis://127.0.0.1:6379` (or `$OSPROFILER_TEST_REDIS_URL`).
pub fn redis() -> Option<String> {
    let url = env_or("OSPROFILER_TEST_REDIS_URL", "redis://127.0.0.1:6379");
    server("Redis", &host_port(&url, 6379), url)
}

/// The local RabbitMQ as an AMQP URL, `amqp://guest:guest@127.0.0.1:5672/%2f`
/// (or `$OSPROFILER_TEST_AMQP_URL`).
pub fn rabbitmq() -> Option<String> {
    let url = env_or(
        "OSPROFILER_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    );
    server("RabbitMQ", &host_port(&url, 5672), url)
}

/// The local PostgreSQL, `postgresql://postgres@127.0.0.1:5432/test`
/// (or `$OSPROFILER_TEST_POSTGRES_URL`).
pub fn postgres() -> Option<String> {
    let url = env_or(
        "OSPROFILER_TEST_POSTGRES_URL",
        "postgresql://postgres@127.0.0.1:5432/test",
    );
    server("PostgreSQL", &host_port(&url, 5432), url)
}

/// The local MariaDB, `mysql://root@127.0.0.1:3306/test` (or `$OSPROFILER_TEST_MYSQL_URL`).
pub fn mariadb() -> Option<String> {
    let url = env_or(
        "OSPROFILER_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    );
    server("MariaDB", &host_port(&url, 3306), url)
}

/// `host:port` of a URL (`scheme://[user[:pass]@]host[:port][/...]`), `default_port` when
/// it names none.
pub fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.starts_with('[') {
        // [v6]:port
        return if hostport.contains("]:") {
            hostport.to_owned()
        } else {
            format!("{hostport}:{default_port}")
        };
    }
    if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:{default_port}")
    }
}

/// The workspace root (where `Cargo.lock` is), found from this crate's folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/osprofiler-testkit sits two levels below the workspace root")
        .to_path_buf()
}

/// The version of Python OSprofiler every interop test compares with.
pub const PYTHON_OSPROFILER: &str = "4.4.0";

/// The Python interpreter of the interop virtualenv, which has Python OSprofiler 4.4.0,
/// `redis`, `oslo.messaging`, `SQLAlchemy<2`, `psycopg2-binary` and `PyMySQL`
/// (`scripts/python-venv.sh` makes it): `$OSPROFILER_TEST_PYTHON`, else
/// `<workspace>/.venv-interop/bin/python`. Skipped (or, in CI, a panic) when it is missing
/// or its `osprofiler` is not importable.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("OSPROFILER_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-interop/bin/python"));
    if !python.exists() {
        return missing(
            "the Python interop virtualenv",
            &format!(
                "is missing ({}); make it with scripts/python-venv.sh",
                python.display()
            ),
        );
    }
    // The reference is 4.4.0: another version would make every comparison with it a
    // comparison with something else.
    let version = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m, osprofiler, redis, oslo_messaging, sqlalchemy; \
             print(m.version('osprofiler'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match version.as_deref() {
        Some(PYTHON_OSPROFILER) => {}
        Some(other) => {
            return missing(
                &format!("Python OSprofiler {PYTHON_OSPROFILER}"),
                &format!(
                    "{} has {other}; run scripts/python-venv.sh",
                    python.display()
                ),
            )
        }
        None => {
            return missing(
                "Python OSprofiler 4.4.0 and its drivers' libraries",
                &format!("cannot be imported by {}", python.display()),
            )
        }
    }
    Some(python)
}

/// `python/publish_messaging.py` of this crate: `python publish_messaging.py TRANSPORT_URL
/// COUNT [TAG]` publishes COUNT notifications with Python's messaging driver.
pub fn python_publish_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/publish_messaging.py")
}

/// `python/report.py` of this crate: run by the interop interpreter on a JSON list of
/// notifications (a file argument, or standard input), it prints Python OSprofiler's report
/// of them as `trace show ID --json` prints it (the Redis driver's `get_report`). The oracle
/// the collector's and the tracing layer's interop tests compare with.
pub fn python_report_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/report.py")
}

/// Python OSprofiler's own command, `osprofiler`, beside the interop interpreter.
pub fn python_cli(python: &Path) -> PathBuf {
    python.with_file_name("osprofiler")
}

/// Runs `program args...` and returns its standard output; panics with its error output when
/// it cannot start or fails.
pub fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the output is UTF-8")
}

/// `cli trace show --json BASE_ID --connection-string CS EXTRA...`: what an `osprofiler`
/// command (ours, or Python's from [`python_cli`]) prints for a trace, as text, for tests
/// that compare the two byte for byte or parse it.
pub fn trace_show_json(
    cli: &Path,
    base_id: &str,
    connection_string: &str,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "trace",
        "show",
        "--json",
        base_id,
        "--connection-string",
        connection_string,
    ];
    args.extend_from_slice(extra);
    run(cli, &args)
}

/// The first line a child process prints on `stdout` (its `ready ...` line), waiting at most
/// `within`; `None` when it printed none by then or closed its output. The lines after it
/// are read and dropped in the background, so the child never blocks on a full pipe.
pub fn first_line(stdout: impl Read + Send + 'static, within: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx.recv_timeout(within).ok()
}

/// Runs the Python `script` with `input` as JSON on its standard input and returns what it
/// prints as JSON (keys in the order printed); panics with its error output when it fails.
pub fn run_python_json(
    python: &Path,
    script: &Path,
    input: &serde_json::Value,
) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(input.to_string().as_bytes())
        .expect("the script reads its input");
    drop(stdin);
    let out = child.wait_with_output().expect("the script ends");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}):\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A name no other test (in this or another process) uses: `prefix-<pid>-<time>-<n>`, for
/// keys, queues, tables and trace ids of one test.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_of_urls() {
        assert_eq!(host_port("redis://127.0.0.1:6379", 1), "127.0.0.1:6379");
        assert_eq!(host_port("redis://:pw@h/0", 6379), "h:6379");
        assert_eq!(host_port("amqp://guest:guest@h:5672/%2f", 1), "h:5672");
        assert_eq!(host_port("mysql://root@[::1]/test", 3306), "[::1]:3306");
        assert_eq!(host_port("postgresql://u@h:5433/db?x=1", 1), "h:5433");
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("a"), unique_name("a"));
    }

    #[test]
    fn run_returns_the_output_and_fails_loudly() {
        assert_eq!(run(Path::new("echo"), &["a", "b"]), "a b\n");
        let failed = std::panic::catch_unwind(|| run(Path::new("false"), &[]));
        assert!(failed.is_err());
    }

    #[test]
    fn nothing_listens_on_port_one() {
        assert!(!reachable("127.0.0.1:1"));
    }
}
