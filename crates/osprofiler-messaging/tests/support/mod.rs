//! Shared by the integration tests, on top of the testkit's private RabbitMQ virtual host
//! ([`Vhost`], one per test; its docs say why) and TCP proxy (`osprofiler_testkit::Proxy`):
//! the driver's options for a virtual host and a raw lapin connection to it ([`VhostExt`]),
//! and a look at the queue.

#![allow(dead_code)]

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use osprofiler::driver::DriverOptions;
pub use osprofiler_testkit::Vhost;

/// What these tests need of a [`Vhost`] beyond the testkit's.
pub trait VhostExt {
    /// Driver options for this virtual host and `exchange`.
    fn options(&self, connection_string: &str, exchange: &str) -> DriverOptions;

    /// A plain lapin connection to this virtual host, for looking at the queue raw.
    async fn raw(&self) -> Connection;
}

impl VhostExt for Vhost {
    fn options(&self, connection_string: &str, exchange: &str) -> DriverOptions {
        let mut o = DriverOptions::new(connection_string);
        o.config.transport_url = Some(self.transport_url());
        o.config.control_exchange = exchange.to_owned();
        o.project = Some("proj".into());
        o.service = Some("svc".into());
        o.host = "rust-host".into();
        o
    }

    async fn raw(&self) -> Connection {
        let props = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        tokio::time::timeout(
            Duration::from_secs(10),
            Connection::connect(&self.amqp_uri(), props),
        )
        .await
        .expect("connect in time")
        .expect("connect")
    }
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
