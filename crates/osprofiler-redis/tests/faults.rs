//! Faults, against PRIVATE `redis-server` processes started by the test on free ports (the
//! shared Redis on 6379 is never stopped): a server that goes silent and dies under a traced
//! program and comes back, a slow link, a server that stops answering, a server that is not
//! there at start.
//!
//! "The traced program never waits on Redis" is proved by structure, not by the clock: the
//! traced code runs while the link to Redis (a testkit `Proxy`) is frozen, and must finish
//! while it is still frozen. The time bounds here are bounds on a hang, or on the driver's own
//! timeouts, with room for a loaded machine; never a claim about speed.

mod support;

use osprofiler::driver::GetReport;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::{get_driver, Driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{Profiler, ProfilerConfig};
use osprofiler_redis::{RedisDriver, Timeouts};
use osprofiler_testkit::Proxy;
use support::{free_port, options, redis_cli, uuid, wait_until, PrivateRedis};

/// A bound on a hang (traced work, a flush), not a speed claim.
const HANG: Duration = Duration::from_secs(30);

/// What a loaded machine may add to one of the driver's own timeouts.
const SLACK: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `pairs` start/stop pairs in trace `base_id`.
fn trace(notifier: &Arc<BatchNotifier>, base_id: &str, pairs: usize) {
    let mut p = Profiler::with_notifier("SECRET_KEY", Some(base_id), None, notifier.clone());
    for _ in 0..pairs {
        p.start("db", None);
        p.stop(None);
    }
}

fn stored(url: &str, base_id: &str) -> usize {
    redis_cli(url, &["LLEN", &format!("osprofiler_opt:{base_id}")])
        .parse()
        .unwrap()
}

/// A private server, a proxy in front of it, and driver options that go through the proxy.
fn behind_a_proxy(server: &PrivateRedis) -> (Proxy, DriverOptions) {
    let real = format!("127.0.0.1:{}", server.port);
    let proxy = Proxy::start(&real);
    let via = proxy.route(&server.url(), &real);
    (proxy, options(&via))
}

#[test]
fn a_killed_server_costs_the_traced_program_nothing_and_points_after_its_return_arrive() {
    let Some(mut server) = PrivateRedis::start() else {
        return;
    };
    let url = server.url();
    let (proxy, via_proxy) = behind_a_proxy(&server);
    let rt = runtime();
    let driver = Arc::new(rt.block_on(RedisDriver::connect(&via_proxy)).unwrap());
    let notifier = BatchNotifier::start(
        driver.clone(),
        BatchConfig {
            queue_capacity: 512,
            max_batch: 64,
            ..BatchConfig::default()
        },
    );

    // Up: everything arrives.
    let before = uuid();
    trace(&notifier, &before, 10);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(stored(&url, &before), 20);
    let up = notifier.stats();
    assert_eq!((up.sent, up.dropped, up.failed), (20, 0, 0));

    // Down as a host that vanished: the link goes silent (no answer, no reset) and the
    // server dies behind it. The notifier's first batch reaches the link and waits there;
    // the rest of the traced code must finish while the link stays frozen.
    proxy.freeze();
    server.kill();
    let during = uuid();
    trace(&notifier, &during, 1);
    proxy.wait_holding(HANG);
    let (n, id) = (notifier.clone(), during.clone());
    proxy.while_frozen(HANG, move || trace(&n, &id, 4_999));
    // The link answers again: with a dead server, so nothing can be stored; what cannot be
    // stored is counted.
    proxy.thaw();
    assert!(notifier.flush(HANG));
    let down = notifier.stats();
    assert_eq!(
        down.sent, up.sent,
        "nothing can be stored while Redis is down"
    );
    assert!(down.failed > 0, "{down:?}");
    assert_eq!(
        (down.failed + down.dropped) - (up.failed + up.dropped),
        10_000,
        "every point is either stored or counted: {down:?}"
    );

    // Back (empty, on the same port): the driver reconnects by itself.
    server.restart();
    let probe = uuid();
    wait_until(Duration::from_secs(15), || {
        trace(&notifier, &probe, 1);
        notifier.flush(Duration::from_secs(5));
        notifier.stats().sent > down.sent
    });
    let after = uuid();
    trace(&notifier, &after, 10);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(stored(&url, &after), 20);
    let report = rt.block_on(driver.get_report(&after)).unwrap();
    assert_eq!(report.node_count(), 10);
    assert!(notifier.shutdown(Duration::from_secs(5)));
}

/// A link that answers, slowly (every chunk held 300 ms each way), well within the driver's
/// timeouts, under a stream of traced calls: the calls finish while it is slow, and every
/// point the notifier did not count as dropped is stored.
#[test]
fn a_slow_server_loses_nothing_it_was_given() {
    let Some(server) = PrivateRedis::start() else {
        return;
    };
    let url = server.url();
    let (proxy, mut via_proxy) = behind_a_proxy(&server);
    via_proxy.config.socket_timeout = HANG.as_secs_f64();
    let rt = runtime();
    let driver = Arc::new(rt.block_on(RedisDriver::connect(&via_proxy)).unwrap());
    let notifier = BatchNotifier::start(
        driver,
        BatchConfig {
            queue_capacity: 64,
            max_batch: 64,
            send_timeout: HANG,
            ..BatchConfig::default()
        },
    );
    let warm = uuid();
    trace(&notifier, &warm, 1);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 2);

    proxy.delay(Duration::from_millis(300));
    let base_id = uuid();
    let (n, id) = (notifier.clone(), base_id.clone());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..20 {
            trace(&n, &id, 25);
            std::thread::sleep(Duration::from_millis(50));
        }
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(HANG)
        .expect("the traced calls finish while the link is slow");
    assert!(notifier.flush(HANG), "the slow link drains");
    let s = notifier.stats();
    eprintln!("through a slow link: {s:?}");
    assert_eq!(s.failed, 0, "nothing failed on a slow link: {s:?}");
    assert_eq!(s.sent + s.dropped, 2 + 1_000, "{s:?}");
    assert_eq!(
        stored(&url, &base_id) as u64,
        s.sent - 2,
        "every point not dropped is stored: {s:?}"
    );
    assert!(notifier.shutdown(Duration::from_secs(5)));
}

/// Waits until every thread of process `pid` is stopped (state `T` in `/proc`): `kill -STOP`
/// returns once the signal is sent, and on a busy machine the server's main thread may answer
/// a few more requests before the stop has reached it.
fn wait_stopped(pid: u32) {
    let stopped = |stat: String| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('T'))
    };
    wait_until(HANG, || {
        std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
            tasks
                .flatten()
                .all(|t| std::fs::read_to_string(t.path().join("stat")).is_ok_and(stopped))
        })
    });
}

#[test]
fn a_server_that_stops_answering_fails_batches_within_the_write_timeout() {
    let Some(server) = PrivateRedis::start() else {
        return;
    };
    let url = server.url();
    let rt = runtime();
    let driver = rt.block_on(RedisDriver::connect(&options(&url))).unwrap();
    let base_id = uuid();
    let n = support::notification(&base_id, "t", "db-start", "2026-11-25T10:00:00.000000");
    rt.block_on(driver.notify(std::slice::from_ref(&n)))
        .unwrap();

    // Stopped for as long as the call takes: it must end, by the write timeout (the error
    // says so), while the server is still stopped.
    server.signal("STOP");
    wait_stopped(server.pid());
    let started = Instant::now();
    let e = rt
        .block_on(driver.notify(std::slice::from_ref(&n)))
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    server.signal("CONT");
    assert!(e.contains(&url) && e.contains("no answer within"), "{e}");
    let write =
        Timeouts::from_socket_timeout(Duration::from_secs_f64(options(&url).config.socket_timeout))
            .write;
    assert!(took >= write && took < write + SLACK, "took {took:?}");

    // Answering again: a later call reconnects (after the retry pause) and works.
    wait_until(Duration::from_secs(10), || {
        rt.block_on(driver.notify(std::slice::from_ref(&n))).is_ok()
    });
    assert!(stored(&url, &base_id) >= 2);
}

#[test]
fn a_driver_that_cannot_connect_at_start_fails_fast_naming_the_string() {
    osprofiler_redis::register();
    let rt = runtime();

    // Nothing listens: refused.
    let port = free_port();
    let cs = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let started = Instant::now();
    let e = rt
        .block_on(get_driver(DriverOptions::new(cs)))
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < SLACK,
        "a refusal is an error, not a retry loop"
    );
    assert!(
        e.starts_with(&format!("redis://:***@127.0.0.1:{port}/0: cannot connect")),
        "{e}"
    );
    assert!(!e.contains("hunter2"));

    // Something listens but never answers: the connect timeout bounds the wait.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut options = DriverOptions::new(format!("redis://127.0.0.1:{port}"));
    options.config.socket_timeout = 0.2;
    let connect = Timeouts::from_socket_timeout(Duration::from_secs_f64(0.2)).connect;
    let started = Instant::now();
    let e = rt.block_on(get_driver(options)).unwrap_err().to_string();
    let took = started.elapsed();
    assert!(took < connect * 2 + SLACK, "{took:?}: {e}");
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");

    // As a service's configuration: profiling off, the service runs on.
    let conf = ProfilerConfig {
        enabled: true,
        connection_string: Some(format!("redis://127.0.0.1:{}", free_port())),
        ..ProfilerConfig::default()
    };
    let profiling = rt.block_on(osprofiler::init_from_conf(&conf, Some("p"), Some("s")));
    assert!(!profiling.enabled());
}

#[test]
fn a_lazy_driver_made_while_redis_is_down_works_once_it_is_up() {
    let Some(mut server) = PrivateRedis::start() else {
        return;
    };
    let url = server.url();
    server.kill();
    let rt = runtime();
    let driver = RedisDriver::new(&options(&url)).unwrap();
    let base_id = uuid();
    let n = support::notification(&base_id, "t", "db-start", "2026-11-25T10:00:00.000000");
    let started = Instant::now();
    assert!(rt
        .block_on(driver.notify(std::slice::from_ref(&n)))
        .is_err());
    assert!(
        started.elapsed() < SLACK,
        "a refusal is an error, not a wait"
    );
    server.restart();
    wait_until(Duration::from_secs(10), || {
        rt.block_on(driver.notify(std::slice::from_ref(&n))).is_ok()
    });
    assert_eq!(stored(&url, &base_id), 1);
}
