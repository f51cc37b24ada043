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

/// `scheme://user:secret@host/...` becomes `scheme://user:***@host/...`; strings without a
/// password come back unchanged.
pub fn mask_password(s: &str) -> String {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return s.to_owned();
    };
    let rest = &s[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return s.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return s.to_owned();
    };
    format!(
        "{}{}:***{}",
        &s[..start],
        &userinfo[..colon],
        &s[start + at..]
    )
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
