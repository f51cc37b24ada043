//! `redissentinel://` against a real Sentinel (`redis-server --sentinel`, started by the
//! test on a free port) that monitors a private `redis-server` (also started here).

mod support;

use osprofiler::driver::GetReport;
use std::time::Duration;

use osprofiler::driver::{get_driver, DriverOptions};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::Profiler;
use support::{free_port, redis_cli, uuid, PrivateRedis, PrivateSentinel};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn writes_and_reads_go_to_the_master_the_sentinel_names() {
    let Some(binary) = support::redis_server() else {
        return;
    };
    let Some(master) = PrivateRedis::start_with(vec!["--requirepass".into(), "s3cret".into()])
    else {
        return;
    };
    let sentinel = PrivateSentinel::start(&binary, "osprofiler-test", master.port, Some("s3cret"));
    osprofiler_redis::register();
    // A dead Sentinel first in the list: the next one is asked.
    let cs = format!(
        "redissentinel://:s3cret@127.0.0.1:{},127.0.0.1:{}/0",
        free_port(),
        sentinel.port
    );
    let mut options = DriverOptions::new(&cs);
    options.config.sentinel_service_name = "osprofiler-test".into();
    let rt = runtime();
    let driver = rt.block_on(get_driver(options.clone())).unwrap();
    assert_eq!(driver.name(), "redissentinel");

    let notifier = BatchNotifier::start(driver.clone(), BatchConfig::default());
    let base_id = uuid();
    let mut p = Profiler::with_notifier("SECRET_KEY", Some(&base_id), None, notifier.clone());
    p.start("wsgi", None);
    p.start("db", None);
    p.stop(None);
    p.stop(None);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(notifier.stats().sent, 4);

    // The points are on the master.
    let on_master = redis_cli(
        &master.url(),
        &[
            "-a",
            "s3cret",
            "--no-auth-warning",
            "LLEN",
            &format!("osprofiler_opt:{base_id}"),
        ],
    );
    assert_eq!(on_master, "4");
    let report = serde_json::to_value(rt.block_on(driver.get_report(&base_id)).unwrap()).unwrap();
    assert_eq!(report["children"][0]["info"]["name"], "wsgi");
    assert_eq!(report["children"][0]["children"][0]["info"]["name"], "db");
    let listed = rt.block_on(driver.list_traces(&[])).unwrap();
    assert!(listed.iter().any(|t| t["base_id"] == base_id.as_str()));

    // A service the Sentinels do not know: one clear error, password masked.
    options.config.sentinel_service_name = "nobody".into();
    let e = rt.block_on(get_driver(options)).unwrap_err().to_string();
    assert!(e.contains("\"nobody\"") && !e.contains("s3cret"), "{e}");
    assert!(notifier.shutdown(Duration::from_secs(5)));
}

#[test]
fn after_a_failover_writes_follow_the_new_master() {
    let Some(binary) = support::redis_server() else {
        return;
    };
    let Some(old) = PrivateRedis::start() else {
        return;
    };
    let Some(new) = PrivateRedis::start_with(vec![
        "--replicaof".into(),
        "127.0.0.1".into(),
        old.port.to_string(),
    ]) else {
        return;
    };
    let sentinel = PrivateSentinel::start(&binary, "failover-test", old.port, None);
    let sentinel_cli =
        |args: &[&str]| redis_cli(&format!("redis://127.0.0.1:{}", sentinel.port), args);
    // The Sentinel learns of the replica from the master's INFO.
    support::wait_until(Duration::from_secs(30), || {
        sentinel_cli(&["SENTINEL", "REPLICAS", "failover-test"]).contains(&new.port.to_string())
    });

    let mut options = DriverOptions::new(format!("redissentinel://127.0.0.1:{}", sentinel.port));
    options.config.sentinel_service_name = "failover-test".into();
    let rt = runtime();
    let driver = rt.block_on(get_driver(options)).unwrap();
    let base_id = uuid();
    let n = support::notification(&base_id, "t", "db-start", "2026-11-25T10:00:00.000000");
    rt.block_on(driver.notify(std::slice::from_ref(&n)))
        .unwrap();

    // The replica has its first copy, then is promoted; the old master becomes its replica
    // (read-only; what it held is replaced by the new master's data).
    support::wait_until(Duration::from_secs(30), || {
        support::try_redis_cli(&new.url(), &["INFO", "replication"])
            .is_ok_and(|info| info.contains("master_link_status:up"))
    });
    support::wait_until(Duration::from_secs(30), || {
        sentinel_cli(&["SENTINEL", "FAILOVER", "failover-test"]).starts_with("OK")
    });
    support::wait_until(Duration::from_secs(30), || {
        let role = |url: &str| support::try_redis_cli(url, &["ROLE"]).unwrap_or_default();
        role(&new.url()).starts_with("master") && role(&old.url()).starts_with("slave")
    });
    // Writes fail for a while at most (READONLY from the old master, or a dropped
    // connection), then reach the new master, found by asking the Sentinel again.
    let after = uuid();
    let n = support::notification(&after, "t", "db-start", "2026-11-25T10:00:01.000000");
    support::wait_until(Duration::from_secs(30), || {
        rt.block_on(driver.notify(std::slice::from_ref(&n))).is_ok()
    });
    let key = format!("osprofiler_opt:{after}");
    assert_eq!(redis_cli(&new.url(), &["LLEN", &key]), "1");
    let report = rt.block_on(driver.get_report(&after)).unwrap();
    assert_eq!(report.node_count(), 1);
}
