//! A PostgreSQL database of its own per test, made and dropped with `psql` (no client
//! library needed), so tests that run at the same time never see each other's tables.

use std::process::Command;

/// A new database on the local PostgreSQL, dropped (`WITH (FORCE)`) when this is dropped.
#[derive(Debug)]
pub struct PgDatabase {
    admin: String,
    /// Its name.
    pub name: String,
    /// Its URL, `postgresql://postgres@127.0.0.1:5432/<name>`.
    pub url: String,
}

/// Runs `sql` with `psql` on `url`; returns the rows, one line each, columns split by `|`.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `url` with its database (the path) replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = url
        .split_once('?')
        .map_or((url, None), |(h, q)| (h, Some(q)));
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl PgDatabase {
    /// A new empty database; `None` (test skipped) when PostgreSQL is not there (in CI: a
    /// panic).
    pub fn new() -> Option<PgDatabase> {
        let admin = crate::postgres()?;
        let name = crate::unique_name("osp")
            .replace('-', "_")
            .to_ascii_lowercase();
        if let Err(e) = psql(&admin, &format!("CREATE DATABASE {name}")) {
            panic!("cannot make a test database: {e}");
        }
        let url = with_database(&admin, &name);
        Some(PgDatabase { admin, name, url })
    }

    /// Runs `sql` in this database (see [`psql`]); panics on an error.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The one number `sql` gives (a `count(*)`).
    pub fn count(&self, sql: &str) -> u64 {
        let out = self.query(sql);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql} gave {out:?}, not a number"))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            with_database("postgresql://postgres@127.0.0.1:5432/test", "x"),
            "postgresql://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u@h/test?sslmode=disable", "y"),
            "postgresql://u@h/y?sslmode=disable"
        );
    }
}
