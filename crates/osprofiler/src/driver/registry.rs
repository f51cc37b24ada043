//! The driver registry: scheme -> factory, as Python's `get_driver` (which finds the driver
//! class by scheme). Built-in drivers are registered per cargo feature; a service can add its
//! own with [`register_driver`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};

use super::{ConnectionString, Driver, DriverError, DriverOptions};

/// A boxed future returning a driver.
pub type DriverFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn Driver>, DriverError>> + Send>>;

/// Makes a driver from its options (connects, creates tables, ...).
pub type DriverFactory = fn(DriverOptions) -> DriverFuture;

fn registry() -> &'static RwLock<HashMap<String, DriverFactory>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, DriverFactory>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut map: HashMap<String, DriverFactory> = HashMap::new();
        map.insert("memory".into(), super::memory::factory);
        // Every SQL scheme goes to the SQL driver, even one whose backend is not compiled
        // in: it then says which cargo feature is missing.
        #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
        for scheme in super::sql::SCHEMES {
            map.insert(scheme.into(), super::sql::factory);
        }
        RwLock::new(map)
    })
}

/// Registers (or replaces) the driver for `scheme`.
pub fn register_driver(scheme: &str, factory: DriverFactory) {
    let mut map = match registry().write() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.insert(scheme.to_ascii_lowercase(), factory);
}

/// Creates the driver for `options.connection_string` (Python's `get_driver`).
///
/// Errors name the connection string with its password masked.
pub async fn get_driver(options: DriverOptions) -> Result<Arc<dyn Driver>, DriverError> {
    let cs = ConnectionString::parse(&options.connection_string);
    let factory = {
        let map = match registry().read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let scheme = cs.scheme();
        map.get(&scheme)
            .copied()
            .or_else(|| sql_alchemy_form(&map, &scheme))
    };
    match factory {
        Some(factory) => factory(options).await,
        None => Err(DriverError::UnknownScheme(cs.to_string())),
    }
}

/// SQLAlchemy's `dialect+driver` schemes (`postgresql+psycopg2`, `mysql+pymysql`), which
/// Python services are configured with, go to the SQL driver of `dialect`; it checks the
/// driver name.
#[allow(unused_variables)]
fn sql_alchemy_form(map: &HashMap<String, DriverFactory>, scheme: &str) -> Option<DriverFactory> {
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    if let Some((dialect, _)) = scheme.split_once('+') {
        if super::sql::SCHEMES.contains(&dialect) {
            return map.get(dialect).copied();
        }
    }
    None
}

/// The embedded default store, used when no connection string is configured:
/// `sqlite://<user data folder>/osprofiler/traces.sqlite` (on Linux
/// `~/.local/share/osprofiler/traces.sqlite`), or `./osprofiler-traces.sqlite` when the
/// system names no data folder.
pub fn default_connection_string() -> String {
    match dirs::data_dir() {
        Some(dir) => format!(
            "sqlite://{}",
            dir.join("osprofiler").join("traces.sqlite").display()
        ),
        None => "sqlite://osprofiler-traces.sqlite".to_owned(),
    }
}
