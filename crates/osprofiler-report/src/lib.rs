//! # osprofiler-report
//!
//! Reports: the tree of one trace built from its stored notifications, exactly as Python
//! OSprofiler's `Driver.get_report` builds it (`_append_results`, `_parse_results`,
//! `_build_tree`; `docs/wire.md`, the report), so that our `trace show --json` prints what
//! Python's prints.
//!
//! A driver reads a trace as its store holds it ([`Driver::get_notifications`], a
//! [`StoredTrace`]); [`report_from_stored`] builds the report from that, and the
//! [`GetReport`] trait gives every driver `driver.get_report(id)`. By hand, a
//! [`ReportBuilder`] takes the notifications of one `base_id` in the order the store returns
//! them (that order decides ties between siblings started in the same millisecond):
//! [`ReportBuilder::append_notification`] for stores that keep whole notifications (Redis,
//! messaging, our collector), [`ReportBuilder::append`] for stores that keep fields apart
//! (SQL). [`build_report`] does it for a whole list.
//!
//! The builder keeps each notification as its raw JSON text and reads only the fields a
//! report needs. Big lists ([`report_from_json_text`], [`build_report`]) are read on all
//! cores: reading a notification (validating its JSON, finding its fields, parsing its
//! timestamp and ids) is done by whichever thread is free, adding it to the report happens
//! in store order; see `list.rs` and `parallel.rs`. Figures against Python are in
//! BENCHMARKS.md (`scripts/bench_report_vs_python.sh`).
//!
//! Where Python fails, this goes on, and says so:
//! - a notification that cannot be read (not an object; `name`, `trace_id`, `timestamp`
//!   missing or not strings; `parent_id` missing or neither a string nor null; a timestamp
//!   `strptime` refuses) is left out and listed in [`Report::skipped`], where Python raises;
//! - a stop whose `info` is not an object gets exception `"None"` (and a null host).
//!
//! Known differences in output: payloads are written again through `serde_json::Value`, so
//! integers beyond 64 bits become floats (Python keeps them exact) and floats are printed by
//! whichever serializer is used (`serde_json` prints `1e-7` where Python prints `1e-07`);
//! reports deeper than [`MAX_SERIALIZE_DEPTH`] levels refuse to serialize (Python's
//! `json.dumps(indent=2)` already fails at 495).
//!
//! ```
//! use osprofiler_report::build_report;
//! use serde_json::value::RawValue;
//!
//! let texts = [
//!     r#"{"name":"wsgi-start","trace_id":"t1","parent_id":"b","timestamp":"2026-11-25T04:59:10.000100","info":{"host":"h"},"project":"p","service":"api"}"#,
//!     r#"{"name":"wsgi-stop","trace_id":"t1","parent_id":"b","timestamp":"2026-11-25T04:59:10.004900","info":{"host":"h"},"project":"p","service":"api"}"#,
//! ];
//! let report = build_report(texts.iter().map(|t| RawValue::from_string(t.to_string()).unwrap()));
//! let root = report.roots().next().unwrap();
//! assert_eq!((root.info().name(), root.info().started(), root.info().finished()), ("wsgi", 0, 4));
//! let json = serde_json::to_value(&report).unwrap();
//! assert_eq!(json["stats"]["wsgi"], serde_json::json!({"count": 1, "duration": 4}));
//! ```

mod builder;
mod hash;
mod head;
mod list;
mod load;
mod model;
mod parallel;
mod pretty;
mod scan;

use std::future::Future;

use osprofiler_core::driver::{Driver, DriverError, StoredRow, StoredTrace};
use serde_json::value::RawValue;
use serde_json::Value;

pub use builder::{Entry, EntryError, Field, ReportBuilder, Skipped};
pub use model::{Node, NodeInfo, Nodes, Report, Stat, MAX_SERIALIZE_DEPTH};
pub use pretty::{write_python_pretty, write_python_pretty_on};

/// Why a report could not be read from JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not a report (or a list of notifications) of the expected shape.
    #[error("not a report: {path}: {message}")]
    Shape {
        /// Where, e.g. `children[0].info.started`.
        path: String,
        /// What is wrong there.
        message: String,
    },
}

/// Builds the report of one trace from its notifications (whole notification objects, in
/// the order the store returns them), as the Redis driver does. Notifications that cannot be
/// read are left out and listed in [`Report::skipped`].
///
/// Big traces are read on all cores; the report keeps the notifications in their list (no
/// copy), skipped ones included.
pub fn build_report<I: IntoIterator<Item = Box<RawValue>>>(notifications: I) -> Report {
    // No copy when given a Vec (collecting a Vec's own iterator reuses its buffer).
    let notifications: Vec<Box<RawValue>> = notifications.into_iter().collect();
    list::read_notifications(notifications).finish()
}

/// Builds the report of a trace from what its store returned (Python's `_append_results`
/// and `_parse_results`): whole notifications are read on all cores, as [`build_report`];
/// rows with their fields apart are added as Python's SQL reader adds them (host from the
/// row, raw payload the stored `data`). Unreadable notifications are listed in
/// [`Report::skipped`].
pub fn report_from_stored(stored: StoredTrace) -> Report {
    match stored {
        StoredTrace::Notifications(list) => build_report(list),
        StoredTrace::Rows(rows) => {
            let mut builder = ReportBuilder::with_capacity(rows.len());
            for row in rows {
                let StoredRow {
                    trace_id,
                    parent_id,
                    name,
                    project,
                    service,
                    host,
                    timestamp,
                    raw_payload,
                } = row;
                // Refusals are recorded in the builder.
                let _ = builder.append(Entry {
                    trace_id: &trace_id,
                    parent_id: parent_id.as_deref(),
                    name: &name,
                    project: Field::from(project.as_deref()),
                    service: Field::from(service.as_deref()),
                    host: Field::from(host.as_deref()),
                    timestamp: &timestamp,
                    raw_payload,
                });
            }
            builder.finish()
        }
    }
}

/// `driver.get_report(base_id)` for every [`Driver`]: Python's `get_report`, the driver's
/// [`get_notifications`](Driver::get_notifications) built into a [`Report`] (an empty
/// report when the trace is not there).
///
/// ```
/// use osprofiler_core::driver::{memory::MemoryDriver, Driver};
/// use osprofiler_report::GetReport;
///
/// # tokio_test_block_on(async {
/// let driver = MemoryDriver::new();
/// let report = driver.get_report("no-such-trace").await.unwrap();
/// assert_eq!(report.roots().count(), 0);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// #     rt.block_on(f)
/// # }
/// ```
pub trait GetReport {
    /// The report of trace `base_id`.
    fn get_report(&self, base_id: &str)
        -> impl Future<Output = Result<Report, DriverError>> + Send;
}

impl<D: Driver + ?Sized> GetReport for D {
    async fn get_report(&self, base_id: &str) -> Result<Report, DriverError> {
        Ok(report_from_stored(self.get_notifications(base_id).await?))
    }
}

impl Report {
    /// Reads a report from JSON as Python's `osprofiler trace show --json` (or our
    /// serialization) writes it. Node `info` keys keep their order from the file, except
    /// that `name`, `project`, `service` and `host` always come first (Python's order);
    /// `stats` are recomputed when absent (names then in tree order, since a file does not
    /// say which node the store returned first). Unknown keys are refused, so that nothing is
    /// silently dropped.
    pub fn from_json_value(value: Value) -> Result<Report, ReportError> {
        load::report_from_value(value)
    }
}

/// Reads what `trace show FILE.json` is given: a report (a JSON object, see
/// [`Report::from_json_value`]) or a JSON list of notifications (built into a report as
/// [`build_report`] does, unreadable ones listed in [`Report::skipped`]).
///
/// A report object is parsed with `serde_json`'s nesting limit (128 levels, about 60 levels
/// of trace points). For a list, the text is copied once; [`report_from_json_text`] takes it
/// without copying.
pub fn report_from_json_file_contents(text: &str) -> Result<Report, ReportError> {
    if is_list(text) {
        report_from_json_text(text.to_owned())
    } else {
        report_object(text)
    }
}

/// [`report_from_json_file_contents`] taking the text, for big files (what `trace show
/// FILE.json` should call when it has no more use for the text): a list of notifications is
/// read on all cores and the report keeps the text itself as the notifications' storage. So
/// memory holds the text once plus the tree, never a parsed or copied list (a million
/// notifications, 360 MiB of text: peak at about the text plus 110 MiB).
///
/// The result, including which notifications are skipped and any error, is exactly what
/// reading the list with `serde_json` and adding its elements in order gives (invalid JSON
/// is read again that way, for `serde_json`'s error).
pub fn report_from_json_text(text: String) -> Result<Report, ReportError> {
    if !is_list(&text) {
        return report_object(&text);
    }
    let builder = list::read_list(&text)?;
    Ok(builder.finish_with(Some(text)))
}

fn is_list(text: &str) -> bool {
    text.trim_start().starts_with('[')
}

fn report_object(text: &str) -> Result<Report, ReportError> {
    let value: Value = serde_json::from_str(text)?;
    if !value.is_object() {
        return Err(ReportError::Shape {
            path: "(top)".into(),
            message: "expected a report object or a list of notifications".into(),
        });
    }
    Report::from_json_value(value)
}
