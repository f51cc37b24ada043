//! [`TracedDatabase`]: what the tracer needs to know of one database: how to show its bound
//! parameters and its errors as Python's infos do.

use osprofiler_core::Info;
use serde_json::Value;

/// A database whose statements can be traced: it renders the bound parameters of a statement
/// for the start info and a failure for the stop info.
///
/// Implemented for [`sqlx::Sqlite`] (feature `sqlite`) and [`sqlx::Postgres`] (feature
/// `postgres`).
pub trait TracedDatabase: sqlx::Database {
    /// The bound parameters as JSON, for `db.params` of the start info. sqlx keeps arguments
    /// opaque, so each database reads them as best it can; a value it cannot read is a
    /// string naming its type.
    fn params_json(arguments: &Self::Arguments<'_>) -> Value;

    /// The stop info of a statement that failed (Python's `handle_error`). The default
    /// gives [`crate::generic_error_info`].
    fn error_info(error: &sqlx::Error, statement: &str) -> Info {
        let _ = statement;
        crate::generic_error_info(error)
    }
}
