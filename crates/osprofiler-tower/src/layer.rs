//! [`ProfilerLayer`]: what the service is configured with, and how it wraps a service.

use std::fmt;
use std::sync::Arc;

use osprofiler_core::signing::Verifier;
use osprofiler_core::{Notifier, ProfilerConfig, Profiling};
use tower_layer::Layer;

use crate::service::ProfilerService;

/// The settings every [`ProfilerService`] made by one layer shares.
#[derive(Clone)]
pub(crate) struct Config {
    /// Python's `enabled`: when false, trace headers are not even looked at.
    pub(crate) enabled: bool,
    /// Python's `hmac_keys`: incoming headers must be signed with one of them (rotation),
    /// each key's HMAC state prepared once.
    pub(crate) hmac_keys: Verifier,
    /// Where the points of traced requests go; `None`: the process-wide notifier.
    pub(crate) notifier: Option<Arc<dyn Notifier>>,
    /// `request.scheme` when the request URI has none (HTTP/1 origin-form requests).
    pub(crate) default_scheme: Arc<str>,
}

/// A tower [`Layer`] that traces the requests whose trace headers are signed with one of the
/// service's HMAC keys, as Python OSprofiler's `WsgiMiddleware` does.
///
/// Configured as Python's middleware is (`enabled`, `hmac_keys`), directly or from the
/// `[profiler]` options ([`ProfilerLayer::from_config`], [`ProfilerLayer::from_profiling`]).
/// It is off until enabled.
///
/// ```
/// use osprofiler_tower::ProfilerLayer;
///
/// let layer = ProfilerLayer::new(["NEW_KEY", "OLD_KEY"]).enabled(true);
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct ProfilerLayer {
    config: Arc<Config>,
}

impl ProfilerLayer {
    /// A layer accepting headers signed with any of `hmac_keys`, still disabled (as Python's
    /// `enabled=False` default): call [`enabled`](Self::enabled).
    pub fn new<I, K>(hmac_keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        ProfilerLayer {
            config: Arc::new(Config {
                enabled: false,
                hmac_keys: Verifier::new(hmac_keys),
                notifier: None,
                default_scheme: Arc::from("http"),
            }),
        }
    }

    /// A layer set up as the `[profiler]` options say: `enabled` and `hmac_keys`.
    pub fn from_config(conf: &ProfilerConfig) -> Self {
        Self::new(conf.hmac_keys.iter().cloned()).enabled(conf.enabled)
    }

    /// A layer for what [`osprofiler::init_from_conf`] set up: enabled when the pipeline
    /// runs (a driver that failed to start leaves it off), with its `hmac_keys`.
    pub fn from_profiling(profiling: &Profiling) -> Self {
        Self::new(profiling.hmac_keys.iter().cloned()).enabled(profiling.enabled())
    }

    /// Turns the middleware on or off (Python's `enabled`). Off, trace headers are ignored.
    pub fn enabled(mut self, enabled: bool) -> Self {
        Arc::make_mut(&mut self.config).enabled = enabled;
        self
    }

    /// Sends the points of traced requests to `notifier` instead of the process-wide one
    /// (a service that runs several pipelines, or a test that collects the points).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        Arc::make_mut(&mut self.config).notifier = Some(notifier);
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
        self.config.enabled
    }
}

impl<S> Layer<S> for ProfilerLayer {
    type Service = ProfilerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProfilerService::new(inner, self.config.clone())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys: they are the secret that lets anyone start traces.
        f.debug_struct("Config")
            .field("enabled", &self.enabled)
            .field(
                "hmac_keys",
                &format_args!("[{} hidden]", self.hmac_keys.len()),
            )
            .field("notifier", &self.notifier.as_ref().map(|_| "custom"))
            .field("default_scheme", &self.default_scheme)
            .finish()
    }
}

impl fmt::Debug for ProfilerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfilerLayer")
            .field("config", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_from_config() {
        assert!(!ProfilerLayer::new(["k"]).is_enabled());
        let conf = ProfilerConfig {
            enabled: true,
            hmac_keys: vec!["a".into(), "b".into()],
            ..ProfilerConfig::default()
        };
        let layer = ProfilerLayer::from_config(&conf);
        assert!(layer.is_enabled());
        assert_eq!(layer.config.hmac_keys.len(), 2);
    }

    #[test]
    fn debug_hides_the_keys() {
        let text = format!("{:?}", ProfilerLayer::new(["SECRET_KEY"]).enabled(true));
        assert!(!text.contains("SECRET_KEY"), "{text}");
        assert!(text.contains("1 hidden"), "{text}");
    }
}
