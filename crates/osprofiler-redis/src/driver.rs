//! [`RedisDriver`]: Python's `Redis` / `RedisSentinel` drivers, written to in pipelined
//! batches and read without `KEYS`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use osprofiler_core::driver::io::IoThread;
use osprofiler_core::driver::{Driver, DriverError, DriverOptions, StoredTrace, TraceSummary};
use osprofiler_core::Notification;
use redis::aio::ConnectionManager;
use redis::RedisError;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::encode::{self, PREFIX_ERROR, PREFIX_LEGACY, PREFIX_OPT};
use crate::link::Link;
use crate::target::{Server, Target};

/// Keys asked for per `SCAN` step, and looked at per pipelined read while listing.
const SCAN_COUNT: usize = 1000;

/// The Redis driver (see the [crate docs](crate)): `redis://` and `redissentinel://`.
///
/// Cheap to share (`Arc`); calls from any runtime or thread are fine.
#[derive(Debug)]
pub struct RedisDriver {
    inner: Arc<Inner>,
    io: IoThread,
}

#[derive(Debug)]
struct Inner {
    link: Link,
    project: Option<String>,
    service: Option<String>,
    filter_error_trace: bool,
    scheme: &'static str,
}

impl RedisDriver {
    /// A driver for `options.connection_string` that connects on first use: no I/O here, so
    /// it is made even while Redis is down (writes then fail, and are counted by the
    /// notifier, until it is back). Fails only on a bad connection string.
    pub fn new(options: &DriverOptions) -> Result<RedisDriver, DriverError> {
        let target = Target::parse(options)?;
        let scheme = match target.server {
            Server::Direct { .. } => "redis",
            Server::Sentinel { .. } => "redissentinel",
        };
        let io = IoThread::start("osprofiler-redis").map_err(|e| DriverError::Backend {
            connection: target.masked.clone(),
            message: format!("cannot start the Redis I/O thread: {e}"),
        })?;
        Ok(RedisDriver {
            inner: Arc::new(Inner {
                link: Link::new(target),
                project: options.project.clone(),
                service: options.service.clone(),
                filter_error_trace: options.config.filter_error_trace,
                scheme,
            }),
            io,
        })
    }

    /// [`new`](Self::new), then connects (through Sentinel for `redissentinel://`) and
    /// `PING`s, so that an unreachable server is one clear error now, within the connect
    /// timeout. What the registry's factory does.
    pub async fn connect(options: &DriverOptions) -> Result<RedisDriver, DriverError> {
        let driver = RedisDriver::new(options)?;
        driver
            .run(|inner| async move { inner.link.check().await })
            .await?;
        Ok(driver)
    }

    /// The expiry set on every key written, in seconds (`?ttl=`), if any.
    pub fn ttl(&self) -> Option<u64> {
        self.inner.link.target().ttl
    }

    /// The connection string, password masked.
    pub fn connection(&self) -> &str {
        &self.inner.link.target().masked
    }

    async fn run<T: Send + 'static, Fut>(
        &self,
        f: impl FnOnce(Arc<Inner>) -> Fut,
    ) -> Result<T, DriverError>
    where
        Fut: std::future::Future<Output = Result<T, DriverError>> + Send + 'static,
    {
        self.io
            .run(f(self.inner.clone()))
            .await
            .map_err(|message| DriverError::Backend {
                connection: self.connection().to_owned(),
                message,
            })?
    }
}

/// One batch as Redis commands: per trace, its notifications in order (one `LPUSH` with
/// several values pushes them in turn, the same as one `LPUSH` each), and the error records.
#[derive(Debug, Default)]
struct Writes {
    lists: Vec<(String, Vec<String>)>,
    errors: Vec<(String, String)>,
}

impl Writes {
    fn of(batch: &[Notification], inner: &Inner) -> Writes {
        let mut writes = Writes::default();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for n in batch {
            let i = *at.entry(n.base_id.as_str()).or_insert_with(|| {
                writes
                    .lists
                    .push((format!("{PREFIX_OPT}{}", n.base_id), Vec::new()));
                writes.lists.len() - 1
            });
            writes.lists[i].1.push(encode::notification(
                n,
                inner.project.as_deref(),
                inner.service.as_deref(),
            ));
            // Python: a stop or start whose info carries a non-null etype.
            if inner.filter_error_trace && n.is_error() {
                writes.errors.push((
                    format!("{PREFIX_ERROR}{}", n.base_id),
                    encode::error_record(n),
                ));
            }
        }
        writes
    }

    fn pipeline(&self, ttl: Option<u64>) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        for (key, values) in &self.lists {
            pipe.cmd("LPUSH").arg(key).arg(values).ignore();
            if let Some(ttl) = ttl {
                pipe.cmd("EXPIRE").arg(key).arg(ttl).ignore();
            }
        }
        for (key, value) in &self.errors {
            let set = pipe.cmd("SET").arg(key).arg(value);
            if let Some(ttl) = ttl {
                set.arg("EX").arg(ttl);
            }
            set.ignore();
        }
        pipe
    }
}

#[async_trait]
impl Driver for RedisDriver {
    fn name(&self) -> &'static str {
        self.inner.scheme
    }

    /// Stores the batch with one pipeline: `LPUSH osprofiler_opt:<base_id>` per trace (and
    /// `EXPIRE` with a TTL), plus `SET osprofiler_error:<base_id>` for errors when
    /// `filter_error_trace` is on.
    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Encoding runs on the caller's thread (the notifier's worker), the I/O on the
        // driver's: the two overlap across batches.
        let pipe = Writes::of(batch, &self.inner).pipeline(self.ttl());
        self.run(|inner| async move {
            let bound = inner.link.timeouts().write;
            inner
                .link
                .call("writing a batch", bound, |mut c| async move {
                    pipe.query_async::<()>(&mut c).await
                })
                .await
        })
        .await
    }

    /// Python's `get_report`: the legacy `osprofiler:<base_id>*` keys (in `SCAN` order),
    /// then `LRANGE osprofiler_opt:<base_id> 0 -1` (newest first), built in that order.
    /// Values that are not JSON are left out with a warning.
    async fn get_notifications(&self, base_id: &str) -> Result<StoredTrace, DriverError> {
        let id = base_id.to_owned();
        let texts = self
            .run(|inner| async move {
                let bound = inner.link.timeouts().read;
                inner
                    .link
                    .call("reading the trace", bound, |mut c| async move {
                        let pattern = format!("{PREFIX_LEGACY}{}*", encode::glob_escape(&id));
                        let keys = scan(&mut c, &pattern).await?;
                        let mut texts = mget(&mut c, &keys).await?;
                        let list: Vec<Vec<u8>> = redis::cmd("LRANGE")
                            .arg(format!("{PREFIX_OPT}{id}"))
                            .arg(0)
                            .arg(-1)
                            .query_async(&mut c)
                            .await?;
                        texts.extend(list);
                        Ok(texts)
                    })
                    .await
            })
            .await?;
        let total = texts.len();
        let raws: Vec<Box<RawValue>> = texts
            .into_iter()
            .filter_map(|t| String::from_utf8(t).ok())
            .filter_map(|t| RawValue::from_string(t).ok())
            .collect();
        if raws.len() < total {
            tracing::warn!(
                "osprofiler: {}: left out {} values of trace {base_id} that are not JSON",
                self.connection(),
                total - raws.len()
            );
        }
        Ok(StoredTrace::Notifications(raws))
    }

    /// Every trace, oldest first, each with the timestamp and `fields` of its first stored
    /// notification (the last of its list; for legacy keys the earliest). Unlike Python's,
    /// which reads the second-newest notification of each list and skips traces of one.
    async fn list_traces(&self, fields: &[&str]) -> Result<Vec<TraceSummary>, DriverError> {
        let mut wanted: Vec<String> = vec!["base_id".into(), "timestamp".into()];
        wanted.extend(fields.iter().map(|f| (*f).to_owned()));
        let firsts = self
            .run(|inner| async move {
                let bound = inner.link.timeouts().read;
                inner
                    .link
                    .call("listing traces", bound, |mut c| async move {
                        let mut firsts = Vec::new();
                        // Legacy keys: every notification, earliest per trace kept below.
                        let keys = scan(&mut c, &format!("{PREFIX_LEGACY}*")).await?;
                        firsts.extend(mget(&mut c, &keys).await?);
                        let keys = scan(&mut c, &format!("{PREFIX_OPT}*")).await?;
                        for chunk in keys.chunks(SCAN_COUNT) {
                            firsts.extend(oldest(&mut c, chunk).await?);
                        }
                        Ok(firsts)
                    })
                    .await
            })
            .await?;
        Ok(earliest_per_trace(
            firsts
                .iter()
                .filter_map(|t| serde_json::from_slice::<Map<String, Value>>(t).ok()),
            |n| {
                n.iter()
                    .filter(|(k, _)| wanted.iter().any(|w| w == *k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            },
        ))
    }

    /// Python's `list_error_traces`: the `osprofiler_error:*` records, oldest first, one per
    /// trace.
    async fn list_error_traces(&self) -> Result<Vec<TraceSummary>, DriverError> {
        let records = self
            .run(|inner| async move {
                let bound = inner.link.timeouts().read;
                inner
                    .link
                    .call("listing error traces", bound, |mut c| async move {
                        let keys = scan(&mut c, &format!("{PREFIX_ERROR}*")).await?;
                        mget(&mut c, &keys).await
                    })
                    .await
            })
            .await?;
        Ok(earliest_per_trace(
            records
                .iter()
                .filter_map(|t| serde_json::from_slice::<Map<String, Value>>(t).ok()),
            Map::clone,
        ))
    }
}

/// One row per `base_id`: `row(n)` of its notification with the smallest timestamp (the
/// first met on ties), oldest first. Notifications without a string `base_id` and
/// `timestamp` are passed over.
fn earliest_per_trace<'a>(
    notifications: impl Iterator<Item = Map<String, Value>> + 'a,
    row: impl Fn(&Map<String, Value>) -> TraceSummary,
) -> Vec<TraceSummary> {
    let mut best: HashMap<String, (String, TraceSummary)> = HashMap::new();
    for n in notifications {
        let (Some(Value::String(id)), Some(Value::String(ts))) =
            (n.get("base_id"), n.get("timestamp"))
        else {
            continue;
        };
        match best.get(id) {
            Some((have, _)) if have <= ts => {}
            _ => {
                best.insert(id.clone(), (ts.clone(), row(&n)));
            }
        }
    }
    let mut rows: Vec<(String, TraceSummary)> = best.into_values().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Every key matching `pattern`, by `SCAN` (never `KEYS`, which blocks the server).
async fn scan(c: &mut ConnectionManager, pattern: &str) -> Result<Vec<String>, RedisError> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(c)
            .await?;
        keys.extend(page);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // SCAN may return a key twice.
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    Ok(keys)
}

/// The last (oldest) element of each list in `keys`, pipelined. A key that is not a list
/// (someone else's) fails the whole pipeline; then the keys are asked one by one and such
/// keys passed over.
async fn oldest(c: &mut ConnectionManager, keys: &[String]) -> Result<Vec<Vec<u8>>, RedisError> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("LINDEX").arg(key).arg(-1);
    }
    match pipe.query_async::<Vec<Option<Vec<u8>>>>(c).await {
        Ok(got) => Ok(got.into_iter().flatten().collect()),
        Err(e) if e.kind() == redis::ErrorKind::TypeError || e.code() == Some("WRONGTYPE") => {
            let mut got = Vec::with_capacity(keys.len());
            for key in keys {
                match redis::cmd("LINDEX")
                    .arg(key)
                    .arg(-1)
                    .query_async::<Option<Vec<u8>>>(c)
                    .await
                {
                    Ok(v) => got.extend(v),
                    Err(e) if e.code() == Some("WRONGTYPE") => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(got)
        }
        Err(e) => Err(e),
    }
}

/// The string values of `keys`, in order; keys gone since (or not strings) are passed over.
async fn mget(c: &mut ConnectionManager, keys: &[String]) -> Result<Vec<Vec<u8>>, RedisError> {
    let mut values = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(SCAN_COUNT) {
        let got: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(chunk).query_async(c).await?;
        values.extend(got.into_iter().flatten());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn earliest_timestamp_wins_and_rows_are_oldest_first() {
        let rows = earliest_per_trace(
            [
                json!({"base_id": "b", "timestamp": "2026-01-01T00:00:02.000000", "n": 1}),
                json!({"base_id": "a", "timestamp": "2026-01-01T00:00:03.000000", "n": 2}),
                json!({"base_id": "b", "timestamp": "2026-01-01T00:00:01.000000", "n": 3}),
                json!({"base_id": "b", "timestamp": "2026-01-01T00:00:01.000000", "n": 4}),
                json!({"timestamp": "2026-01-01T00:00:00.000000"}),
            ]
            .into_iter()
            .map(obj),
            Map::clone,
        );
        let ns: Vec<&Value> = rows.iter().map(|r| &r["n"]).collect();
        assert_eq!(ns, [&json!(3), &json!(2)]);
    }

    #[test]
    fn a_batch_is_grouped_per_trace_in_order() {
        let options = DriverOptions::new("redis://127.0.0.1:1?ttl=60");
        let mut options = options;
        options.config.filter_error_trace = true;
        let driver = RedisDriver::new(&options).unwrap();
        let mk = |base: &str, name: &str, err: bool| {
            let mut info = osprofiler_core::Info::new();
            if err {
                info.insert("etype".into(), json!("E"));
            }
            info.insert("host".into(), json!("h"));
            Notification {
                name: name.into(),
                base_id: base.into(),
                trace_id: "t".into(),
                parent_id: "p".into(),
                timestamp: "2026-01-01T00:00:00.000000".into(),
                info,
                project: None,
                service: None,
            }
        };
        let batch = [
            mk("a", "x-start", false),
            mk("b", "y-start", false),
            mk("a", "x-stop", true),
        ];
        let w = Writes::of(&batch, &driver.inner);
        assert_eq!(w.lists.len(), 2);
        assert_eq!(w.lists[0].0, "osprofiler_opt:a");
        assert!(w.lists[0].1[0].contains("x-start") && w.lists[0].1[1].contains("x-stop"));
        assert_eq!(w.errors.len(), 1);
        assert_eq!(w.errors[0].0, "osprofiler_error:a");
        // LPUSH a, EXPIRE a, LPUSH b, EXPIRE b, SET error EX.
        let packed =
            String::from_utf8_lossy(&w.pipeline(Some(60)).get_packed_pipeline()).into_owned();
        assert_eq!(packed.matches("LPUSH").count(), 2);
        assert_eq!(packed.matches("EXPIRE").count(), 2);
        assert!(packed.contains("\r\nEX\r\n"));
    }
}
