//! The export URL of an `otlp://` connection string, built as Python's driver builds it:
//! the scheme becomes `http` and `/v1/traces` is appended to whatever path is there, so
//! `otlp://host:4318` posts to `http://host:4318/v1/traces` and `otlp://host:4318/otel` to
//! `http://host:4318/otel/v1/traces`. Credentials in the string become HTTP basic
//! authentication, as Python's `requests` does with a URL's user and password.

use base64::Engine;
use hyper::header::HeaderValue;
use hyper::Uri;
use osprofiler_core::driver::{mask_password, DriverError};

/// Where spans are posted.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://host:port[/path]/v1/traces`.
    pub uri: Uri,
    /// `Authorization: Basic ...` when the string names a user.
    pub authorization: Option<HeaderValue>,
    /// The connection string with its password masked, for messages.
    pub masked: String,
}

impl Endpoint {
    /// Parses `otlp://[user[:password]@]host[:port][/path]`.
    ///
    /// Unlike Python, a trailing `/` of the path is dropped (Python would post to
    /// `//v1/traces`), and a query or fragment is refused (Python would append `/v1/traces`
    /// after it and post to a different path than asked).
    pub fn parse(connection_string: &str) -> Result<Endpoint, DriverError> {
        let s = connection_string.trim();
        let masked = mask_password(s);
        let bad = |reason: &str| DriverError::BadConnectionString {
            connection: masked.clone(),
            reason: reason.to_owned(),
        };
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("otlp") => rest,
            _ => return Err(bad("expected otlp://host[:port][/path]")),
        };
        if rest.contains(['?', '#']) {
            return Err(bad(
                "a query or fragment is not supported (the path gets /v1/traces appended)",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if host_port.is_empty() || host_port.starts_with(':') {
            return Err(bad("no host (expected otlp://host[:port])"));
        }
        let after_host = host_port
            .rsplit_once(']')
            .map_or(host_port, |(_, tail)| tail);
        if let Some((_, port)) = after_host.rsplit_once(':') {
            if port.parse::<u16>().is_err() {
                return Err(bad(&format!("bad port {port:?}")));
            }
        }
        let uri: Uri = format!("http://{host_port}{path}/v1/traces")
            .parse()
            .map_err(|e| bad(&format!("not a valid URL: {e}")))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("no host (expected otlp://host[:port])"));
        }
        let authorization = userinfo
            .map(|u| {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                let credentials = format!("{}:{}", percent_decode(user), percent_decode(password));
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| bad("credentials cannot be sent in an HTTP header"))
            })
            .transpose()?;
        Ok(Endpoint {
            uri,
            authorization,
            masked,
        })
    }
}

/// `%XX` escapes decoded (as `requests` unquotes a URL's user and password); anything that is
/// not a valid escape is kept as it is.
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_python_builds_them() {
        let e = Endpoint::parse("otlp://127.0.0.1:4318").unwrap();
        assert_eq!(e.uri.to_string(), "http://127.0.0.1:4318/v1/traces");
        assert!(e.authorization.is_none());
        let e = Endpoint::parse("OTLP://collector:4318/otel/").unwrap();
        assert_eq!(e.uri.to_string(), "http://collector:4318/otel/v1/traces");
        let e = Endpoint::parse("otlp://collector").unwrap();
        assert_eq!(e.uri.to_string(), "http://collector/v1/traces");
        let e = Endpoint::parse("otlp://[::1]:4318").unwrap();
        assert_eq!(e.uri.to_string(), "http://[::1]:4318/v1/traces");
    }

    #[test]
    fn credentials_become_basic_auth_and_are_masked() {
        let e = Endpoint::parse("otlp://user:p%40ss@h:4318").unwrap();
        assert_eq!(e.uri.to_string(), "http://h:4318/v1/traces");
        // base64("user:p@ss")
        assert_eq!(e.authorization.unwrap(), "Basic dXNlcjpwQHNz");
        assert_eq!(e.masked, "otlp://user:***@h:4318");
    }

    #[test]
    fn bad_strings_name_themselves_masked() {
        for s in [
            "otlp://",
            "otlp://:4318",
            "otlp://u:secret@",
            "redis://h",
            "otlp://h:4318?x=1",
            "otlp://h:notaport",
            "otlp://h h",
        ] {
            let e = Endpoint::parse(s).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("bad connection string"), "{s}: {text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("é%41%é"), "éA%é");
        assert_eq!(percent_decode(""), "");
    }
}
