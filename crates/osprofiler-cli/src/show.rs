//! `trace show` and `trace list`.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use osprofiler::driver::{get_driver, Driver, DriverOptions};
use osprofiler::report::{report_from_json_file_contents, Report, ReportError};
use serde_json::Value;
use std::sync::Arc;

use crate::{pyjson, table, tree};

/// A trace to show: a report built here, or a report read from a file (shown as it is, as
/// Python's CLI re-dumps the file it loaded).
pub enum Trace {
    Built(Report),
    Loaded(Value),
}

impl Trace {
    /// Python's not-found test: `not trace or not trace.get("children")`.
    pub fn is_empty(&self) -> bool {
        match self {
            Trace::Built(r) => r.is_empty(),
            Trace::Loaded(v) => v
                .get("children")
                .and_then(Value::as_array)
                .is_none_or(|c| c.is_empty()),
        }
    }

    fn write_json<W: Write>(&self, out: W) -> serde_json::Result<()> {
        match self {
            Trace::Built(r) => pyjson::write_pretty(out, r, 2),
            Trace::Loaded(v) => pyjson::write_pretty(out, v, 2),
        }
    }

    /// The tree view.
    pub fn tree(&self) -> Result<String> {
        Ok(match self {
            Trace::Built(r) => tree::render(&serde_json::to_value(r)?),
            Trace::Loaded(v) => tree::render(v),
        })
    }
}

/// Opens the driver of `connection_string`; errors name it with its password masked (every
/// driver error does).
pub async fn open_driver(connection_string: &str) -> Result<Arc<dyn Driver>> {
    get_driver(DriverOptions::new(connection_string))
        .await
        .map_err(|e| anyhow!("{e}"))
}

/// A trace id is taken from the store; an existing file (or something that can only be a
/// file name) is read.
fn is_file_argument(trace: &str) -> bool {
    let path = Path::new(trace);
    path.is_file() || (!uuid_like(trace) && (trace.contains('/') || trace.ends_with(".json")))
}

/// Python's `uuidutils.is_uuid_like`: 32 hex digits, with or without the dashes.
fn uuid_like(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// Reads a JSON file holding a report or a list of notifications (built into a report, in
/// file order). A report object the library does not take (keys it does not know) is shown
/// as it is, as Python's CLI re-prints whatever JSON it loaded.
pub fn load_file(path: &Path) -> Result<Trace> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match report_from_json_file_contents(&text) {
        Ok(report) => Ok(Trace::Built(report)),
        Err(ReportError::Shape { .. }) if text.trim_start().starts_with('{') => {
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", path.display()))?;
            Ok(Trace::Loaded(value))
        }
        Err(e) => bail!(
            "{}: expected a JSON report or a JSON list of notifications: {e}",
            path.display()
        ),
    }
}

/// Says on standard error how many notifications could not be read into the report.
fn warn_skipped(trace: &Trace) {
    if let Trace::Built(report) = trace {
        let skipped = report.skipped();
        if let Some(first) = skipped.first() {
            eprintln!(
                "warning: {} notification{} left out of the report ({first}{})",
                skipped.len(),
                if skipped.len() == 1 { "" } else { "s" },
                if skipped.len() > 1 { ", ..." } else { "" }
            );
        }
    }
}

/// `osprofiler trace show`.
pub async fn show(
    trace: &str,
    connection_string: &str,
    json: bool,
    out: Option<&Path>,
) -> Result<()> {
    let report = if is_file_argument(trace) {
        load_file(Path::new(trace))?
    } else {
        let driver = open_driver(connection_string).await?;
        let report = driver.get_report(trace).await.map_err(|e| anyhow!("{e}"))?;
        Trace::Built(report)
    };
    warn_skipped(&report);
    if report.is_empty() {
        bail!("Trace with UUID {trace} not found. Please check the HMAC key used in the command.");
    }
    emit(&report, json, out)
}

/// Writes the tree or the JSON to `out` or standard output. Python prints the JSON with a
/// final newline, and writes it to a file without one.
pub fn emit(report: &Trace, json: bool, out: Option<&Path>) -> Result<()> {
    match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut w = BufWriter::new(file);
            if json {
                report.write_json(&mut w)?;
            } else {
                w.write_all(report.tree()?.as_bytes())?;
            }
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            if json {
                report.write_json(&mut w)?;
                w.write_all(b"\n")?;
            } else {
                w.write_all(report.tree()?.as_bytes())?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

/// `osprofiler trace list`: Python's table of `base_id` and `timestamp`.
pub async fn list(connection_string: &str, error_trace: bool) -> Result<()> {
    let driver = open_driver(connection_string).await?;
    let fields = ["base_id", "timestamp"];
    let traces = if error_trace {
        driver.list_error_traces().await
    } else {
        driver.list_traces(&fields).await
    }
    .map_err(|e| anyhow!("{e}"))?;
    let rows: Vec<Vec<String>> = traces
        .iter()
        .map(|t| fields.iter().map(|f| table::cell(t.get(*f))).collect())
        .collect();
    println!("{}", table::render(&fields, &rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_like_as_python() {
        assert!(uuid_like("58989008-6a17-49af-9b56-9643d037cdff"));
        assert!(uuid_like("589890086a1749af9b569643d037cdff"));
        assert!(!uuid_like("trace.json"));
        assert!(is_file_argument("missing/trace.json"));
        assert!(!is_file_argument("58989008-6a17-49af-9b56-9643d037cdff"));
        assert!(!is_file_argument("some-trace-id"));
    }
}
