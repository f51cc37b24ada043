//! `osprofiler serve` over TLS, run as an operator runs it: a CA and a server certificate
//! made at test time (rcgen), the collector as a real process on a free port with its
//! certificate from the config file or the command line, a trace sent to it over `https://`
//! by the demo (a service's notifier through the `http` driver), read back by `trace show`
//! and `trace list`; clients that do not trust the CA, or speak plain HTTP, or bring no
//! token, refused; a bad certificate or key refused before listening.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{command, start_serve_over, Started};

mod support;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

fn output(c: &mut Command) -> Output {
    c.output().expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The PEM files: a CA, a server certificate it signed for `localhost` and `127.0.0.1`, its
/// key, and a key of nothing.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "osprofiler test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        cert: write("collector.pem", cert.pem()),
        key: write("collector.key", key.serialize_pem()),
        other_key: write("other.key", KeyPair::generate().unwrap().serialize_pem()),
        dir,
    }
}

/// A running `osprofiler serve` over TLS, and its port.
struct Server {
    started: Started,
    port: u16,
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0` with `args`; waits for the start line, which
    /// must say `https://`.
    fn start(args: &[&str]) -> Server {
        let started = start_serve_over("https", args);
        let port = started
            .addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {}", started.addr));
        Server { started, port }
    }

    /// SIGTERM; the exit code and the rest of the log.
    fn terminate(self) -> (Option<i32>, String) {
        self.started.signal("-TERM")
    }
}

/// The demo's trace stored in `cs`: its id (from the command it prints to see it again).
fn demo_into(cs: &str, ca: &Path, token: &str) -> String {
    let o = output(
        command(&["demo", "--connection-string", cs, "--token", token])
            .env("OSPROFILER_CA_FILE", ca),
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}\n{out}", text(&o.stderr));
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("osprofiler trace show "))
        .unwrap_or_else(|| panic!("no show command in:\n{out}"));
    line.split_whitespace().nth(3).unwrap().to_owned()
}

#[test]
fn serve_over_tls_from_the_config_file_send_show_and_list() {
    let pki = pki();
    let store = format!("sqlite://{}", pki.dir.path().join("c.sqlite").display());
    // Paths relative to the config file's folder, as a service's config names them.
    let conf = pki.dir.path().join("collector.conf");
    std::fs::write(
        &conf,
        format!(
            "[collector]\nstore = {store}\ntoken = tls-tok\ntls_cert = collector.pem\n\
             tls_key = collector.key\n"
        ),
    )
    .unwrap();
    let server = Server::start(&["--config-file", conf.to_str().unwrap()]);
    assert!(
        server.started.start_line.contains("token required"),
        "{}",
        server.started.start_line
    );
    let cs = format!("https://localhost:{}", server.port);
    let ca = pki.ca.to_str().unwrap();

    // A service (the demo's, through its notifier and the http driver) sends over TLS.
    let base_id = demo_into(&cs, &pki.ca, "tls-tok");

    // Read back: every format, through the CA from the environment.
    let show = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["trace", "show", &base_id, "--connection-string", &cs];
        args.extend_from_slice(extra);
        let mut c = command(&args);
        for (k, v) in env {
            c.env(k, v);
        }
        output(&mut c)
    };
    let trusted = [
        ("OSPROFILER_CA_FILE", ca),
        ("OSPROFILER_COLLECTOR_TOKEN", "tls-tok"),
    ];
    let json = show(&["--json"], &trusted);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        !report["children"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let tree = show(&[], &trusted);
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    assert!(
        text(&tree.stdout).contains("wsgi"),
        "{}",
        text(&tree.stdout)
    );
    let mut list = command(&[
        "trace",
        "list",
        "--connection-string",
        &cs,
        "--token",
        "tls-tok",
    ]);
    let list = output(list.env("OSPROFILER_CA_FILE", ca));
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(
        text(&list.stdout).contains(&base_id),
        "{}",
        text(&list.stdout)
    );

    // The same through 127.0.0.1 (the certificate's IP name).
    let by_ip = format!("https://127.0.0.1:{}", server.port);
    let mut c = command(&[
        "trace",
        "show",
        &base_id,
        "--json",
        "--connection-string",
        &by_ip,
    ]);
    let o = output(c.envs(trusted));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(o.stdout, json.stdout);

    // Without the CA: a clear error, exit code 1.
    let o = show(&["--json"], &[("OSPROFILER_COLLECTOR_TOKEN", "tls-tok")]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("OSPROFILER_CA_FILE"), "{err}");

    // The demo's service, not trusting the CA, loses its points and says so; it never hangs.
    let started = Instant::now();
    let o = output(&mut command(&[
        "demo",
        "--connection-string",
        &cs,
        "--token",
        "tls-tok",
    ]));
    assert!(!o.status.success());
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = text(&o.stderr);
    assert!(err.contains("trace points lost"), "{err}");

    // The token is enforced over TLS.
    let o = show(&["--json"], &[("OSPROFILER_CA_FILE", ca)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("401"), "{}", text(&o.stderr));

    // Plain HTTP to the TLS port: a clear refusal.
    let plain = format!("http://127.0.0.1:{}", server.port);
    let mut c = command(&["trace", "list", "--connection-string", &plain]);
    let o = output(c.envs(trusted));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("400") && err.contains("use https://"), "{err}");
    // The same with a raw request, as curl would send it.
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    assert!(answer.contains("this port serves TLS"), "{answer:?}");

    let (code, rest) = server.terminate();
    assert_eq!(code, Some(0), "{rest}");
}

#[test]
fn tls_options_on_the_command_line_and_bad_files_refused_before_listening() {
    let pki = pki();
    let store = format!("sqlite://{}", pki.dir.path().join("c.sqlite").display());
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());

    // The command line wins over the file's (a wrong key there).
    let conf = pki.dir.path().join("c.conf");
    std::fs::write(
        &conf,
        format!("[collector]\ntls_key = {}\n", pki.other_key.display()),
    )
    .unwrap();
    let server = Server::start(&[
        "--store",
        &store,
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--config-file",
        conf.to_str().unwrap(),
    ]);
    let cs = format!("https://localhost:{}", server.port);
    let mut c = command(&["trace", "list", "--connection-string", &cs]);
    let o = output(c.env("OSPROFILER_CA_FILE", &pki.ca));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));

    // Each refused at once, exit code 1, naming what is wrong, without a start line.
    let missing = pki.dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let other_key = pki.other_key.to_str().unwrap();
    let ca = pki.ca.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["--tls-cert", missing, "--tls-key", key],
            &["TLS certificate", "missing.pem"],
        ),
        (
            &["--tls-cert", cert, "--tls-key", missing],
            &["TLS key", "missing.pem"],
        ),
        (
            &["--tls-cert", cert, "--tls-key", other_key],
            &["other.key", "not the certificate's"],
        ),
        (
            &["--tls-cert", key, "--tls-key", key],
            &["no PEM certificate"],
        ),
        (
            &["--tls-cert", cert, "--tls-key", ca],
            &["no PEM private key"],
        ),
        (&["--tls-cert", cert], &["--tls-key"]),
    ];
    for (args, want) in cases {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--store", &store];
        all.extend_from_slice(args);
        let started = Instant::now();
        let o = output(&mut command(&all));
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        for w in want {
            assert!(err.contains(w), "{args:?}: {err}");
        }
        assert!(!err.contains("listening on"), "{args:?}: {err}");
    }
}
