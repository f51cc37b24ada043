//! Synthetic traces for the report benchmarks (`osprofiler-report`'s `benches/report.rs`,
//! `src/bin/report_bench.rs` and `scripts/bench_report_vs_python.sh`): one trace of N notifications shaped like what
//! OpenStack services send through Python OSprofiler.
//!
//! Requests enter an API service (`wsgi`), which calls the database (`db`, through
//! `@trace`-style function info or SQL statements), drivers (`driver`), other HTTP services
//! (`http`) and other services over RPC (`rpc`); those nest further, up to 7 levels deep.
//! Each service has its project, service name and host; about 2% of stops carry an error
//! (`etype`, `message`). Timestamps increase by 3 to 400 microseconds per notification.
//! Notifications come in time order, as the SQL driver returns them. Deterministic for a
//! given seed, so Python and Rust can be fed the same file.

use osprofiler_core::timestamp::Timestamp;
use serde_json::{json, Value};

/// splitmix64: tiny, fast, and stable across crate versions (the file must not change when
/// `rand` does).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn uuid4(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Wsgi,
    Rpc,
    Db,
    Driver,
    Http,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Wsgi => "wsgi",
            Kind::Rpc => "rpc",
            Kind::Db => "db",
            Kind::Driver => "driver",
            Kind::Http => "http",
        }
    }
}

struct Service {
    project: &'static str,
    service: &'static str,
    host: &'static str,
    module: &'static str,
}

const APIS: [Service; 4] = [
    Service {
        project: "nova",
        service: "api",
        host: "controller-1",
        module: "nova.api.openstack.compute.servers",
    },
    Service {
        project: "cinder",
        service: "api",
        host: "controller-2",
        module: "cinder.api.v3.volumes",
    },
    Service {
        project: "neutron",
        service: "server",
        host: "controller-1",
        module: "neutron.api.v2.base",
    },
    Service {
        project: "glance",
        service: "api",
        host: "controller-3",
        module: "glance.api.v2.images",
    },
];

const WORKERS: [Service; 5] = [
    Service {
        project: "nova",
        service: "conductor",
        host: "controller-2",
        module: "nova.conductor.manager",
    },
    Service {
        project: "nova",
        service: "compute",
        host: "compute-17",
        module: "nova.compute.manager",
    },
    Service {
        project: "nova",
        service: "scheduler",
        host: "controller-3",
        module: "nova.scheduler.manager",
    },
    Service {
        project: "cinder",
        service: "volume",
        host: "storage-4",
        module: "cinder.volume.manager",
    },
    Service {
        project: "neutron",
        service: "dhcp-agent",
        host: "network-2",
        module: "neutron.agent.dhcp.agent",
    },
];

const PATHS: [&str; 6] = [
    "/v2.1/servers/detail",
    "/v2.1/servers",
    "/v3/volumes",
    "/v2.0/ports",
    "/v2/images",
    "/v2.1/os-hypervisors",
];

const DB_CALLS: [&str; 6] = [
    "instance_get_by_uuid",
    "instance_get_all_by_filters",
    "block_device_mapping_get_all_by_instance",
    "volume_get",
    "port_list",
    "quota_reserve",
];

const STATEMENTS: [&str; 4] = [
    "SELECT instances.id, instances.uuid, instances.host FROM instances WHERE instances.uuid = %(uuid_1)s AND instances.deleted = %(deleted_1)s",
    "SELECT quota_usages.resource, quota_usages.in_use FROM quota_usages WHERE quota_usages.project_id = %(project_id_1)s",
    "UPDATE instances SET updated_at=%(updated_at)s, task_state=%(task_state)s WHERE instances.id = %(id_1)s",
    "INSERT INTO instance_actions_events (created_at, event, action_id, start_time) VALUES (%(created_at)s, %(event)s, %(action_id)s, %(start_time)s)",
];

const ERRORS: [(&str, &str); 3] = [
    (
        "nova.exception.InstanceNotFound",
        "Instance 3c5f1a2e could not be found.",
    ),
    (
        "oslo_messaging.exceptions.MessagingTimeout",
        "Timed out waiting for a reply to message ID 5a1f",
    ),
    (
        "sqlalchemy.exc.OperationalError",
        "(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query')",
    ),
];

struct Open {
    kind: Kind,
    trace_id: String,
    parent_id: String,
    service: usize,
    is_api: bool,
    children: u32,
}

/// The notifications of one trace, as JSON texts (Python's key order), in time order.
pub fn generate(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let base_id = rng.uuid4();
    let mut now = Timestamp::parse("2026-11-25T04:59:00.000000")
        .map(|t| t.as_micros())
        .unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    let mut stack: Vec<Open> = Vec::new();

    while out.len() < n {
        let remaining = n - out.len();
        now += 3 + rng.below(400) as i64;
        let ts = Timestamp::from_micros(now).to_string();
        let open_child = match stack.last() {
            None => true,
            Some(top) => {
                let depth = stack.len();
                let leaf = matches!(top.kind, Kind::Db | Kind::Http);
                let room = remaining >= depth + 2 && depth < 7 && !leaf;
                let want = match top.kind {
                    Kind::Wsgi => top.children < 12 && rng.chance(80),
                    Kind::Rpc => top.children < 8 && rng.chance(70),
                    Kind::Driver => top.children < 3 && rng.chance(40),
                    Kind::Db | Kind::Http => false,
                };
                room && want
            }
        };
        if open_child {
            let (kind, service, is_api) = match stack.last() {
                None => (Kind::Wsgi, rng.below(APIS.len() as u64) as usize, true),
                Some(top) => {
                    let roll = rng.below(100);
                    let kind = match top.kind {
                        Kind::Wsgi if roll < 40 => Kind::Db,
                        Kind::Wsgi if roll < 75 => Kind::Rpc,
                        Kind::Wsgi if roll < 90 => Kind::Driver,
                        Kind::Wsgi => Kind::Http,
                        Kind::Rpc if roll < 55 => Kind::Db,
                        Kind::Rpc if roll < 80 => Kind::Driver,
                        Kind::Rpc if roll < 90 => Kind::Http,
                        Kind::Rpc => Kind::Rpc,
                        _ if roll < 60 => Kind::Db,
                        _ => Kind::Http,
                    };
                    if kind == Kind::Rpc {
                        (kind, rng.below(WORKERS.len() as u64) as usize, false)
                    } else {
                        (kind, top.service, top.is_api)
                    }
                }
            };
            let parent_id = match stack.last_mut() {
                Some(top) => {
                    top.children += 1;
                    top.trace_id.clone()
                }
                None => base_id.clone(),
            };
            let svc = if is_api {
                &APIS[service]
            } else {
                &WORKERS[service]
            };
            let info = start_info(&mut rng, kind, svc);
            let open = Open {
                kind,
                trace_id: rng.uuid4(),
                parent_id,
                service,
                is_api,
                children: 0,
            };
            out.push(notification(&base_id, &open, "start", &ts, info, svc));
            if remaining == 1 {
                break; // A start without its stop, as when a store lost the rest.
            }
            stack.push(open);
        } else if let Some(open) = stack.pop() {
            let svc = if open.is_api {
                &APIS[open.service]
            } else {
                &WORKERS[open.service]
            };
            let mut info = serde_json::Map::new();
            if open.kind == Kind::Http {
                info.insert(
                    "requests".into(),
                    json!({"status_code": *rng.pick(&[200, 200, 200, 202, 404])}),
                );
            }
            if rng.chance(2) {
                let (etype, message) = *rng.pick(&ERRORS);
                info.insert("etype".into(), json!(etype));
                info.insert("message".into(), json!(message));
            }
            info.insert("host".into(), json!(svc.host));
            out.push(notification(
                &base_id,
                &open,
                "stop",
                &ts,
                Value::Object(info),
                svc,
            ));
        }
    }
    out
}

fn start_info(rng: &mut Rng, kind: Kind, svc: &Service) -> Value {
    let mut info = match kind {
        Kind::Wsgi => json!({"request": {
            "path": rng.pick(&PATHS),
            "query": if rng.chance(50) { "all_tenants=1&limit=50" } else { "" },
            "method": rng.pick(&["GET", "GET", "GET", "POST", "DELETE"]),
            "scheme": "http",
        }}),
        Kind::Db if rng.chance(30) => json!({"db": {
            "statement": rng.pick(&STATEMENTS),
            "params": {"uuid_1": "3c5f1a2e-8b7d-4f3e-9c1a-2b6d8e0f4a7c", "deleted_1": 0},
        }}),
        Kind::Db => json!({"function": {
            "name": format!("nova.db.main.api.{}", rng.pick(&DB_CALLS)),
            "args": "(<nova.context.RequestContext object at 0x7f3b2c1d5e10>, '3c5f1a2e-8b7d-4f3e-9c1a-2b6d8e0f4a7c')",
            "kwargs": "{'columns_to_join': ['metadata', 'system_metadata']}",
        }}),
        Kind::Rpc => json!({"function": {
            "name": format!("{}.Manager.{}", svc.module, rng.pick(&["build_and_run_instance", "select_destinations", "get_by_uuid", "attach_volume"])),
            "args": "(<nova.context.RequestContext object at 0x7f3b2c1d5e10>,)",
            "kwargs": "{'instance': Instance(uuid=3c5f1a2e-8b7d-4f3e-9c1a-2b6d8e0f4a7c)}",
        }}),
        Kind::Driver => json!({"function": {
            "name": format!("nova.virt.libvirt.driver.LibvirtDriver.{}", rng.pick(&["get_info", "spawn", "attach_volume", "get_volume_connector"])),
            "args": "(<nova.virt.libvirt.driver.LibvirtDriver object at 0x7f3b2a4e8c50>,)",
            "kwargs": "{}",
        }}),
        Kind::Http => json!({"requests": {
            "method": "GET",
            "query": "",
            "path": "/v2.0/ports",
            "hostname": "controller-1",
            "port": 9696,
            "scheme": "http",
        }}),
    };
    if let Value::Object(m) = &mut info {
        m.insert("host".into(), json!(svc.host));
    }
    info
}

fn notification(
    base_id: &str,
    p: &Open,
    which: &str,
    ts: &str,
    info: Value,
    svc: &Service,
) -> String {
    json!({
        "name": format!("{}-{which}", p.kind.name()),
        "base_id": base_id,
        "trace_id": p.trace_id,
        "parent_id": p.parent_id,
        "timestamp": ts,
        "info": info,
        "project": svc.project,
        "service": svc.service,
    })
    .to_string()
}

/// Writes the notifications as one JSON list, one notification per line.
pub fn write_json_list<W: std::io::Write>(
    notifications: &[String],
    mut w: W,
) -> std::io::Result<()> {
    w.write_all(b"[\n")?;
    for (i, n) in notifications.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        w.write_all(n.as_bytes())?;
    }
    w.write_all(b"\n]\n")?;
    w.flush()
}
