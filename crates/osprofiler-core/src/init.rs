//! Setting profiling up from configuration, as Python's `osprofiler.initializer.init_from_conf`.

use std::sync::Arc;

use crate::config::ProfilerConfig;
use crate::driver::{default_connection_string, get_driver, DriverError, DriverOptions};
use crate::notifier::{self, BatchConfig, BatchNotifier, NotifierGuard};

/// Why profiling could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The driver could not be created (bad connection string, backend unreachable).
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// A process-wide notifier was already set.
    #[error(transparent)]
    AlreadySet(#[from] notifier::AlreadySet),
}

/// What [`init_from_conf`] set up: the keys for the HTTP middleware and the running pipeline.
#[derive(Debug)]
pub struct Profiling {
    /// Keys incoming trace headers may be signed with; empty when profiling is off.
    pub hmac_keys: Vec<String>,
    /// The process-wide pipeline, when profiling is on.
    pub notifier: Option<Arc<BatchNotifier>>,
    /// Flushes the pipeline when dropped: keep it alive until the end of `main`.
    pub guard: Option<NotifierGuard>,
}

impl Profiling {
    /// True when the service should accept trace headers.
    pub fn enabled(&self) -> bool {
        self.notifier.is_some()
    }

    fn off() -> Self {
        Profiling {
            hmac_keys: Vec::new(),
            notifier: None,
            guard: None,
        }
    }
}

/// Like [`init_from_conf`], but returns the error instead of turning profiling off.
pub async fn try_init_from_conf(
    conf: &ProfilerConfig,
    project: Option<&str>,
    service: Option<&str>,
) -> Result<Profiling, InitError> {
    if !conf.enabled {
        return Ok(Profiling::off());
    }
    let connection_string = conf
        .connection_string
        .clone()
        .unwrap_or_else(default_connection_string);
    let mut options = DriverOptions::new(connection_string);
    options.project = project.map(str::to_owned);
    options.service = service.map(str::to_owned);
    options.config = conf.clone();
    let host = options.host.clone();
    let driver = get_driver(options).await?;
    let batch = BatchNotifier::start(
        driver,
        BatchConfig {
            host,
            project: project.map(str::to_owned),
            service: service.map(str::to_owned),
            ..BatchConfig::default()
        },
    );
    notifier::set_global(batch.clone())?;
    Ok(Profiling {
        hmac_keys: conf.hmac_keys.clone(),
        guard: Some(batch.guard()),
        notifier: Some(batch),
    })
}

/// Sets profiling up from `conf` (Python's `init_from_conf`): when `enabled`, creates the
/// driver for `connection_string` (the embedded default store when unset), starts the queue
/// pipeline and makes it the process-wide notifier. A driver that cannot start leaves the
/// service running with profiling off and one logged error, as Python does since 2.9.
pub async fn init_from_conf(
    conf: &ProfilerConfig,
    project: Option<&str>,
    service: Option<&str>,
) -> Profiling {
    match try_init_from_conf(conf, project, service).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("osprofiler: profiling is off: {e}");
            Profiling::off()
        }
    }
}
