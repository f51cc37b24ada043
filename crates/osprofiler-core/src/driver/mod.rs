//! Drivers: where notifications are stored and how traces are read back (Python's
//! `osprofiler.drivers`). A driver is chosen by the scheme of a connection string through the
//! [registry](get_driver), as Python's `get_driver` does (`docs/stores.md`, connection strings).
//!
//! Built in: `memory://` ([`memory`], tests and examples). Every other store lives in a
//! crate of its own and [registers](register_driver) its schemes: the SQL store
//! (`osprofiler-sql`: `sqlite://`, `postgresql://`, `mysql://` and SQLAlchemy's
//! `dialect+driver://` forms), Redis, messaging, OTLP. The `osprofiler` facade registers the
//! SQL store it was built with.
//!
//! A driver writes batches ([`Driver::notify`]) and reads one trace back as the store holds
//! it ([`Driver::get_notifications`], a [`StoredTrace`]); the report is built from that by
//! `osprofiler-report` (`driver.get_report(id)` through its `GetReport` trait). The data flow
//! is described in `docs/architecture.md`.

mod connection;
pub mod io;
pub mod memory;
mod registry;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::ProfilerConfig;
use crate::notification::Notification;

pub use connection::{mask_password, ConnectionString};
pub use registry::{
    default_connection_string, get_driver, register_driver, schemes, DriverFactory, DriverFuture,
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

    /// The notifications of trace `base_id` in the order the store returns them (what
    /// Python's `get_report` hands to `_append_results`); empty when the trace is not there.
    /// The report is built from them by `osprofiler-report` (`GetReport::get_report`).
    async fn get_notifications(&self, base_id: &str) -> Result<StoredTrace, DriverError> {
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

/// One trace's notifications as a store hands them back, in store order (that order decides
/// ties between siblings started in the same millisecond; see `docs/wire.md`).
#[derive(Debug)]
pub enum StoredTrace {
    /// Whole notification objects, as Redis, messaging and `memory://` keep them.
    Notifications(Vec<Box<RawValue>>),
    /// Rows whose fields the store keeps apart, as Python's SQL `data` table does.
    Rows(Vec<StoredRow>),
}

impl StoredTrace {
    /// How many notifications (or rows) the store returned.
    pub fn len(&self) -> usize {
        match self {
            StoredTrace::Notifications(n) => n.len(),
            StoredTrace::Rows(r) => r.len(),
        }
    }

    /// True when the store has nothing of the trace.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for StoredTrace {
    fn default() -> Self {
        StoredTrace::Notifications(Vec::new())
    }
}

/// One row of a store that keeps a notification's fields apart (Python's SQL `data` table):
/// what Python's SQL reader hands to `_append_results`.
#[derive(Debug, Clone)]
pub struct StoredRow {
    /// The point's id.
    pub trace_id: String,
    /// The enclosing point's id; `None` for a null `parent_id`.
    pub parent_id: Option<String>,
    /// The notification name, e.g. `db-start`.
    pub name: String,
    /// The sending service's project.
    pub project: Option<String>,
    /// The sending service's name.
    pub service: Option<String>,
    /// The host column.
    pub host: Option<String>,
    /// `%Y-%m-%dT%H:%M:%S.%f`.
    pub timestamp: String,
    /// The rest of the notification as stored (`{"info": {...}}`): the report's raw payload.
    pub raw_payload: Box<RawValue>,
}
