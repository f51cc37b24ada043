//! `trace show --html` opened in a real browser: Debian's Chromium, headless, with no network
//! use, dumps the DOM after the page's script ran; the tree, a timeline bar per point, the
//! stats per kind and the points' infos must be in it, and an info holding `</script>` must
//! show as text without breaking the page. Skipped with a message when Chromium is missing; a
//! failure in CI (scripts/ci-services.sh installs it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_osprofiler");

/// How long Chromium may take to load, run and dump the page.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from),
        )
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !osprofiler_testkit::in_ci(),
            "Chromium is required in CI (scripts/ci-services.sh installs it)"
        );
        eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium), or set CHROMIUM");
    }
    found
}

/// The DOM of `page` (with `#fragment`, if not empty) after its scripts ran, as headless
/// Chromium dumps it.
fn rendered_dom(browser: &Path, page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{fragment}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not dump the page within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .env_remove("OSPROFILER_CONNECTION_STRING")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Counts the points of a report tree.
fn count_points(node: &Value) -> usize {
    node["children"]
        .as_array()
        .map_or(0, |c| c.iter().map(|n| 1 + count_points(n)).sum())
}

#[test]
fn html_page_renders_in_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The demo's trace, from a store, with an info that tries to break out of the page.
    let cs = format!("sqlite://{}", dir.path().join("t.sqlite").display());
    let out = ok(&["demo", "--connection-string", &cs]);
    let id = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("osprofiler trace show "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the demo names its trace")
        .to_owned();
    let mut report: Value = serde_json::from_str(&ok(&[
        "trace",
        "show",
        &id,
        "--connection-string",
        &cs,
        "--json",
    ]))
    .unwrap();
    let evil = "</script><b id=\"pwned\">x</b><script>document.body.setAttribute('data-pwned','1')</script><!--";
    report["children"][0]["info"]["meta.raw_payload.wsgi-start"]["info"]["evil"] = json!(evil);
    let report_file = dir.path().join("report.json");
    std::fs::write(&report_file, report.to_string()).unwrap();
    let page = dir.path().join("trace.html");
    ok(&[
        "trace",
        "show",
        report_file.to_str().unwrap(),
        "--html",
        "--out",
        page.to_str().unwrap(),
    ]);

    let dom = rendered_dom(&browser, &page, "");
    assert!(
        dom.contains("data-rendered=\"true\""),
        "the page's script did not finish:\n{dom}"
    );
    assert!(!dom.contains("data-pwned=\"1\""), "the info's script ran");
    assert!(
        !dom.contains("<b id=\"pwned\">"),
        "the info's markup was parsed"
    );

    // The tree: one row and one timeline bar per point, nested lists.
    let points = count_points(&report);
    assert!(points >= 5, "{points}");
    assert_eq!(dom.matches("<li class=\"point\">").count(), points, "{dom}");
    assert_eq!(dom.matches("<div class=\"bar\"").count(), points);
    assert!(dom.contains("<span class=\"name\">wsgi</span>"));
    assert!(dom.contains("<span class=\"detail\">POST /v2.1/servers</span>"));
    // Bars are placed relative to the whole trace: the root point spans it.
    let total = report["info"]["finished"].as_i64().unwrap();
    let wsgi = &report["children"][0]["info"];
    let wsgi_duration = wsgi["finished"].as_i64().unwrap() - wsgi["started"].as_i64().unwrap();
    assert!(
        dom.contains(&format!(
            "data-started=\"{}\" data-duration=\"{wsgi_duration}\"",
            wsgi["started"]
        )),
        "{dom}"
    );
    if total > 0 {
        // As the page computes it: end and start as percentages of the trace.
        let pct = |v: &Value| v.as_f64().unwrap() / total as f64 * 100.0;
        let width = pct(&wsgi["finished"]) - pct(&wsgi["started"]);
        assert!(
            dom.contains(&format!("width: {}%", trim_float(width))),
            "no bar {width}% wide in:\n{dom}"
        );
    }
    // An error is marked.
    assert!(dom.contains("class=\"row error\""), "{dom}");

    // The stats per kind, with the report's counts and durations.
    for (kind, stat) in report["stats"].as_object().unwrap() {
        let row = format!(
            "<tr class=\"stat\" data-kind=\"{kind}\"><td>{kind}</td><td class=\"count\">{}</td><td class=\"stat-duration\">{}</td></tr>",
            stat["count"], stat["duration"]
        );
        assert!(dom.contains(&row), "{row} missing in:\n{dom}");
    }

    // The details are built when shown (on a click, or all with page.html#details).
    assert!(
        !dom.contains("class=\"details\""),
        "details built before asked for"
    );
    let dom = rendered_dom(&browser, &page, "#details");
    assert!(dom.contains("data-rendered=\"true\""), "{dom}");
    assert!(!dom.contains("data-pwned=\"1\""), "the info's script ran");
    assert!(
        !dom.contains("<b id=\"pwned\">"),
        "the info's markup was parsed"
    );
    assert_eq!(
        dom.matches("<div class=\"details\">").count(),
        points,
        "{dom}"
    );
    // Infos, the evil one as plain text.
    assert!(
        dom.contains("<th>meta.raw_payload.wsgi-start</th>"),
        "{dom}"
    );
    assert!(
        dom.contains("&quot;path&quot;: &quot;/v2.1/servers&quot;")
            || dom.contains("\"path\": \"/v2.1/servers\""),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;/script&gt;&lt;b id=\\\"pwned\\\"&gt;"),
        "{dom}"
    );
    assert!(
        dom.contains("<button type=\"button\" id=\"details-all\">Hide all details</button>"),
        "{dom}"
    );
}

/// A percentage as JavaScript prints it into a style (no trailing zeros).
fn trim_float(v: f64) -> String {
    let s = format!("{v}");
    s.trim_end_matches(".0").to_owned()
}
