//! Faults, against PRIVATE `redis-server` processes started by the test on free ports (the
//! shared Redis on 6379 is never stopped): a server killed and restarted under a traced
//! program, a server that stops answering, a server that is not there at start.

mod support;

use osprofiler::driver::GetReport;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::{get_driver, Driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::{Profiler, ProfilerConfig};
use osprofiler_redis::RedisDriver;
use support::{free_port, options, redis_cli, uuid, wait_until, PrivateRedis};

/// Far above what a start or stop costs (microseconds), far below any network timeout: a
/// call that took this long was held up by the backend.
const FAST: Duration = Duration::from_millis(100);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `pairs` start/stop pairs in trace `base_id`; returns the slowest single call.
fn trace(notifier: &Arc<BatchNotifier>, base_id: &str, pairs: usize) -> Duration {
    let mut p = Profiler::with_notifier("SECRET_KEY", Some(base_id), None, notifier.clone());
    let mut slowest = Duration::ZERO;
    for _ in 0..pairs {
        let t = Instant::now();
        p.start("db", None);
        slowest = slowest.max(t.elapsed());
        let t = Instant::now();
        p.stop(None);
        slowest = slowest.max(t.elapsed());
    }
    slowest
}

fn stored(url: &str, base_id: &str) -> usize {
    redis_cli(url, &["LLEN", &format!("osprofiler_opt:{base_id}")])
        .parse()
        .unwrap()
}

#[test]
fn a_killed_server_costs_the_traced_program_nothing_and_points_after_its_return_arrive() {
    let Some(mut server) = PrivateRedis::start() else {
        return;
    };
    let url = server.url();
    let rt = runtime();
    let driver = Arc::new(rt.block_on(RedisDriver::connect(&options(&url))).unwrap());
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
    assert!(trace(&notifier, &before, 10) < FAST);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(stored(&url, &before), 20);
    let up = notifier.stats();
    assert_eq!((up.sent, up.dropped, up.failed), (20, 0, 0));

    // Down: the traced code goes on at full speed; what cannot be stored is counted.
    server.kill();
    let during = uuid();
    let slowest = trace(&notifier, &during, 5_000);
    assert!(
        slowest < FAST,
        "a start or stop took {slowest:?} while Redis was down"
    );
    assert!(notifier.flush(Duration::from_secs(10)));
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
    assert!(trace(&notifier, &after, 10) < FAST);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(stored(&url, &after), 20);
    let report = rt.block_on(driver.get_report(&after)).unwrap();
    assert_eq!(report.node_count(), 10);
    assert!(notifier.shutdown(Duration::from_secs(5)));
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

    server.signal("STOP");
    let started = Instant::now();
    let e = rt
        .block_on(driver.notify(std::slice::from_ref(&n)))
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    server.signal("CONT");
    assert!(e.contains(&url) && e.contains("no answer within"), "{e}");
    assert!(took < Duration::from_secs(4), "took {took:?}");

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
    assert!(started.elapsed() < Duration::from_secs(3));
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
    let started = Instant::now();
    let e = rt.block_on(get_driver(options)).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(3), "{e}");
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
    assert!(started.elapsed() < Duration::from_secs(2));
    server.restart();
    wait_until(Duration::from_secs(10), || {
        rt.block_on(driver.notify(std::slice::from_ref(&n))).is_ok()
    });
    assert_eq!(stored(&url, &base_id), 1);
}
