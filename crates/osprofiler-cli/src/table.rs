//! Tables in the layout of Python's `prettytable` with `align = "l"`, as Python's
//! `osprofiler trace list` prints them.

use osprofiler::pyjson::python_str;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// A cell as Python's `str()` shows it ([`python_str`]); a missing field is `None`, as
/// Python's `dict.get` gives.
pub fn cell(value: Option<&Value>) -> String {
    value.map_or_else(|| "None".to_owned(), python_str)
}

/// Python's `str.expandtabs()`: tab stops every 8 columns, counted from the last `\n` or `\r`
/// (prettytable expands every cell so).
fn expand_tabs(s: &str) -> String {
    if !s.contains('\t') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut column = 0usize;
    for c in s.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// The width of one line on a terminal, as prettytable measures it (`wcwidth`): wide East
/// Asian characters and emoji count 2, combining marks and control characters 0.
fn display_width(line: &str) -> usize {
    if line.is_ascii() && !line.bytes().any(|b| b.is_ascii_control()) {
        return line.len();
    }
    let printable: String = line.chars().filter(|c| !c.is_control()).collect();
    UnicodeWidthStr::width(printable.as_str())
}

/// Renders `rows` under `header` as prettytable does with `align = "l"`: `+---+` rules, one
/// space of padding, columns as wide as their widest line (no trailing newline). Cells are
/// tab-expanded, and a cell spanning several lines (split at `\n` only) takes several table
/// lines, its neighbours padded with blank lines.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| expand_tabs(c)).collect())
        .collect();
    let width = |s: &str| s.split('\n').map(display_width).max().unwrap_or(0);
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(c));
        }
    }
    let rule: String = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s
    };
    let mut out = Vec::new();
    let push_row = |out: &mut Vec<String>, cells: &[&str]| {
        let height = cells
            .iter()
            .map(|c| c.split('\n').count())
            .max()
            .unwrap_or(1);
        for line in 0..height {
            let mut s = String::from("|");
            for (w, c) in widths.iter().zip(cells) {
                let text = c.split('\n').nth(line).unwrap_or("");
                let pad = w.saturating_sub(display_width(text));
                s.push(' ');
                s.push_str(text);
                s.push_str(&" ".repeat(pad + 1));
                s.push('|');
            }
            out.push(s);
        }
    };
    out.push(rule.clone());
    push_row(&mut out, header);
    out.push(rule.clone());
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        push_row(&mut out, &cells);
    }
    out.push(rule);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_prettytable() {
        // Python: t = PrettyTable(("base_id", "timestamp")); t.align = "l"; t.get_string()
        assert_eq!(
            render(&["base_id", "timestamp"], &[]),
            "+---------+-----------+\n| base_id | timestamp |\n+---------+-----------+\n+---------+-----------+"
        );
        let rows = vec![
            vec![
                "4e3e0ec6-2938-40b1-8504-09eb1d4b0dee".to_owned(),
                "2018-08-10T07:20:44.624530".to_owned(),
            ],
            vec!["x".to_owned(), "é".to_owned()],
        ];
        assert_eq!(
            render(&["base_id", "timestamp"], &rows),
            "+--------------------------------------+----------------------------+\n\
             | base_id                              | timestamp                  |\n\
             +--------------------------------------+----------------------------+\n\
             | 4e3e0ec6-2938-40b1-8504-09eb1d4b0dee | 2018-08-10T07:20:44.624530 |\n\
             | x                                    | é                          |\n\
             +--------------------------------------+----------------------------+"
        );
        let multi = vec![vec![cell(None), "a\nbb".to_owned()]];
        assert_eq!(
            render(&["base_id", "timestamp"], &multi),
            "+---------+-----------+\n| base_id | timestamp |\n+---------+-----------+\n\
             | None    | a         |\n|         | bb        |\n+---------+-----------+"
        );
    }

    #[test]
    fn cells_are_pythons_str() {
        // Python: str(json.loads(...))
        assert_eq!(
            cell(Some(&serde_json::json!(["a", 1, null]))),
            "['a', 1, None]"
        );
        assert_eq!(
            cell(Some(&serde_json::json!({"k": false, "f": 1e-05}))),
            "{'k': False, 'f': 1e-05}"
        );
        assert_eq!(cell(Some(&serde_json::json!(1e16))), "1e+16");
        assert_eq!(cell(Some(&serde_json::json!("x"))), "x");
        assert_eq!(cell(None), "None");
    }

    /// Cells of every kind, printed by Python's own `osprofiler trace list` (through
    /// tests/python/list_table.py, which feeds it these rows), and by `render`.
    #[test]
    fn same_bytes_as_pythons_trace_list() {
        let Some(python) = osprofiler_testkit::python() else {
            return;
        };
        let rows = serde_json::json!([
            {"base_id": "4e3e0ec6-2938-40b1-8504-09eb1d4b0dee", "timestamp": "2018-08-10T07:20:44.624530"},
            {"base_id": "x", "timestamp": "é"},
            {"base_id": null, "timestamp": "a\nbb\nccc"},
            {"base_id": "日本語", "timestamp": "e\u{301}x"},
            {"base_id": 1.5, "timestamp": true},
            {"base_id": 1e16, "timestamp": 12},
            {"base_id": "a\tb\tc", "timestamp": "\tx"},
            {"base_id": "😀 👍🏽", "timestamp": "a\u{200b}b"},
            {"base_id": "", "timestamp": ""},
            {"base_id": ["a", 1, null], "timestamp": {"k": false, "f": 1e-05}}
        ]);
        let dir = tempfile::tempdir().unwrap();
        for n in [0, 1, rows.as_array().unwrap().len()] {
            let some: Vec<Value> = rows.as_array().unwrap()[..n].to_vec();
            let file = dir.path().join("rows.json");
            let doc = serde_json::json!({"traces": some, "error_traces": []});
            std::fs::write(&file, doc.to_string()).unwrap();
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/list_table.py");
            let out = std::process::Command::new(&python)
                .arg(script)
                .arg(&file)
                .args(["trace", "list", "--connection-string", "x://"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let fields = ["base_id", "timestamp"];
            let cells: Vec<Vec<String>> = some
                .iter()
                .map(|r| fields.iter().map(|f| cell(r.get(*f))).collect())
                .collect();
            assert_eq!(
                format!("{}\n", render(&fields, &cells)),
                String::from_utf8(out.stdout).unwrap(),
                "{n} rows"
            );
        }
    }
}
