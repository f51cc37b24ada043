//! The drivers this build of the command knows, registered with the core's registry before
//! any connection string is read. Each backend is a cargo feature of this crate (all on by
//! default), so a lean build can leave out what it does not need.

/// Registers every driver compiled in. The core registers its own (`sqlite://`, `memory://`,
/// and the SQL servers enabled through its features).
pub fn register_all() {
    #[cfg(feature = "redis")]
    osprofiler_redis::register();
    #[cfg(feature = "otlp")]
    osprofiler_otlp::register();
    #[cfg(feature = "messaging")]
    osprofiler_messaging::register();
}

/// The schemes this build serves, for `--help` and error messages.
pub fn schemes() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut schemes = vec!["sqlite", "memory"];
    #[cfg(feature = "redis")]
    schemes.extend(["redis", "redissentinel"]);
    #[cfg(feature = "otlp")]
    schemes.push("otlp");
    #[cfg(feature = "messaging")]
    schemes.push("messaging");
    #[cfg(feature = "postgres")]
    schemes.extend(["postgresql", "postgres"]);
    #[cfg(feature = "mysql")]
    schemes.push("mysql");
    schemes
}

#[cfg(test)]
mod tests {
    use osprofiler::driver::{get_driver, DriverError, DriverOptions};

    #[tokio::test]
    async fn every_listed_scheme_has_a_driver() {
        super::register_all();
        for scheme in super::schemes() {
            // A port nothing listens on: the driver is found (a connection error, or a driver
            // that connects lazily), never "driver not found".
            let cs = format!("{scheme}://127.0.0.1:1/x");
            let found = match get_driver(DriverOptions::new(cs)).await {
                Ok(_) => true,
                Err(DriverError::UnknownScheme(_)) => false,
                Err(_) => true,
            };
            assert!(found, "no driver registered for {scheme}://");
        }
    }
}
