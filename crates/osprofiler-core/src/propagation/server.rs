//! [`ServerTraceConfig`]: what a server layer (HTTP or gRPC) is configured with.

use std::fmt;
use std::sync::Arc;

use crate::config::ProfilerConfig;
use crate::init::Profiling;
use crate::notifier::Notifier;
use crate::signing::Verifier;
use crate::Profiler;

use super::Extractor;

/// The configuration of a server layer, HTTP (`osprofiler-tower`) or gRPC
/// (`osprofiler-tonic`): Python's `WsgiMiddleware(app, hmac_keys, enabled)`, plus where the
/// points of traced requests go.
///
/// Off until enabled, as Python's `enabled=False` default: built from the `[profiler]`
/// options ([`from_config`](Self::from_config)) or from what
/// [`init_from_conf`](crate::init_from_conf) set up ([`from_profiling`](Self::from_profiling)),
/// `enabled` comes from there. Per request, [`profiler_for`](Self::profiler_for) verifies the
/// trace headers (`docs/wire.md`, 4.5) and makes the callee's profiler.
///
/// ```
/// use osprofiler_core::propagation::ServerTraceConfig;
///
/// let config = ServerTraceConfig::new(["NEW_KEY", "OLD_KEY"]).enabled(true);
/// assert!(config.is_enabled());
/// // Never prints the keys.
/// assert!(!format!("{config:?}").contains("NEW_KEY"));
/// ```
#[derive(Clone)]
pub struct ServerTraceConfig {
    /// Python's `enabled`: when false, trace headers are not even looked at.
    enabled: bool,
    /// Python's `hmac_keys`: incoming headers must be signed with one of them (rotation),
    /// each key's HMAC state prepared once.
    keys: Verifier,
    /// Where the points of traced requests go; `None`: the process-wide notifier.
    notifier: Option<Arc<dyn Notifier>>,
}

impl ServerTraceConfig {
    /// Accepts headers signed with any of `hmac_keys`, once [`enabled`](Self::enabled) (off
    /// by default, as Python's middleware). No keys: nothing is accepted.
    pub fn new<I, K>(hmac_keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        ServerTraceConfig {
            enabled: false,
            keys: Verifier::new(hmac_keys),
            notifier: None,
        }
    }

    /// Accepts nothing: every request runs unprofiled.
    pub fn disabled() -> Self {
        Self::new(Vec::<String>::new())
    }

    /// As the `[profiler]` options say: `enabled` and `hmac_keys`.
    pub fn from_config(conf: &ProfilerConfig) -> Self {
        Self::new(&conf.hmac_keys).enabled(conf.enabled)
    }

    /// For what [`init_from_conf`](crate::init_from_conf) set up: enabled when its pipeline
    /// runs (a driver that failed to start leaves it off), with its `hmac_keys`.
    pub fn from_profiling(profiling: &Profiling) -> Self {
        Self::new(&profiling.hmac_keys).enabled(profiling.enabled())
    }

    /// Turns trace headers on or off (Python's `enabled`).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sends the points of traced requests to `notifier` instead of the process-wide one (a
    /// service that runs several pipelines, or a test that collects the points).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Whether trace headers are looked at.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The keys incoming headers are verified with.
    pub fn verifier(&self) -> &Verifier {
        &self.keys
    }

    /// The notifier given with [`notifier`](Self::notifier), if any.
    pub fn notifier_ref(&self) -> Option<&Arc<dyn Notifier>> {
        self.notifier.as_ref()
    }

    /// The callee's profiler for a request with these headers: `None` when disabled, or when
    /// [`extract`](super::extract) rejects them (the request then runs unprofiled and
    /// unchanged). Its key is the one that matched, so onward calls are signed with it.
    #[inline]
    pub fn profiler_for<E: Extractor + ?Sized>(&self, headers: &E) -> Option<Profiler> {
        if !self.enabled {
            return None;
        }
        let trace = super::extract(headers, &self.keys)?;
        Some(trace.into_profiler(self.notifier.clone()))
    }
}

impl Default for ServerTraceConfig {
    /// [`ServerTraceConfig::disabled`].
    fn default() -> Self {
        Self::disabled()
    }
}

impl fmt::Debug for ServerTraceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys: they are the secret that lets anyone start traces.
        f.debug_struct("ServerTraceConfig")
            .field("enabled", &self.enabled)
            .field("hmac_keys", &format_args!("[{} hidden]", self.keys.len()))
            .field("notifier", &self.notifier.as_ref().map(|_| "custom"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::CollectingNotifier;
    use http::HeaderMap;

    fn signed(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        super::super::inject_from(&Profiler::new(key, Some("b"), Some("p")), &mut headers);
        headers
    }

    #[test]
    fn off_by_default_and_from_config() {
        assert!(!ServerTraceConfig::new(["k"]).is_enabled());
        assert!(ServerTraceConfig::new(["k"])
            .profiler_for(&signed("k"))
            .is_none());
        let conf = ProfilerConfig {
            enabled: true,
            hmac_keys: vec!["a".into(), "b".into()],
            ..ProfilerConfig::default()
        };
        let config = ServerTraceConfig::from_config(&conf);
        assert!(config.is_enabled());
        assert_eq!(config.verifier().len(), 2);
        assert!(ServerTraceConfig::disabled()
            .enabled(true)
            .profiler_for(&signed("k"))
            .is_none());
    }

    #[test]
    fn makes_the_callees_profiler_reporting_to_its_notifier() {
        let points = Arc::new(CollectingNotifier::new());
        let config = ServerTraceConfig::new(["old", "k"])
            .enabled(true)
            .notifier(points.clone());
        let mut callee = config.profiler_for(&signed("k")).unwrap();
        assert_eq!(callee.hmac_key(), "k");
        assert_eq!(callee.id().to_text(), "p");
        callee.start("x", None);
        assert_eq!(points.points().len(), 1);
        assert!(config.profiler_for(&signed("other")).is_none());
        assert!(config.profiler_for(&HeaderMap::new()).is_none());
    }

    #[test]
    fn debug_hides_the_keys() {
        let text = format!("{:?}", ServerTraceConfig::new(["SECRET_KEY"]).enabled(true));
        assert!(!text.contains("SECRET_KEY"), "{text}");
        assert!(text.contains("1 hidden"), "{text}");
    }
}
