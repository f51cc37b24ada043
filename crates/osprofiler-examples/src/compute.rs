//! The example's service: a compute manager (the RPC server's methods) and its client API,
//! both traced as nova traces them, with `#[trace_impl(name = "rpc")]`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::amqp::{RpcError, RpcReply};
use crate::transport::Caller;

/// A method failed on the server.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// No instance has this id.
    #[error("instance {0} could not be found")]
    InstanceNotFound(String),
}

/// One instance the manager knows.
#[derive(Debug, Clone)]
struct Instance {
    name: String,
    flavor: String,
}

/// The server side: its public methods are the RPC methods, each an `rpc` point with
/// Python's `function` info (name, args, kwargs).
#[derive(Default)]
pub struct ComputeManager {
    instances: Mutex<HashMap<String, Instance>>,
}

impl fmt::Debug for ComputeManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ComputeManager")
    }
}

#[osprofiler::trace_impl(name = "rpc")]
impl ComputeManager {
    /// Creates an instance: a database write, then the hypervisor driver.
    pub async fn build_instance(
        &self,
        name: String,
        flavor: String,
    ) -> Result<Value, ComputeError> {
        let id = instance_create(self, &name, &flavor);
        driver_spawn(&name).await;
        Ok(json!({"id": id, "name": name, "flavor": flavor, "status": "ACTIVE"}))
    }

    /// Reboots an instance; fails for an unknown id.
    pub async fn reboot_instance(&self, id: String) -> Result<Value, ComputeError> {
        let instance = instance_get(self, &id)?;
        driver_spawn(&instance.name).await;
        Ok(json!({"id": id, "name": instance.name, "flavor": instance.flavor, "status": "ACTIVE"}))
    }
}

#[osprofiler::trace(name = "db")]
fn instance_create(manager: &ComputeManager, name: &str, flavor: &str) -> String {
    let id = osprofiler::TraceId::new_v4().to_text();
    let instance = Instance {
        name: name.to_owned(),
        flavor: flavor.to_owned(),
    };
    lock(manager).insert(id.clone(), instance);
    id
}

#[osprofiler::trace(name = "db")]
fn instance_get(manager: &ComputeManager, id: &str) -> Result<Instance, ComputeError> {
    lock(manager)
        .get(id)
        .cloned()
        .ok_or_else(|| ComputeError::InstanceNotFound(id.to_owned()))
}

fn lock(manager: &ComputeManager) -> std::sync::MutexGuard<'_, HashMap<String, Instance>> {
    match manager.instances.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The hypervisor's work, simulated.
#[osprofiler::trace(name = "driver")]
async fn driver_spawn(name: &str) {
    let _ = name;
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[derive(Deserialize)]
struct BuildArgs {
    name: String,
    flavor: String,
}

#[derive(Deserialize)]
struct RebootArgs {
    id: String,
}

/// Runs `method` of `manager` with `args` (oslo.messaging's dispatcher): the reply to send.
/// Run it under the caller's profiler, if the request context carried one.
pub async fn dispatch(
    manager: &ComputeManager,
    method: &str,
    args: Map<String, Value>,
) -> RpcReply {
    let result = match method {
        "build_instance" => match RpcReply::parse_args::<BuildArgs>(args) {
            Ok(a) => manager.build_instance(a.name, a.flavor).await,
            Err(reply) => return reply,
        },
        "reboot_instance" => match RpcReply::parse_args::<RebootArgs>(args) {
            Ok(a) => manager.reboot_instance(a.id).await,
            Err(reply) => return reply,
        },
        other => return RpcReply::unsupported(other),
    };
    RpcReply::from_result(result)
}

/// The caller's side (nova's `compute_rpcapi.ComputeAPI`): one method per RPC method, each an
/// `rpc` point in the caller's trace whose child is the server's point.
#[derive(Debug)]
pub struct ComputeApi {
    client: Caller,
}

impl ComputeApi {
    /// The API over a caller of the compute server: an RPC client of its queue, or a server
    /// of this process.
    pub fn new(client: impl Into<Caller>) -> Self {
        ComputeApi {
            client: client.into(),
        }
    }

    /// Closes the RPC client's channel (at shutdown).
    pub async fn close(&self) {
        self.client.close().await;
    }
}

#[osprofiler::trace_impl(name = "rpc")]
impl ComputeApi {
    /// Asks the server to build an instance.
    pub async fn build_instance(&mut self, name: &str, flavor: &str) -> Result<Value, RpcError> {
        let mut args = Map::new();
        args.insert("name".into(), name.into());
        args.insert("flavor".into(), flavor.into());
        self.client.call("build_instance", args).await
    }

    /// Asks the server to reboot an instance.
    pub async fn reboot_instance(&mut self, id: &str) -> Result<Value, RpcError> {
        let mut args = Map::new();
        args.insert("id".into(), id.into());
        self.client.call("reboot_instance", args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprofiler::notifier::CollectingNotifier;
    use osprofiler::{PointKind, Profiler, ProfilerExt};
    use std::sync::Arc;

    #[tokio::test]
    async fn dispatch_traces_the_method_under_the_callers_profiler() {
        let points = Arc::new(CollectingNotifier::new());
        let manager = ComputeManager::default();
        let mut args = Map::new();
        args.insert("name".into(), "vm".into());
        args.insert("flavor".into(), "tiny".into());
        let p = Profiler::with_notifier("k", Some("base"), Some("caller"), points.clone());
        let reply = dispatch(&manager, "build_instance", args)
            .with_profiler(Some(p))
            .await;
        assert!(reply.failure.is_none());

        let points = points.points();
        let rpc = &points[0];
        assert_eq!((rpc.name.as_str(), rpc.kind), ("rpc", PointKind::Start));
        assert_eq!(rpc.parent_id.to_text(), "caller");
        let function = &rpc.info.as_ref().unwrap()["function"];
        assert_eq!(
            function["name"],
            "osprofiler_examples::compute::ComputeManager::build_instance"
        );
        assert_eq!(function["args"], r#"(ComputeManager, "vm", "tiny")"#);
        let names: Vec<&str> = points.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["rpc", "db", "db", "driver", "driver", "rpc"]);
    }

    #[tokio::test]
    async fn dispatch_reports_errors_as_failures() {
        let manager = ComputeManager::default();
        let mut args = Map::new();
        args.insert("id".into(), "nope".into());
        let reply = dispatch(&manager, "reboot_instance", args).await;
        assert_eq!(
            reply.failure.unwrap().message,
            "instance nope could not be found"
        );
        assert!(dispatch(&manager, "nothing", Map::new())
            .await
            .failure
            .is_some());
        assert_eq!(
            dispatch(&manager, "reboot_instance", Map::new())
                .await
                .failure
                .unwrap()
                .class,
            "TypeError"
        );
    }
}
