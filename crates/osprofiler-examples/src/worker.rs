//! The worker of the three-services example (`worker`, nova-compute's role): an RPC server
//! whose `build_instance` asks the database layer (`dbsvc`) over RPC to record the
//! instance, "spawns" it, and asks again to mark it active. Both sides are traced as nova
//! traces them: the server methods ([`WorkerManager`]) and the calls to the database layer
//! ([`ConductorApi`], nova's `conductor.api`) with `#[trace_impl(name = "rpc")]`.
//!
//! The simulated hypervisor has [`HOST_FREE_RAM_MB`] free: a flavor that needs more
//! (`m1.xlarge`) fails to spawn, and the instance is recorded `ERROR`, as nova records a
//! failed build; the example's way to show an error in a trace.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::amqp::{RpcError, RpcReply};
use crate::conductor::InstanceRecord;
use crate::transport::Caller;

/// `build_instance` failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The database layer failed or did not answer.
    #[error("conductor: {0}")]
    Conductor(#[from] RpcError),
    /// The database layer answered something that is not an instance.
    #[error("conductor answered a malformed instance: {0}")]
    BadRecord(String),
    /// The hypervisor cannot host the flavor (nova's `NoValidHost`).
    #[error("no valid host: flavor {flavor} needs {needed_mb} MB of RAM, the host has {HOST_FREE_RAM_MB} MB free")]
    NoValidHost {
        /// The flavor asked for.
        flavor: String,
        /// The RAM it needs.
        needed_mb: u32,
    },
}

/// The RAM the simulated hypervisor has free, in MB.
pub const HOST_FREE_RAM_MB: u32 = 8192;

/// The RAM a flavor needs, in MB: OpenStack's default `m1` flavors; another name is taken as
/// the smallest.
pub fn flavor_ram_mb(flavor: &str) -> u32 {
    match flavor {
        "m1.small" => 2048,
        "m1.medium" => 4096,
        "m1.large" => 8192,
        "m1.xlarge" => 16384,
        _ => 512,
    }
}

/// The calls to the database layer, one `rpc` point each (the caller's side).
pub struct ConductorApi {
    // Calls wait for their reply one at a time on the client's reply consumer.
    client: Mutex<Caller>,
}

impl fmt::Debug for ConductorApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConductorApi")
    }
}

impl ConductorApi {
    /// The API over a caller of the database layer: an RPC client of its queue, or a server
    /// of this process.
    pub fn new(client: impl Into<Caller>) -> Self {
        ConductorApi {
            client: Mutex::new(client.into()),
        }
    }

    /// Closes the RPC client's channel (at shutdown).
    pub async fn close(&self) {
        self.client.lock().await.close().await;
    }

    async fn call(
        &self,
        method: &str,
        args: Map<String, Value>,
    ) -> Result<InstanceRecord, WorkerError> {
        let result = self.client.lock().await.call(method, args).await?;
        serde_json::from_value(result).map_err(|e| WorkerError::BadRecord(e.to_string()))
    }
}

#[osprofiler::trace_impl(name = "rpc")]
impl ConductorApi {
    /// Records a new instance.
    pub async fn instance_create(
        &self,
        name: &str,
        flavor: &str,
    ) -> Result<InstanceRecord, WorkerError> {
        let mut args = Map::new();
        args.insert("name".into(), name.into());
        args.insert("flavor".into(), flavor.into());
        self.call("instance_create", args).await
    }

    /// Sets an instance's status.
    pub async fn instance_update(
        &self,
        id: &str,
        status: &str,
    ) -> Result<InstanceRecord, WorkerError> {
        let mut args = Map::new();
        args.insert("id".into(), id.into());
        args.insert("status".into(), status.into());
        self.call("instance_update", args).await
    }
}

/// The worker's RPC methods, one `rpc` point each (the server's side).
pub struct WorkerManager {
    conductor: ConductorApi,
}

impl fmt::Debug for WorkerManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkerManager")
    }
}

impl WorkerManager {
    /// The methods, calling the database layer through `conductor`.
    pub fn new(conductor: ConductorApi) -> Self {
        WorkerManager { conductor }
    }
}

impl WorkerManager {
    /// The calls to the database layer.
    pub fn conductor(&self) -> &ConductorApi {
        &self.conductor
    }
}

#[osprofiler::trace_impl(name = "rpc")]
impl WorkerManager {
    /// Builds an instance: recorded `BUILDING`, spawned, recorded `ACTIVE`; when the spawn
    /// fails, recorded `ERROR` and the spawn's error returned.
    pub async fn build_instance(
        &self,
        name: String,
        flavor: String,
    ) -> Result<InstanceRecord, WorkerError> {
        let record = self.conductor.instance_create(&name, &flavor).await?;
        if let Err(e) = driver_spawn(&record.name, &record.flavor).await {
            self.conductor.instance_update(&record.id, "ERROR").await?;
            return Err(e);
        }
        self.conductor.instance_update(&record.id, "ACTIVE").await
    }
}

/// The hypervisor's work, simulated: fails for a flavor bigger than the host's free RAM.
#[osprofiler::trace(name = "driver")]
async fn driver_spawn(name: &str, flavor: &str) -> Result<(), WorkerError> {
    let _ = name;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let needed_mb = flavor_ram_mb(flavor);
    if needed_mb > HOST_FREE_RAM_MB {
        return Err(WorkerError::NoValidHost {
            flavor: flavor.to_owned(),
            needed_mb,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct BuildArgs {
    name: String,
    flavor: String,
}

/// Runs `method` of `manager` with `args`: the reply to send.
pub async fn dispatch(manager: &WorkerManager, method: &str, args: Map<String, Value>) -> RpcReply {
    let result = match method {
        "build_instance" => match RpcReply::parse_args::<BuildArgs>(args) {
            Ok(a) => manager.build_instance(a.name, a.flavor).await,
            Err(reply) => return reply,
        },
        other => return RpcReply::unsupported(other),
    };
    RpcReply::from_result(result)
}
