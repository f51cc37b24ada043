//! A private RabbitMQ virtual host per test.
//!
//! The queue name `profiler.info` is fixed by the wire format, so two tests (or an
//! engineer's `trace show`) on one virtual host would share one queue, and a reader (or a
//! collector) would take the other's messages. A unique exchange is not enough: every
//! exchange feeds the same queue. `rabbitmqctl add_vhost` touches nothing of anyone else's;
//! the virtual host is deleted when the test ends.

use std::process::Command;

/// A private virtual host on the local RabbitMQ that `guest` may use, deleted on drop.
#[derive(Debug)]
pub struct Vhost {
    /// Its name.
    pub name: String,
    /// `host:port` of the broker.
    pub broker: String,
}

/// Runs `rabbitmqctl` with `args`.
pub fn rabbitmqctl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run rabbitmqctl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "rabbitmqctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Vhost {
    /// A new virtual host; `None` (test skipped) when RabbitMQ is not running or
    /// `rabbitmqctl` cannot manage it (in CI: a panic).
    pub fn new() -> Option<Vhost> {
        let url = crate::rabbitmq()?;
        let broker = crate::host_port(&url, 5672);
        let name = crate::unique_name("osp-vhost");
        let made = rabbitmqctl(&["add_vhost", &name]).and_then(|_| {
            rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"])
        });
        match made {
            Ok(_) => Some(Vhost { name, broker }),
            Err(e) => {
                let _ = rabbitmqctl(&["delete_vhost", &name]);
                if crate::in_ci() {
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
    pub fn transport_url_via(&self, addr: std::net::SocketAddr) -> String {
        format!("rabbit://guest:guest@{addr}/{}", self.name)
    }

    /// Its AMQP URI (the virtual host percent-encoded), for a plain AMQP client.
    pub fn amqp_uri(&self) -> String {
        let name: String = self
            .name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("amqp://guest:guest@{}/{name}", self.broker)
    }

    /// Messages ready in `queue` of this virtual host (`rabbitmqctl list_queues`); `None`
    /// when the queue does not exist.
    pub fn queued(&self, queue: &str) -> Option<u64> {
        let out = rabbitmqctl(&[
            "list_queues",
            "-q",
            "--no-table-headers",
            "-p",
            &self.name,
            "name",
            "messages",
        ])
        .ok()?;
        out.lines().find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next()? == queue)
                .then(|| parts.next()?.parse().ok())
                .flatten()
        })
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_vhost", &self.name]);
    }
}
