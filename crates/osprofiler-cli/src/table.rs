//! Tables in the layout of Python's `prettytable` with `align = "l"`, as Python's
//! `osprofiler trace list` prints them.

use serde_json::Value;

/// A cell as Python's `str()` shows it: strings bare, `null` as `None`, the rest as JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".to_owned(),
        Some(Value::Bool(false)) => "False".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// Renders `rows` under `header`, left-aligned, with `+---+` rules (no trailing newline).
/// Cells spanning several lines take several table lines, as in prettytable.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
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
            .map(|c| c.lines().count().max(1))
            .max()
            .unwrap_or(1);
        for line in 0..height {
            let mut s = String::from("|");
            for (w, c) in widths.iter().zip(cells) {
                let text = c.lines().nth(line).unwrap_or("");
                let pad = w - text.chars().count();
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
    for row in rows {
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
}
