//! [`ServerTraceLayer`]: what the service is configured with, and how it wraps a service.

use std::fmt;
use std::sync::Arc;

use osprofiler_core::propagation::ServerTraceConfig;
use osprofiler_core::{Notifier, ProfilerConfig, Profiling};
use tower_layer::Layer;

use crate::service::ServerTrace;

/// The settings every [`ServerTrace`] made by one layer shares.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Python's `enabled` and `hmac_keys`, and where the points go: the configuration the
    /// gRPC server layer (`osprofiler-tonic`) shares.
    pub(crate) trace: ServerTraceConfig,
    /// `request.scheme` when the request URI has none (HTTP/1 origin-form requests).
    pub(crate) default_scheme: Arc<str>,
}

/// A tower [`Layer`] that traces the requests whose trace headers are signed with one of the
/// service's HMAC keys, as Python OSprofiler's `WsgiMiddleware` does.
///
/// Configured as Python's middleware is (`enabled`, `hmac_keys`), directly or from the
/// `[profiler]` options ([`ServerTraceLayer::from_config`],
/// [`ServerTraceLayer::from_profiling`]), or with a [`ServerTraceConfig`] (the type
/// `osprofiler-tonic`'s server layer takes too). It is off until enabled.
///
/// ```
/// use osprofiler_tower::ServerTraceLayer;
///
/// let layer = ServerTraceLayer::new(["NEW_KEY", "OLD_KEY"]).enabled(true);
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct ServerTraceLayer {
    config: Arc<Config>,
}

/// The old name of [`ServerTraceLayer`].
#[deprecated(since = "0.1.0", note = "renamed `ServerTraceLayer`")]
pub type ProfilerLayer = ServerTraceLayer;

impl ServerTraceLayer {
    /// A layer accepting headers signed with any of `hmac_keys`, still disabled (as Python's
    /// `enabled=False` default): call [`enabled`](Self::enabled).
    pub fn new<I, K>(hmac_keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        Self::with_config(ServerTraceConfig::new(hmac_keys))
    }

    /// A layer with this configuration (shared with the gRPC server layer of
    /// `osprofiler-tonic`).
    pub fn with_config(config: ServerTraceConfig) -> Self {
        ServerTraceLayer {
            config: Arc::new(Config {
                trace: config,
                default_scheme: Arc::from("http"),
            }),
        }
    }

    /// A layer set up as the `[profiler]` options say: `enabled` and `hmac_keys`.
    pub fn from_config(conf: &ProfilerConfig) -> Self {
        Self::with_config(ServerTraceConfig::from_config(conf))
    }

    /// A layer for what `osprofiler::init_from_conf` set up: enabled when the pipeline
    /// runs (a driver that failed to start leaves it off), with its `hmac_keys`.
    pub fn from_profiling(profiling: &Profiling) -> Self {
        Self::with_config(ServerTraceConfig::from_profiling(profiling))
    }

    /// Turns the middleware on or off (Python's `enabled`). Off, trace headers are ignored.
    pub fn enabled(mut self, enabled: bool) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.trace = config.trace.clone().enabled(enabled);
        self
    }

    /// Sends the points of traced requests to `notifier` instead of the process-wide one
    /// (a service that runs several pipelines, or a test that collects the points).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.trace = config.trace.clone().notifier(notifier);
        self
    }

    /// The `scheme` recorded for requests whose URI carries none (HTTP/1 requests name only
    /// the path): `"http"` by default, as a plain WSGI server reports it; say `"https"` for a
    /// server that terminates TLS itself.
    pub fn default_scheme(mut self, scheme: &str) -> Self {
        Arc::make_mut(&mut self.config).default_scheme = Arc::from(scheme);
        self
    }

    /// Whether trace headers are looked at.
    pub fn is_enabled(&self) -> bool {
        self.config.trace.is_enabled()
    }

    /// The configuration: keys, `enabled`, notifier.
    pub fn config(&self) -> &ServerTraceConfig {
        &self.config.trace
    }
}

impl From<ServerTraceConfig> for ServerTraceLayer {
    fn from(config: ServerTraceConfig) -> Self {
        Self::with_config(config)
    }
}

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTrace::new(inner, self.config.clone())
    }
}

impl fmt::Debug for ServerTraceLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `ServerTraceConfig`'s `Debug` never prints the keys.
        f.debug_struct("ServerTraceLayer")
            .field("config", &self.config.trace)
            .field("default_scheme", &self.config.default_scheme)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_from_config() {
        assert!(!ServerTraceLayer::new(["k"]).is_enabled());
        let conf = ProfilerConfig {
            enabled: true,
            hmac_keys: vec!["a".into(), "b".into()],
            ..ProfilerConfig::default()
        };
        let layer = ServerTraceLayer::from_config(&conf);
        assert!(layer.is_enabled());
        assert_eq!(layer.config().verifier().len(), 2);
        assert!(!layer.enabled(false).is_enabled());
    }

    #[test]
    fn debug_hides_the_keys() {
        let text = format!("{:?}", ServerTraceLayer::new(["SECRET_KEY"]).enabled(true));
        assert!(!text.contains("SECRET_KEY"), "{text}");
        assert!(text.contains("1 hidden"), "{text}");
    }

    #[test]
    #[allow(deprecated)]
    fn the_old_name_still_builds_a_layer() {
        let layer: ProfilerLayer = ProfilerLayer::new(["k"]).enabled(true);
        assert!(layer.is_enabled());
    }
}
