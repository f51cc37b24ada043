//! `trace show` and `trace list`.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use osprofiler::driver::{get_driver, Driver, DriverError, DriverOptions, GetReport};
use osprofiler::report::{
    report_from_json_file_contents, report_from_json_text, Report, ReportError,
};
use serde_json::Value;
use std::sync::Arc;

use crate::tree::TreeOptions;
use crate::{dot, html, table, tree};
use osprofiler::pyjson;

/// A report to show: one the library holds (built from a store's notifications, or read
/// from a file of notifications or of a report), or the JSON of a report file the library
/// does not take, shown as it is (as Python's CLI re-dumps the file it loaded). Not
/// [`osprofiler::Trace`], which records a trace point.
pub enum ShownReport {
    Built(Report),
    Loaded(Value),
}

impl ShownReport {
    /// Python's not-found test: `not trace or not trace.get("children")`.
    pub fn is_empty(&self) -> bool {
        match self {
            ShownReport::Built(r) => r.is_empty(),
            ShownReport::Loaded(v) => v
                .get("children")
                .and_then(Value::as_array)
                .is_none_or(|c| c.is_empty()),
        }
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<()> {
        match self {
            // Straight from the report's arena, on all cores: the bytes of the serde path.
            ShownReport::Built(r) => osprofiler::report::write_python_pretty(r, out)?,
            ShownReport::Loaded(v) => pyjson::write_pretty(out, v, 2)?,
        }
        Ok(())
    }

    /// Writes the tree view, line by line, from the report as it is held (a built report's
    /// nodes are read in place, never turned into JSON values).
    pub fn write_tree(&self, options: &TreeOptions, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            ShownReport::Built(r) => tree::write_report(r, options, out),
            ShownReport::Loaded(v) => tree::write_value(v, options, out),
        }
    }

    /// The DOT graph, as Python's `--dot` prints it.
    pub fn dot(&self) -> String {
        match self {
            ShownReport::Built(r) => dot::graph_report(r),
            ShownReport::Loaded(v) => dot::graph(v),
        }
    }

    /// Writes the report as compact JSON (for the HTML page).
    pub fn write_compact<W: Write>(&self, out: W) -> serde_json::Result<()> {
        match self {
            ShownReport::Built(r) => serde_json::to_writer(out, r),
            ShownReport::Loaded(v) => serde_json::to_writer(out, v),
        }
    }
}

/// Opens the driver of `options`; errors name its connection string with the password
/// masked (every driver error does).
pub async fn open_driver(options: DriverOptions) -> Result<Arc<dyn Driver>> {
    match get_driver(options).await {
        Ok(driver) => Ok(driver),
        Err(e @ DriverError::UnknownScheme(_)) => Err(anyhow!(
            "{e} (this build knows {})",
            crate::drivers::known_schemes()
        )),
        Err(e) => Err(anyhow!("{e}")),
    }
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
pub fn load_file(path: &Path) -> Result<ShownReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        // A list of notifications: the report keeps the text as their storage (no copy).
        return report_from_json_text(text)
            .map(ShownReport::Built)
            .map_err(|e| {
                anyhow!(
                    "{}: expected a JSON report or a JSON list of notifications: {e}",
                    path.display()
                )
            });
    }
    match report_from_json_file_contents(&text) {
        Ok(report) => Ok(ShownReport::Built(report)),
        Err(ReportError::Shape { .. }) if text.trim_start().starts_with('{') => {
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", path.display()))?;
            Ok(ShownReport::Loaded(value))
        }
        Err(e) => bail!(
            "{}: expected a JSON report or a JSON list of notifications: {e}",
            path.display()
        ),
    }
}

/// Says on standard error how many notifications could not be read into the report.
fn warn_skipped(trace: &ShownReport) {
    if let ShownReport::Built(report) = trace {
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

/// What `trace show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The tree with durations (ours; Python's CLI insists on one of the others).
    Tree,
    /// Python's report JSON.
    Json,
    /// One self-contained HTML page.
    Html,
    /// Graphviz DOT text, as Python's.
    Dot,
}

impl Format {
    /// The format chosen by the (mutually exclusive) flags.
    pub fn from_flags(json: bool, html: bool, dot: bool) -> Format {
        match (json, html, dot) {
            (true, _, _) => Format::Json,
            (_, true, _) => Format::Html,
            (_, _, true) => Format::Dot,
            _ => Format::Tree,
        }
    }
}

/// `osprofiler trace show`: reads the trace from a file or the store of `options`, writes it
/// in `format`, the tree cut and folded as `tree_options` say (and with `render_dot`, renders
/// its DOT graph into that file).
pub async fn show(
    trace: &str,
    options: DriverOptions,
    format: Format,
    tree_options: &TreeOptions,
    render_dot: Option<&Path>,
    out: Option<&Path>,
) -> Result<()> {
    let report = if is_file_argument(trace) {
        load_file(Path::new(trace))?
    } else {
        let driver = open_driver(options).await?;
        let report = driver.get_report(trace).await.map_err(|e| anyhow!("{e}"))?;
        ShownReport::Built(report)
    };
    warn_skipped(&report);
    if report.is_empty() {
        bail!("Trace with UUID {trace} not found. Please check the HMAC key used in the command.");
    }
    match render_dot {
        // --render-dot implies --dot (clap refuses it with --json or --html).
        Some(target) => {
            let source = report.dot();
            let written = dot::render(&source, target)?;
            eprintln!("rendered the DOT graph into {}", written.display());
            write_to(out, true, |w| Ok(w.write_all(source.as_bytes())?))
        }
        None => emit_with(&report, format, tree_options, out),
    }
}

/// Writes the trace in `format` to `out` or standard output. As Python's CLI, standard
/// output gets a final newline after the JSON, HTML or DOT text, a file does not.
pub fn emit(report: &ShownReport, format: Format, out: Option<&Path>) -> Result<()> {
    emit_with(report, format, &TreeOptions::default(), out)
}

/// [`emit`], the tree cut and folded as `tree_options` say.
pub fn emit_with(
    report: &ShownReport,
    format: Format,
    tree_options: &TreeOptions,
    out: Option<&Path>,
) -> Result<()> {
    match format {
        Format::Tree => write_to(out, false, |w| Ok(report.write_tree(tree_options, w)?)),
        Format::Json => write_to(out, true, |w| report.write_json(w)),
        Format::Html => write_to(out, true, |w| html::write_page(w, report)),
        Format::Dot => {
            let source = report.dot();
            write_to(out, true, |w| Ok(w.write_all(source.as_bytes())?))
        }
    }
}

/// Runs `body` on the file `out` (created or truncated) or on standard output; on standard
/// output, adds a newline after it when `print_newline` (Python's `print`).
fn write_to(
    out: Option<&Path>,
    print_newline: bool,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match out {
        Some(path) => {
            let cannot = || format!("cannot write {}", path.display());
            let file = std::fs::File::create(path).with_context(cannot)?;
            let mut w = BufWriter::new(file);
            body(&mut w).with_context(cannot)?;
            w.flush().with_context(cannot)?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            body(&mut w)?;
            if print_newline {
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

/// `osprofiler trace list`: Python's table of `base_id` and `timestamp`.
pub async fn list(options: DriverOptions, error_trace: bool) -> Result<()> {
    let driver = open_driver(options).await?;
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
