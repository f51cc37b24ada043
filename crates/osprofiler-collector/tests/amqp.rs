//! The collector's AMQP ingest against the real RabbitMQ (a private virtual host per test),
//! the real Python OSprofiler messaging driver and ours, into real stores: every
//! notification stored once, acknowledged only when stored, bad messages set aside, and
//! nothing lost while the store or the broker is away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler_collector::amqp::{AmqpConfig, AmqpIngest};
use osprofiler_collector::{Collector, CollectorConfig};
use osprofiler_core::driver::{Driver, DriverOptions};
use osprofiler_core::Notification;
use osprofiler_messaging::{MessagingDriver, TransportUrl, QUEUE};
use osprofiler_sql::store::TraceStore;
use osprofiler_testkit::{PgDatabase, Proxy, Vhost};
use serde_json::Value;

/// A collector consuming `url`, over `store`, running until the returned sender says stop.
struct Running {
    collector: Collector,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(store: &str, url: &str) -> Running {
        let store = Arc::new(TraceStore::open(store).await.expect("the store opens"));
        let collector = Collector::new(store, CollectorConfig::default());
        let mut config = AmqpConfig::new(TransportUrl::parse(url).unwrap());
        config.batch_size = 200;
        let ingest = AmqpIngest::connect(collector.clone(), config)
            .await
            .expect("the collector connects");
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(ingest.run(stopping));
        Running {
            collector,
            stop,
            task,
        }
    }

    /// Waits until `n` notifications are stored (or fails after `within`).
    async fn wait_stored(&self, n: u64, within: Duration) {
        let m = self.collector.metrics();
        wait_for(within, &format!("{n} notifications stored"), || {
            m.stored() >= n
        })
        .await;
        assert_eq!(m.stored(), n, "no more than {n} stored");
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the consumer stops within 10 s")
            .unwrap();
    }
}

async fn wait_for(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Our messaging driver on `url`.
async fn rust_driver(url: &str) -> MessagingDriver {
    let mut o = DriverOptions::new("messaging://");
    o.config.transport_url = Some(url.to_owned());
    o.service = Some("svc".into());
    o.host = "rust-host".into();
    MessagingDriver::connect(o)
        .await
        .expect("the driver connects")
}

/// Publishes `batch` in chunks of 500 through `driver` (confirmed by RabbitMQ).
async fn publish(driver: &MessagingDriver, batch: &[Notification]) {
    for chunk in batch.chunks(500) {
        driver.notify(chunk).await.expect("published");
    }
}

/// Publishes raw message bodies to the `openstack` exchange with the routing key
/// `profiler.info`, waiting for RabbitMQ's confirms.
async fn publish_raw(vhost: &Vhost, bodies: &[Vec<u8>]) {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    let props = lapin::ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let conn = lapin::Connection::connect(&vhost.amqp_uri(), props)
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for body in bodies {
        ch.basic_publish(
            "openstack",
            QUEUE,
            BasicPublishOptions::default(),
            body,
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let _ = conn.close(200, "done").await;
}

/// Runs Python's messaging driver: `count` notifications tagged `tag`.
fn python_publish(url: &str, count: usize, tag: &str) -> Option<usize> {
    let python = osprofiler_testkit::python()?;
    let script = osprofiler_testkit::python_publish_script();
    let out = osprofiler_testkit::run(
        &python,
        &[script.to_str().unwrap(), url, &count.to_string(), tag],
    );
    Some(out.trim().parse().expect("the publisher prints its count"))
}

/// Waits until the queue holds `n` messages (ready and unacknowledged).
async fn wait_queued(vhost: &Vhost, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let q = vhost.queued(QUEUE);
        if q == Some(n) {
            return;
        }
        assert!(Instant::now() < deadline, "{QUEUE} holds {q:?}, not {n}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_notifications_stored_once_and_bad_messages_set_aside() {
    let Some(vhost) = Vhost::new() else { return };
    let Some(_) = osprofiler_testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:///{}", dir.path().join("c.sqlite").display());
    let url = vhost.transport_url();
    let running = Running::start(&store, &url).await;

    // Python's driver and ours, into the same queue.
    let py_url = url.clone();
    let py = tokio::task::spawn_blocking(move || python_publish(&py_url, 300, "py"));
    let driver = rust_driver(&url).await;
    let ours = osprofiler_testkit::notifications("rs", 300);
    publish(&driver, &ours).await;
    assert_eq!(py.await.unwrap(), Some(300));
    running.wait_stored(600, Duration::from_secs(60)).await;

    // The same notifications again (as after a crash before the acknowledgement): stored
    // once.
    publish(&driver, &ours[..50]).await;
    let collector = running.collector.clone();
    let m = collector.metrics();
    wait_for(Duration::from_secs(20), "50 duplicates", || {
        m.duplicates() == 50
    })
    .await;

    // The 2.0 envelope is read; what cannot be read is set aside with its reason.
    let mut v1 = Vec::new();
    osprofiler_messaging::write_message(
        &mut v1,
        &osprofiler_testkit::notifications("env", 1)[0],
        "h",
        osprofiler_core::timestamp::Timestamp::now(),
    )
    .unwrap();
    let envelope = serde_json::json!({
        "oslo.version": "2.0",
        "oslo.message": String::from_utf8(v1.clone()).unwrap(),
    })
    .to_string()
    .into_bytes();
    let no_trace_id = String::from_utf8(v1.clone())
        .unwrap()
        .replace("\"trace_id\": \"env-0-p0\", ", "")
        .into_bytes();
    let bad: Vec<Vec<u8>> = vec![b"\xff not json".to_vec(), no_trace_id.clone()];
    publish_raw(&vhost, &[bad[0].clone(), envelope, bad[1].clone()]).await;
    running.wait_stored(601, Duration::from_secs(20)).await;
    wait_for(Duration::from_secs(20), "2 dead letters", || {
        m.dead_letters() == 2
    })
    .await;

    let store = running.collector.store().clone();
    let letters = store.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].letter.body, bad[0], "the bytes as received");
    assert!(
        letters[0]
            .letter
            .reason
            .starts_with("not an oslo.messaging notification"),
        "{}",
        letters[0].letter.reason
    );
    assert_eq!(letters[1].letter.body, no_trace_id);
    assert_eq!(letters[1].letter.reason, "payload.trace_id: missing");
    assert_eq!(letters[1].letter.source, "amqp");

    // Every message taken was acknowledged.
    wait_queued(&vhost, 0).await;

    // What is stored is what was sent: Python's payloads whole, ours too, per trace.
    let py_trace = store.notifications("py-").await.unwrap();
    assert!(py_trace.is_empty(), "base ids are whole ids, not prefixes");
    let page = store
        .list(&osprofiler_sql::store::TraceQuery {
            project: Some("pyproj".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 30, "300 Python notifications in traces of 10");
    assert!(page
        .iter()
        .all(|t| t.notifications == 10 && t.services == ["pysvc"] && t.hosts == ["py-host"]));
    let one: Vec<Value> = store
        .notifications(&page[0].base_id)
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r.get()).unwrap())
        .collect();
    assert_eq!(one.len(), 10);
    assert_eq!(one[0]["project"], "pyproj");
    assert_eq!(one[0]["info"]["host"], "py-host");
    let rs = store.notifications("rs-7").await.unwrap();
    let sent: Vec<String> = ours[70..80]
        .iter()
        .map(|n| osprofiler_core::pyjson::to_string(n).unwrap())
        .collect();
    let got: Vec<&str> = rs.iter().map(|r| r.get()).collect();
    assert_eq!(got, sent, "our notifications, whole, in arrival order");

    let text = m.render();
    for line in [
        "osprofiler_collector_received_total{source=\"amqp\"} 651",
        "osprofiler_collector_stored_total 601",
        "osprofiler_collector_duplicates_total 50",
        "osprofiler_collector_dead_lettered_total 2",
        "osprofiler_collector_amqp_connected 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    running.stop().await;
    assert_eq!(m.broker(), Some(false), "stopped: not connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_lost_under_load_keeps_the_messages_in_the_broker() {
    let Some(vhost) = Vhost::new() else { return };
    let Some(db) = PgDatabase::new() else { return };
    let real = osprofiler_testkit::host_port(&db.url, 5432);
    let proxy = Proxy::start(&real);
    let running = Running::start(&proxy.route(&db.url, &real), &vhost.transport_url()).await;
    let driver = rust_driver(&vhost.transport_url()).await;
    let all = osprofiler_testkit::notifications("pg", 5000);
    publish(&driver, &all[..2000]).await;
    running.wait_stored(2000, Duration::from_secs(60)).await;

    // The database goes away under load: nothing more is stored, nor acknowledged.
    proxy.cut();
    publish(&driver, &all[2000..]).await;
    let collector = running.collector.clone();
    let m = collector.metrics();
    wait_for(Duration::from_secs(30), "the store fails", || {
        m.store_errors() >= 2
    })
    .await;
    assert_eq!(m.stored(), 2000);
    wait_queued(&vhost, 3000).await;

    // It comes back: everything is stored, once.
    proxy.restore();
    running.wait_stored(5000, Duration::from_secs(60)).await;
    wait_queued(&vhost, 0).await;
    assert_eq!(db.count("SELECT count(*) FROM data"), 5000);
    assert_eq!(
        db.count("SELECT count(*) FROM osprofiler_notifications"),
        5000
    );
    assert_eq!(
        db.count("SELECT sum(notifications) FROM osprofiler_traces"),
        5000
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_when_the_broker_is_lost() {
    let Some(vhost) = Vhost::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:///{}", dir.path().join("c.sqlite").display());
    let proxy = Proxy::start(&vhost.broker);
    let running = Running::start(&store, &vhost.transport_url_via(proxy.addr)).await;
    let collector = running.collector.clone();
    let m = collector.metrics();
    assert_eq!(m.broker(), Some(true));
    let driver = rust_driver(&vhost.transport_url()).await;
    let all = osprofiler_testkit::notifications("rc", 3000);
    publish(&driver, &all[..1000]).await;
    running.wait_stored(1000, Duration::from_secs(30)).await;

    proxy.cut();
    wait_for(Duration::from_secs(20), "the loss is seen", || {
        m.broker() == Some(false)
    })
    .await;
    publish(&driver, &all[1000..]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        m.stored(),
        1000,
        "nothing reaches a collector cut from its broker"
    );

    proxy.restore();
    running.wait_stored(3000, Duration::from_secs(60)).await;
    assert_eq!(m.broker(), Some(true));
    wait_queued(&vhost, 0).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_an_error_at_connect() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:///{}", dir.path().join("c.sqlite").display());
    let store = Arc::new(TraceStore::open(&store).await.unwrap());
    let collector = Collector::new(store, CollectorConfig::default());
    let url = TransportUrl::parse("rabbit://guest:pw-secret@127.0.0.1:1/").unwrap();
    let e = AmqpIngest::connect(collector, AmqpConfig::new(url))
        .await
        .unwrap_err();
    assert!(e.contains("127.0.0.1:1"), "{e}");
    assert!(!e.contains("pw-secret"), "no password in {e}");
}
