//! The driver options the CLI builds from its flags: the connection string, and for
//! `messaging://` the broker (`--transport-url`) and how long a reader waits for a trace to
//! finish (`--idle-timeout`). Flags are checked here, when they are parsed, so that a typo is
//! a usage error (exit code 2) before anything connects.

use std::time::Duration;

use osprofiler::driver::DriverOptions;

use crate::tree::TreeOptions;

/// The longest `--idle-timeout` taken: a day. More is surely a typo, and keeps `Duration`
/// arithmetic far from overflowing.
const MAX_IDLE_TIMEOUT_S: f64 = 86_400.0;

/// The name of the idle-timeout option in [`osprofiler::ProfilerConfig::set`], as Python's
/// messaging driver names its argument.
pub const IDLE_TIMEOUT_OPTION: &str = "idle_timeout";

/// Builds the options a driver is opened with. The transport URL goes to the config's
/// `transport_url` (`[DEFAULT] transport_url` of a service); the idle timeout is handed to
/// the config as the `idle_timeout` option, in seconds.
pub fn driver_options(
    connection_string: &str,
    transport_url: Option<&str>,
    idle_timeout: Option<Duration>,
) -> DriverOptions {
    let mut options = DriverOptions::new(connection_string);
    if let Some(url) = transport_url {
        options.config.transport_url = Some(url.to_owned());
    }
    if let Some(timeout) = idle_timeout {
        // `ProfilerConfig` has no `idle_timeout` field yet: `set` ignores options it does not
        // know, so this takes effect as soon as the core learns the option, with no change
        // here. The value was validated by `parse_idle_timeout`, so `set` cannot refuse it.
        let _ = options.config.set(
            IDLE_TIMEOUT_OPTION,
            &timeout.as_secs_f64().to_string(),
            "--idle-timeout",
        );
    }
    options
}

/// `--idle-timeout`: seconds, whole (as Python's `type=int`) or with a fraction, from 0 to a
/// day.
pub fn parse_idle_timeout(s: &str) -> Result<Duration, String> {
    let seconds: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of seconds, got {s:?}"))?;
    if !seconds.is_finite() || !(0.0..=MAX_IDLE_TIMEOUT_S).contains(&seconds) {
        return Err(format!(
            "expected a number of seconds from 0 to {MAX_IDLE_TIMEOUT_S}, got {s:?}"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--transport-url`: an oslo.messaging transport URL, checked by the messaging driver's own
/// parser ([`osprofiler_messaging::TransportUrl::parse`]: `rabbit://user:pass@host:port/vhost`,
/// several hosts, `amqp://`), so that a URL the driver would refuse is a usage error here,
/// before anything connects. Errors show the URL with its passwords masked.
#[cfg(feature = "messaging")]
pub fn parse_transport_url(s: &str) -> Result<String, String> {
    osprofiler_messaging::TransportUrl::parse(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// `--transport-url` in a build without `messaging://`: nothing reads it, so it is taken as
/// given (as Python's CLI takes it for every driver).
#[cfg(not(feature = "messaging"))]
pub fn parse_transport_url(s: &str) -> Result<String, String> {
    Ok(s.to_owned())
}

/// The `--transport-url` parser for clap: [`parse_transport_url`], with an error that shows
/// the URL masked (clap's own message would repeat the value as given, password and all).
#[derive(Debug, Clone, Copy)]
pub struct TransportUrlParser;

impl clap::builder::TypedValueParser for TransportUrlParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let name = arg.map_or_else(|| "--transport-url".to_owned(), |a| a.to_string());
        let invalid = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for '{name}': {why}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| invalid("not UTF-8".to_owned()))?;
        parse_transport_url(text).map_err(invalid)
    }
}

/// `trace show`'s options for the tree view of very large traces (flattened into its
/// arguments; refused with --json, --html and --dot, which always hold the whole trace).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TreeArgs {
    /// Tree view: show points down to depth N only (1: the top-level points, 0: only the
    /// total). What lies deeper is folded into one line under its parent that says how many
    /// points (and errors) it holds.
    #[arg(
        long = "max-depth",
        value_name = "N",
        conflicts_with_all = ["json", "html", "dot", "render_dot"]
    )]
    pub max_depth: Option<usize>,
    /// Tree view: fold every point that took less than MS milliseconds, with all the points
    /// under it. A run of folded siblings becomes one line, e.g. "… 1,234 points folded
    /// (< 1 ms), 2 errors". Durations are whole milliseconds, so 1 folds the 0 ms points.
    #[arg(
        long = "fold-under-ms",
        value_name = "MS",
        value_parser = parse_fold_under_ms,
        conflicts_with_all = ["json", "html", "dot", "render_dot"]
    )]
    pub fold_under_ms: Option<f64>,
}

impl TreeArgs {
    /// What the tree leaves out.
    pub fn options(&self) -> TreeOptions {
        TreeOptions {
            max_depth: self.max_depth,
            fold_under_ms: self.fold_under_ms,
        }
    }
}

/// `--fold-under-ms`: milliseconds, whole or with a fraction, not negative.
pub fn parse_fold_under_ms(s: &str) -> Result<f64, String> {
    let ms: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of milliseconds, got {s:?}"))?;
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!(
            "expected a number of milliseconds, 0 or more, got {s:?}"
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler::driver::mask_password;

    #[test]
    fn fold_thresholds() {
        assert_eq!(parse_fold_under_ms("1"), Ok(1.0));
        assert_eq!(parse_fold_under_ms("0.5"), Ok(0.5));
        assert_eq!(parse_fold_under_ms("0"), Ok(0.0));
        for bad in ["", "x", "-1", "inf", "NaN"] {
            assert!(parse_fold_under_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn idle_timeouts() {
        assert_eq!(parse_idle_timeout("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_idle_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_idle_timeout("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["", "x", "-1", "inf", "NaN", "1e9"] {
            assert!(parse_idle_timeout(bad).is_err(), "{bad}");
        }
    }

    #[cfg(feature = "messaging")]
    #[test]
    fn transport_urls() {
        for good in [
            "rabbit://guest:guest@localhost:5672/",
            "rabbit://u:p@h1:5672,u:p@h2:5672/vhost",
            "rabbit://u:p@h1:5672/vhost?heartbeat=60",
            "rabbit://[::1]:5672/",
            "rabbit://",
            "amqp://localhost",
        ] {
            assert_eq!(parse_transport_url(good).as_deref(), Ok(good));
        }
        for bad in [
            "localhost:5672",
            "://h",
            "1abbit://h/",
            "kafka://u:secret@h:9092/",
            "rabbit://u:secret@h:notaport/",
            "rabbit://u:secret@[::1:5672/",
            "rabbit://u:secret@h 1:5672/",
            // TLS and driver options are not supported by the messaging driver.
            "rabbit://u:secret@h1:5672/vhost?ssl=1",
        ] {
            let e = parse_transport_url(bad).unwrap_err();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn masks_every_host() {
        assert_eq!(
            mask_password("rabbit://a:pw1@h1:5672,b:pw2@h2:5672/v?x=1"),
            "rabbit://a:***@h1:5672,b:***@h2:5672/v?x=1"
        );
        assert_eq!(mask_password("rabbit://h1/"), "rabbit://h1/");
    }

    #[test]
    fn options_carry_the_flags() {
        let o = driver_options(
            "messaging://",
            Some("rabbit://guest:guest@localhost:5672/"),
            Some(Duration::from_secs(3)),
        );
        assert_eq!(o.connection_string, "messaging://");
        assert_eq!(
            o.config.transport_url.as_deref(),
            Some("rabbit://guest:guest@localhost:5672/")
        );
        let o = driver_options("sqlite:///tmp/x", None, None);
        assert_eq!(o.config.transport_url, None);
    }
}
