//! Faults of the SQL driver: bad connection strings and servers that are not there give one
//! clear error (password masked) within a bounded time, and a database that goes silent, goes
//! away or answers slowly while a traced program runs costs that program nothing: the shared
//! PostgreSQL and MariaDB cannot be stopped here (other tests use them), so the test freezes,
//! cuts, delays and restores a TCP proxy it runs between the driver and the server.
//!
//! "The traced program never waits on the database" is proved by structure, not by the clock:
//! the traced code runs while the proxy is frozen (or SQLite's write lock is held) and must
//! finish while it still is. The time bounds here are bounds on a hang, or on the driver's own
//! timeouts with room for a loaded machine; never a claim about speed.
#![cfg(all(feature = "postgres", feature = "mysql"))]

mod sql_support;

use osprofiler::driver::GetReport;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprofiler::driver::sql::CONNECT_TIMEOUT;
use osprofiler::driver::{get_driver, Driver};
use osprofiler::notifier::{BatchConfig, BatchNotifier};
use osprofiler::Profiler;
use osprofiler_testkit::Proxy;
use sql_support::{options, test_per_backend, Server, TempDb};

/// A bound on a hang (traced work, a lock held until a batch failed on it), not a speed claim.
const HANG: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[tokio::test]
async fn bad_strings_and_missing_servers_give_one_clear_error_in_bounded_time() {
    let cases = [
        // (connection string, what the error must say)
        (
            "postgresql+nodriver://u:s3cret@127.0.0.1/test",
            "unknown driver `nodriver`",
        ),
        (
            "mysql+nodriver://u:s3cret@127.0.0.1/test",
            "unknown driver `nodriver`",
        ),
        (
            "postgresql://u:s3cret@127.0.0.1:notaport/test",
            "bad connection string",
        ),
        // Nothing listens on port 1.
        (
            "postgresql://postgres:s3cret@127.0.0.1:1/test",
            "PostgreSQL database",
        ),
        ("mysql://root:s3cret@127.0.0.1:1/test", "MySQL database"),
        (
            "mysql+pymysql://root:s3cret@127.0.0.1:1/test",
            "MySQL database",
        ),
        // A name that never resolves.
        (
            "postgresql://u:s3cret@no-such-host.invalid/test",
            "PostgreSQL database",
        ),
    ];
    for (cs, says) in cases {
        let started = Instant::now();
        let e = get_driver(options(cs)).await.unwrap_err().to_string();
        let took = started.elapsed();
        assert!(took < CONNECT_TIMEOUT * 2, "{cs}: {took:?}");
        assert!(e.contains(says), "{cs}: {e}");
        assert!(!e.contains("s3cret"), "{cs}: {e}");
        let masked = osprofiler::driver::mask_password(cs);
        assert!(e.contains(&masked), "{cs}: {e}");
    }
}

#[tokio::test]
async fn a_refused_login_or_missing_database_names_the_string() {
    if let Some(url) = osprofiler_testkit::postgres() {
        let cs = sql_support::with_database(&url, "osp_no_such_database");
        let e = get_driver(options(&cs)).await.unwrap_err().to_string();
        assert!(e.contains(&cs), "{e}");
        assert!(e.contains("does not exist"), "{e}");
    }
    if let Some(url) = osprofiler_testkit::mariadb() {
        let cs = sql_support::with_database(&url, "osp_no_such_database");
        let e = get_driver(options(&cs)).await.unwrap_err().to_string();
        assert!(e.contains(&cs), "{e}");
        assert!(e.contains("osp_no_such_database"), "{e}");
    }
}

/// `pairs` start/stop pairs in `p`'s trace.
fn trace_on(p: &mut Profiler, pairs: usize) {
    for _ in 0..pairs {
        p.start("db", None);
        p.stop(None);
    }
}

/// `pairs` start/stop pairs in a new trace; returns its id.
fn trace(notifier: &Arc<BatchNotifier>, pairs: usize) -> String {
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    trace_on(&mut p, pairs);
    p.base_id().to_string()
}

/// A notifier into `driver` with a small queue (and batches half of it): the thousands of
/// points traced while the store is out of reach overflow it, so both failed batches and
/// dropped points are counted.
fn small_queue_notifier(driver: Arc<dyn Driver>) -> Arc<BatchNotifier> {
    BatchNotifier::start(
        driver,
        BatchConfig {
            queue_capacity: 128,
            max_batch: 64,
            ..BatchConfig::default()
        },
    )
}

fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn a_database_that_goes_away(server: Server) {
    let rt = runtime();
    let Some(db) = rt.block_on(TempDb::new(server)) else {
        return;
    };
    let default_port = if server == Server::Postgres {
        5432
    } else {
        3306
    };
    let real = osprofiler_testkit::host_port(&db.url, default_port);
    let proxy = Proxy::start(&real);
    let via_proxy = proxy.route(&db.url, &real);
    assert_ne!(via_proxy, db.url);
    let driver = rt.block_on(get_driver(options(&via_proxy))).unwrap();
    let direct = rt.block_on(get_driver(options(&db.url))).unwrap();
    let nodes = |id: &str| rt.block_on(direct.get_report(id)).unwrap().node_count();
    let notifier = small_queue_notifier(driver.clone());

    // Up: everything arrives.
    let before = trace(&notifier, 10);
    assert!(notifier.flush(Duration::from_secs(20)));
    assert_eq!(nodes(&before), 10);
    let up = notifier.stats();
    assert_eq!((up.sent, up.dropped, up.failed), (20, 0, 0));

    // Silent: the link forwards nothing either way. The notifier's first batch reaches it and
    // waits there; the rest of the traced code must finish while the link stays frozen.
    proxy.freeze();
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let during = p.base_id().to_string();
    trace_on(&mut p, 1);
    proxy.wait_holding(HANG);
    proxy.while_frozen(HANG, move || trace_on(&mut p, 1_999));
    // Then gone: the link is cut (what it held is dropped); what cannot be stored is counted.
    proxy.cut();
    assert!(notifier.flush(Duration::from_secs(60)));
    let down = notifier.stats();
    eprintln!("{server:?} while gone: {down:?} (before: {up:?})");
    assert_eq!(down.sent, up.sent, "nothing can be stored: {down:?}");
    assert!(down.failed > 0, "{down:?}");
    assert_eq!(
        (down.failed + down.dropped) - (up.failed + up.dropped),
        4_000,
        "every point is either stored or counted: {down:?}"
    );
    assert_eq!(nodes(&during), 0);
    // A driver made while it is gone fails with the reason, not a hang.
    let started = Instant::now();
    let e = rt.block_on(get_driver(options(&via_proxy))).unwrap_err();
    assert!(started.elapsed() < CONNECT_TIMEOUT * 2);
    assert!(e.to_string().contains(&via_proxy), "{e}");

    // Back: the pool reconnects by itself and points after its return arrive.
    proxy.thaw();
    proxy.restore();
    wait_until(Duration::from_secs(30), || {
        trace(&notifier, 1);
        notifier.flush(Duration::from_secs(15));
        notifier.stats().sent > down.sent
    });
    let after = trace(&notifier, 10);
    assert!(notifier.flush(Duration::from_secs(20)));
    assert_eq!(nodes(&after), 10);
    assert_eq!(
        rt.block_on(driver.get_report(&after)).unwrap().node_count(),
        10
    );
    assert!(notifier.shutdown(Duration::from_secs(10)));
}

test_per_backend! {
    #[test]
    a_database_that_goes_away:
        postgres_that_goes_away_costs_the_traced_program_nothing(Server::Postgres),
        mariadb_that_goes_away_costs_the_traced_program_nothing(Server::MariaDb);
}

/// A link to PostgreSQL that answers, slowly (every chunk held 300 ms each way: a batch's
/// few round trips take a few seconds, well within the driver's `WRITE_TIMEOUT`), under a
/// stream of traced calls: the calls finish while it is slow, and every point the notifier
/// did not count as dropped is stored.
#[test]
fn a_slow_postgres_loses_nothing_it_was_given() {
    let rt = runtime();
    let Some(db) = rt.block_on(TempDb::new(Server::Postgres)) else {
        return;
    };
    let real = osprofiler_testkit::host_port(&db.url, 5432);
    let proxy = Proxy::start(&real);
    let driver = rt
        .block_on(get_driver(options(&proxy.route(&db.url, &real))))
        .unwrap();
    let notifier = small_queue_notifier(driver);
    trace(&notifier, 1);
    assert!(notifier.flush(Duration::from_secs(20)));
    assert_eq!(notifier.stats().sent, 2);

    proxy.delay(Duration::from_millis(300));
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let base_id = p.base_id().to_string();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..20 {
            trace_on(&mut p, 25);
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(HANG)
        .expect("the traced calls finish while the link is slow");
    let started = Instant::now();
    assert!(
        notifier.flush(Duration::from_secs(120)),
        "the slow link drains"
    );
    let s = notifier.stats();
    eprintln!(
        "through a slow link: {s:?}, drained in {:?}",
        started.elapsed()
    );
    assert_eq!(s.failed, 0, "nothing failed on a slow link: {s:?}");
    assert_eq!(s.sent + s.dropped, 2 + 1_000, "{s:?}");
    let rows = rt.block_on(db.query(&format!(
        "SELECT COUNT(*)::text FROM data WHERE base_id = '{base_id}'"
    )));
    assert_eq!(
        rows[0][0].as_deref(),
        Some((s.sent - 2).to_string().as_str()),
        "every point not dropped is stored: {s:?}"
    );
    assert!(notifier.shutdown(Duration::from_secs(10)));
}

/// SQLite cannot be stopped, and permissions do not stop root: another process's write lock
/// (`BEGIN EXCLUSIVE`) makes the store unwritable, and releasing it makes it writable again.
#[test]
fn a_locked_sqlite_store_costs_the_traced_program_nothing() {
    use sqlx::{ConnectOptions, Connection, Executor};
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let cs = format!("sqlite://{}", path.display());
    let driver = rt.block_on(get_driver(options(&cs))).unwrap();
    let notifier = small_queue_notifier(driver.clone());
    let nodes = |id: &str| rt.block_on(driver.get_report(id)).unwrap().node_count();
    let before = trace(&notifier, 10);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(nodes(&before), 10);
    let up = notifier.stats();

    // Locked: writes wait for the lock up to BUSY_TIMEOUT, then fail; nobody else waits.
    let mut lock = rt
        .block_on(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .connect(),
        )
        .unwrap();
    rt.block_on(lock.execute("BEGIN EXCLUSIVE")).unwrap();
    // The lock is held for the whole time the traced code runs (on a thread of its own), which
    // must finish meanwhile; and held on until a batch has failed on it.
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let during = p.base_id().to_string();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        trace_on(&mut p, 2_000);
        let _ = done_tx.send(());
    });
    let finished = done_rx.recv_timeout(HANG).is_ok();
    if finished {
        wait_until(HANG, || notifier.stats().failed > up.failed);
    }
    rt.block_on(lock.execute("ROLLBACK")).unwrap();
    assert!(
        finished,
        "the traced code did not finish within {HANG:?} while the store was locked"
    );
    rt.block_on(lock.close()).unwrap();
    assert!(notifier.flush(Duration::from_secs(60)));
    let down = notifier.stats();
    eprintln!("while locked: {down:?} (before: {up:?})");
    assert!(down.failed > 0 && down.dropped > 0, "{down:?}");
    assert_eq!(
        (down.sent + down.failed + down.dropped) - (up.sent + up.failed + up.dropped),
        4_000,
        "every point is either stored or counted: {down:?}"
    );
    let stored: i64 = rt.block_on(async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .connect()
            .await
            .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM data WHERE base_id = ?")
            .bind(&during)
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    assert_eq!(
        stored as u64,
        down.sent - up.sent,
        "what was counted as sent is stored"
    );

    // Writable again: points after its return arrive.
    let after = trace(&notifier, 10);
    assert!(notifier.flush(Duration::from_secs(10)));
    assert_eq!(nodes(&after), 10);
    assert!(notifier.shutdown(Duration::from_secs(10)));
}

/// A "server" that accepts connections and never says a word (a hung host behind a live
/// port): `get_driver` gives up within the connect timeout, naming the string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_get_driver_in_bounded_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let pg = format!("postgresql://postgres:s3cret@{addr}/test");
    let my = format!("mysql+pymysql://root:s3cret@{addr}/test");
    let started = Instant::now();
    let (a, b) = tokio::join!(get_driver(options(&pg)), get_driver(options(&my)));
    let took = started.elapsed();
    assert!(took < CONNECT_TIMEOUT * 2, "{took:?}");
    for (cs, e) in [(pg, a.unwrap_err()), (my, b.unwrap_err())] {
        let e = e.to_string();
        assert!(e.contains(&osprofiler::driver::mask_password(&cs)), "{e}");
        assert!(e.contains("no answer within"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
