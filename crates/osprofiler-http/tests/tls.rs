//! `https://` against a real collector served over TLS: a CA and a server certificate made
//! at test time (rcgen), the collector's router on an in-process [`TlsListener`] on
//! 127.0.0.1 over a temporary SQLite store, the driver sending and reading through it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler_collector::tls::{server_config, TlsListener};
use osprofiler_collector::{Collector, CollectorConfig, Token};
use osprofiler_core::driver::memory::MemoryDriver;
use osprofiler_core::driver::{Driver, DriverOptions};
use osprofiler_core::notification::Notification;
use osprofiler_core::notifier::{BatchConfig, BatchNotifier};
use osprofiler_core::{pyjson, Notifier, PointKind, TraceId, TracePoint};
use osprofiler_http::{HttpDriver, HttpSettings};
use osprofiler_report::GetReport;
use osprofiler_sql::store::TraceStore;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::json;

/// PEM files made for one test: a CA, a server certificate it signed (for `localhost` and
/// `127.0.0.1`) with its key, one it signed for another name only, and a second CA that
/// signed nothing here.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_name_cert: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_issuer = ca("osprofiler test CA");
    let other = ca("another CA");
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "collector");
    let cert = params.signed_by(&key, &ca_issuer).unwrap();
    let other_name = CertificateParams::new(vec!["collector.example".to_owned()])
        .unwrap()
        .signed_by(&key, &ca_issuer)
        .unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: write("ca.pem", ca_issuer.pem()),
        other_ca: write("other-ca.pem", other.pem()),
        // The chain: the server's certificate, then the CA's (served, not needed).
        cert: write("cert.pem", cert.pem() + &ca_issuer.pem()),
        key: write("key.pem", key.serialize_pem()),
        other_name_cert: write("other-name.pem", other_name.pem()),
        _dir: dir,
    }
}

/// A collector served over TLS (with `pki`'s certificate for `localhost`) on a free port:
/// its port and a handle.
async fn tls_collector(dir: &Path, pki: &Pki, token: Option<&str>) -> (u16, Collector) {
    serve_tls(dir, &pki.cert, &pki.key, token).await
}

async fn serve_tls(dir: &Path, cert: &Path, key: &Path, token: Option<&str>) -> (u16, Collector) {
    let cs = format!("sqlite://{}", dir.join("c.sqlite").display());
    let store = Arc::new(TraceStore::open(&cs).await.unwrap());
    let collector = Collector::new(
        store,
        CollectorConfig {
            token: token.and_then(Token::new),
            ..CollectorConfig::default()
        },
    );
    let config = server_config(cert, key).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let router = collector.router();
    tokio::spawn(async move { axum::serve(TlsListener::new(tcp, config), router).await });
    (port, collector)
}

/// A trace of two nested points, the inner one failed (project and service null, to be
/// filled in by the driver).
fn trace(base_id: &str) -> Vec<Notification> {
    let n = |name: &str, trace_id: &str, parent: &str, ts: &str, info: serde_json::Value| {
        serde_json::from_value::<Notification>(json!({
            "name": name, "base_id": base_id, "trace_id": trace_id, "parent_id": parent,
            "timestamp": ts, "info": info, "project": null, "service": null,
        }))
        .unwrap()
    };
    let a = "11111111-1111-4111-8111-111111111111";
    let b = "22222222-2222-4222-8222-222222222222";
    vec![
        n(
            "wsgi-start",
            a,
            base_id,
            "2026-12-07T10:00:00.000100",
            json!({"request": {"path": "/v2.1/servers", "method": "POST"}, "host": "api-1"}),
        ),
        n(
            "db-start",
            b,
            a,
            "2026-12-07T10:00:00.001000",
            json!({"db": {"statement": "SELECT 1", "params": {}}, "host": "api-1"}),
        ),
        n(
            "db-stop",
            b,
            a,
            "2026-12-07T10:00:00.003500",
            json!({"etype": "OperationalError", "message": "gone", "host": "api-1"}),
        ),
        n(
            "wsgi-stop",
            a,
            base_id,
            "2026-12-07T10:00:00.010000",
            json!({"host": "api-1"}),
        ),
    ]
}

fn options(cs: &str) -> DriverOptions {
    let mut o = DriverOptions::new(cs);
    o.project = Some("nova".into());
    o.service = Some("api".into());
    o
}

fn driver(cs: &str, token: Option<&str>, ca_file: Option<&Path>) -> HttpDriver {
    HttpDriver::with_settings(
        options(cs),
        HttpSettings {
            token: token.map(str::to_owned),
            ca_file: ca_file.map(Path::to_owned),
        },
    )
    .unwrap()
}

/// Two points through a notifier over `driver`: its (sent, failed) after a flush, and how
/// long the flush took.
fn through_the_notifier(driver: HttpDriver, base_id: &str) -> (u64, u64, Duration) {
    let notifier = BatchNotifier::start(Arc::new(driver), BatchConfig::default());
    let id = TraceId::from(base_id);
    for kind in [PointKind::Start, PointKind::Stop] {
        notifier.notify(TracePoint {
            kind,
            name: "db".into(),
            base_id: id.clone(),
            trace_id: TraceId::from("ffffffff-0000-4000-8000-00000000000a"),
            parent_id: id.clone(),
            timestamp: osprofiler_core::timestamp::Timestamp::now(),
            info: None,
        });
    }
    let started = Instant::now();
    assert!(notifier.flush(Duration::from_secs(20)));
    let stats = notifier.stats();
    (stats.sent, stats.failed, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_read_back_over_tls_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (port, collector) = tls_collector(dir.path(), &pki, Some("tls-token")).await;
    let base_id = "aaaaaaaa-0000-4000-8000-0000000000f1";
    let batch = trace(base_id);

    // By name (the certificate's DNS name) and by address (its IP name).
    for host in ["localhost", "127.0.0.1"] {
        let cs = format!("https://{host}:{port}");
        let https = driver(&cs, Some("tls-token"), Some(&pki.ca));
        https.notify(&batch).await.unwrap();

        let memory = MemoryDriver::new();
        let filled: Vec<Notification> = batch
            .iter()
            .cloned()
            .map(|mut n| {
                n.project = Some("nova".into());
                n.service = Some("api".into());
                n
            })
            .collect();
        memory.notify(&filled).await.unwrap();
        let got = pyjson::to_string_pretty(&https.get_report(base_id).await.unwrap(), 2).unwrap();
        let want = pyjson::to_string_pretty(&memory.get_report(base_id).await.unwrap(), 2).unwrap();
        assert_eq!(got, want);
        let listed = https.list_traces(&[]).await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["base_id"], base_id);
        assert_eq!(https.list_error_traces().await.unwrap().len(), 1);
    }
    // The second round's notifications were duplicates.
    assert_eq!(collector.metrics().stored(), 4);

    // The token is still required over TLS: none, or a wrong one, is 401.
    let cs = format!("https://localhost:{port}");
    for token in [None, Some("wrong-token")] {
        let https = driver(&cs, token, Some(&pki.ca));
        let e = https.notify(&batch).await.unwrap_err().to_string();
        assert!(e.contains("401"), "{e}");
        assert!(
            !e.contains("tls-token") && !e.contains("wrong-token"),
            "{e}"
        );
        let e = https.get_notifications(base_id).await.unwrap_err();
        assert!(e.to_string().contains("401"), "{e}");
    }
    assert!(collector.metrics().render().contains("unauthorized"));

    // Through the notifier pipeline, as a service sends.
    let (sent, failed, _) = through_the_notifier(
        driver(&cs, Some("tls-token"), Some(&pki.ca)),
        "aaaaaaaa-0000-4000-8000-0000000000f2",
    );
    assert_eq!((sent, failed), (2, 0));
    assert_eq!(collector.metrics().stored(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_ca_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (port, collector) = tls_collector(dir.path(), &pki, None).await;
    let cs = format!("https://localhost:{port}");
    let batch = trace("bbbbbbbb-0000-4000-8000-0000000000f1");

    // The system's roots only, then another CA besides them.
    for ca_file in [None, Some(pki.other_ca.as_path())] {
        let https = driver(&cs, None, ca_file);
        let started = Instant::now();
        let e = https.notify(&batch).await.unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(3), "{e}");
        assert!(e.contains("invalid peer certificate"), "{e}");
        assert!(e.contains("UnknownIssuer"), "{e}");
        assert!(e.contains("OSPROFILER_CA_FILE"), "{e}");
        assert!(e.contains(&format!("localhost:{port}")), "{e}");
        assert!(https.list_traces(&[]).await.is_err());

        // A service's notifier counts the points as failed, at once, and goes on.
        let (sent, failed, took) =
            through_the_notifier(https, "bbbbbbbb-0000-4000-8000-0000000000f2");
        assert_eq!((sent, failed), (0, 2));
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
    assert_eq!(collector.metrics().stored(), 0);

    // A certificate of the trusted CA for another name than the URL's.
    let other_dir = tempfile::tempdir().unwrap();
    let (other_port, _other) =
        serve_tls(other_dir.path(), &pki.other_name_cert, &pki.key, None).await;
    let e = driver(
        &format!("https://localhost:{other_port}"),
        None,
        Some(&pki.ca),
    )
    .notify(&batch)
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("invalid peer certificate"), "{e}");
    assert!(e.contains("not valid for name \"localhost\""), "{e}");
    assert!(e.contains("names the certificate holds"), "{e}");
    assert!(!e.contains("OSPROFILER_CA_FILE"), "{e}");

    // The collector goes on serving the clients that trust it.
    driver(&cs, None, Some(&pki.ca))
        .notify(&batch)
        .await
        .unwrap();
    assert_eq!(collector.metrics().stored(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (port, collector) = tls_collector(dir.path(), &pki, None).await;
    let batch = trace("cccccccc-0000-4000-8000-0000000000f1");

    let plain = driver(&format!("http://127.0.0.1:{port}"), None, None);
    let started = Instant::now();
    let e = plain.notify(&batch).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(3), "{e}");
    assert!(e.contains("400"), "{e}");
    assert!(e.contains("this port serves TLS: use https://"), "{e}");
    let e = plain.get_notifications("x").await.unwrap_err().to_string();
    assert!(e.contains("this port serves TLS"), "{e}");

    // A client that connects and says nothing, and one that sends garbage, hold nothing up.
    let silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut garbage, &[0u8; 64])
        .await
        .unwrap();
    let https = driver(&format!("https://localhost:{port}"), None, Some(&pki.ca));
    https.notify(&batch).await.unwrap();
    assert_eq!(collector.metrics().stored(), 4);
    drop((silent, garbage));
}

#[test]
fn a_bad_certificate_or_key_is_a_clear_error() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    // Another key than the certificate's.
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();

    let cases: [(&Path, &Path, &[&str]); 6] = [
        (
            &missing,
            &pki.key,
            &["TLS certificate", "missing.pem", "cannot read"],
        ),
        (
            &pki.cert,
            &missing,
            &["TLS key", "missing.pem", "cannot read"],
        ),
        (&not_pem, &pki.key, &["not.pem", "no PEM certificate"]),
        (&pki.cert, &not_pem, &["not.pem", "no PEM private key"]),
        // A key where the certificate goes, and the reverse.
        (&pki.key, &pki.key, &["no PEM certificate"]),
        (
            &pki.cert,
            &other_key,
            &["other.key", "not the certificate's"],
        ),
    ];
    for (cert, key, want) in cases {
        let e = server_config(cert, key).unwrap_err().to_string();
        for w in want {
            assert!(e.contains(w), "{cert:?} {key:?}: {e}");
        }
    }
    assert!(server_config(&pki.cert, &pki.key).is_ok());
}
