//! Faults of the SQL driver: bad connection strings and servers that are not there give one
//! clear error (password masked) within a bounded time, and a database that goes away while
//! a traced program runs costs that program nothing: the shared PostgreSQL and MariaDB cannot
//! be stopped here (other tests use them), so the test cuts and restores a TCP proxy it runs
//! between the driver and the server.
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

/// Far above what a start or stop costs (microseconds), far below any network timeout: a
/// call that took this long was held up by the backend.
const FAST: Duration = Duration::from_millis(100);

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
        assert!(
            took < CONNECT_TIMEOUT + Duration::from_secs(2),
            "{cs}: {took:?}"
        );
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

/// `pairs` start/stop pairs in a new trace; returns its id and the slowest single call.
fn trace(notifier: &Arc<BatchNotifier>, pairs: usize) -> (String, Duration) {
    let mut p = Profiler::with_notifier("SECRET_KEY", None, None, notifier.clone());
    let mut slowest = Duration::ZERO;
    for _ in 0..pairs {
        let t = Instant::now();
        p.start("db", None);
        slowest = slowest.max(t.elapsed());
        let t = Instant::now();
        p.stop(None);
        slowest = slowest.max(t.elapsed());
    }
    (p.base_id().to_string(), slowest)
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
    let (before, slowest) = trace(&notifier, 10);
    assert!(slowest < FAST, "{slowest:?}");
    assert!(notifier.flush(Duration::from_secs(20)));
    assert_eq!(nodes(&before), 10);
    let up = notifier.stats();
    assert_eq!((up.sent, up.dropped, up.failed), (20, 0, 0));

    // Gone: the traced code goes on at full speed; what cannot be stored is counted.
    proxy.cut();
    let (during, slowest) = trace(&notifier, 2_000);
    assert!(
        slowest < FAST,
        "a start or stop took {slowest:?} while the database was gone"
    );
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
    // A driver made while it is gone fails at once with the reason, not a hang.
    let started = Instant::now();
    let e = rt.block_on(get_driver(options(&via_proxy))).unwrap_err();
    assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(2));
    assert!(e.to_string().contains(&via_proxy), "{e}");

    // Back: the pool reconnects by itself and points after its return arrive.
    proxy.restore();
    wait_until(Duration::from_secs(30), || {
        trace(&notifier, 1);
        notifier.flush(Duration::from_secs(15));
        notifier.stats().sent > down.sent
    });
    let (after, slowest) = trace(&notifier, 10);
    assert!(slowest < FAST, "{slowest:?}");
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
    let (before, _) = trace(&notifier, 10);
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
    let (during, slowest) = trace(&notifier, 2_000);
    assert!(
        slowest < FAST,
        "a start or stop took {slowest:?} while the store was locked"
    );
    // Held longer than a writer waits for it: a batch fails.
    std::thread::sleep(osprofiler::driver::sql::BUSY_TIMEOUT + Duration::from_secs(1));
    rt.block_on(lock.execute("ROLLBACK")).unwrap();
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
    let (after, slowest) = trace(&notifier, 10);
    assert!(slowest < FAST, "{slowest:?}");
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
    assert!(took < CONNECT_TIMEOUT + Duration::from_secs(2), "{took:?}");
    for (cs, e) in [(pg, a.unwrap_err()), (my, b.unwrap_err())] {
        let e = e.to_string();
        assert!(e.contains(&osprofiler::driver::mask_password(&cs)), "{e}");
        assert!(e.contains("no answer within"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
