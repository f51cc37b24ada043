//! The driver registry: scheme -> factory, as Python's `get_driver` (which finds the driver
//! class by scheme). Only `memory://` is built in; every store crate registers its schemes
//! (`osprofiler_sql::register()`, `osprofiler_redis::register()`, ...; the `osprofiler` facade
//! registers the SQL store it was built with), and a service can add its own with
//! [`register_driver`]. [`schemes`] lists what is registered: the one list the CLI shows.

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

/// The schemes registered so far, sorted (`memory`, then whatever the store crates added).
pub fn schemes() -> Vec<String> {
    let map = match registry().read() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut schemes: Vec<String> = map.keys().cloned().collect();
    schemes.sort();
    schemes
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
/// Python services are configured with, go to the driver registered for `dialect`, which
/// checks the driver name (the SQL store refuses one it does not know).
fn sql_alchemy_form(map: &HashMap<String, DriverFactory>, scheme: &str) -> Option<DriverFactory> {
    let (dialect, _) = scheme.split_once('+')?;
    map.get(dialect).copied()
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
