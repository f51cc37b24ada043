//! `trace show --html`: the web UI's trace page (crate `osprofiler-ui`, docs/ui.md) as one
//! self-contained file: its styles and scripts inlined and the report embedded (gzip, then
//! base64), so it opens offline and looks as the collector's `/traces/{base_id}` does.
//! Python's page loads AngularJS and Bootstrap from a CDN and is blank offline.

use std::io::Write;

use anyhow::{Context, Result};

use crate::show::ShownReport;

/// Writes the page for `report`.
pub fn write_page(out: &mut dyn Write, report: &ShownReport) -> Result<()> {
    let mut json = Vec::new();
    report.write_compact(&mut json)?;
    osprofiler_ui::write_offline_trace_page(out, &json).context("writing the HTML page")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_is_the_uis_trace_page_with_the_report_inside() {
        let report = json!({"info": {"name": "total", "started": 0, "finished": 1},
                            "children": [{"info": {"name": "db", "x": "</script>"}, "children": []}]});
        let mut page = Vec::new();
        write_page(&mut page, &ShownReport::Loaded(report)).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(r#"id="osprofiler-report""#));
        assert!(page.contains("class=\"trace-page\""));
        // Self-contained: nothing is loaded from the collector or elsewhere.
        assert!(!page.contains("/ui/"));
        assert!(!page.contains("src=\"http"));
    }
}
