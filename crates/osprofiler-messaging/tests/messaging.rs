//! The driver against the real RabbitMQ: the bytes it publishes, reading a trace while
//! leaving the others queued, errors, a broker that goes silent, away and comes back, and a
//! broker that answers slowly.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::GetReport;
use osprofiler::driver::{get_driver, Driver, DriverError, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{Info, Notification, Profiler};
use osprofiler_messaging::MessagingDriver;
use osprofiler_testkit::Proxy;
use serde_json::{json, Value};
use support::{drain, queued, Vhost, VhostExt};

fn notification(
    base: &str,
    name: &str,
    trace: &str,
    parent: &str,
    ts: &str,
    info: Value,
) -> Notification {
    let Value::Object(info) = info else { panic!() };
    Notification {
        name: name.into(),
        base_id: base.into(),
        trace_id: trace.into(),
        parent_id: parent.into(),
        timestamp: ts.into(),
        info,
        project: Some("proj".into()),
        service: Some("svc".into()),
    }
}

/// start/stop pairs of one trace: `wsgi` around `db`.
fn trace(base: &str) -> Vec<Notification> {
    let w = format!("{base}-w");
    let d = format!("{base}-d");
    vec![
        notification(
            base,
            "wsgi-start",
            &w,
            base,
            "2026-11-25T10:00:00.000100",
            json!({"request": {"path": "/é"}, "host": "h1"}),
        ),
        notification(
            base,
            "db-start",
            &d,
            &w,
            "2026-11-25T10:00:00.002100",
            json!({"db": {"statement": "SELECT 1"}, "host": "h1"}),
        ),
        notification(
            base,
            "db-stop",
            &d,
            &w,
            "2026-11-25T10:00:00.004900",
            json!({"host": "h1"}),
        ),
        notification(
            base,
            "wsgi-stop",
            &w,
            base,
            "2026-11-25T10:00:00.009000",
            json!({"etype": "ValueError", "message": null, "host": "h1"}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_what_python_publishes() {
    let Some(vhost) = Vhost::new() else { return };
    let exchange = osprofiler_testkit::unique_name("ex");
    let driver = MessagingDriver::connect(vhost.options("messaging://", &exchange))
        .await
        .unwrap();
    let batch = trace("b1");
    driver.notify(&batch).await.unwrap();

    let raw = vhost.raw().await;
    let got = drain(&raw).await;
    assert_eq!(got.len(), batch.len());
    for ((ex, key, props, body), sent) in got.iter().zip(&batch) {
        assert_eq!(ex, &exchange);
        assert_eq!(key, "profiler.info");
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(
            props.content_encoding().as_ref().map(|s| s.as_str()),
            Some("utf-8")
        );
        assert_eq!(*props.delivery_mode(), Some(2));
        assert_eq!(*props.priority(), Some(0));
        assert!(props
            .headers()
            .as_ref()
            .is_some_and(|h| h.inner().is_empty()));
        let text = std::str::from_utf8(body).unwrap();
        assert!(
            text.is_ascii(),
            "non-ASCII is escaped as json.dumps does: {text}"
        );
        if sent.name == "wsgi-start" {
            assert!(text.contains("\"path\": \"/\\u00e9\""), "{text}");
        }
        let v: Value = serde_json::from_str(text).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "message_id",
                "publisher_id",
                "event_type",
                "priority",
                "payload",
                "timestamp",
                "_unique_id"
            ]
        );
        assert_eq!(v["publisher_id"], "rust-host");
        assert_eq!(v["event_type"], "profiler.svc");
        assert_eq!(v["priority"], "INFO");
        assert_eq!(v["payload"], serde_json::to_value(sent).unwrap());
        let payload_keys: Vec<&str> = v["payload"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            payload_keys,
            [
                "name",
                "base_id",
                "trace_id",
                "parent_id",
                "timestamp",
                "info",
                "project",
                "service"
            ]
        );
        let ts = v["timestamp"].as_str().unwrap();
        assert_eq!((ts.len(), &ts[10..11], &ts[19..20]), (26, " ", "."), "{ts}");
        assert!(osprofiler::TraceId::from(v["message_id"].as_str().unwrap())
            .as_uuid()
            .is_some());
        let unique = v["_unique_id"].as_str().unwrap();
        assert!(unique.len() == 32 && unique.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    // The queue was declared as oslo.messaging declares it: a declaration with oslo's flags
    // (non-durable, not auto-delete, no arguments) is accepted; any other is refused.
    assert_eq!(queued(&raw).await, 0);
    let ch = raw.create_channel().await.unwrap();
    let durable = ch
        .queue_declare(
            "profiler.info",
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await;
    assert!(durable.is_err(), "the queue must not be durable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_its_trace_and_leaves_every_other_message_queued() {
    let Some(vhost) = Vhost::new() else { return };
    let options = vhost.options("messaging://?idle_timeout=0.5", "openstack");
    let driver = MessagingDriver::connect(options).await.unwrap();
    assert_eq!(driver.idle_timeout(), Duration::from_millis(500));

    // Two traces interleaved, plus what a reader must pass over.
    let (a, b) = (trace("trace-a"), trace("trace-b"));
    for (x, y) in a.iter().zip(&b) {
        driver.notify(std::slice::from_ref(x)).await.unwrap();
        driver.notify(std::slice::from_ref(y)).await.unwrap();
    }
    let raw = vhost.raw().await;
    let ch = raw.create_channel().await.unwrap();
    let publish = |body: String| {
        let ch = ch.clone();
        async move {
            ch.basic_publish(
                "openstack",
                "profiler.info",
                Default::default(),
                body.as_bytes(),
                Default::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
    };
    // A 2.0 envelope of trace a (read), a WARN of trace a and garbage (both left).
    let late = notification(
        "trace-a",
        "late-start",
        "trace-a-l",
        "trace-a",
        "2026-11-25T10:00:00.010000",
        json!({"host": "h2"}),
    );
    let inner = json!({"message_id": "m", "publisher_id": "p", "event_type": "profiler.svc", "priority": "INFO", "payload": late, "timestamp": "t", "_unique_id": "u"});
    publish(json!({"oslo.version": "2.0", "oslo.message": inner.to_string()}).to_string()).await;
    publish(json!({"priority": "WARN", "payload": a[0]}).to_string()).await;
    publish("not json".to_owned()).await;
    assert_eq!(queued(&raw).await, 11);

    let report = driver.get_report("trace-a").await.unwrap();
    let mut expected = a.clone();
    expected.push(late);
    let want = osprofiler::report::build_report(
        expected
            .iter()
            .map(|n| serde_json::value::to_raw_value(n).unwrap()),
    );
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&want).unwrap()
    );
    assert_eq!(report.node_count(), 3);

    // Everything else is still there, in its order.
    let left = drain(&raw).await;
    let bodies: Vec<Value> = left
        .iter()
        .map(|(_, _, _, b)| serde_json::from_slice(b).unwrap_or(Value::Null))
        .collect();
    assert_eq!(left.len(), 6, "{bodies:?}");
    for (got, want) in bodies[..4].iter().zip(&b) {
        assert_eq!(got["payload"], serde_json::to_value(want).unwrap());
    }
    assert_eq!(bodies[4]["priority"], "WARN");
    assert_eq!(left[5].3, b"not json");

    // A trace that is not there: an empty report after the idle timeout.
    let t = Instant::now();
    let empty = driver.get_report("nothing-here").await.unwrap();
    assert!(empty.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(500) && t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_unreachable_broker_is_a_clear_error_in_bounded_time() {
    let mut options = DriverOptions::new("messaging://");
    options.config.transport_url =
        Some("rabbit://user:s3cret@127.0.0.1:1,user:s3cret@127.0.0.1:9/".into());
    let t = Instant::now();
    let err = MessagingDriver::connect(options).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(15));
    let text = err.to_string();
    eprintln!("{text}");
    assert!(matches!(err, DriverError::Backend { .. }), "{text}");
    assert!(
        text.contains("127.0.0.1:1") && text.contains("127.0.0.1:9"),
        "{text}"
    );
    assert!(
        text.contains("user:***@") && !text.contains("s3cret"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_connection_strings_and_urls_are_errors() {
    for (cs, url) in [
        ("messaging://rabbit-host:5672", None),
        ("messaging://?idle_timeout=soon", None),
        ("messaging://?colour=blue", None),
        ("messaging://", Some("kafka://u:s3cret@h:9092/")),
        ("messaging://", Some("rabbit://u:s3cret@h:5672/?ssl=1")),
    ] {
        let mut options = DriverOptions::new(cs);
        options.config.transport_url = url.map(str::to_owned);
        let err = MessagingDriver::connect(options).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, DriverError::BadConnectionString { .. }),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_makes_it_from_the_connection_string() {
    let Some(vhost) = Vhost::new() else { return };
    osprofiler_messaging::register();
    let url = vhost
        .transport_url()
        .replace(':', "%3A")
        .replace('/', "%2F")
        .replace('@', "%40");
    let mut options =
        DriverOptions::new(format!("messaging://?transport_url={url}&idle_timeout=0.2"));
    options.config.transport_url = Some("rabbit://nobody:x@127.0.0.1:1/".into());
    let driver = get_driver(options).await.unwrap();
    assert_eq!(driver.name(), "messaging");
    driver.notify(&trace("reg")).await.unwrap();
    let report = driver.get_report("reg").await.unwrap();
    assert_eq!(report.node_count(), 2);
    assert!(matches!(
        driver.list_traces(&[]).await,
        Err(DriverError::Unsupported { .. })
    ));
    assert!(matches!(
        driver.list_error_traces().await,
        Err(DriverError::Unsupported { .. })
    ));
}

/// A bound on a hang (traced work, a flush), not a speed claim.
const HANG: Duration = Duration::from_secs(30);

/// A start/stop pair named `name`, with `phase` in its info.
fn point(profiler: &mut Profiler, name: &'static str) {
    let mut info = Info::new();
    info.insert("phase".into(), Value::from(name));
    profiler.start(name, Some(info));
    profiler.stop(None);
}

/// The broker goes silent, then away, and comes back (the test freezes, cuts and restores a
/// TCP proxy; the shared RabbitMQ keeps running) while a traced program keeps tracing through
/// the BatchNotifier. That tracing never waits on the broker is proved by structure: the
/// traced code runs while the link is frozen and must finish while it still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_goes_and_comes_back_never_blocks_tracing() {
    let Some(vhost) = Vhost::new() else { return };
    let proxy = Proxy::start(&vhost.broker);
    let mut options = vhost.options("messaging://", "openstack");
    options.config.transport_url = Some(vhost.transport_url_via(proxy.addr));
    let driver = MessagingDriver::connect(options)
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    let notifier = BatchNotifier::start(
        Arc::new(driver),
        BatchConfig {
            queue_capacity: 1000,
            send_timeout: Duration::from_secs(4),
            ..BatchConfig::default()
        },
    );
    let mut profiler = Profiler::with_notifier("key", None, None, notifier.clone());
    let base_id = profiler.base_id().to_string();

    for _ in 0..5 {
        point(&mut profiler, "before");
    }
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 10);

    // Silent: the link forwards nothing either way. The notifier's first batch reaches it and
    // waits there; the rest of the traced code must finish while the link stays frozen.
    proxy.freeze();
    point(&mut profiler, "during");
    let mut profiler = tokio::task::block_in_place(|| {
        proxy.wait_holding(HANG);
        proxy.while_frozen(HANG, move || {
            for _ in 1..200 {
                point(&mut profiler, "during");
            }
            profiler
        })
    });
    // Then gone: the link is cut (what it held is dropped); what cannot be sent is counted.
    proxy.cut();
    assert!(
        notifier.flush(Duration::from_secs(20)),
        "flush returns once batches failed"
    );
    let s = notifier.stats();
    assert_eq!(s.sent, 10, "{s:?}");
    assert_eq!(s.failed + s.dropped, 400, "{s:?}");
    assert!(s.failed > 0, "{s:?}");

    proxy.thaw();
    proxy.restore();
    // The next batches reconnect (lazily); points after the return arrive.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = 0;
    while notifier.stats().sent < 12 {
        assert!(
            Instant::now() < deadline,
            "never reconnected: {:?}",
            notifier.stats()
        );
        point(&mut profiler, "after");
        after += 1;
        notifier.flush(Duration::from_secs(10));
        if notifier.stats().sent < 12 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for _ in 0..5 {
        point(&mut profiler, "after");
        after += 1;
    }
    assert!(notifier.flush(Duration::from_secs(10)));
    let s = notifier.stats();
    assert_eq!(s.sent, 10 + 12, "{s:?}");

    // Read directly from the broker: before and after are there, during is not.
    let reader =
        MessagingDriver::connect(vhost.options("messaging://?idle_timeout=0.3", "openstack"))
            .await
            .unwrap();
    let report = reader.get_report(&base_id).await.unwrap();
    let stats: std::collections::HashMap<&str, u64> =
        report.stats().map(|(name, s)| (name, s.count)).collect();
    assert_eq!(stats.get("before"), Some(&5));
    assert_eq!(
        stats.get("after"),
        Some(&6),
        "{after} after-points traced, {stats:?}"
    );
    assert_eq!(stats.get("during"), None);
    notifier.shutdown(Duration::from_secs(5));
}

/// A link to the broker that answers, slowly (every chunk held 300 ms each way), within the
/// driver's timeouts, under a stream of traced calls: the calls finish while it is slow, and
/// every point the notifier did not count as dropped is in the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_broker_loses_nothing_it_was_given() {
    let Some(vhost) = Vhost::new() else { return };
    let proxy = Proxy::start(&vhost.broker);
    let mut options = vhost.options("messaging://", "openstack");
    options.config.transport_url = Some(vhost.transport_url_via(proxy.addr));
    let driver = MessagingDriver::connect(options)
        .await
        .unwrap()
        .with_timeout(HANG);
    let notifier = BatchNotifier::start(
        Arc::new(driver),
        BatchConfig {
            queue_capacity: 64,
            max_batch: 64,
            send_timeout: HANG,
            ..BatchConfig::default()
        },
    );
    let mut profiler = Profiler::with_notifier("key", None, None, notifier.clone());
    point(&mut profiler, "warm");
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 2);

    proxy.delay(Duration::from_millis(300));
    let traced = tokio::task::spawn_blocking(move || {
        for _ in 0..20 {
            for _ in 0..25 {
                point(&mut profiler, "slow");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    tokio::time::timeout(HANG, traced)
        .await
        .expect("the traced calls finish while the link is slow")
        .unwrap();
    let started = Instant::now();
    let drained = tokio::task::block_in_place(|| notifier.flush(Duration::from_secs(120)));
    assert!(drained, "the slow link drains");
    let s = notifier.stats();
    eprintln!(
        "through a slow link: {s:?}, drained in {:?}",
        started.elapsed()
    );
    assert_eq!(s.failed, 0, "nothing failed on a slow link: {s:?}");
    assert_eq!(s.sent + s.dropped, 2 + 1_000, "{s:?}");
    let raw = vhost.raw().await;
    assert_eq!(
        u64::from(queued(&raw).await),
        s.sent,
        "every point not dropped is in the queue: {s:?}"
    );
    notifier.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_broker_that_answers_is_used() {
    let Some(vhost) = Vhost::new() else { return };
    let mut options = vhost.options("messaging://?idle_timeout=0.2", "openstack");
    options.config.transport_url = Some(format!(
        "rabbit://guest:guest@127.0.0.1:1,guest:guest@{}/{}",
        vhost.broker, vhost.name
    ));
    let driver = MessagingDriver::connect(options).await.unwrap();
    driver.notify(&trace("multi")).await.unwrap();
    assert_eq!(driver.get_report("multi").await.unwrap().node_count(), 2);
}

/// A deployment running oslo.messaging with `amqp_durable_queues = true` and
/// `rabbit_quorum_queue = true` has a durable exchange and a durable quorum queue; the
/// driver's declaration is refused, and it uses theirs as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_exchange_and_queue_made_by_others_are_used() {
    let Some(vhost) = Vhost::new() else { return };
    let raw = vhost.raw().await;
    let ch = raw.create_channel().await.unwrap();
    ch.exchange_declare(
        "openstack",
        lapin::ExchangeKind::Topic,
        lapin::options::ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        lapin::types::FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        "profiler.info",
        lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        {
            let mut args = lapin::types::FieldTable::default();
            args.insert(
                "x-queue-type".into(),
                lapin::types::AMQPValue::LongString("quorum".into()),
            );
            args
        },
    )
    .await
    .unwrap();
    let driver =
        MessagingDriver::connect(vhost.options("messaging://?idle_timeout=0.2", "openstack"))
            .await
            .unwrap();
    driver.notify(&trace("durable")).await.unwrap();
    assert_eq!(driver.get_report("durable").await.unwrap().node_count(), 2);
}

/// A trace still being written when the reader starts (Python's use case for the idle
/// timeout: `osprofiler trace show` right after an asynchronous command): bursts that come
/// less than the idle timeout apart are all read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_waits_for_a_trace_still_being_written() {
    let Some(vhost) = Vhost::new() else { return };
    let reader = Arc::new(
        MessagingDriver::connect(vhost.options("messaging://", "openstack"))
            .await
            .unwrap()
            .with_idle_timeout(Duration::from_millis(900)),
    );
    let writer = MessagingDriver::connect(vhost.options("messaging://", "openstack"))
        .await
        .unwrap();
    let read = {
        let reader = reader.clone();
        tokio::spawn(async move { reader.get_report("slow").await })
    };
    let all = trace("slow");
    for pair in all.chunks(2) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        writer.notify(pair).await.unwrap();
    }
    let report = read.await.unwrap().unwrap();
    assert_eq!(report.node_count(), 2);
    let stats: Vec<(&str, u64)> = report.stats().map(|(n, s)| (n, s.count)).collect();
    assert_eq!(stats, [("wsgi", 1), ("db", 1)]);
}

/// A broker that accepts the TCP connection and then says nothing (a hung server, a
/// firewall that swallows packets): the driver gives up within its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut options = DriverOptions::new("messaging://");
    options.config.transport_url = Some(format!("rabbit://u:s3cret@{addr}/"));
    let t = Instant::now();
    let err = MessagingDriver::connect(options).await.unwrap_err();
    let took = t.elapsed();
    let text = err.to_string();
    assert!(
        took >= Duration::from_secs(1) && took < osprofiler_messaging::DEFAULT_TIMEOUT * 3,
        "{took:?}: {text}"
    );
    assert!(
        text.contains(&addr.to_string()) && !text.contains("s3cret"),
        "{text}"
    );
    hold.abort();
}
