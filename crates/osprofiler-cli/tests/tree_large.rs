//! The tree view of big traces: `--max-depth` and `--fold-under-ms`, run as a user runs them
//! on a file of notifications; the tree of a built report and of a report file the library
//! does not take are the same; a big trace prints one line per point.

use std::path::Path;
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

/// One point: kind, id, parent id, start and stop in ms, what its start says, its error.
struct P {
    kind: &'static str,
    id: &'static str,
    parent: &'static str,
    start: u64,
    stop: u64,
    info: Value,
    error: Option<(&'static str, &'static str)>,
}

fn ts(ms: u64) -> String {
    format!(
        "2026-11-25T04:59:{:02}.{:06}",
        10 + ms / 1000,
        (ms % 1000) * 1000
    )
}

/// The notifications of `points`, start and stop, in time order (starts first on ties).
fn notifications(points: &[P]) -> Value {
    let mut events = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let mut start = p.info.clone();
        start["host"] = json!("h1");
        let mut stop = json!({"host": "h1"});
        if let Some((etype, message)) = p.error {
            stop["etype"] = json!(etype);
            stop["message"] = json!(message);
        }
        for (at, order, suffix, info) in [(p.start, 0, "start", start), (p.stop, 1, "stop", stop)] {
            events.push((
                at,
                order,
                i,
                json!({
                    "name": format!("{}-{suffix}", p.kind), "base_id": "base",
                    "trace_id": p.id, "parent_id": p.parent, "project": "nova",
                    "service": "api", "timestamp": ts(at), "info": info,
                }),
            ));
        }
    }
    events.sort_by_key(|(at, order, i, _)| (*at, *order, *i));
    Value::Array(events.into_iter().map(|e| e.3).collect())
}

fn func(name: &str) -> Value {
    json!({"function": {"name": name}})
}

/// A request whose RPC runs a driver and some instant queries, then three instant queries
/// and an HTTP call.
fn sample() -> Vec<P> {
    let mut points = vec![
        P {
            kind: "wsgi",
            id: "w",
            parent: "base",
            start: 0,
            stop: 100,
            info: json!({"request": {"method": "POST", "path": "/servers", "query": ""}}),
            error: None,
        },
        P {
            kind: "rpc",
            id: "r",
            parent: "w",
            start: 10,
            stop: 60,
            info: func("nova.compute.manager.build"),
            error: None,
        },
    ];
    for (i, id) in ["q1", "q2", "q3", "q4"].into_iter().enumerate() {
        points.push(P {
            kind: "db",
            id,
            parent: "r",
            start: 11 + i as u64,
            stop: 11 + i as u64,
            info: func("nova.db.get"),
            error: (i == 2).then_some(("DBError", "lost connection")),
        });
    }
    points.push(P {
        kind: "driver",
        id: "d",
        parent: "r",
        start: 20,
        stop: 50,
        info: func("nova.virt.spawn"),
        error: None,
    });
    points.push(P {
        kind: "db",
        id: "d1",
        parent: "d",
        start: 30,
        stop: 30,
        info: func("nova.db.save"),
        error: None,
    });
    for (i, id) in ["s1", "s2", "s3"].into_iter().enumerate() {
        points.push(P {
            kind: "db",
            id,
            parent: "w",
            start: 61 + i as u64,
            stop: 61 + i as u64,
            info: json!({"db": {"statement": "SELECT 1"}}),
            error: None,
        });
    }
    points.push(P {
        kind: "http",
        id: "h",
        parent: "w",
        start: 70,
        stop: 90,
        info: json!({"requests": {"method": "GET", "scheme": "http", "hostname": "glance", "port": 9292, "path": "/v2/images"}}),
        error: None,
    });
    points
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(v).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn max_depth_cuts_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "t.json", &notifications(&sample()));
    let full = ok(&["trace", "show", &f]);
    assert_eq!(
        full,
        "\
NAME                                         DURATION  START  PROJECT/SERVICE  HOST
total                                          100 ms   0 ms
└─ wsgi POST /servers                          100 ms   0 ms  nova/api         h1
   ├─ rpc build                                 50 ms  10 ms  nova/api         h1
   │  ├─ db get                                  0 ms  11 ms  nova/api         h1
   │  ├─ db get                                  0 ms  12 ms  nova/api         h1
   │  ├─ db get                                  0 ms  13 ms  nova/api         h1    ! DBError: lost connection
   │  ├─ db get                                  0 ms  14 ms  nova/api         h1
   │  └─ driver spawn                           30 ms  20 ms  nova/api         h1
   │     └─ db save                              0 ms  30 ms  nova/api         h1
   ├─ db SELECT 1                                0 ms  61 ms  nova/api         h1
   ├─ db SELECT 1                                0 ms  62 ms  nova/api         h1
   ├─ db SELECT 1                                0 ms  63 ms  nova/api         h1
   └─ http GET http://glance:9292/v2/images     20 ms  70 ms  nova/api         h1

12 points, 1 error; by kind: wsgi 1x 100 ms, rpc 1x 50 ms, db 8x 0 ms, driver 1x 30 ms, http 1x 20 ms
"
    );

    let cut = ok(&["trace", "show", &f, "--max-depth", "2"]);
    let want = "\
NAME                         DURATION  START  PROJECT/SERVICE  HOST
total                          100 ms   0 ms
└─ wsgi POST /servers          100 ms   0 ms  nova/api         h1
   ├─ rpc build                 50 ms  10 ms  nova/api         h1
   │  └─ … 6 points folded (depth > 2), 1 error
   ├─ db SELECT 1                0 ms  61 ms  nova/api         h1
   ├─ db SELECT 1                0 ms  62 ms  nova/api         h1
   ├─ db SELECT 1                0 ms  63 ms  nova/api         h1
   └─ http GET http://glance:9292/v2/images  20 ms  70 ms  nova/api         h1

12 points (6 shown), 1 error; by kind: wsgi 1x 100 ms, rpc 1x 50 ms, db 8x 0 ms, driver 1x 30 ms, http 1x 20 ms
";
    assert_eq!(normalize(&cut), normalize(want), "{cut}");

    let top = ok(&["trace", "show", &f, "--max-depth", "0"]);
    assert!(
        top.contains("\ntotal ") && top.contains("\n└─ … 12 points folded (depth > 0), 1 error\n"),
        "{top}"
    );
    assert!(
        top.contains("\n12 points (0 shown), 1 error; by kind: "),
        "{top}"
    );
}

/// Cells compared without the padding: the golden texts above are easier to read than to
/// align by hand, and the columns' alignment is checked apart.
fn normalize(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn fold_under_ms_folds_short_subtrees() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "t.json", &notifications(&sample()));
    let folded = ok(&["trace", "show", &f, "--fold-under-ms", "1"]);
    let want = "\
NAME DURATION START PROJECT/SERVICE HOST
total 100 ms 0 ms
└─ wsgi POST /servers 100 ms 0 ms nova/api h1
   ├─ rpc build 50 ms 10 ms nova/api h1
   │  ├─ … 4 points folded (< 1 ms), 1 error
   │  └─ driver spawn 30 ms 20 ms nova/api h1
   │     └─ … 1 point folded (< 1 ms)
   ├─ … 3 points folded (< 1 ms)
   └─ http GET http://glance:9292/v2/images 20 ms 70 ms nova/api h1

12 points (4 shown), 1 error; by kind: wsgi 1x 100 ms, rpc 1x 50 ms, db 8x 0 ms, driver 1x 30 ms, http 1x 20 ms
";
    assert_eq!(normalize(&folded), normalize(want), "{folded}");
    assert_columns_aligned(&folded);

    // A bigger threshold folds the driver with its query; fractions are taken.
    let more = ok(&[
        "trace",
        "show",
        &f,
        "--fold-under-ms",
        "30.5",
        "--max-depth",
        "1",
    ]);
    let want = "\
NAME DURATION START PROJECT/SERVICE HOST
total 100 ms 0 ms
└─ wsgi POST /servers 100 ms 0 ms nova/api h1
   └─ … 11 points folded (depth > 1), 1 error

12 points (1 shown), 1 error; by kind: wsgi 1x 100 ms, rpc 1x 50 ms, db 8x 0 ms, driver 1x 30 ms, http 1x 20 ms
";
    assert_eq!(normalize(&more), normalize(want), "{more}");
    // The driver took 30 ms: folded with the queries before it; the HTTP call with the
    // queries before it.
    let more = ok(&["trace", "show", &f, "--fold-under-ms", "30.5"]);
    assert!(
        more.contains("\n   │  └─ … 6 points folded (< 30.5 ms), 1 error\n"),
        "{more}"
    );
    assert!(
        more.contains("\n   └─ … 4 points folded (< 30.5 ms)\n\n"),
        "{more}"
    );
    assert!(more.contains("\n12 points (2 shown), 1 error; "), "{more}");
    // Nothing that short: the whole tree.
    assert_eq!(
        ok(&["trace", "show", &f, "--fold-under-ms", "0"]),
        ok(&["trace", "show", &f])
    );
}

/// Every point line has its DURATION cell ending where the header's does.
fn assert_columns_aligned(tree: &str) {
    let mut lines = tree.lines();
    let header = lines.next().unwrap();
    let end = header.find("DURATION").unwrap() + "DURATION".len();
    for l in lines.take_while(|l| !l.is_empty()) {
        if l.contains("folded (") {
            continue;
        }
        let chars: Vec<char> = l.chars().collect();
        let cell: String = chars[..end.min(chars.len())].iter().collect();
        assert!(
            cell.ends_with(" ms") || cell.ends_with('?'),
            "{l:?} in\n{tree}"
        );
    }
}

#[test]
fn options_are_for_the_tree_only_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "t.json", &notifications(&sample()));
    for format in ["--json", "--html", "--dot"] {
        for option in [["--max-depth", "1"], ["--fold-under-ms", "1"]] {
            let o = run(&["trace", "show", &f, format, option[0], option[1]]);
            assert_eq!(o.status.code(), Some(2), "{format} {option:?}");
            assert!(
                text(&o.stderr).contains("cannot be used with"),
                "{}",
                text(&o.stderr)
            );
        }
    }
    for bad in [
        ["--max-depth", "-1"],
        ["--max-depth", "x"],
        ["--fold-under-ms", "-1"],
        ["--fold-under-ms", "soon"],
    ] {
        let o = run(&["trace", "show", &f, bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    let help = ok(&["trace", "show", "--help"]);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("--max-depth <N> Tree view: show points down to depth N only"),
        "{help}"
    );
    assert!(
        help.contains(
            "--fold-under-ms <MS> Tree view: fold every point that took less than MS milliseconds"
        ),
        "{help}"
    );
}

#[test]
fn a_report_file_shows_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "t.json", &notifications(&sample()));
    let report_file = dir.path().join("report.json");
    ok(&[
        "trace",
        "show",
        &f,
        "--json",
        "--out",
        report_file.to_str().unwrap(),
    ]);
    let mut report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    let built = report_file.to_str().unwrap().to_owned();
    // A key the library does not know: the file is shown from its JSON as it is.
    report["extra"] = json!("kept");
    let loaded = write(dir.path(), "loaded.json", &report);
    for args in [&[][..], &["--max-depth", "2"], &["--fold-under-ms", "1"]] {
        let mut a = vec!["trace", "show", f.as_str()];
        a.extend_from_slice(args);
        let from_list = ok(&a);
        a[2] = &built;
        assert_eq!(ok(&a), from_list, "{args:?}");
        a[2] = &loaded;
        assert_eq!(ok(&a), from_list, "{args:?}");
    }
}

#[test]
fn a_big_trace_prints_every_point() {
    // 20,000 points: 2,000 requests of a query and an RPC with seven queries inside.
    let mut list = Vec::new();
    for r in 0..2000u64 {
        let base = r * 10;
        let ids: Vec<String> = (0..10).map(|i| format!("p{r}-{i}")).collect();
        let mut points = vec![(ids[0].clone(), "base".to_owned(), "wsgi", base, base + 9)];
        points.push((ids[1].clone(), ids[0].clone(), "db", base, base + 1));
        points.push((ids[2].clone(), ids[0].clone(), "rpc", base + 1, base + 8));
        for i in 3..10 {
            points.push((
                ids[i].clone(),
                ids[2].clone(),
                "db",
                base + i as u64 - 1,
                base + i as u64 - 1,
            ));
        }
        for (id, parent, kind, start, stop) in points {
            for (suffix, at) in [("start", start), ("stop", stop)] {
                list.push(json!({
                    "name": format!("{kind}-{suffix}"), "base_id": "base", "trace_id": id,
                    "parent_id": parent, "project": "p", "service": "s",
                    "timestamp": format!("2026-11-25T05:{:02}:{:02}.{:03}000", at / 60_000, at / 1000 % 60, at % 1000),
                    "info": {"host": "h"},
                }));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "big.json", &Value::Array(list));
    let tree = ok(&["trace", "show", &f]);
    // Header, total, 20,000 points, blank line, summary.
    assert_eq!(tree.lines().count(), 20_004);
    assert!(tree.ends_with("\n20000 points, 0 errors; by kind: wsgi 2000x 18000 ms, db 16000x 2000 ms, rpc 2000x 14000 ms\n"), "{}", &tree[tree.len() - 300..]);
    let top = ok(&["trace", "show", &f, "--max-depth", "1"]);
    assert_eq!(top.lines().count(), 2 + 2000 * 2 + 2);
    assert!(top.contains("\n   └─ … 9 points folded (depth > 1)\n"));
    let short = ok(&["trace", "show", &f, "--fold-under-ms", "2"]);
    // Per request: the wsgi and rpc lines, one line for its first query, one for the seven.
    assert_eq!(short.lines().count(), 2 + 2000 * 4 + 2);
    assert!(
        short.contains("\n   ├─ … 1 point folded (< 2 ms)\n      └─ … 7 points folded (< 2 ms)\n")
            || short.contains("└─ … 7 points folded (< 2 ms)\n"),
        "{}",
        &short[..2000]
    );
}

#[test]
fn a_big_trace_under_one_point() {
    // One request with 20,000 queries: the request is the last (and only) top-level line.
    let mut list = vec![json!({
        "name": "wsgi-start", "base_id": "base", "trace_id": "root", "parent_id": "base",
        "project": "p", "service": "s", "timestamp": "2026-11-25T05:00:00.000000",
        "info": {"host": "h"},
    })];
    for i in 0..20_000u64 {
        for suffix in ["start", "stop"] {
            list.push(json!({
                "name": format!("db-{suffix}"), "base_id": "base", "trace_id": format!("q{i}"),
                "parent_id": "root", "project": "p", "service": "s",
                "timestamp": format!("2026-11-25T05:00:{:02}.{:03}000", i / 1000 % 60, i % 1000),
                "info": {"host": "h"},
            }));
        }
    }
    list.push(json!({
        "name": "wsgi-stop", "base_id": "base", "trace_id": "root", "parent_id": "base",
        "project": "p", "service": "s", "timestamp": "2026-11-25T05:00:30.000000",
        "info": {"host": "h"},
    }));
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "one.json", &Value::Array(list));
    let tree = ok(&["trace", "show", &f]);
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 20_005);
    assert!(lines[2].starts_with("└─ wsgi "), "{}", lines[2]);
    assert!(lines[20_002].starts_with("   └─ db "), "{}", lines[20_002]);
    assert!(lines[20_001].starts_with("   ├─ db "), "{}", lines[20_001]);
}
