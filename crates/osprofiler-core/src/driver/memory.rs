//! `memory://`: an in-process store, for tests and examples (STYLE: ship the test doubles).
//! Each driver made by the registry has its own store; clone the `Arc` to share one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::Value;

use super::registry::DriverFuture;
use super::{Driver, DriverError, DriverOptions, StoredTrace, TraceSummary};
use crate::notification::Notification;

/// Keeps every notification it is sent, in order.
#[derive(Debug, Default)]
pub struct MemoryDriver {
    notifications: Mutex<Vec<Notification>>,
}

pub(super) fn factory(_options: DriverOptions) -> DriverFuture {
    Box::pin(async { Ok(Arc::new(MemoryDriver::new()) as Arc<dyn Driver>) })
}

impl MemoryDriver {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything stored so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.lock().clone()
    }

    /// The notifications of one trace, in the order they arrived.
    pub fn trace(&self, base_id: &str) -> Vec<Notification> {
        self.lock()
            .iter()
            .filter(|n| n.base_id == base_id)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Notification>> {
        match self.notifications.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[async_trait]
impl Driver for MemoryDriver {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn notify(&self, batch: &[Notification]) -> Result<(), DriverError> {
        self.lock().extend_from_slice(batch);
        Ok(())
    }

    async fn get_notifications(&self, base_id: &str) -> Result<StoredTrace, DriverError> {
        let mut texts = Vec::new();
        for n in self.trace(base_id) {
            let text = serde_json::to_string(&n).map_err(|e| DriverError::Backend {
                connection: "memory://".into(),
                message: e.to_string(),
            })?;
            if let Ok(raw) = RawValue::from_string(text) {
                texts.push(raw);
            }
        }
        Ok(StoredTrace::Notifications(texts))
    }

    async fn list_traces(&self, fields: &[&str]) -> Result<Vec<TraceSummary>, DriverError> {
        let store = self.lock();
        let mut order: Vec<&str> = Vec::new();
        let mut first: HashMap<&str, &Notification> = HashMap::new();
        for n in store.iter() {
            first.entry(&n.base_id).or_insert_with(|| {
                order.push(&n.base_id);
                n
            });
        }
        Ok(order
            .into_iter()
            .map(|id| summary(first[id], fields))
            .collect())
    }

    async fn list_error_traces(&self) -> Result<Vec<TraceSummary>, DriverError> {
        let store = self.lock();
        let mut seen = std::collections::HashSet::new();
        Ok(store
            .iter()
            .filter(|n| n.is_error() && seen.insert(n.base_id.clone()))
            .map(|n| summary(n, &[]))
            .collect())
    }
}

fn summary(n: &Notification, fields: &[&str]) -> TraceSummary {
    let mut row = TraceSummary::new();
    row.insert("base_id".into(), Value::from(n.base_id.clone()));
    row.insert("timestamp".into(), Value::from(n.timestamp.clone()));
    if let Ok(Value::Object(all)) = serde_json::to_value(n) {
        for f in fields {
            if let Some(v) = all.get(*f) {
                row.insert((*f).to_owned(), v.clone());
            }
        }
    }
    row
}

/// Accepts and discards every batch: a pipeline with nowhere to store (benchmarks, or a
/// service that wants the cost of profiling without a backend).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullDriver;

#[async_trait]
impl Driver for NullDriver {
    fn name(&self) -> &'static str {
        "null"
    }

    async fn notify(&self, _batch: &[Notification]) -> Result<(), DriverError> {
        Ok(())
    }
}
