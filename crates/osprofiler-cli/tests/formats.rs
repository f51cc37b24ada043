//! `trace show --dot / --render-dot / --html / --out`, `trace list`'s table, and the
//! messaging flags, run as a user runs them; DOT text and the list table are compared with
//! what Python OSprofiler 4.4.0's own CLI prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_osprofiler");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("OSPROFILER_CONNECTION_STRING")
        .env_remove("OSPROFILER_TRANSPORT_URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}\n{}",
        text(&o.stderr),
        text(&o.stdout)
    );
    text(&o.stdout)
}

/// Runs the demo into a new SQLite store in `dir`; returns the connection string and the id.
fn demo(dir: &Path) -> (String, String) {
    let cs = format!("sqlite://{}", dir.join("traces.sqlite").display());
    let out = ok(&["demo", "--connection-string", &cs]);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("osprofiler trace show "))
        .unwrap_or_else(|| panic!("no show command in:\n{out}"));
    let id = line.split_whitespace().nth(3).unwrap().to_owned();
    (cs, id)
}

/// The demo's report as a JSON file (what `--json --out` writes).
fn demo_report_file(dir: &Path) -> (String, String, PathBuf) {
    let (cs, id) = demo(dir);
    let file = dir.join("demo-report.json");
    ok(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--json",
        "--out",
        file.to_str().unwrap(),
    ]);
    (cs, id, file)
}

/// Python's `osprofiler` command of the interop virtualenv, if it has the `graphviz` package
/// that `--dot` needs (skipped without; a failure in CI).
fn python_cli_with_graphviz() -> Option<PathBuf> {
    let python = osprofiler_testkit::python()?;
    let has_graphviz = Command::new(&python)
        .args(["-c", "import graphviz"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_graphviz {
        assert!(
            !osprofiler_testkit::in_ci(),
            "the interop virtualenv lacks the `graphviz` package (scripts/python-venv.sh)"
        );
        eprintln!("SKIPPED: the interop virtualenv lacks the `graphviz` package; pip install graphviz into it");
        return None;
    }
    Some(osprofiler_testkit::python_cli(&python))
}

fn python_show(cli: &Path, args: &[&str]) -> Output {
    Command::new(cli)
        .args(["trace", "show", "--connection-string", "unused://"])
        .args(args)
        .output()
        .expect("Python's osprofiler runs")
}

/// A report whose labels exercise the `graphviz` package's quoting and Python's label rules:
/// quotes, backslashes, an HTML-like `<...>` label, non-ASCII, a long path, float times.
fn tricky_report() -> Value {
    let point = |name: &str, service: &str, started: Value, finished: Value, extra: Value| {
        let mut info = json!({"name": name, "project": "p", "service": service, "host": "h",
                              "started": started, "finished": finished});
        if let (Some(i), Some(e)) = (info.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        info
    };
    json!({
        "info": {"name": "total", "started": 0, "finished": 40, "last_trace_started": 30},
        "children": [
            {"info": point("wsgi", "api \"quoted\"", json!(0), json!(40), json!({
                "meta.raw_payload.wsgi-start": {"info": {"request": {
                    "method": "POST", "path": "/v2.1/sérvers/ünïcode/a-very-long-path/with/more"}}}})),
             "trace_id": "t1", "parent_id": "b",
             "children": [
                {"info": point("rpc", "<svc", json!(1), json!(9), json!({
                    "meta.raw_payload.rpc-start": {"info": {"function": {
                        "name": "nova.compute.<lambda>"}}}})),
                 "trace_id": "t2", "parent_id": "t1", "children": [
                    {"info": point("driver", "back\\slash", json!(2), json!(3.5), json!({
                        "meta.raw_payload.driver-start": {"info": {"function": {
                            "name": "LibvirtDriver::spawn"}}}})),
                     "trace_id": "t3", "parent_id": "t2", "children": []}
                 ]},
                {"info": point("db", "a\\\"b", json!(10), json!(30), json!({})),
                 "trace_id": "t4", "parent_id": "t1", "children": []},
                {"info": point("node", "", json!(31), json!(32), json!({})),
                 "trace_id": "t5", "parent_id": "t1", "children": []}
             ]}
        ],
        "stats": {"wsgi": {"count": 1, "duration": 40}}
    })
}

#[test]
fn dot_is_pythons_text() {
    let Some(py) = python_cli_with_graphviz() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cs, id, demo_file) = demo_report_file(dir.path());
    let tricky = dir.path().join("tricky.json");
    std::fs::write(&tricky, tricky_report().to_string()).unwrap();

    let mut files = vec![demo_file.clone(), tricky];
    let cases_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../osprofiler/tests/conformance/reports.json");
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(cases_path).unwrap()).unwrap();
    for (i, case) in cases.iter().enumerate() {
        let f = dir.path().join(format!("case-{i}.json"));
        std::fs::write(&f, case["report"].to_string()).unwrap();
        files.push(f);
    }

    let mut compared = 0;
    for file in &files {
        let f = file.to_str().unwrap();
        let theirs = python_show(&py, &["--dot", f]);
        if !theirs.status.success() {
            // Python fails on some reports (a null service, an empty trace); ours must not
            // crash on them either.
            let o = run(&["trace", "show", "--dot", f]);
            assert!(matches!(o.status.code(), Some(0 | 1)), "{f}: {o:?}");
            continue;
        }
        let ours = ok(&["trace", "show", "--dot", f]);
        assert_eq!(ours, text(&theirs.stdout), "{f}");
        compared += 1;

        // --out: the same text, without print's final newline, as Python writes it.
        let (mine, pys) = (dir.path().join("ours.dot"), dir.path().join("py.dot"));
        ok(&["trace", "show", "--dot", f, "--out", mine.to_str().unwrap()]);
        let o = python_show(&py, &["--dot", f, "--out", pys.to_str().unwrap()]);
        assert!(o.status.success());
        assert_eq!(
            std::fs::read_to_string(&mine).unwrap(),
            std::fs::read_to_string(&pys).unwrap()
        );
    }
    assert!(compared >= 2, "only {compared} reports compared");

    // From the store: the same graph as from the report file.
    let from_store = ok(&["trace", "show", &id, "--connection-string", &cs, "--dot"]);
    assert_eq!(
        from_store,
        ok(&["trace", "show", "--dot", demo_file.to_str().unwrap()])
    );
    assert!(
        from_store.starts_with("digraph {\n\t0 [label=\"total - "),
        "{from_store}"
    );
    assert!(from_store.contains("api:wsgi - "), "{from_store}");
}

#[test]
fn render_dot_with_graphviz() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, report) = demo_report_file(dir.path());
    let report = report.to_str().unwrap();
    let have_dot = Command::new("dot").arg("-V").output().is_ok();
    if !have_dot {
        assert!(
            !osprofiler_testkit::in_ci(),
            "Graphviz's dot is required in CI (scripts/ci-services.sh installs it)"
        );
        eprintln!("SKIPPED: Graphviz's `dot` is not installed");
    } else {
        // The extension names the format; --render-dot implies --dot.
        let svg = dir.path().join("trace.svg");
        let out = ok(&[
            "trace",
            "show",
            report,
            "--render-dot",
            svg.to_str().unwrap(),
        ]);
        assert!(out.starts_with("digraph {"), "{out}");
        let drawn = std::fs::read_to_string(&svg).unwrap();
        assert!(
            drawn.contains("<svg") && drawn.contains("api:wsgi"),
            "{drawn}"
        );
        // No known extension: FILE.pdf, as Python's CLI writes; --out still takes the text.
        let base = dir.path().join("trace");
        let text_file = dir.path().join("trace.dot");
        let out = ok(&[
            "trace",
            "show",
            report,
            "--dot",
            "--render-dot",
            base.to_str().unwrap(),
            "--out",
            text_file.to_str().unwrap(),
        ]);
        assert!(out.is_empty(), "{out}");
        let pdf = std::fs::read(dir.path().join("trace.pdf")).unwrap();
        assert!(pdf.starts_with(b"%PDF"), "not a PDF");
        assert!(std::fs::read_to_string(&text_file)
            .unwrap()
            .starts_with("digraph {"));
        // A file dot cannot write: its error, exit code 1.
        let o = run(&[
            "trace",
            "show",
            report,
            "--render-dot",
            dir.path().join("no/such/dir/t.png").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("dot -Tpng"), "{}", text(&o.stderr));
    }

    // Without Graphviz on PATH: a clear error, exit code 1.
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["trace", "show", report, "--render-dot"])
        .arg(dir.path().join("x.png"))
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("Graphviz") && err.contains("not on PATH"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn html_page_is_self_contained_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let (cs, id, _) = demo_report_file(dir.path());
    let page = ok(&["trace", "show", &id, "--connection-string", &cs, "--html"]);
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert!(page.trim_end().ends_with("</html>"));
    // Nothing to load: no stylesheet or script by URL, no remote image, style or import (the
    // SVG namespace URI, a name and not a request, is the only `http://` in it).
    assert_eq!(
        page.matches("http://").count(),
        page.matches("http://www.w3.org/2000/svg").count()
    );
    for remote in [
        "https://",
        "rel=\"stylesheet\"",
        " src=",
        "/ui/",
        "@import",
        "url(http",
    ] {
        assert!(!page.contains(remote), "the page refers to {remote}");
    }
    // --out: the same page without print's final newline.
    let file = dir.path().join("t.html");
    ok(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--html",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        format!("{}\n", std::fs::read_to_string(&file).unwrap()),
        page
    );

    // A `</script>` inside an info cannot end the embedded JSON early.
    let evil = dir.path().join("evil.json");
    let mut report = tricky_report();
    report["children"][0]["info"]["x"] = json!(EVIL);
    std::fs::write(&evil, report.to_string()).unwrap();
    let page = ok(&["trace", "show", evil.to_str().unwrap(), "--html"]);
    // Only the page's own scripts end: the report is embedded as base64 (of its gzip).
    assert_eq!(
        page.matches("</script>").count(),
        page.matches("<script").count(),
        "only the page's own"
    );
    assert!(!page.contains("<b id=\"pwned\">"));
    assert!(page.contains("data-encoding=\"gzip+base64\""));
}

/// An info value that would end a `<script>` element and inject markup if embedded as is.
const EVIL: &str = "</script><b id=\"pwned\">x</b><script>document.title='pwned'</script><!--";

#[test]
fn output_kinds_are_mutually_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, report) = demo_report_file(dir.path());
    let f = report.to_str().unwrap();
    for combo in [
        &["--json", "--html"][..],
        &["--json", "--dot"],
        &["--html", "--dot"],
        &["--json", "--render-dot", "x.pdf"],
        &["--html", "--render-dot", "x.pdf"],
    ] {
        let mut args = vec!["trace", "show", f];
        args.extend_from_slice(combo);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{combo:?}");
        assert!(
            text(&o.stderr).contains("cannot be used with"),
            "{}",
            text(&o.stderr)
        );
    }
    // Python's hidden --local-libs is accepted with --html.
    assert!(ok(&["trace", "show", f, "--html", "--local-libs"]).starts_with("<!DOCTYPE html>"));
    // Every kind goes to --out.
    for kind in [&[][..], &["--json"], &["--html"], &["--dot"]] {
        let out = dir.path().join("out.txt");
        let mut args = vec!["trace", "show", f, "--out", out.to_str().unwrap()];
        args.extend_from_slice(kind);
        assert_eq!(ok(&args), "", "{kind:?}");
        let mut printed = vec!["trace", "show", f];
        printed.extend_from_slice(kind);
        let stdout = ok(&printed);
        let written = std::fs::read_to_string(&out).unwrap();
        if kind.is_empty() {
            assert_eq!(written, stdout);
        } else {
            assert_eq!(format!("{written}\n"), stdout, "{kind:?}");
        }
    }
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 6] = [
        ("not-json.json", "this is not JSON"),
        ("string.json", "\"a string\""),
        ("number.json", "42"),
        ("list-of-numbers.json", "[1, 2, 3]"),
        ("other-object.json", "{\"foo\": 1}"),
        ("empty.json", ""),
    ];
    for (name, content) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        for kind in [&[][..], &["--json"], &["--html"], &["--dot"]] {
            let mut args = vec!["trace", "show", file.to_str().unwrap()];
            args.extend_from_slice(kind);
            let o = run(&args);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{name} {kind:?}: {err}");
            assert!(o.stdout.is_empty(), "{name} {kind:?}");
            // A warning about unreadable notifications may come first; the error is last.
            let last = err.lines().last().unwrap_or_default();
            assert!(last.starts_with("error: "), "{name}: {err}");
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert!(
                err.contains(name) || err.contains("not found"),
                "{name}: the error names neither the file nor the trace: {err}"
            );
        }
    }
    // An unwritable --out is named.
    let (_, _, report) = demo_report_file(dir.path());
    let o = run(&[
        "trace",
        "show",
        report.to_str().unwrap(),
        "--dot",
        "--out",
        "/no/such/dir/x.dot",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/no/such/dir/x.dot"));
}

#[test]
fn messaging_flags_are_checked_and_documented() {
    let help = ok(&["trace", "show", "--help"]);
    for needle in [
        "--transport-url <URL>",
        "rabbit://user:password@host:5672/",
        "--idle-timeout <SECONDS>",
        "[default: 1]",
        "--html",
        "--dot",
        "--render-dot <FILE>",
        "--out <FILE>",
        "--json",
        "messaging://",
        "OSPROFILER_TRANSPORT_URL",
    ] {
        assert!(help.contains(needle), "{needle} missing in:\n{help}");
    }
    let list_help = ok(&["trace", "list", "--help"]);
    assert!(list_help.contains("--error-trace"), "{list_help}");

    let dir = tempfile::tempdir().unwrap();
    let (cs, id) = demo(dir.path());
    // Valid flags go along with any driver (they are for messaging:// only).
    let out = ok(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--transport-url",
        "rabbit://guest:guest@localhost:5672/",
        "--idle-timeout",
        "2",
    ]);
    assert!(out.contains("wsgi POST"), "{out}");
    ok(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--idle-timeout",
        "0.5",
    ]);
    // Bad values are usage errors (exit code 2), passwords masked.
    for (flag, value) in [
        ("--idle-timeout", "-1"),
        ("--idle-timeout", "soon"),
        ("--idle-timeout", "1e9"),
        ("--transport-url", "localhost:5672"),
        ("--transport-url", "rabbit://user:s3cret@host:notaport/"),
    ] {
        let o = run(&[
            "trace",
            "show",
            &id,
            "--connection-string",
            &cs,
            flag,
            value,
        ]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    // The environment variable is read and checked too.
    let o = Command::new(BIN)
        .args(["trace", "list", "--connection-string", &cs])
        .env("OSPROFILER_TRANSPORT_URL", "no-scheme")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

/// `trace list` (and `--error-trace`) prints the same bytes as Python's own `trace list`
/// command given the same rows (the rows the store lists, read through the library).
#[test]
fn list_is_pythons_table() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cs, _) = demo(dir.path());
    ok(&["demo", "--connection-string", &cs]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (traces, errors) = runtime.block_on(async {
        let driver = osprofiler::driver::get_driver(osprofiler::driver::DriverOptions::new(&cs))
            .await
            .unwrap();
        (
            driver.list_traces(&["base_id", "timestamp"]).await.unwrap(),
            driver.list_error_traces().await.unwrap(),
        )
    });
    assert_eq!(traces.len(), 2);
    let rows = dir.path().join("rows.json");
    std::fs::write(
        &rows,
        json!({"traces": traces, "error_traces": errors}).to_string(),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/list_table.py");
    for extra in [&[][..], &["--error-trace", "True"]] {
        let theirs = Command::new(&python)
            .arg(script)
            .arg(&rows)
            .args(["trace", "list", "--connection-string", "x://"])
            .args(extra)
            .output()
            .unwrap();
        assert!(theirs.status.success(), "{}", text(&theirs.stderr));
        let mut args = vec!["trace", "list", "--connection-string", &cs];
        args.extend_from_slice(extra);
        assert_eq!(ok(&args), text(&theirs.stdout), "{extra:?}");
    }
    // Our short form of --error-trace is the same.
    assert_eq!(
        ok(&["trace", "list", "--connection-string", &cs, "--error-trace"]),
        ok(&[
            "trace",
            "list",
            "--connection-string",
            &cs,
            "--error-trace",
            "True"
        ])
    );
}
