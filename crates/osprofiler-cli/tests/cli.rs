//! The `osprofiler` binary, run as a user runs it, on temporary SQLite stores.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_osprofiler");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("OSPROFILER_CONNECTION_STRING")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// Runs the demo into `cs`; returns its trace id and its output.
fn demo(cs: &str) -> (String, String) {
    let out = ok(&["demo", "--connection-string", cs]);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("osprofiler trace show "))
        .unwrap_or_else(|| panic!("no show command in:\n{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..3], ["osprofiler", "trace", "show"]);
    assert_eq!(words[4..], ["--connection-string", cs], "{line}");
    (words[3].to_owned(), out)
}

/// The reference cases: notifications and the report Python builds from them.
fn conformance_cases() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../osprofiler/tests/conformance/reports.json");
    let text = std::fs::read_to_string(&path).expect("the conformance reports");
    match serde_json::from_str(&text).expect("JSON") {
        Value::Array(cases) => cases,
        _ => panic!("a list of cases"),
    }
}

#[test]
fn demo_then_show_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let cs = sqlite(dir.path(), "nested/traces.sqlite");
    let (id, out) = demo(&cs);
    for name in [
        "total",
        "└─ wsgi POST /v2.1/servers",
        "db Db::instance_create",
        "rpc ComputeManager::build_and_run_instance",
        "driver LibvirtDriver::spawn",
        "VifPlugFailed: port 3f2a is busy",
        "demo/compute",
    ] {
        assert!(out.contains(name), "{name} missing in:\n{out}");
    }

    // The tree again, from the store.
    let tree = ok(&["trace", "show", &id, "--connection-string", &cs]);
    assert!(tree.starts_with("NAME "), "{tree}");
    assert!(tree.contains("└─ wsgi POST /v2.1/servers"), "{tree}");
    assert!(tree.contains("demo/compute"), "{tree}");
    assert!(out.starts_with(&tree), "demo and show print the same tree");

    // JSON: Python's report layout.
    let json_out = ok(&["trace", "show", &id, "--connection-string", &cs, "--json"]);
    assert!(
        json_out.starts_with("{\n  \"info\": {\n    \"name\": \"total\",\n"),
        "{json_out}"
    );
    assert!(json_out.ends_with("}\n"));
    let report: Value = serde_json::from_str(&json_out).unwrap();
    let wsgi = &report["children"][0]["info"];
    assert_eq!(wsgi["name"], "wsgi");
    assert_eq!(wsgi["project"], "demo");
    assert_eq!(wsgi["service"], "api");
    // SQL store: the raw payload is the `data` object.
    assert_eq!(
        wsgi["meta.raw_payload.wsgi-start"]["info"]["request"]["path"],
        "/v2.1/servers"
    );
    assert_eq!(report["stats"]["driver"]["count"], 3);
    // `#[trace_impl]` points carry Python's `function` info.
    let db = &report["children"][0]["children"][0]["info"];
    assert_eq!(
        db["meta.raw_payload.db-start"]["info"]["function"]["name"],
        "osprofiler::demo::Db::instance_create"
    );
    assert_eq!(
        db["meta.raw_payload.db-start"]["info"]["function"]["args"],
        "(Db, \"demo-vm\")"
    );

    // --out writes the same bytes, without the final newline (as Python writes the file).
    let file = dir.path().join("report.json");
    let o = run(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--json",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(format!("{written}\n"), json_out);
    let tree_file = dir.path().join("tree.txt");
    ok(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--out",
        tree_file.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&tree_file).unwrap(), tree);

    // The report file shows as it is; --json re-prints it byte for byte.
    let again = ok(&["trace", "show", file.to_str().unwrap(), "--json"]);
    assert_eq!(again, json_out);

    // list and --error-trace: the demo trace has an error.
    let (id2, _) = demo(&cs);
    let list = ok(&["trace", "list", "--connection-string", &cs]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 6, "{list}");
    assert!(lines[0]
        .starts_with("+--------------------------------------+----------------------------+"));
    assert!(lines[1]
        .starts_with("| base_id                              | timestamp                  |"));
    assert!(lines[3].starts_with(&format!("| {id} | ")), "{list}");
    assert!(lines[4].starts_with(&format!("| {id2} | ")), "{list}");
    let errors = ok(&["trace", "list", "--connection-string", &cs, "--error-trace"]);
    assert_eq!(errors.lines().count(), 6, "{errors}");
    assert!(errors.contains(&id) && errors.contains(&id2));
    // Python's form, `--error-trace True`.
    assert_eq!(
        ok(&[
            "trace",
            "list",
            "--connection-string",
            &cs,
            "--error-trace",
            "True"
        ]),
        errors
    );
}

#[test]
fn connection_string_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cs = sqlite(dir.path(), "env.sqlite");
    let (id, _) = demo(&cs);
    let o = Command::new(BIN)
        .args(["trace", "show", &id])
        .env("OSPROFILER_CONNECTION_STRING", &cs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("wsgi POST"));
}

#[test]
fn demo_into_the_default_store() {
    let home = tempfile::tempdir().unwrap();
    let with_home = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("OSPROFILER_CONNECTION_STRING")
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .output()
            .unwrap()
    };
    // Plain `demo` keeps serving until Ctrl-C (tests/demo.rs); with the default store named,
    // it stores its trace there and exits.
    let cs = format!(
        "sqlite://{}",
        home.path().join("data/osprofiler/traces.sqlite").display()
    );
    let o = with_home(&["demo", "--connection-string", &cs]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("osprofiler trace show "))
        .unwrap();
    // The default store needs no --connection-string to be found again.
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{line}");
    assert!(home.path().join("data/osprofiler/traces.sqlite").is_file());
    let o = with_home(&["trace", "show", words[3]]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("└─ wsgi POST /v2.1/servers"));

    // memory:// works for the demo, but keeps nothing.
    let out = ok(&["demo", "--connection-string", "memory://"]);
    assert!(out.contains("kept in memory only"), "{out}");
}

#[test]
fn not_found() {
    let dir = tempfile::tempdir().unwrap();
    let cs = sqlite(dir.path(), "empty.sqlite");
    let id = "58989008-6a17-49af-9b56-9643d037cdff";
    let o = run(&["trace", "show", id, "--connection-string", &cs]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        format!("error: Trace with UUID {id} not found. Please check the HMAC key used in the command.\n")
    );
    // A missing file is named.
    let o = run(&["trace", "show", "no/such/trace.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: cannot read no/such/trace.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_files_of_reports_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let cases = conformance_cases();
    assert!(!cases.is_empty());
    for (i, case) in cases.iter().enumerate() {
        // The reference report, re-dumped as Python's CLI dumps it.
        let report_file = dir.path().join(format!("report-{i}.json"));
        std::fs::write(
            &report_file,
            serde_json::to_string(&case["report"]).unwrap(),
        )
        .unwrap();
        let from_report = ok(&["trace", "show", report_file.to_str().unwrap(), "--json"]);
        assert_eq!(
            serde_json::from_str::<Value>(&from_report).unwrap(),
            case["report"],
            "case {i}"
        );

        // The notifications, built into a report here: the same bytes.
        let list_file = dir.path().join(format!("notifications-{i}.json"));
        std::fs::write(
            &list_file,
            serde_json::to_string(&case["notifications"]).unwrap(),
        )
        .unwrap();
        let o = run(&["trace", "show", list_file.to_str().unwrap(), "--json"]);
        if case["report"]["children"]
            .as_array()
            .is_some_and(|c| c.is_empty())
        {
            assert_eq!(o.status.code(), Some(1), "case {i}");
            continue;
        }
        assert!(o.status.success(), "case {i}: {}", stderr(&o));
        assert_eq!(stdout(&o), from_report, "case {i}: {}", case["why"]);

        // And the tree of both.
        let tree = ok(&["trace", "show", list_file.to_str().unwrap()]);
        assert_eq!(
            tree,
            ok(&["trace", "show", report_file.to_str().unwrap()]),
            "case {i}"
        );
    }
}

#[test]
fn json_is_pythons_bytes() {
    // Python: json.dumps(r, indent=2, separators=(",", ": ")) of this report.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    std::fs::write(
        &file,
        r#"{"info": {"name": "total", "started": 0, "finished": 1, "last_trace_started": 0},
            "children": [{"info": {"name": "wsgi", "project": null, "x": "é😀", "f": 1e16,
            "e": [], "o": {}}, "trace_id": "t", "parent_id": "b", "children": []}],
            "stats": {"wsgi": {"count": 1, "duration": 1}}}"#,
    )
    .unwrap();
    let out = ok(&["trace", "show", file.to_str().unwrap(), "--json"]);
    let want = r#"{
  "info": {
    "name": "total",
    "started": 0,
    "finished": 1,
    "last_trace_started": 0
  },
  "children": [
    {
      "info": {
        "name": "wsgi",
        "project": null,
        "x": "\u00e9\ud83d\ude00",
        "f": 1e+16,
        "e": [],
        "o": {}
      },
      "trace_id": "t",
      "parent_id": "b",
      "children": []
    }
  ],
  "stats": {
    "wsgi": {
      "count": 1,
      "duration": 1
    }
  }
}
"#;
    assert_eq!(out, want);
}

#[test]
fn start_prints_signed_headers() {
    let out = ok(&["trace", "start", "--hmac-key", "SECRET_KEY"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let info = lines[0]
        .strip_prefix("X-Trace-Info: ")
        .expect("X-Trace-Info line");
    let hmac = lines[1]
        .strip_prefix("X-Trace-HMAC: ")
        .expect("X-Trace-HMAC line");
    let got = osprofiler::signing::signed_unpack(info, hmac, &["other", "SECRET_KEY"]).unwrap();
    let base = got["base_id"].as_str().unwrap();
    assert_eq!(base.len(), 36);
    assert_eq!(got["parent_id"], base);
    assert!(osprofiler::signing::signed_unpack(info, hmac, &["other"]).is_none());

    let out = ok(&[
        "trace",
        "start",
        "--hmac-key",
        "k",
        "--base-id",
        "b-1",
        "--parent-id",
        "p-1",
    ]);
    let (info, hmac) = osprofiler::signing::pack_ids("b-1", "p-1", "k");
    assert_eq!(out, format!("X-Trace-Info: {info}\nX-Trace-HMAC: {hmac}\n"));

    // A key is required, and may not be empty: usage errors.
    assert_eq!(run(&["trace", "start"]).status.code(), Some(2));
    assert_eq!(
        run(&["trace", "start", "--hmac-key", ""]).status.code(),
        Some(2)
    );
    let help = ok(&["trace", "start", "--help"]);
    assert!(help.contains("curl -H @<(osprofiler trace start"), "{help}");
}

#[test]
fn bad_connection_strings_are_named_masked() {
    let o = run(&[
        "trace",
        "list",
        "--connection-string",
        "nosuch://admin:s3cret@db.example/x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosuch://admin:***@db.example/x"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.sqlite");
    std::fs::write(&corrupt, vec![7u8; 4096]).unwrap();
    let cs = format!("sqlite://{}", corrupt.display());
    for args in [
        vec!["trace", "list", "--connection-string", &cs],
        vec![
            "trace",
            "show",
            "58989008-6a17-49af-9b56-9643d037cdff",
            "--connection-string",
            &cs,
        ],
        vec!["demo", "--connection-string", &cs],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.contains(&corrupt.display().to_string()),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn help_names_the_default_store() {
    let help = ok(&["trace", "show", "--help"]);
    let default = osprofiler::driver::default_connection_string();
    assert!(help.contains(&default), "{help}");
    assert!(help.contains("OSPROFILER_CONNECTION_STRING"), "{help}");
    assert_eq!(run(&["trace", "show"]).status.code(), Some(2));
    assert_eq!(run(&["nonsense"]).status.code(), Some(2));
}
