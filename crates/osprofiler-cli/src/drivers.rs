//! The drivers this build of the command knows. The SQL store is registered by the
//! `osprofiler` facade (its `driver::get_driver` and `driver::schemes` do it first); the
//! optional store crates, each a cargo feature
//! of this crate (all on by default, so a lean build can leave out what it does not need),
//! are registered here, before any connection string is read. What `--help` and errors list
//! is the registry's list, [`osprofiler::driver::schemes`].

/// Registers the drivers of the optional store crates compiled in.
pub fn register_all() {
    #[cfg(feature = "redis")]
    osprofiler_redis::register();
    #[cfg(feature = "otlp")]
    osprofiler_otlp::register();
    #[cfg(feature = "messaging")]
    osprofiler_messaging::register();
    #[cfg(feature = "http")]
    osprofiler_http::register();
}

/// The registry's schemes as `scheme://`, comma-separated: for `--help` and error messages.
pub fn known_schemes() -> String {
    osprofiler::driver::schemes()
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use osprofiler::driver::{get_driver, schemes, DriverError, DriverOptions};

    #[tokio::test]
    async fn every_store_of_the_build_is_registered() {
        super::register_all();
        let registered = schemes();
        let mut expected = vec!["memory", "sqlite", "postgresql", "postgres", "mysql"];
        if cfg!(feature = "redis") {
            expected.extend(["redis", "redissentinel"]);
        }
        if cfg!(feature = "otlp") {
            expected.push("otlp");
        }
        if cfg!(feature = "messaging") {
            expected.push("messaging");
        }
        if cfg!(feature = "http") {
            expected.extend(["http", "https"]);
        }
        for scheme in expected {
            assert!(
                registered.iter().any(|s| s == scheme),
                "{scheme}:// missing in {registered:?}"
            );
        }
        // Each registered scheme reaches its driver: a connection error (a port nothing
        // listens on), or a driver that connects lazily, never "driver not found". Files
        // go to a temporary directory.
        let dir = tempfile::tempdir().unwrap();
        for scheme in registered {
            let cs = match scheme.as_str() {
                "sqlite" => format!("sqlite://{}/x.sqlite", dir.path().display()),
                _ => format!("{scheme}://127.0.0.1:1/x"),
            };
            let found = match get_driver(DriverOptions::new(cs)).await {
                Ok(_) => true,
                Err(DriverError::UnknownScheme(_)) => false,
                Err(_) => true,
            };
            assert!(found, "no driver registered for {scheme}://");
        }
    }
}
