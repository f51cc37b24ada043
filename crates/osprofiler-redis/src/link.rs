//! The driver's connection to Redis: made on first use, found through Sentinel for
//! `redissentinel://`, dropped when it fails and made again on a later call, every step
//! bounded in time.
//!
//! Why its own runtime: a multiplexed Redis connection is driven by a task on the runtime
//! that made it. The driver is made on one runtime (a service's, the CLI's) and written to
//! from another (the notifier's worker blocks on its own small runtime between batches), so
//! a connection tied to either would stall while that runtime is idle, or die with it. The
//! driver owns one I/O thread (the core's [`IoThread`], named `osprofiler-redis`) where the
//! link's connections live and its calls run; callers on any runtime await the result.
//!
//! [`IoThread`]: osprofiler_core::driver::io::IoThread

use std::future::Future;
use std::time::{Duration, Instant};

use osprofiler_core::driver::DriverError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{Client, ErrorKind, RedisError};
use tokio::sync::Mutex;

use crate::target::{Server, Target};

/// First pause before trying to connect again after a failed attempt; doubles up to
/// [`MAX_RETRY_PAUSE`]. Calls during the pause fail at once (a batch is counted as failed,
/// the traced program is never held up), so a dead server is not hammered.
pub const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between connection attempts.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// A connect attempt waits at least this long, whatever `socket_timeout` says (Python's
/// default 0.1 s is too short on a busy machine for a connect plus `AUTH`/`SELECT`).
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long each kind of call may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// One connection attempt, or one Sentinel's answer.
    pub connect: Duration,
    /// One pipelined batch write.
    pub write: Duration,
    /// One read (a whole trace, a listing).
    pub read: Duration,
}

impl Timeouts {
    /// From `socket_timeout`: connects take `max(socket_timeout, 0.5 s)`, batch writes
    /// `max(socket_timeout, 2 s)`, reads `max(socket_timeout, 60 s)` (a trace of 10^5
    /// notifications is 35 MB to transfer).
    pub fn from_socket_timeout(socket_timeout: Duration) -> Timeouts {
        Timeouts {
            connect: socket_timeout.max(MIN_CONNECT_TIMEOUT),
            write: socket_timeout.max(Duration::from_secs(2)),
            read: socket_timeout.max(Duration::from_secs(60)),
        }
    }
}

/// The current connection, and when to try again after a failure.
#[derive(Default)]
struct State {
    conn: Option<ConnectionManager>,
    /// Bumped for every new connection, so that a failure seen on an old one does not drop
    /// its replacement.
    generation: u64,
    retry_at: Option<Instant>,
    pause: Duration,
    last_error: String,
}

/// The connection of one driver (see the [module docs](self)). Its methods run on the
/// driver's I/O thread.
pub struct Link {
    target: Target,
    timeouts: Timeouts,
    state: Mutex<State>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("target", &self.target)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link that connects on first use.
    pub fn new(target: Target) -> Link {
        let timeouts = Timeouts::from_socket_timeout(target.socket_timeout);
        Link {
            target,
            timeouts,
            state: Mutex::new(State::default()),
        }
    }

    /// The parsed connection string.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The time bounds in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// An error naming the connection string.
    pub fn error(&self, message: impl Into<String>) -> DriverError {
        DriverError::Backend {
            connection: self.target.masked.clone(),
            message: message.into(),
        }
    }

    /// Runs `op` on the connection (made first if there is none), within `bound`. A failure
    /// of the connection itself (I/O error, timeout, a master that became a replica) drops
    /// the connection so that the next call makes a new one (and asks Sentinel again).
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        bound: Duration,
        op: F,
    ) -> Result<T, DriverError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let (conn, generation) = self.connection().await?;
        match tokio::time::timeout(bound, op(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if breaks_connection(&e) {
                    self.forget(generation).await;
                }
                Err(self.error(format!("{what}: {e}")))
            }
            Err(_) => {
                self.forget(generation).await;
                Err(self.error(format!("{what}: no answer within {bound:?}")))
            }
        }
    }

    /// Connects now (for a driver that must fail at start when Redis is not there).
    pub async fn check(&self) -> Result<(), DriverError> {
        self.call("PING", self.timeouts.connect, |mut c| async move {
            redis::cmd("PING").query_async::<()>(&mut c).await
        })
        .await
    }

    async fn forget(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.generation == generation && state.conn.take().is_some() {
            tracing::debug!("osprofiler: {}: connection dropped", self.target.masked);
        }
    }

    async fn connection(&self) -> Result<(ConnectionManager, u64), DriverError> {
        let mut state = self.state.lock().await;
        if let Some(conn) = &state.conn {
            return Ok((conn.clone(), state.generation));
        }
        let now = Instant::now();
        if let Some(at) = state.retry_at.filter(|at| *at > now) {
            return Err(self.error(format!(
                "{} (next connection attempt in {} ms)",
                state.last_error,
                (at - now).as_millis()
            )));
        }
        match self.connect().await {
            Ok(conn) => {
                state.conn = Some(conn.clone());
                state.generation += 1;
                state.retry_at = None;
                state.pause = Duration::ZERO;
                Ok((conn, state.generation))
            }
            Err(message) => {
                state.pause = (state.pause * 2).clamp(FIRST_RETRY_PAUSE, MAX_RETRY_PAUSE);
                state.retry_at = Some(Instant::now() + state.pause);
                state.last_error = message.clone();
                Err(self.error(message))
            }
        }
    }

    async fn connect(&self) -> Result<ConnectionManager, String> {
        let client = match &self.target.server {
            Server::Direct { host, port } => Client::open(self.target.connection_info(host, *port))
                .map_err(|e| format!("cannot use {host}:{port}: {e}"))?,
            Server::Sentinel {
                sentinels,
                service_name,
            } => self.master(sentinels, service_name).await?,
        };
        let addr = client.get_connection_info().addr.to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeouts.connect)
            .set_number_of_retries(0);
        // The connect, AUTH and SELECT together; the manager bounds only the first.
        let bound = self.timeouts.connect * 2;
        match tokio::time::timeout(bound, ConnectionManager::new_with_config(client, config)).await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(format!("cannot connect to Redis at {addr}: {e}")),
            Err(_) => Err(format!(
                "cannot connect to Redis at {addr}: no answer within {bound:?}"
            )),
        }
    }

    /// Asks each Sentinel in turn for the master of `service_name` (each within the connect
    /// timeout), as Python's `Sentinel.master_for` does.
    async fn master(
        &self,
        sentinels: &[(String, u16)],
        service_name: &str,
    ) -> Result<Client, String> {
        let node = SentinelNodeConnectionInfo {
            tls_mode: None,
            redis_connection_info: Some(self.target.redis_info()),
        };
        let mut errors = Vec::new();
        for (host, port) in sentinels {
            let info = redis::ConnectionInfo {
                addr: redis::ConnectionAddr::Tcp(host.clone(), *port),
                redis: redis::RedisConnectionInfo::default(),
            };
            let mut sentinel = match Sentinel::build(vec![info]) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(format!("{host}:{port}: {e}"));
                    continue;
                }
            };
            let bound = self.timeouts.connect * 2;
            match tokio::time::timeout(bound, sentinel.async_master_for(service_name, Some(&node)))
                .await
            {
                Ok(Ok(client)) => return Ok(client),
                Ok(Err(e)) => errors.push(format!("{host}:{port}: {e}")),
                Err(_) => errors.push(format!("{host}:{port}: no answer within {bound:?}")),
            }
        }
        Err(format!(
            "no Sentinel gave the master of {service_name:?}: {}",
            errors.join("; ")
        ))
    }
}

/// Whether `e` means the connection (or, through Sentinel, the master) is no longer usable.
fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(e.kind(), ErrorKind::ReadOnly | ErrorKind::MasterDown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler_core::driver::DriverOptions;
    use std::sync::Arc;

    #[test]
    fn timeouts_are_never_below_the_floors() {
        let t = Timeouts::from_socket_timeout(Duration::from_millis(100));
        assert_eq!(t.connect, MIN_CONNECT_TIMEOUT);
        assert_eq!(t.write, Duration::from_secs(2));
        let t = Timeouts::from_socket_timeout(Duration::from_secs(90));
        let long = Duration::from_secs(90);
        assert_eq!((t.connect, t.write, t.read), (long, long, long));
    }

    #[test]
    fn nothing_listening_fails_fast_then_waits_before_retrying() {
        // Port 1 on loopback: refused at once.
        let target = Target::parse(&DriverOptions::new("redis://:pw@127.0.0.1:1")).unwrap();
        let link = Arc::new(Link::new(target));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let first = rt.block_on(link.check()).unwrap_err().to_string();
        assert!(first.starts_with("redis://:***@127.0.0.1:1: "), "{first}");
        assert!(first.contains("cannot connect"), "{first}");
        let second = rt.block_on(link.check()).unwrap_err().to_string();
        assert!(second.contains("next connection attempt in"), "{second}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
