//! Connection strings: the scheme picks the driver (`redis://...`, `sqlite://PATH`), and
//! every message that names one masks its password.

use std::fmt;

/// A connection string split at its scheme, as Python's `get_driver` reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    raw: String,
    scheme_len: usize,
    rest_at: usize,
}

impl ConnectionString {
    /// Parses `s`. As in Python, a string without `://` or `:` is taken as a bare scheme
    /// (`"messaging"` means `"messaging://"`); `sqlite::memory:` has the scheme `sqlite`.
    pub fn parse(s: &str) -> ConnectionString {
        let s = s.trim();
        if let Some(scheme_len) = s.find("://") {
            return ConnectionString {
                raw: s.to_owned(),
                scheme_len,
                rest_at: scheme_len + 3,
            };
        }
        // `sqlite::memory:`: the scheme ends at the first colon.
        if let Some(colon) = s.find(':') {
            return ConnectionString {
                raw: s.to_owned(),
                scheme_len: colon,
                rest_at: colon + 1,
            };
        }
        ConnectionString {
            raw: format!("{s}://"),
            scheme_len: s.len(),
            rest_at: s.len() + 3,
        }
    }

    /// The scheme, lower-cased (`sqlite`, `mysql+pymysql`, ...).
    pub fn scheme(&self) -> String {
        self.raw[..self.scheme_len].to_ascii_lowercase()
    }

    /// Everything after `scheme://`.
    pub fn rest(&self) -> &str {
        &self.raw[self.rest_at..]
    }

    /// The string as given (with its password: never log this).
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for ConnectionString {
    /// Prints the string with its password masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_password(&self.raw))
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionString({self})")
    }
}

/// `scheme://user:secret@host/...` becomes `scheme://user:***@host/...`, for every host of
/// a comma-separated list (oslo.messaging's `rabbit://u:p@h1,u2:p2@h2/`); a bare
/// `user:secret@host` too. Strings without a password come back unchanged. What every error
/// message and log line that names a connection string or transport URL shows.
pub fn mask_password(s: &str) -> String {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return mask_user_info(s);
    };
    let rest = &s[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    format!(
        "{}{}{}",
        &s[..start],
        mask_hosts(&rest[..authority_end]),
        &rest[authority_end..]
    )
}

/// Masks each `user:secret@host` of a comma-separated host list. A piece without `@` belongs
/// to the next piece that has one (a password may hold a comma; a credential-less host
/// before it is then shown as part of the user name, which hides nothing secret); pieces
/// after the last `@` are plain hosts.
fn mask_hosts(authority: &str) -> String {
    let mut hosts: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for piece in authority.split(',') {
        let entry = match pending.take() {
            Some(before) => format!("{before},{piece}"),
            None => piece.to_owned(),
        };
        if piece.contains('@') {
            hosts.push(mask_user_info(&entry));
        } else {
            pending = Some(entry);
        }
    }
    hosts.extend(pending);
    hosts.join(",")
}

/// `user:secret@host` (the last `@` ends the user info, the first `:` in it ends the user)
/// becomes `user:***@host`.
fn mask_user_info(entry: &str) -> String {
    let Some(at) = entry.rfind('@') else {
        return entry.to_owned();
    };
    match entry[..at].find(':') {
        Some(colon) => format!("{}:***{}", &entry[..colon], &entry[at..]),
        None => entry.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_as_python_reads_them() {
        assert_eq!(ConnectionString::parse("messaging").scheme(), "messaging");
        assert_eq!(ConnectionString::parse("messaging").rest(), "");
        assert_eq!(
            ConnectionString::parse("sqlite::memory:").scheme(),
            "sqlite"
        );
        assert_eq!(
            ConnectionString::parse("sqlite::memory:").rest(),
            ":memory:"
        );
        assert_eq!(
            ConnectionString::parse("SQLite:///tmp/x.db").scheme(),
            "sqlite"
        );
        assert_eq!(
            ConnectionString::parse("sqlite:///tmp/x.db").rest(),
            "/tmp/x.db"
        );
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("redis://:s3cret@localhost:6379/0"),
            "redis://:***@localhost:6379/0"
        );
        assert_eq!(
            mask_password("rabbit://guest:guest@h:5672/"),
            "rabbit://guest:***@h:5672/"
        );
        assert_eq!(
            mask_password("mysql+pymysql://u:p@w@db/x"),
            "mysql+pymysql://u:***@db/x"
        );
        assert_eq!(mask_password("sqlite:///tmp/a:b@c"), "sqlite:///tmp/a:b@c");
        for (given, shown) in [
            (
                "rabbit://a:pw1@h1:5672,b:pw2@h2:5672/v?x=1",
                "rabbit://a:***@h1:5672,b:***@h2:5672/v?x=1",
            ),
            ("rabbit://a:p,w@h1,h2/", "rabbit://a:***@h1,h2/"),
            ("rabbit://h1,b:pw@h2/", "rabbit://h1,b:***@h2/"),
            ("rabbit://h1,h2/", "rabbit://h1,h2/"),
            ("guest:secret@localhost", "guest:***@localhost"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("messaging", "messaging"),
        ] {
            assert_eq!(mask_password(given), shown, "{given}");
        }
        assert_eq!(
            mask_password("redis://localhost:6379"),
            "redis://localhost:6379"
        );
        assert_eq!(
            ConnectionString::parse("redis://:pw@h").to_string(),
            "redis://:***@h"
        );
    }
}
