//! Drivers: where notifications are stored and how traces are read back (Python's
//! `osprofiler.drivers`). A driver is chosen by the scheme of a connection string through the
//! [registry](get_driver), as Python's `get_driver` does (DESIGN section 7).
//!
//! Built in: `memory://` ([`memory`], tests and examples) and, per cargo feature, the SQL
//! driver ([`sql`]): `sqlite://` (`sqlite`, default), `postgresql://` (`postgres`) and
//! `mysql://` (`mysql`), with SQLAlchemy's `dialect+driver://` forms. Other backends (Redis,
//! messaging, OTLP, ...) live in their own crates and [register](register_driver) themselves.

mod connection;
pub mod memory;
mod registry;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::config::ProfilerConfig;
use crate::notification::Notification;
use crate::report::Report;

pub use connection::{mask_password, ConnectionString};
pub use registry::{
    default_connection_string, get_driver, register_driver, DriverFactory, DriverFuture,
};

/// One listed trace: at least `base_id` and `timestamp` (Python's `list_traces` rows).
pub type TraceSummary = Map<String, Value>;

/// Why a driver call failed. Messages name the connection string with its password masked.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// No driver for this scheme (or it was not compiled in).
    #[error("driver not found for connection string: {0}")]
    UnknownScheme(String),
    /// The connection string does not parse, or lacks something the driver needs.
    #[error("bad connection string {connection}: {reason}")]
    BadConnectionString {
        /// The connection string, password masked.
        connection: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend could not be reached or refused the operation.
    #[error("{connection}: {message}")]
    Backend {
        /// The connection string, password masked.
        connection: String,
        /// What the backend said.
        message: String,
    },
    /// The driver cannot do this (for example a write-only driver asked for a report).
    #[error("the {driver} driver does not support {operation}")]
    Unsupported {
        /// The driver's scheme.
        driver: &'static str,
        /// The operation asked for.
        operation: &'static str,
    },
}

/// What a driver is created with: the connection string plus what Python passes to
/// `notifier.create` (`project`, `service`, `host`, the `[profiler]` config).
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// The connection string, as given.
    pub connection_string: String,
    /// Added to every notification as `project`.
    pub project: Option<String>,
    /// Added to every notification as `service`.
    pub service: Option<String>,
    /// This host's name (stored in SQL's `host` column).
    pub host: String,
    /// The `[profiler]` options (`filter_error_trace`, `socket_timeout`, ...).
    pub config: ProfilerConfig,
}

impl DriverOptions {
    /// Options for `connection_string` with this host's name and default config.
    pub fn new(connection_string: impl Into<String>) -> Self {
        DriverOptions {
            connection_string: connection_string.into(),
            project: None,
            service: None,
            host: crate::hostname().to_owned(),
            config: ProfilerConfig::default(),
        }
    }
}

/// A storage backend. Writing is [`notify`](Driver::notify) with a batch (the notifier's
/// worker calls it, never a traced request); reading builds reports and lists traces.
///
/// Methods are async because every real backend is network I/O; the notifier drives them on
/// its own thread, the CLI on its runtime.
#[async_trait]
pub trait Driver: Send + Sync + std::fmt::Debug {
    /// The scheme this driver serves, e.g. `"sqlite"`.
    fn name(&self) -> &'static str;

    /// Stores a batch of notifications, in order.
    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError>;

    /// The report of trace `base_id` (Python's `get_report`); an empty report when the trace
    /// is not there.
    async fn get_report(&self, base_id: &str) -> Result<Report, DriverError> {
        let _ = base_id;
        Err(DriverError::Unsupported {
            driver: self.name(),
            operation: "get_report",
        })
    }

    /// All traces, each with at least `base_id` and `timestamp` plus the asked `fields`.
    async fn list_traces(&self, fields: &[&str]) -> Result<Vec<TraceSummary>, DriverError> {
        let _ = fields;
        Err(DriverError::Unsupported {
            driver: self.name(),
            operation: "list_traces",
        })
    }

    /// Traces that hold an error (`base_id`, `timestamp`).
    async fn list_error_traces(&self) -> Result<Vec<TraceSummary>, DriverError> {
        Err(DriverError::Unsupported {
            driver: self.name(),
            operation: "list_error_traces",
        })
    }
}
