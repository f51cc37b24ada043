//! [`SqlTracing`]: whether and under which name SQL statements are traced (the
//! `trace_sqlalchemy` option of the `[profiler]` section).

use osprofiler_core::{PointName, ProfilerConfig};

use crate::executor::{Traced, TracedPool};

/// Whether SQL statements are traced, and the name of their points (`db`, as Python's
/// `osprofiler.sqlalchemy.wrap_session` and oslo.db use).
///
/// Off by default, as Python's `trace_sqlalchemy`. Make it from the service's config with
/// [`SqlTracing::from_conf`], then wrap the pool ([`SqlTracing::pool`]) or any other executor
/// ([`SqlTracing::wrap`]).
#[derive(Debug, Clone)]
pub struct SqlTracing {
    enabled: bool,
    name: PointName,
}

impl Default for SqlTracing {
    /// Tracing off, points named `db`.
    fn default() -> Self {
        SqlTracing {
            enabled: false,
            name: PointName::from("db"),
        }
    }
}

impl SqlTracing {
    /// As OpenStack services decide (oslo.db, nova): on when both `[profiler] enabled` and
    /// `[profiler] trace_sqlalchemy` are true.
    pub fn from_conf(conf: &ProfilerConfig) -> Self {
        SqlTracing {
            enabled: conf.enabled && conf.trace_sqlalchemy,
            ..Self::default()
        }
    }

    /// Tracing on (points are still recorded only while a profiler is current).
    pub fn enabled() -> Self {
        SqlTracing {
            enabled: true,
            ..Self::default()
        }
    }

    /// Tracing off: the wrapper only delegates.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// The same, with points named `name` instead of `db` (Python's `add_tracing(..., name)`).
    pub fn with_name(mut self, name: impl Into<PointName>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether statements are traced.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The name of the points.
    pub fn name(&self) -> &PointName {
        &self.name
    }

    /// Wraps `pool` so that every statement run on `&TracedPool` is traced.
    pub fn pool<DB: sqlx::Database>(self, pool: sqlx::Pool<DB>) -> TracedPool<DB> {
        TracedPool::new(pool, self)
    }

    /// Wraps any executor (`&mut *transaction`, `&mut *connection`, `&pool`) for one call.
    pub fn wrap<E>(&self, executor: E) -> Traced<'_, E> {
        Traced::new(executor, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_both_options_are_on() {
        assert!(!SqlTracing::default().is_enabled());
        let mut conf = ProfilerConfig {
            trace_sqlalchemy: true,
            ..ProfilerConfig::default()
        };
        assert!(!SqlTracing::from_conf(&conf).is_enabled());
        conf.enabled = true;
        assert!(SqlTracing::from_conf(&conf).is_enabled());
        conf.trace_sqlalchemy = false;
        assert!(!SqlTracing::from_conf(&conf).is_enabled());
    }

    #[test]
    fn name_defaults_to_db() {
        assert_eq!(SqlTracing::enabled().name().as_str(), "db");
        assert_eq!(
            SqlTracing::enabled().with_name("sql").name().as_str(),
            "sql"
        );
    }
}
