//! Shared by the integration tests: a private RabbitMQ virtual host per test, raw AMQP access
//! with lapin, and a TCP proxy that can cut the line to the broker.
//!
//! Why a virtual host per test: the queue name `profiler.info` is fixed by the format, so two
//! tests (or an engineer's `trace show`) on one virtual host would share one queue, and a
//! reader (Python's destroys what it reads) would take the other's messages. A unique
//! exchange is not enough: every exchange feeds the same queue. `rabbitmqctl add_vhost`
//! touches nothing of anyone else's; the virtual host is deleted when the test ends.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use osprofiler::driver::DriverOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A private virtual host on the local RabbitMQ, deleted on drop.
pub struct Vhost {
    pub name: String,
    /// `host:port` of the broker.
    pub broker: String,
}

fn rabbitmqctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run rabbitmqctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rabbitmqctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Vhost {
    /// A new virtual host that `guest` may use; `None` (test skipped) when RabbitMQ is not
    /// running or `rabbitmqctl` cannot manage it (in CI: a panic).
    pub fn new() -> Option<Vhost> {
        let url = osprofiler_testkit::rabbitmq()?;
        let broker = osprofiler_testkit::host_port(&url, 5672);
        let name = osprofiler_testkit::unique_name("osp-msg");
        let made = rabbitmqctl(&["add_vhost", &name]).and_then(|()| {
            rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"])
        });
        match made {
            Ok(()) => Some(Vhost { name, broker }),
            Err(e) => {
                let _ = rabbitmqctl(&["delete_vhost", &name]);
                if osprofiler_testkit::in_ci() {
                    panic!("these tests need `rabbitmqctl` to make a private virtual host: {e}");
                }
                eprintln!("SKIPPED: cannot make a private RabbitMQ virtual host: {e}");
                None
            }
        }
    }

    /// The oslo.messaging transport URL of this virtual host.
    pub fn transport_url(&self) -> String {
        format!("rabbit://guest:guest@{}/{}", self.broker, self.name)
    }

    /// The same broker's transport URL through another `host:port` (a proxy).
    pub fn transport_url_via(&self, addr: SocketAddr) -> String {
        format!("rabbit://guest:guest@{addr}/{}", self.name)
    }

    /// Driver options for this virtual host and `exchange`.
    pub fn options(&self, connection_string: &str, exchange: &str) -> DriverOptions {
        let mut o = DriverOptions::new(connection_string);
        o.config.transport_url = Some(self.transport_url());
        o.config.control_exchange = exchange.to_owned();
        o.project = Some("proj".into());
        o.service = Some("svc".into());
        o.host = "rust-host".into();
        o
    }

    /// A plain lapin connection to this virtual host, for looking at the queue raw.
    pub async fn raw(&self) -> Connection {
        let uri = format!(
            "amqp://guest:guest@{}/{}",
            self.broker,
            percent_encode(&self.name)
        );
        let props = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        tokio::time::timeout(Duration::from_secs(10), Connection::connect(&uri, props))
            .await
            .expect("connect in time")
            .expect("connect")
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_vhost", &self.name]);
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Takes every message now in `profiler.info` (acknowledging them), in order:
/// `(exchange, routing key, properties, body)`.
pub async fn drain(conn: &Connection) -> Vec<(String, String, lapin::BasicProperties, Vec<u8>)> {
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(
            "profiler.info",
            lapin::options::BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        let d = m.delivery;
        out.push((
            d.exchange.to_string(),
            d.routing_key.to_string(),
            d.properties.clone(),
            d.data.clone(),
        ));
    }
    let _ = ch.close(200, "done").await;
    out
}

/// Messages ready in `profiler.info` (the queue is declared as the driver declares it).
pub async fn queued(conn: &Connection) -> u32 {
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            "profiler.info",
            lapin::options::QueueDeclareOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = ch.close(200, "done").await;
    q.message_count()
}

/// A TCP proxy to the broker that the test can cut and restore.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port, forwarding to `target`.
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound); // the broker is "gone": hang up at once
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        Proxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    /// The broker is gone: open connections are torn down, new ones refused.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The broker is back.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
