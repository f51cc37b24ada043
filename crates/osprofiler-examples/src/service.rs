//! What the processes of the three-services example share: their config file (as an
//! OpenStack service's), the broker URL it names, readiness and shutdown.
//!
//! A config file is an INI file as OpenStack's:
//!
//! ```ini
//! [DEFAULT]
//! transport_url = rabbit://guest:guest@127.0.0.1:5672/
//!
//! [profiler]
//! enabled = true
//! hmac_keys = SECRET_KEY
//! connection_string = sqlite:///tmp/three-services-traces.sqlite
//! trace_sqlalchemy = true
//!
//! [database]
//! connection = sqlite:///tmp/three-services.sqlite
//! ```
//!
//! `[profiler]` and `[DEFAULT] transport_url` are read by `osprofiler`'s own config reader
//! ([`ProfilerConfig::from_file`]); `[database] connection` (the database layer's only) here.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use osprofiler::config::ConfigError;
use osprofiler::{ProfilerConfig, Profiling};
use osprofiler_messaging::{TransportUrl, TransportUrlError};

/// The broker when a config file names none: a developer's local RabbitMQ.
pub const DEFAULT_TRANSPORT_URL: &str = "rabbit://guest:guest@127.0.0.1:5672/";

/// How long the pipeline may take to send its last points at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ServiceConfigError {
    /// `[profiler]` or `[DEFAULT]` is wrong, or the file cannot be read.
    #[error(transparent)]
    Profiler(#[from] ConfigError),
    /// The file is not INI (read again for its `[database]` section).
    #[error("{path}: {message}")]
    Ini {
        /// The file.
        path: String,
        /// The parser's complaint.
        message: String,
    },
    /// `transport_url` is not one this example speaks (its message masks the password).
    #[error(transparent)]
    TransportUrl(#[from] TransportUrlError),
}

/// One process's configuration, read from its `--config` file.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `[profiler]` (and `[DEFAULT] transport_url`).
    pub profiler: ProfilerConfig,
    /// The broker as an AMQP URL for lapin, from `[DEFAULT] transport_url`.
    pub amqp_url: String,
    /// `[database] connection`, when the file has one.
    pub database_connection: Option<String>,
}

impl ServiceConfig {
    /// Reads the INI file at `path`.
    pub fn load(path: &Path) -> Result<Self, ServiceConfigError> {
        let profiler = ProfilerConfig::from_file(path)?;
        let ini = ini::Ini::load_from_file_opt(
            path,
            ini::ParseOption {
                enabled_quote: false,
                enabled_escape: false,
                ..Default::default()
            },
        )
        .map_err(|e| ServiceConfigError::Ini {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let database_connection = ini
            .get_from(Some("database"), "connection")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let transport_url = profiler
            .transport_url
            .clone()
            .unwrap_or_else(|| DEFAULT_TRANSPORT_URL.to_owned());
        Ok(ServiceConfig {
            amqp_url: amqp_url(&transport_url)?,
            profiler,
            database_connection,
        })
    }
}

/// The AMQP URL lapin needs for an oslo.messaging `transport_url`
/// (`rabbit://user:pass@host:port/vhost`), read by the messaging driver's parser
/// ([`TransportUrl`]): scheme `amqp`, the first broker only, the default virtual host `/`
/// (`%2F`) when the URL names none, as oslo.messaging reads it (lapin would take an empty
/// path as the virtual host `""`). `amqp://` URLs are taken too; TLS and query options
/// other than `heartbeat` are refused.
pub fn amqp_url(transport_url: &str) -> Result<String, ServiceConfigError> {
    let url = TransportUrl::parse(transport_url)?;
    Ok(url.amqp_url(&url.brokers[0]))
}

/// Says on stdout that the process serves (`ready <what>`): what scripts and the test wait
/// for instead of sleeping.
pub fn announce_ready(what: &str) {
    println!("ready {what}");
    let _ = std::io::stdout().flush();
}

/// Sends the last trace points to the store and says how many went (on stderr); call it
/// last in `main` (dropping `profiling` would flush too, without the count).
pub fn finish(profiling: Profiling, process: &str) {
    if let Some(notifier) = &profiling.notifier {
        notifier.flush(FLUSH_TIMEOUT);
        let stats = notifier.stats();
        eprintln!(
            "{process}: trace points sent {}, dropped {}, failed {}",
            stats.sent, stats.dropped, stats.failed
        );
    }
    drop(profiling);
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_urls_become_amqp_urls() {
        for (given, want) in [
            (
                "rabbit://guest:guest@127.0.0.1:5672/",
                "amqp://guest:guest@127.0.0.1:5672/%2F",
            ),
            ("rabbit://u:p@h:5672", "amqp://u:p@h:5672/%2F"),
            ("rabbit://u:p@h1:1,u:p@h2:2/nova", "amqp://u:p@h1:1/nova"),
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "amqp://guest:guest@127.0.0.1:5672/%2F",
            ),
            // An empty host is oslo.messaging's default, localhost.
            ("rabbit://u:p@/", "amqp://u:p@localhost:5672/%2F"),
        ] {
            assert_eq!(amqp_url(given).unwrap(), want, "{given}");
        }
    }

    #[test]
    fn bad_transport_urls_are_errors_without_the_password() {
        for url in [
            "kafka://u:secret@h:9092/",
            "u:secret@h",
            "amqps://u:secret@h/v",
            "rabbit://u:secret@h/v?ssl=1",
        ] {
            let e = amqp_url(url).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn reads_an_openstack_style_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.conf");
        std::fs::write(
            &path,
            "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\n\
             [profiler]\nenabled = true\nhmac_keys = K1, K2\ntrace_sqlalchemy = true\n\
             connection_string = sqlite:///tmp/t.sqlite\n\
             [database]\nconnection = sqlite:///tmp/db.sqlite\n",
        )
        .unwrap();
        let conf = ServiceConfig::load(&path).unwrap();
        assert!(conf.profiler.enabled && conf.profiler.trace_sqlalchemy);
        assert_eq!(conf.profiler.hmac_keys, ["K1", "K2"]);
        assert_eq!(conf.amqp_url, "amqp://guest:guest@127.0.0.1:5672/%2F");
        assert_eq!(
            conf.database_connection.as_deref(),
            Some("sqlite:///tmp/db.sqlite")
        );
        assert!(ServiceConfig::load(&dir.path().join("missing.conf")).is_err());
    }
}
