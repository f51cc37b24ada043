//! `trace show --html`: one self-contained HTML page (inline CSS and JavaScript, nothing
//! fetched from the network) that draws the report: a collapsible tree with a timeline bar per
//! point (its start and duration relative to the whole trace), each point's details on a
//! click, and the stats per kind. Python's page loads AngularJS and Bootstrap from a CDN;
//! this one opens offline, which is where traces are often looked at.
//!
//! The report is embedded as JSON in a `<script type="application/json">` element and drawn
//! by the page's script with `textContent` only (never parsed as HTML), so no value of the
//! trace can inject markup. In the embedded JSON, `<`, `>` and `&` (which can only occur
//! inside JSON strings) are written as `\u003c`, `\u003e`, `\u0026`: a `</script>` inside an
//! info cannot end the element early.

use std::io::Write;

use anyhow::{Context, Result};

use crate::show::ShownReport;

/// The page (assets/report.html), with [`DATA_MARK`] where the report goes.
const TEMPLATE: &str = include_str!("../assets/report.html");

/// Where the report JSON goes in [`TEMPLATE`].
const DATA_MARK: &str = "/*OSPROFILER_REPORT_JSON*/";

/// Writes the page for `report` (no final newline).
pub fn write_page(out: &mut dyn Write, report: &ShownReport) -> Result<()> {
    let (head, tail) = TEMPLATE
        .split_once(DATA_MARK)
        .context("the HTML template has no place for the report")?;
    let mut json = Vec::new();
    report.write_compact(&mut json)?;
    out.write_all(head.as_bytes())?;
    out.write_all(&escape_for_script(&json))?;
    out.write_all(tail.trim_end_matches('\n').as_bytes())?;
    Ok(())
}

/// JSON text made safe inside a `<script>` element: `<`, `>` and `&` become JSON `\u`
/// escapes (valid only because in JSON they can appear only inside strings), so neither
/// `</script>` nor `<!--` can occur; the JSON still parses to the same value.
fn escape_for_script(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + json.len() / 16);
    for &b in json {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn template_has_one_data_mark() {
        assert_eq!(TEMPLATE.matches(DATA_MARK).count(), 1);
        // Self-contained: nothing is loaded from elsewhere.
        for remote in ["http://", "https://", "src=", "<link", "@import"] {
            assert!(!TEMPLATE.contains(remote), "{remote}");
        }
    }

    #[test]
    fn embedded_json_cannot_close_the_script() {
        let evil = "</script><script>alert(1)</script><!-- & -->";
        let report = json!({"info": {"name": "total", "started": 0, "finished": 1},
                            "children": [{"info": {"name": "db", "x": evil}, "children": []}]});
        let mut page = Vec::new();
        write_page(&mut page, &ShownReport::Loaded(report.clone())).unwrap();
        let page = String::from_utf8(page).unwrap();
        // The only `</script>` are the template's own two.
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(!page.contains("<!--"));
        let start = page.find(r#"id="osprofiler-report">"#).unwrap() + 23;
        let end = start + page[start..].find("</script>").unwrap();
        let back: Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(back, report);
    }
}
