//! `trace show --html` opened in a real browser: Debian's Chromium, headless, with no network
//! use, dumps the DOM after the page's script ran; a row per point, the request's label, the
//! error marked, and the details of the point named in the URL must be in it, and an info
//! holding `</script>` must show as text without breaking the page. Skipped with a message when Chromium is missing; a
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
        // Time for the page's asynchronous work (it unzips the embedded report) before the dump.
        .arg("--virtual-time-budget=20000")
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
        dom.contains("data-state=\"ready\""),
        "the page's script did not finish:\n{dom}"
    );
    assert!(!dom.contains("data-pwned=\"1\""), "the info's script ran");
    assert!(
        !dom.contains("<b id=\"pwned\">"),
        "the info's markup was parsed"
    );
    // Offline: no link back to a collector.
    assert!(
        dom.contains("class=\"brand hidden\" id=\"home-link\""),
        "the offline page links to a collector:\n{dom}"
    );

    // The waterfall: a row per point (a small trace: all on screen), the wsgi point labelled
    // with its request, an error row marked.
    let ids = trace_ids(&report);
    assert!(ids.len() >= 5, "{ids:?}");
    for id in ids.iter().take(12) {
        assert!(
            dom.contains(&format!("data-trace-id=\"{id}\"")),
            "no row for {id} in:\n{dom}"
        );
    }
    assert!(dom.contains("POST /v2.1/servers"), "{dom}");
    assert!(
        dom.split("class=\"").any(|c| {
            let classes = c.split('"').next().unwrap_or("");
            classes.split(' ').any(|w| w == "row") && classes.split(' ').any(|w| w == "error")
        }),
        "no error row in:\n{dom}"
    );

    // A point named in the URL is selected and its details shown, the evil info as text.
    let wsgi = report["children"][0]["trace_id"].as_str().unwrap();
    let dom = rendered_dom(&browser, &page, &format!("#point={wsgi}"));
    assert!(dom.contains("data-state=\"ready\""), "{dom}");
    assert!(!dom.contains("data-pwned=\"1\""), "the info's script ran");
    assert!(
        !dom.contains("<b id=\"pwned\">"),
        "the info's markup was parsed"
    );
    let details = &dom[dom.find("id=\"details\"").expect("a details pane")..];
    assert!(details.contains(">wsgi<"), "{details}");
    assert!(details.contains("/v2.1/servers"), "{details}");
    assert!(
        details.contains("&lt;/script&gt;&lt;b id="),
        "the evil info is not shown as text:\n{details}"
    );
}

/// The trace ids of a report's points, depth first.
fn trace_ids(node: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for child in node["children"].as_array().into_iter().flatten() {
        out.push(child["trace_id"].as_str().unwrap().to_owned());
        out.extend(trace_ids(child));
    }
    out
}
