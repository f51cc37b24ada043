//! What a `redis://` or `redissentinel://` connection string names: the server (or the
//! Sentinels that know it), the database, the credentials and our own options (`ttl`,
//! `socket_timeout`).
//!
//! Parsed here rather than by the `redis` crate so that every mistake gives one error that
//! names the string (password masked), and so that our options never reach the server.

use std::time::Duration;

use osprofiler_core::driver::{mask_password, DriverError, DriverOptions};
use percent_encoding::percent_decode_str;

/// The port of a Redis server when the string names none.
pub const DEFAULT_PORT: u16 = 6379;
/// The port of a Sentinel when the string names none.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// `redis://host:port`: this server.
    Direct {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// `redissentinel://host:port[,host:port...]`: the master these Sentinels name.
    Sentinel {
        /// The Sentinels, tried in order.
        sentinels: Vec<(String, u16)>,
        /// The monitored service whose master to use (`sentinel_service_name`).
        service_name: String,
    },
}

/// A parsed connection string (see the [crate docs](crate)).
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The server, or the Sentinels.
    pub server: Server,
    /// Database number (`/N` or `?db=N`; default 0).
    pub db: i64,
    /// ACL user name (`redis://user:pw@...`).
    pub username: Option<String>,
    /// Password (percent-decoded).
    pub password: Option<String>,
    /// Expiry set on every key the driver writes (`?ttl=SECONDS`); `None`: keys never expire.
    pub ttl: Option<u64>,
    /// Bounds each connection attempt and Sentinel query (`?socket_timeout=SECONDS`, else the
    /// `[profiler] socket_timeout` option).
    pub socket_timeout: Duration,
    /// The connection string, password masked: what every message names.
    pub masked: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("server", &self.server)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ttl", &self.ttl)
            .field("socket_timeout", &self.socket_timeout)
            .field("connection", &self.masked)
            .finish()
    }
}

impl Target {
    /// Parses `options.connection_string`; `socket_timeout` and `sentinel_service_name` come
    /// from `options.config` unless the string's query sets them.
    pub fn parse(options: &DriverOptions) -> Result<Target, DriverError> {
        let raw = options.connection_string.trim();
        // Without `://` the password cannot be told apart: hide all after the first colon.
        let masked = match (raw.contains("://"), raw.split_once(':')) {
            (false, Some((head, _))) => format!("{head}:***"),
            _ => mask_password(raw),
        };
        let bad = |reason: String| DriverError::BadConnectionString {
            connection: masked.clone(),
            reason,
        };
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| bad("expected redis://[:password@]host[:port][/db]".into()))?;
        let sentinel = match scheme.to_ascii_lowercase().as_str() {
            "redis" => false,
            "redissentinel" => true,
            other => {
                return Err(bad(format!(
                    "the scheme {other:?} is not redis or redissentinel"
                )))
            }
        };
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        if !fragment.is_empty() {
            return Err(bad("a fragment (#...) means nothing here".into()));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pw) = match u.split_once(':') {
                    Some((user, pw)) => (user, Some(pw)),
                    None => (u, None),
                };
                let decode = |s: &str, what: &str| {
                    percent_decode_str(s)
                        .decode_utf8()
                        .map(|c| c.into_owned())
                        .map_err(|_| bad(format!("the {what} is not UTF-8 once percent-decoded")))
                };
                let user = (!user.is_empty())
                    .then(|| decode(user, "user name"))
                    .transpose()?;
                let pw = pw
                    .filter(|p| !p.is_empty())
                    .map(|p| decode(p, "password"))
                    .transpose()?;
                (user, pw)
            }
        };
        let default_port = if sentinel {
            DEFAULT_SENTINEL_PORT
        } else {
            DEFAULT_PORT
        };
        let mut addrs = Vec::new();
        for part in hosts.split(',') {
            addrs.push(parse_host_port(part, default_port).map_err(&bad)?);
        }
        if !sentinel && addrs.len() > 1 {
            return Err(bad(
                "several hosts are for redissentinel:// (a list of Sentinels)".into(),
            ));
        }
        let mut db = match path.trim_matches('/') {
            "" => 0,
            n => n
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad(format!("the database {n:?} is not a number")))?,
        };
        let mut ttl = None;
        let mut socket_timeout = seconds(options.config.socket_timeout)
            .ok_or_else(|| bad("socket_timeout must be a positive number of seconds".into()))?;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "ttl" => {
                    ttl = Some(
                        value
                            .parse::<u64>()
                            .ok()
                            .filter(|t| *t > 0)
                            .ok_or_else(|| {
                                bad(format!("ttl={value:?} is not a positive number of seconds"))
                            })?,
                    )
                }
                "db" => {
                    db = value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| bad(format!("db={value:?} is not a database number")))?
                }
                "socket_timeout" => {
                    socket_timeout =
                        value.parse::<f64>().ok().and_then(seconds).ok_or_else(|| {
                            bad(format!("socket_timeout={value:?} is not a positive number"))
                        })?
                }
                other => {
                    return Err(bad(format!(
                        "unknown option {other:?} (known: ttl, db, socket_timeout)"
                    )))
                }
            }
        }
        let server = if sentinel {
            Server::Sentinel {
                sentinels: addrs,
                service_name: options.config.sentinel_service_name.clone(),
            }
        } else {
            let (host, port) = addrs.remove(0);
            Server::Direct { host, port }
        };
        Ok(Target {
            server,
            db,
            username,
            password,
            ttl,
            socket_timeout,
            masked,
        })
    }

    /// The `redis` crate's view of the server at `host:port` with this target's database and
    /// credentials.
    pub fn connection_info(&self, host: &str, port: u16) -> redis::ConnectionInfo {
        redis::ConnectionInfo {
            addr: redis::ConnectionAddr::Tcp(host.to_owned(), port),
            redis: self.redis_info(),
        }
    }

    /// Database and credentials, for the server (not for the Sentinels, which Python's
    /// driver also reaches without a password).
    pub fn redis_info(&self) -> redis::RedisConnectionInfo {
        redis::RedisConnectionInfo {
            db: self.db,
            username: self.username.clone(),
            password: self.password.clone(),
            protocol: redis::ProtocolVersion::RESP2,
        }
    }
}

fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s > 0.0)
        .then(|| Duration::try_from_secs_f64(s).ok())
        .flatten()
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn parse_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let s = s.trim();
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("the address {s:?} lacks its closing ]"))?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("junk after the address {s:?}"))?,
                ),
            ),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    if host.contains(['/', ' ', '@', ':']) && !s.starts_with('[') {
        return Err(format!("the host {host:?} is not a host name"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("the port {p:?} is not a port number"))?,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Target, DriverError> {
        Target::parse(&DriverOptions::new(s))
    }

    #[test]
    fn python_forms() {
        let t = parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(
            t.server,
            Server::Direct {
                host: "127.0.0.1".into(),
                port: 6379
            }
        );
        assert_eq!((t.db, t.ttl, t.password), (0, None, None));
        assert_eq!(t.socket_timeout, Duration::from_millis(100));

        let t = parse("redis://:s%40cret@cache/3?ttl=86400").unwrap();
        assert_eq!(t.password.as_deref(), Some("s@cret"));
        assert_eq!(t.username, None);
        assert_eq!((t.db, t.ttl), (3, Some(86400)));
        assert_eq!(
            t.server,
            Server::Direct {
                host: "cache".into(),
                port: 6379
            }
        );
        assert!(!format!("{t:?}").contains("cret"));

        let t = parse("redis://user:pw@[::1]:7000/?db=2&socket_timeout=1.5").unwrap();
        assert_eq!(t.username.as_deref(), Some("user"));
        assert_eq!(t.db, 2);
        assert_eq!(t.socket_timeout, Duration::from_millis(1500));
        assert_eq!(
            t.server,
            Server::Direct {
                host: "::1".into(),
                port: 7000
            }
        );
    }

    #[test]
    fn sentinels() {
        let mut options = DriverOptions::new("redissentinel://:pw@s1:26379,s2/0");
        options.config.sentinel_service_name = "cell1".into();
        let t = Target::parse(&options).unwrap();
        assert_eq!(
            t.server,
            Server::Sentinel {
                sentinels: vec![("s1".into(), 26379), ("s2".into(), 26379)],
                service_name: "cell1".into()
            }
        );
        assert_eq!(t.password.as_deref(), Some("pw"));
    }

    #[test]
    fn mistakes_name_the_masked_string() {
        for s in [
            "redis://:hunter2@h:99999",
            "redis://:hunter2@h/x",
            "redis://:hunter2@h?ttl=0",
            "redis://:hunter2@h?ttl=-5",
            "redis://:hunter2@h?colour=blue",
            "redis://:hunter2@",
            "redis://:hunter2@a,b",
            "redis://:hunter2@[::1",
            "memcached://:hunter2@h",
            "redis:hunter2",
        ] {
            let e = parse(s).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{s}: {e}");
            assert!(e.starts_with("bad connection string "), "{s}: {e}");
        }
        let e = parse("redis://:hunter2@h:99999").unwrap_err().to_string();
        assert!(e.contains("redis://:***@h:99999"), "{e}");
    }

    #[test]
    fn bad_socket_timeout_in_config() {
        let mut options = DriverOptions::new("redis://h");
        options.config.socket_timeout = 0.0;
        assert!(Target::parse(&options).is_err());
        options.config.socket_timeout = f64::NAN;
        assert!(Target::parse(&options).is_err());
    }
}
