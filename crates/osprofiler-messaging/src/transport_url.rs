//! oslo.messaging transport URLs (`rabbit://user:pass@host:5672,user:pass@host2:5672/vhost`),
//! read as oslo.messaging's `TransportURL.parse` reads them, and turned into one AMQP 0-9-1
//! URI per broker for lapin.
//!
//! Messages never show a password: [`TransportUrl`]'s `Display` masks every one.

use osprofiler_core::driver::mask_password;
use std::fmt;

use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use percent_encoding::percent_decode_str;

/// The broker used when no transport URL is configured: oslo.messaging's defaults (the local
/// RabbitMQ, user `guest`).
pub const DEFAULT_TRANSPORT_URL: &str = "rabbit://guest:guest@localhost:5672/";

/// One broker of a transport URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Broker {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port (5672 when the URL names none).
    pub port: u16,
    /// User name (`guest` when the URL names none, as oslo.messaging's default).
    pub username: String,
    /// Password (`guest` when the URL names none).
    pub password: String,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Broker({}@{}:{})", self.username, self.host, self.port)
    }
}

/// A parsed transport URL: its brokers, tried in order, and the virtual host they share.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportUrl {
    /// The brokers, in the URL's order.
    pub brokers: Vec<Broker>,
    /// The virtual host (`/` when the URL's path is empty, as kombu's default).
    pub vhost: String,
}

/// Why a transport URL cannot be used. The message shows the URL with its passwords masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad transport URL {url}: {reason}")]
pub struct TransportUrlError {
    /// The URL, passwords masked.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl TransportUrl {
    /// Parses `rabbit://[user[:pass]@]host[:port][,[user[:pass]@]host[:port]...][/vhost]`.
    ///
    /// The schemes oslo.messaging's RabbitMQ driver answers to are accepted (`rabbit`,
    /// `kombu`, with or without a `+driver` suffix), and so is a plain AMQP URI (`amqp://`).
    /// User name, password and virtual host are percent-decoded. Query options (oslo's
    /// `?ssl=1`, ...) are refused rather than silently ignored, except the harmless
    /// `heartbeat` ones; TLS is not compiled in.
    pub fn parse(url: &str) -> Result<TransportUrl, TransportUrlError> {
        let fail = |reason: &str| TransportUrlError {
            url: mask_password(url),
            reason: reason.to_owned(),
        };
        let url_trim = url.trim();
        let (scheme, rest) = url_trim
            .split_once("://")
            .ok_or_else(|| fail("expected rabbit://user:pass@host:port/vhost"))?;
        let scheme = scheme.to_ascii_lowercase();
        let base = scheme.split('+').next().unwrap_or("");
        if !matches!(base, "rabbit" | "kombu" | "amqp") {
            return Err(fail(&format!(
                "transport `{scheme}` is not supported (only RabbitMQ: rabbit://)"
            )));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        if let Some(query) = query {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let key = pair.split('=').next().unwrap_or("");
                if !key.starts_with("heartbeat") {
                    return Err(fail(&format!(
                        "option `{key}` is not supported (TLS and driver options are not)"
                    )));
                }
            }
        }
        let (netloc, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], Some(&before_query[i + 1..])),
            None => (before_query, None),
        };
        let vhost = match path.map(decode).transpose() {
            Ok(Some(v)) if !v.is_empty() => v,
            Ok(_) => "/".to_owned(),
            Err(reason) => return Err(fail(&reason)),
        };
        let mut brokers = Vec::new();
        for host in netloc.split(',').filter(|h| !h.is_empty()) {
            brokers.push(parse_host(host).map_err(|reason| fail(&reason))?);
        }
        if brokers.is_empty() {
            brokers.push(parse_host("localhost").map_err(|reason| fail(&reason))?);
        }
        Ok(TransportUrl { brokers, vhost })
    }

    /// The AMQP URI lapin connects to for `broker`, with a connection timeout.
    pub fn amqp_uri(&self, broker: &Broker, connect_timeout_ms: u64) -> AMQPUri {
        AMQPUri {
            scheme: AMQPScheme::AMQP,
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: broker.username.clone(),
                    password: broker.password.clone(),
                },
                host: broker.host.clone(),
                port: broker.port,
            },
            vhost: self.vhost.clone(),
            query: AMQPQueryString {
                connection_timeout: Some(connect_timeout_ms.max(1)),
                ..AMQPQueryString::default()
            },
        }
    }

    /// The AMQP URI of `broker` as text, `amqp://user:pass@host:port/vhost`, for programs
    /// that give lapin a URL string: user, password and virtual host percent-encoded (the
    /// default virtual host `/` as `%2F`, where lapin would read an empty path as `""`).
    /// It holds the password: for connecting, not for messages ([`broker_display`] is for
    /// those).
    ///
    /// [`broker_display`]: Self::broker_display
    pub fn amqp_url(&self, broker: &Broker) -> String {
        let encode = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!(
            "amqp://{}:{}@{}/{}",
            encode(&broker.username),
            encode(&broker.password),
            host_port(broker),
            encode(&self.vhost)
        )
    }

    /// `rabbit://user:***@host:port/vhost` of one broker, for messages.
    pub fn broker_display(&self, broker: &Broker) -> String {
        format!(
            "rabbit://{}:***@{}/{}",
            broker.username,
            host_port(broker),
            encode_vhost(&self.vhost)
        )
    }
}

impl fmt::Display for TransportUrl {
    /// The URL with every password masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rabbit://")?;
        for (i, b) in self.brokers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:***@{}", b.username, host_port(b))?;
        }
        write!(f, "/{}", encode_vhost(&self.vhost))
    }
}

impl fmt::Debug for TransportUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportUrl({self})")
    }
}

fn host_port(b: &Broker) -> String {
    if b.host.contains(':') {
        format!("[{}]:{}", b.host, b.port)
    } else {
        format!("{}:{}", b.host, b.port)
    }
}

/// The virtual host as it appears in a URL path (`/` is the empty path, as oslo writes it).
fn encode_vhost(vhost: &str) -> String {
    if vhost == "/" {
        return String::new();
    }
    percent_encoding::utf8_percent_encode(vhost, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn decode(s: &str) -> Result<String, String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "percent-encoded text is not UTF-8".to_owned())
}

/// `[user[:pass]@]host[:port]`, as oslo's parser splits it (the last `@` ends the user part,
/// the first `:` of the user part starts the password).
fn parse_host(entry: &str) -> Result<Broker, String> {
    let (userinfo, hostport) = match entry.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, entry),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (decode(user)?, decode(pass)?),
            None => (decode(u)?, "guest".to_owned()),
        },
        None => ("guest".to_owned(), "guest".to_owned()),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed `[` in host `{hostport}`"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    if host.contains(char::is_whitespace) {
        return Err(format!("white space in host `{host}`"));
    }
    let port = match port {
        None | Some("") => 5672,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("port `{p}` is not a TCP port"))?,
    };
    let host = if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    Ok(Broker {
        host,
        port,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_oslo_urls() {
        let t =
            TransportUrl::parse("rabbit://user:p%40ss@rabbit1:5673,u2:x@[::1]/nova%2Fv").unwrap();
        assert_eq!(t.vhost, "nova/v");
        assert_eq!(t.brokers.len(), 2);
        assert_eq!(
            (t.brokers[0].host.as_str(), t.brokers[0].port),
            ("rabbit1", 5673)
        );
        assert_eq!(t.brokers[0].password, "p@ss");
        assert_eq!(
            (t.brokers[1].host.as_str(), t.brokers[1].port),
            ("::1", 5672)
        );
        assert_eq!(
            t.to_string(),
            "rabbit://user:***@rabbit1:5673,u2:***@[::1]:5672/nova%2Fv"
        );
        let uri = t.amqp_uri(&t.brokers[0], 500);
        assert_eq!(uri.vhost, "nova/v");
        assert_eq!(uri.authority.userinfo.password, "p@ss");
        assert_eq!(uri.query.connection_timeout, Some(500));
    }

    #[test]
    fn amqp_urls_read_back_as_the_same_uri() {
        for (given, want) in [
            (
                "rabbit://guest:guest@127.0.0.1:5672/",
                "amqp://guest:guest@127.0.0.1:5672/%2F",
            ),
            (
                "rabbit://user:p%40ss@rabbit1:5673,u2:x@[::1]/nova%2Fv",
                "amqp://user:p%40ss@rabbit1:5673/nova%2Fv",
            ),
            ("amqp://u@h/v", "amqp://u:guest@h:5672/v"),
        ] {
            let t = TransportUrl::parse(given).unwrap();
            let url = t.amqp_url(&t.brokers[0]);
            assert_eq!(url, want, "{given}");
            // What lapin reads from the text is the URI lapin is given directly.
            let parsed: AMQPUri = url.parse().unwrap();
            let direct = t.amqp_uri(&t.brokers[0], 1);
            assert_eq!(
                (parsed.scheme, parsed.authority, parsed.vhost),
                (direct.scheme, direct.authority, direct.vhost),
                "{given}"
            );
        }
        let t = TransportUrl::parse("rabbit://u:p@[::1]:5673/").unwrap();
        assert_eq!(t.amqp_url(&t.brokers[0]), "amqp://u:p@[::1]:5673/%2F");
    }

    #[test]
    fn defaults_are_oslos() {
        let t = TransportUrl::parse("rabbit://").unwrap();
        assert_eq!(t.vhost, "/");
        assert_eq!(t.brokers[0].host, "localhost");
        assert_eq!(t.brokers[0].username, "guest");
        let t = TransportUrl::parse("rabbit://guest:guest@127.0.0.1:5672/").unwrap();
        assert_eq!(t.vhost, "/");
        let t = TransportUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(t.vhost, "/");
        assert!(TransportUrl::parse(DEFAULT_TRANSPORT_URL).is_ok());
    }

    #[test]
    fn bad_urls_are_errors_with_masked_passwords() {
        for bad in [
            "kafka://u:secret@h:9092/",
            "rabbit://u:secret@h:99999/",
            "rabbit://u:secret@h:5672/?ssl=1",
            "u:secret@h",
            "rabbit://u:secret@[::1/",
            "rabbit://u:secret@h 1:5672/",
            "rabbit://u:secret@h:0/",
        ] {
            let e = TransportUrl::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        assert_eq!(
            mask_password("rabbit://a:b@h1,c:d@h2/v?x=1"),
            "rabbit://a:***@h1,c:***@h2/v?x=1"
        );
    }
}
