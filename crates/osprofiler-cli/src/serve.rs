//! `osprofiler serve`: the centralized collector ([`osprofiler_collector::Collector`]) on an
//! HTTP listener (HTTPS with a certificate and its key), over its own store
//! (`docs/collector.md`).
//!
//! Options come from the command line, then the environment (the token, the transport URL),
//! then the config file (its `[collector]` section, then the `transport_url` and
//! `control_exchange` that OpenStack services read), then the defaults: listen on
//! [`DEFAULT_LISTEN`] over plain HTTP, store in [`default_store`], no token, no retention, no
//! AMQP ingest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use osprofiler::driver::mask_password;
use osprofiler_collector::{Collector, CollectorConfig, Token};
use osprofiler_sql::store::TraceStore;

/// The default listen address: loopback, port 9411.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9411";

/// How often retention runs (it also runs once at start).
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// The longest retention taken: 100 years (more is a typo).
const MAX_RETENTION_DAYS: f64 = 36_500.0;

/// The collector's default store: `collector.sqlite` next to the embedded default store of
/// the other commands (`sqlite://<data folder>/osprofiler/collector.sqlite`, on Linux
/// `~/.local/share/osprofiler/collector.sqlite`), a file of its own.
pub fn default_store() -> String {
    let traces = osprofiler::driver::default_connection_string();
    match traces.strip_suffix("traces.sqlite") {
        Some(prefix) => format!("{prefix}collector.sqlite"),
        None => format!("{traces}.collector"),
    }
}

/// `osprofiler serve`'s settings, as given (`None`: not given).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServeSettings {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--store`.
    pub store: Option<String>,
    /// `--token` / `OSPROFILER_COLLECTOR_TOKEN`.
    pub token: Option<String>,
    /// `--retention`, in days.
    pub retention_days: Option<f64>,
    /// `--transport-url`: consume the AMQP queue of this broker.
    pub transport_url: Option<String>,
    /// The topic exchange (`[DEFAULT] control_exchange`; `openstack`).
    pub exchange: Option<String>,
    /// `--amqp-prefetch`.
    pub prefetch: Option<u16>,
    /// `--amqp-batch-size`.
    pub batch_size: Option<usize>,
    /// `--tls-cert`: serve HTTPS with this PEM certificate chain (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`: the PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl ServeSettings {
    /// `self`, with what it lacks taken from `other`.
    pub fn or(self, other: ServeSettings) -> ServeSettings {
        ServeSettings {
            listen: self.listen.or(other.listen),
            store: self.store.or(other.store),
            token: self.token.or(other.token),
            retention_days: self.retention_days.or(other.retention_days),
            transport_url: self.transport_url.or(other.transport_url),
            exchange: self.exchange.or(other.exchange),
            prefetch: self.prefetch.or(other.prefetch),
            batch_size: self.batch_size.or(other.batch_size),
            tls_cert: self.tls_cert.or(other.tls_cert),
            tls_key: self.tls_key.or(other.tls_key),
        }
    }
}

/// `--retention`: a number of days, more than 0.
pub fn parse_retention_days(s: &str) -> Result<f64, String> {
    let days: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of days, got {s:?}"))?;
    if !days.is_finite() || days <= 0.0 || days > MAX_RETENTION_DAYS {
        return Err(format!(
            "expected a number of days above 0, at most {MAX_RETENTION_DAYS}, got {s:?}"
        ));
    }
    Ok(days)
}

/// `--amqp-batch-size`: 1 to 10,000 messages.
pub fn parse_batch_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of messages from 1 to 10000, got {s:?}"
        )),
    }
}

/// `--amqp-prefetch`: 1 to 65,535 messages.
pub fn parse_prefetch(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "expected a number of messages from 1 to 65535, got {s:?}"
        )),
    }
}

/// Reads a config file as OpenStack services read INI: the `[collector]` section (`listen`,
/// `store`, `token`, `retention_days`, `transport_url`, `amqp_prefetch`, `amqp_batch_size`,
/// `tls_cert`, `tls_key`; another key is an error; relative paths are taken from the file's
/// folder), then the broker where services find it: `transport_url` of
/// `[profiler]` or `[DEFAULT]`, and `[DEFAULT] control_exchange`. `[profiler]` is checked
/// as a service's; its `connection_string` is where services send, not the collector's
/// store.
pub fn read_config_file(path: &Path) -> anyhow::Result<ServeSettings> {
    let name = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let ini = ini::Ini::load_from_str_opt(
        &text,
        ini::ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            ..Default::default()
        },
    )
    .map_err(|e| anyhow!("{name}: {e}"))?;
    // The same checks as a service's `[profiler]` section.
    let profiler =
        osprofiler::ProfilerConfig::from_ini_str(&text).map_err(|e| anyhow!("{name}: {e}"))?;
    let mut settings = ServeSettings::default();
    if let Some(section) = ini.section(Some("collector")) {
        for (k, v) in section.iter() {
            let v = v.trim();
            let value = (!v.is_empty()).then(|| v.to_owned());
            match k {
                "listen" => settings.listen = value,
                "store" => settings.store = value,
                "token" => settings.token = value,
                "retention_days" => {
                    settings.retention_days = match value {
                        Some(v) => Some(
                            parse_retention_days(&v)
                                .map_err(|e| anyhow!("{name}: [collector] retention_days: {e}"))?,
                        ),
                        None => None,
                    }
                }
                "transport_url" => settings.transport_url = value,
                "tls_cert" => settings.tls_cert = value.map(|v| beside(path, &v)),
                "tls_key" => settings.tls_key = value.map(|v| beside(path, &v)),
                "amqp_prefetch" => {
                    settings.prefetch = match value {
                        Some(v) => Some(
                            parse_prefetch(&v)
                                .map_err(|e| anyhow!("{name}: [collector] amqp_prefetch: {e}"))?,
                        ),
                        None => None,
                    }
                }
                "amqp_batch_size" => {
                    settings.batch_size = match value {
                        Some(v) => Some(
                            parse_batch_size(&v)
                                .map_err(|e| anyhow!("{name}: [collector] amqp_batch_size: {e}"))?,
                        ),
                        None => None,
                    }
                }
                other => bail!(
                    "{name}: [collector] has no option {other:?} (known: listen, store, token, \
                     retention_days, transport_url, amqp_prefetch, amqp_batch_size, tls_cert, \
                     tls_key)"
                ),
            }
        }
    }
    settings.transport_url = settings.transport_url.or(profiler.transport_url);
    settings.exchange = Some(profiler.control_exchange);
    Ok(settings)
}

/// A config file's path `value`, taken from the file's folder when relative (as a service's
/// config names its certificates).
fn beside(config_file: &Path, value: &str) -> PathBuf {
    let p = Path::new(value);
    match config_file.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_owned(),
    }
}

/// What serves TLS (none without the `tls` feature).
#[cfg(feature = "tls")]
type TlsConfig = std::sync::Arc<osprofiler_collector::tls::ServerConfig>;
#[cfg(not(feature = "tls"))]
type TlsConfig = std::convert::Infallible;

/// The TLS server config for `--tls-cert` and `--tls-key` (both or neither), read before
/// anything else starts: a missing or bad file ends the command at once.
fn tls_config(settings: &ServeSettings) -> anyhow::Result<Option<TlsConfig>> {
    let (cert, key) = match (&settings.tls_cert, &settings.tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => bail!("--tls-cert needs --tls-key (the certificate's private key)"),
        (None, Some(_)) => bail!("--tls-key needs --tls-cert (the certificate it is the key of)"),
    };
    #[cfg(feature = "tls")]
    {
        osprofiler_collector::tls::server_config(cert, key)
            .map(Some)
            .map_err(|e| anyhow!("{e}"))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (cert, key);
        bail!("--tls-cert: this osprofiler was built without the `tls` feature")
    }
}

/// Serves `router` on `listener` until `stop` turns true, then finishes the requests under
/// way.
async fn serve_on<L>(
    listener: L,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// Runs the collector until SIGTERM or Ctrl-C, then stops accepting, finishes the requests
/// under way and closes the store.
pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    // Handled from the start: a signal while the store opens stops the server as soon as
    // it is up.
    let shutdown = shutdown_signal()?;
    let tls = tls_config(&settings)?;
    let listen = settings
        .listen
        .clone()
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let store_cs = settings.store.clone().unwrap_or_else(default_store);
    let masked = mask_password(&store_cs);
    let store = Arc::new(open_store(&store_cs).await?);
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            store.close().await;
            bail!("cannot listen on {listen}: {e}");
        }
    };
    let local = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {listen}"))?;
    let config = CollectorConfig {
        token: settings.token.clone().and_then(Token::new),
        ..CollectorConfig::default()
    };
    let with_token = config.token.is_some();
    let collector = Collector::new(store.clone(), config);
    let amqp = match &settings.transport_url {
        Some(url) => match start_amqp(&collector, url, &settings).await {
            Ok(a) => Some(a),
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        },
        None => None,
    };
    let retention = settings.retention_days.map(|days| {
        let max_age = Duration::from_secs_f64(days * 86_400.0);
        tokio::spawn(collector.clone().retain(max_age, RETENTION_EVERY))
    });
    tracing::info!(
        "osprofiler serve: listening on {}://{local}, storing in {masked}{}{}{}",
        if tls.is_some() { "https" } else { "http" },
        match &amqp {
            Some(a) => format!(", consuming {}", a.describe),
            None => String::new(),
        },
        if with_token { ", token required" } else { "" },
        match settings.retention_days {
            Some(d) => format!(", retention {d} days"),
            None => String::new(),
        }
    );
    // One signal stops both: the HTTP server and the AMQP consumer.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let consuming = amqp.map(|a| tokio::spawn(consume(a.ingest, stopping.clone())));
    let signalled = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    tokio::spawn(signalled);
    let served = match tls {
        None => serve_on(listener, collector.router(), stopping).await,
        #[cfg(feature = "tls")]
        Some(config) => {
            let listener = osprofiler_collector::tls::TlsListener::new(listener, config);
            serve_on(listener, collector.router(), stopping).await
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    };
    if let Some(task) = consuming {
        // Stores and acknowledges the batch under way; the rest stays in the queue.
        let _ = task.await;
    }
    if let Some(task) = retention {
        task.abort();
    }
    store.close().await;
    served.context("the HTTP server failed")?;
    tracing::info!("osprofiler serve: stopped");
    Ok(())
}

/// The AMQP consumer, connected, and how the start line names it.
struct Amqp {
    ingest: Ingest,
    describe: String,
}

#[cfg(feature = "messaging")]
type Ingest = osprofiler_collector::amqp::AmqpIngest;
/// Without the `messaging` feature there is no consumer ([`start_amqp`] refuses).
#[cfg(not(feature = "messaging"))]
type Ingest = std::convert::Infallible;

/// Consumes until `stop` says so.
#[cfg(feature = "messaging")]
async fn consume(ingest: Ingest, stop: tokio::sync::watch::Receiver<bool>) {
    ingest.run(stop).await
}

#[cfg(not(feature = "messaging"))]
async fn consume(ingest: Ingest, _stop: tokio::sync::watch::Receiver<bool>) {
    match ingest {}
}

/// Connects the AMQP consumer: a bad URL or a broker that does not answer is an error.
async fn start_amqp(
    collector: &Collector,
    url: &str,
    settings: &ServeSettings,
) -> anyhow::Result<Amqp> {
    #[cfg(feature = "messaging")]
    {
        use osprofiler_collector::amqp::{AmqpConfig, AmqpIngest};
        let parsed = osprofiler_messaging::TransportUrl::parse(url)?;
        let mut config = AmqpConfig::new(parsed);
        if let Some(e) = &settings.exchange {
            config.exchange = e.clone();
        }
        if let Some(p) = settings.prefetch {
            config.prefetch = p;
        }
        if let Some(b) = settings.batch_size {
            config.batch_size = b;
        }
        let describe = format!(
            "`{}` on exchange `{}` at {} (batches of {}, prefetch {})",
            osprofiler_messaging::QUEUE,
            config.exchange,
            config.url,
            config.batch_size,
            config
                .prefetch
                .max(u16::try_from(config.batch_size).unwrap_or(u16::MAX))
        );
        let ingest = AmqpIngest::connect(collector.clone(), config)
            .await
            .map_err(|e| anyhow!("AMQP ingest: {e}"))?;
        Ok(Amqp { ingest, describe })
    }
    #[cfg(not(feature = "messaging"))]
    {
        let _ = (collector, url, settings);
        bail!("--transport-url: this osprofiler was built without the `messaging` feature")
    }
}

/// Opens the collector's store `store_cs`; its error names the store once, password masked.
pub(crate) async fn open_store(store_cs: &str) -> anyhow::Result<TraceStore> {
    let masked = mask_password(store_cs);
    TraceStore::open(store_cs).await.map_err(|e| {
        // The store's errors name it (masked); say it once.
        let e = e.to_string();
        if e.contains(&masked) {
            anyhow!("the collector's store: {e}")
        } else {
            anyhow!("the collector's store {masked}: {e}")
        }
    })
}

/// A future that resolves at the first SIGTERM or Ctrl-C (SIGINT). The handlers are
/// installed now, so a signal that comes before the future is polled counts.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_store_is_its_own_file() {
        let s = default_store();
        assert!(s.starts_with("sqlite://"), "{s}");
        assert!(s.ends_with("collector.sqlite"), "{s}");
        assert_ne!(s, osprofiler::driver::default_connection_string());
    }

    #[test]
    fn retention_days() {
        assert_eq!(parse_retention_days("7"), Ok(7.0));
        assert_eq!(parse_retention_days("0.5"), Ok(0.5));
        for bad in ["", "0", "-1", "x", "inf", "NaN", "1e9"] {
            assert!(parse_retention_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_file_sections() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.conf");
        std::fs::write(
            &file,
            "[DEFAULT]\ntransport_url = rabbit://u:p@h/\n[profiler]\nenabled = true\n\
             connection_string = redis://h:6379\nhmac_keys = SECRET\n\
             [collector]\nlisten = 0.0.0.0:9000\nstore = sqlite:///tmp/c.db\ntoken = tok\n\
             retention_days = 3\n",
        )
        .unwrap();
        let s = read_config_file(&file).unwrap();
        assert_eq!(
            s,
            ServeSettings {
                listen: Some("0.0.0.0:9000".into()),
                store: Some("sqlite:///tmp/c.db".into()),
                token: Some("tok".into()),
                retention_days: Some(3.0),
                transport_url: Some("rabbit://u:p@h/".into()),
                exchange: Some("openstack".into()),
                prefetch: None,
                batch_size: None,
                tls_cert: None,
                tls_key: None,
            }
        );
        // The command line wins.
        let given = ServeSettings {
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        assert_eq!(given.or(s).listen.as_deref(), Some("127.0.0.1:1"));

        std::fs::write(&file, "[collector]\nlistne = x\n").unwrap();
        let e = read_config_file(&file).unwrap_err().to_string();
        assert!(e.contains("listne"), "{e}");
        std::fs::write(&file, "[collector]\nretention_days = -2\n").unwrap();
        assert!(read_config_file(&file).is_err());
        std::fs::write(&file, "[profiler]\nenabled = maybe\n").unwrap();
        assert!(read_config_file(&file).is_err());
        // No [collector]: nothing set but the exchange.
        std::fs::write(&file, "[profiler]\nenabled = true\n").unwrap();
        assert_eq!(
            read_config_file(&file).unwrap(),
            ServeSettings {
                exchange: Some("openstack".into()),
                ..ServeSettings::default()
            }
        );
        // [collector] transport_url wins over the services' own; the AMQP options.
        std::fs::write(
            &file,
            "[DEFAULT]\ntransport_url = rabbit://a/\ncontrol_exchange = nova\n\
             [collector]\ntransport_url = rabbit://b/\namqp_prefetch = 100\n\
             amqp_batch_size = 50\n",
        )
        .unwrap();
        let s = read_config_file(&file).unwrap();
        assert_eq!(s.transport_url.as_deref(), Some("rabbit://b/"));
        assert_eq!(s.exchange.as_deref(), Some("nova"));
        assert_eq!((s.prefetch, s.batch_size), (Some(100), Some(50)));
        std::fs::write(&file, "[profiler]\ntransport_url = rabbit://c/\n").unwrap();
        assert_eq!(
            read_config_file(&file).unwrap().transport_url.as_deref(),
            Some("rabbit://c/")
        );
        std::fs::write(&file, "[collector]\namqp_batch_size = 0\n").unwrap();
        assert!(read_config_file(&file).is_err());
        // TLS: a relative path is the config file's folder's.
        std::fs::write(
            &file,
            "[collector]\ntls_cert = certs/c.pem\ntls_key = /etc/k.pem\n",
        )
        .unwrap();
        let s = read_config_file(&file).unwrap();
        assert_eq!(s.tls_cert, Some(dir.path().join("certs/c.pem")));
        assert_eq!(s.tls_key, Some(PathBuf::from("/etc/k.pem")));
    }

    #[test]
    fn tls_cert_and_key_go_together() {
        let only = |cert: Option<&str>, key: Option<&str>| ServeSettings {
            tls_cert: cert.map(PathBuf::from),
            tls_key: key.map(PathBuf::from),
            ..ServeSettings::default()
        };
        assert!(tls_config(&only(None, None)).unwrap().is_none());
        let e = tls_config(&only(Some("c.pem"), None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tls-key"), "{e}");
        let e = tls_config(&only(None, Some("k.pem")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tls-cert"), "{e}");
        let e = tls_config(&only(Some("/no/such/c.pem"), Some("/no/such/k.pem")))
            .unwrap_err()
            .to_string();
        if cfg!(feature = "tls") {
            assert!(e.contains("/no/such/c.pem"), "{e}");
        } else {
            assert!(e.contains("without the `tls` feature"), "{e}");
        }
    }
}
