//! The `[profiler]` options of OpenStack services (`docs/wire.md`, configuration), read from an INI file as
//! services use (`oslo.config` style), a TOML file, or environment variables.
//!
//! ```
//! # #[cfg(feature = "ini")] {
//! let conf = osprofiler_core::ProfilerConfig::from_ini_str(
//!     "[profiler]\nenabled = true\nhmac_keys = SECRET_KEY, old-key\n",
//! ).unwrap();
//! assert!(conf.enabled);
//! assert_eq!(conf.hmac_keys, ["SECRET_KEY", "old-key"]);
//! # }
//! ```

use std::path::Path;

/// The `[profiler]` section (plus `[profiler_otlp] service_name_prefix` and the messaging
/// options of `[DEFAULT]`). Defaults are Python OSprofiler's.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilerConfig {
    /// Profiling is off unless this is true.
    pub enabled: bool,
    /// Keys that trace headers may be signed with (comma separated; several for rotation).
    pub hmac_keys: Vec<String>,
    /// Where notifications go; `None` means the embedded default store.
    pub connection_string: Option<String>,
    /// Record a `db` point per SQL statement.
    pub trace_sqlalchemy: bool,
    /// Record an `http` point per outgoing HTTP request.
    pub trace_requests: bool,
    /// Also index traces that contain an error (Redis and SQL drivers).
    pub filter_error_trace: bool,
    /// Elasticsearch document type (kept for config compatibility).
    pub es_doc_type: String,
    /// Elasticsearch scroll time (kept for config compatibility).
    pub es_scroll_time: String,
    /// Elasticsearch scroll size (kept for config compatibility).
    pub es_scroll_size: u64,
    /// Seconds a driver socket may wait.
    pub socket_timeout: f64,
    /// The Redis Sentinel service whose master to use.
    pub sentinel_service_name: String,
    /// `[profiler_otlp] service_name_prefix`.
    pub otlp_service_name_prefix: Option<String>,
    /// `[DEFAULT] transport_url`: the message broker of `messaging://`.
    pub transport_url: Option<String>,
    /// `[DEFAULT] control_exchange`: the exchange of `messaging://` (default `openstack`).
    pub control_exchange: String,
    /// Seconds a reader of `messaging://` waits for one more notification before it takes the
    /// trace as complete (the CLI's `--idle-timeout`; not an option of Python's config).
    pub idle_timeout: f64,
    /// Ours, not Python's: outgoing HTTP calls also carry a W3C `traceparent` made from the
    /// OSprofiler ids (the OTLP driver's mapping), so an OpenTelemetry-instrumented callee
    /// continues the trace the `otlp://` export shows. Default false.
    pub w3c_traceparent: bool,
}

impl Default for ProfilerConfig {
    fn default() -> Self {
        ProfilerConfig {
            enabled: false,
            hmac_keys: vec!["SECRET_KEY".to_owned()],
            connection_string: None,
            trace_sqlalchemy: false,
            trace_requests: false,
            filter_error_trace: false,
            es_doc_type: "notification".to_owned(),
            es_scroll_time: "2m".to_owned(),
            es_scroll_size: 10_000,
            socket_timeout: 0.1,
            sentinel_service_name: "mymaster".to_owned(),
            otlp_service_name_prefix: None,
            transport_url: None,
            control_exchange: "openstack".to_owned(),
            idle_timeout: 1.0,
            w3c_traceparent: false,
        }
    }
}

/// A config value or file that cannot be used. The message names where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An option has a value of the wrong kind.
    #[error("{source_name}: option {option} = {value:?}: {reason}")]
    BadValue {
        /// The file or environment variable.
        source_name: String,
        /// The option's name.
        option: String,
        /// The value given.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// The file does not parse.
    #[error("{source_name}: {message}")]
    Syntax {
        /// The file.
        source_name: String,
        /// The parser's message.
        message: String,
    },
    /// The file cannot be read.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
}

/// Environment variables read by [`ProfilerConfig::apply_env`]: `OSPROFILER_<OPTION>` for each
/// option (`OSPROFILER_ENABLED`, `OSPROFILER_HMAC_KEYS`, `OSPROFILER_CONNECTION_STRING`, ...;
/// `OSPROFILER_CONNECTION_STRING` is also what Python's CLI reads).
pub const ENV_PREFIX: &str = "OSPROFILER_";

impl ProfilerConfig {
    /// Sets one option from its text form, as `oslo.config` parses it (booleans
    /// `true/false/yes/no/on/off/1/0`, lists comma separated). Unknown options are ignored,
    /// as `oslo.config` ignores options nobody registered.
    pub fn set(&mut self, option: &str, value: &str, source_name: &str) -> Result<(), ConfigError> {
        let bad = |reason| ConfigError::BadValue {
            source_name: source_name.to_owned(),
            option: option.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let v = value.trim();
        let opt_str = || (!v.is_empty()).then(|| v.to_owned());
        let bad_seconds = || bad("expected a number of seconds, 0 or more");
        match option.trim().to_ascii_lowercase().as_str() {
            "enabled" => self.enabled = parse_bool(v).ok_or_else(|| bad("expected a boolean"))?,
            "hmac_keys" => {
                self.hmac_keys = v
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "connection_string" => self.connection_string = opt_str(),
            "trace_sqlalchemy" => {
                self.trace_sqlalchemy = parse_bool(v).ok_or_else(|| bad("expected a boolean"))?
            }
            "trace_requests" => {
                self.trace_requests = parse_bool(v).ok_or_else(|| bad("expected a boolean"))?
            }
            "w3c_traceparent" => {
                self.w3c_traceparent = parse_bool(v).ok_or_else(|| bad("expected a boolean"))?
            }
            "filter_error_trace" => {
                self.filter_error_trace = parse_bool(v).ok_or_else(|| bad("expected a boolean"))?
            }
            "es_doc_type" => self.es_doc_type = v.to_owned(),
            "es_scroll_time" => self.es_scroll_time = v.to_owned(),
            "es_scroll_size" => {
                self.es_scroll_size = v.parse().map_err(|_| bad("expected a whole number"))?
            }
            "socket_timeout" => self.socket_timeout = seconds(v).ok_or_else(bad_seconds)?,
            "idle_timeout" => self.idle_timeout = seconds(v).ok_or_else(bad_seconds)?,
            "sentinel_service_name" => self.sentinel_service_name = v.to_owned(),
            "service_name_prefix" | "otlp_service_name_prefix" => {
                self.otlp_service_name_prefix = opt_str()
            }
            "transport_url" => self.transport_url = opt_str(),
            "control_exchange" => self.control_exchange = v.to_owned(),
            _ => {}
        }
        Ok(())
    }

    /// Reads an OpenStack-style INI text: `[profiler]`, `[profiler_otlp]` and the
    /// `transport_url` / `control_exchange` of `[DEFAULT]`.
    #[cfg(feature = "ini")]
    pub fn from_ini_str(text: &str) -> Result<Self, ConfigError> {
        Self::default().merge_ini_str(text, "<ini>")
    }

    #[cfg(feature = "ini")]
    fn merge_ini_str(mut self, text: &str, source_name: &str) -> Result<Self, ConfigError> {
        // rust-ini always joins a line ending in `\` with the next one (even with escapes
        // off); oslo.config does not, so a value ending in `\` would swallow the next option.
        // A space after the `\` keeps the lines apart (values are trimmed).
        let text = if text.contains("\\\n") {
            std::borrow::Cow::Owned(text.replace("\\\n", "\\ \n"))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let ini = ini::Ini::load_from_str_opt(
            &text,
            ini::ParseOption {
                enabled_quote: false,
                enabled_escape: false,
                ..Default::default()
            },
        )
        .map_err(|e| ConfigError::Syntax {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        for (section, props) in ini.iter() {
            let section = section.unwrap_or("DEFAULT");
            for (k, v) in props.iter() {
                let take = match section {
                    "profiler" => true,
                    "profiler_otlp" => k == "service_name_prefix",
                    "DEFAULT" => matches!(k, "transport_url" | "control_exchange"),
                    _ => false,
                };
                if take {
                    self.set(k, v, source_name)?;
                }
            }
        }
        Ok(self)
    }

    /// Reads a TOML text with a `[profiler]` table (and optionally `[profiler_otlp]`, and
    /// top-level `transport_url` / `control_exchange`).
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::default().merge_toml_str(text, "<toml>")
    }

    #[cfg(feature = "toml")]
    fn merge_toml_str(mut self, text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                source_name: source_name.to_owned(),
                message: e.to_string(),
            })?;
        for (k, v) in &doc {
            match (k.as_str(), v) {
                ("profiler", toml::Value::Table(t)) => {
                    for (k, v) in t {
                        self.set(k, &toml_text(v), source_name)?;
                    }
                }
                ("profiler_otlp", toml::Value::Table(t)) => {
                    if let Some(v) = t.get("service_name_prefix") {
                        self.set("service_name_prefix", &toml_text(v), source_name)?;
                    }
                }
                ("transport_url" | "control_exchange", v) => {
                    self.set(k, &toml_text(v), source_name)?
                }
                _ => {}
            }
        }
        Ok(self)
    }

    /// Reads a config file: TOML when its name ends in `.toml`, INI otherwise.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            path: name.clone(),
            error,
        })?;
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        if is_toml {
            #[cfg(feature = "toml")]
            return Self::default().merge_toml_str(&text, &name);
            #[cfg(not(feature = "toml"))]
            return Err(ConfigError::Syntax {
                source_name: name,
                message: "TOML support is not compiled in (cargo feature `toml`)".into(),
            });
        }
        #[cfg(feature = "ini")]
        return Self::default().merge_ini_str(&text, &name);
        #[cfg(not(feature = "ini"))]
        {
            // Read anyway, so a missing file is reported as such.
            drop(text);
            Err(ConfigError::Syntax {
                source_name: name,
                message: "INI support is not compiled in (cargo feature `ini`)".into(),
            })
        }
    }

    /// Overrides options from `OSPROFILER_<OPTION>` variables of `vars` (pass
    /// `std::env::vars()`); names are matched case-insensitively.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let upper = name.to_ascii_uppercase();
            if let Some(option) = upper.strip_prefix(ENV_PREFIX) {
                self.set(&option.to_ascii_lowercase(), &value, &name)?;
            }
        }
        Ok(())
    }

    /// The defaults overridden by this process's `OSPROFILER_*` environment variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut conf = Self::default();
        conf.apply_env(std::env::vars())?;
        Ok(conf)
    }

    /// The keys as `&str`, the form [`crate::signing::signed_unpack`] takes.
    pub fn hmac_key_refs(&self) -> Vec<&str> {
        self.hmac_keys.iter().map(String::as_str).collect()
    }
}

/// A TOML value in the text form `set` parses; arrays become comma-separated lists.
#[cfg(feature = "toml")]
fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => items.iter().map(toml_text).collect::<Vec<_>>().join(","),
        toml::Value::Table(_) => String::from("<table>"),
    }
}

/// A finite number of seconds, 0 or more.
fn seconds(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "y" | "t" => Some(true),
        "false" | "no" | "off" | "0" | "n" | "f" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_pythons() {
        let c = ProfilerConfig::default();
        assert!(!c.enabled);
        assert_eq!(c.hmac_keys, ["SECRET_KEY"]);
        assert_eq!(c.socket_timeout, 0.1);
        assert_eq!(c.sentinel_service_name, "mymaster");
        assert_eq!(c.connection_string, None);
    }

    /// Found by the `config` fuzz target: rust-ini joins a line ending in `\` with the
    /// next (a line continuation oslo.config does not have), so the option after a value
    /// ending in `\` was lost.
    #[cfg(feature = "ini")]
    #[test]
    fn a_value_ending_in_a_backslash_keeps_the_next_line() {
        let c = ProfilerConfig::from_ini_str(
            "[profiler]\nhmac_keys = a\\\nenabled = true\r\nconnection_string = x\\\r\nsocket_timeout = 2\n",
        )
        .unwrap();
        assert_eq!(c.hmac_keys, ["a\\"]);
        assert!(c.enabled);
        assert_eq!(c.connection_string.as_deref(), Some("x\\"));
        assert_eq!(c.socket_timeout, 2.0);
    }

    #[cfg(feature = "ini")]
    #[test]
    #[cfg(feature = "ini")]
    fn reads_an_openstack_ini() {
        let c = ProfilerConfig::from_ini_str(
            "[DEFAULT]\ntransport_url = rabbit://guest:guest@localhost:5672/\ndebug = true\n\
             [profiler]\nenabled = True\nhmac_keys = SECRET_KEY,other\n\
             connection_string = redis://localhost:6379\ntrace_sqlalchemy = yes\n\
             socket_timeout = 0.5\n[profiler_otlp]\nservice_name_prefix = os\n[other]\nenabled = false\n",
        )
        .unwrap();
        assert!(c.enabled && c.trace_sqlalchemy);
        assert_eq!(c.hmac_keys, ["SECRET_KEY", "other"]);
        assert_eq!(
            c.connection_string.as_deref(),
            Some("redis://localhost:6379")
        );
        assert_eq!(c.socket_timeout, 0.5);
        assert_eq!(c.otlp_service_name_prefix.as_deref(), Some("os"));
        assert_eq!(
            c.transport_url.as_deref(),
            Some("rabbit://guest:guest@localhost:5672/")
        );
    }

    #[cfg(feature = "ini")]
    #[test]
    #[cfg(feature = "ini")]
    fn bad_values_name_the_option() {
        let e = ProfilerConfig::from_ini_str("[profiler]\nenabled = maybe\n").unwrap_err();
        assert!(e.to_string().contains("enabled"), "{e}");
        assert!(ProfilerConfig::from_ini_str("[profiler]\nsocket_timeout = -1\n").is_err());
    }

    #[cfg(feature = "toml")]
    #[test]
    fn timeouts_are_seconds_zero_or_more() {
        let mut c = ProfilerConfig::default();
        assert_eq!(c.idle_timeout, 1.0);
        c.set("idle_timeout", "2.5", "--idle-timeout").unwrap();
        assert!(!c.w3c_traceparent);
        c.set("w3c_traceparent", "yes", "t").unwrap();
        assert!(c.w3c_traceparent);
        c.set("socket_timeout", "0", "t").unwrap();
        assert_eq!((c.idle_timeout, c.socket_timeout), (2.5, 0.0));
        for bad in ["-1", "nan", "inf", "soon", ""] {
            let e = c.set("idle_timeout", bad, "--idle-timeout").unwrap_err();
            assert!(e.to_string().contains("--idle-timeout"), "{e}");
        }
    }

    #[test]
    #[cfg(feature = "toml")]
    fn reads_toml() {
        let c = ProfilerConfig::from_toml_str(
            "[profiler]\nenabled = true\nhmac_keys = [\"a\", \"b\"]\nsocket_timeout = 2\n",
        )
        .unwrap();
        assert!(c.enabled);
        assert_eq!(c.hmac_keys, ["a", "b"]);
        assert_eq!(c.socket_timeout, 2.0);
        assert!(ProfilerConfig::from_toml_str("[profiler\n").is_err());
    }

    #[test]
    fn environment_overrides() {
        let mut c = ProfilerConfig::default();
        c.apply_env([
            ("OSPROFILER_ENABLED".to_owned(), "true".to_owned()),
            ("OSPROFILER_HMAC_KEYS".to_owned(), "k1,k2".to_owned()),
            (
                "OSPROFILER_CONNECTION_STRING".to_owned(),
                "sqlite:///tmp/x".to_owned(),
            ),
            ("PATH".to_owned(), "/bin".to_owned()),
        ])
        .unwrap();
        assert!(c.enabled);
        assert_eq!(c.hmac_keys, ["k1", "k2"]);
        assert_eq!(c.connection_string.as_deref(), Some("sqlite:///tmp/x"));
    }
}
