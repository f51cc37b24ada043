//! The report builder against Python OSprofiler 4.4.0's own reports:
//! `crates/osprofiler/tests/conformance/reports.json` (made by the reference; see the README there) and
//! `crates/osprofiler/tests/conformance/report_edges.json` (behaviours those cases do not reach: repeated
//! names, cycles, strptime leniency, non-string fields, no starts; made by feeding the same
//! notifications to Python's `Driver._append_results` as the Redis driver does, then
//! `_parse_results`).

use osprofiler::report::{
    build_report, report_from_json_file_contents, report_from_json_text, Entry, EntryError, Field,
    Report, ReportBuilder,
};
use serde_json::value::RawValue;
use serde_json::{json, Value};

const REPORTS: &str = include_str!("../../osprofiler/tests/conformance/reports.json");
const EDGES: &str = include_str!("../../osprofiler/tests/conformance/report_edges.json");

struct Case {
    why: String,
    notifications: Vec<Value>,
    report: Value,
}

fn cases() -> Vec<Case> {
    let cases = load(REPORTS);
    assert!(cases.len() >= 12, "expected the 12 reference cases");
    cases
}

fn load(text: &str) -> Vec<Case> {
    let all: Vec<Value> = serde_json::from_str(text).expect("a list of cases");
    all.into_iter()
        .map(|c| Case {
            why: c["why"].as_str().unwrap_or_default().to_owned(),
            notifications: c["notifications"].as_array().cloned().unwrap_or_default(),
            report: c["report"].clone(),
        })
        .collect()
}

/// The notification text as a store returns it (keys in their original order: the
/// workspace enables serde_json's `preserve_order`).
fn raw(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).unwrap()
}

fn raws(c: &Case) -> Vec<Box<RawValue>> {
    c.notifications.iter().map(raw).collect()
}

#[test]
fn every_case_equals_pythons_report() {
    for (i, c) in cases().iter().enumerate() {
        let report = build_report(raws(c));
        assert!(
            report.skipped().is_empty(),
            "case {i}: {:?}",
            report.skipped()
        );
        let ours = serde_json::to_value(&report).unwrap();
        assert!(
            ours == c.report,
            "case {i} ({}) differs:\nours: {ours:#}\nwant: {:#}",
            c.why,
            c.report
        );
    }
}

#[test]
fn key_order_equals_pythons() {
    for (i, c) in cases().iter().enumerate() {
        let report = build_report(raws(c));
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            serde_json::to_string(&c.report).unwrap(),
            "case {i} ({})",
            c.why
        );
    }
}

#[test]
fn pretty_output_reindents_payloads() {
    for (i, c) in cases().iter().enumerate() {
        let report = build_report(raws(c));
        let ours = serde_json::to_string_pretty(&report).unwrap();
        assert_eq!(
            ours,
            serde_json::to_string_pretty(&c.report).unwrap(),
            "case {i}"
        );
    }
    // A payload stored with odd whitespace is laid out again, not pasted.
    let text = r#"{ "name" : "db-start",  "trace_id":"t","parent_id":"b",
        "timestamp":"2020-01-01T00:00:00.000001","info":{"host":"h","a":[1, 2]},
        "project":null,"service":null}"#;
    let report = build_report([RawValue::from_string(text.to_owned()).unwrap()]);
    let pretty = serde_json::to_string_pretty(&report).unwrap();
    assert!(
        pretty.contains(
            "        \"meta.raw_payload.db-start\": {\n          \"name\": \"db-start\",\n"
        ),
        "{pretty}"
    );
    assert!(
        pretty.contains("\"a\": [\n              1,\n              2\n            ]"),
        "{pretty}"
    );
    let compact = serde_json::to_string(&report).unwrap();
    assert!(compact.contains(r#""meta.raw_payload.db-start":{"name":"db-start","trace_id":"t""#));
}

/// The SQL driver's way: fields from columns, the payload separately.
#[test]
fn entries_give_the_same_reports() {
    for (i, c) in cases().iter().enumerate() {
        let mut b = ReportBuilder::new();
        for n in &c.notifications {
            b.append(Entry {
                trace_id: n["trace_id"].as_str().unwrap(),
                parent_id: n["parent_id"].as_str(),
                name: n["name"].as_str().unwrap(),
                project: Field::Value(&n["project"]),
                service: n["service"].as_str().into(),
                host: Field::Value(&n["info"]["host"]),
                timestamp: n["timestamp"].as_str().unwrap(),
                raw_payload: raw(n),
            })
            .unwrap();
        }
        let ours = serde_json::to_string(&b.finish()).unwrap();
        assert_eq!(ours, serde_json::to_string(&c.report).unwrap(), "case {i}");
    }
}

#[test]
fn reports_and_notification_lists_load_from_files() {
    for (i, c) in cases().iter().enumerate() {
        let want = serde_json::to_string(&c.report).unwrap();
        let from_report = Report::from_json_value(c.report.clone()).unwrap();
        assert_eq!(
            serde_json::to_string(&from_report).unwrap(),
            want,
            "case {i}"
        );
        let text = serde_json::to_string_pretty(&c.report).unwrap();
        let loaded = report_from_json_file_contents(&text).unwrap();
        assert_eq!(serde_json::to_string(&loaded).unwrap(), want, "case {i}");
        let list = serde_json::to_string_pretty(&c.notifications).unwrap();
        let built = report_from_json_file_contents(&format!("\n {list}\n")).unwrap();
        assert_eq!(serde_json::to_string(&built).unwrap(), want, "case {i}");
        // Without stats, they are recomputed (in tree order: a file does not say which node
        // the store returned first).
        let mut no_stats = c.report.clone();
        no_stats.as_object_mut().unwrap().shift_remove("stats");
        let recomputed = Report::from_json_value(no_stats).unwrap();
        assert_eq!(
            serde_json::to_value(&recomputed).unwrap(),
            c.report,
            "case {i}"
        );
    }
    assert!(report_from_json_file_contents("3").is_err());
    assert!(report_from_json_file_contents("[1, 2").is_err());
    let e =
        report_from_json_file_contents(r#"{"info": {}, "children": [{"info": {}}]}"#).unwrap_err();
    assert!(e.to_string().contains("children[0]"), "{e}");
    let e = Report::from_json_value(json!({"info": {"finished": 1, "last_trace_started": 1},
        "children": [{"info": {"name": "a", "project": null, "service": null, "host": null,
        "started": "x", "finished": 1}, "trace_id": "t", "parent_id": null, "children": []}]}))
    .unwrap_err();
    assert!(e.to_string().contains("children[0].info.started"), "{e}");
}

fn check(node: osprofiler::report::Node<'_>, want: &Value) {
    let info = node.info();
    assert_eq!(
        node.trace_id().to_string(),
        want["trace_id"].as_str().unwrap()
    );
    assert_eq!(
        node.parent_id().map(|p| p.to_string()).as_deref(),
        want["parent_id"].as_str()
    );
    assert_eq!(info.name(), want["info"]["name"]);
    assert_eq!(info.started(), want["info"]["started"]);
    assert_eq!(info.finished(), want["info"]["finished"]);
    assert_eq!(info.duration(), info.finished() - info.started());
    assert_eq!(
        info.project_str().as_deref(),
        want["info"]["project"].as_str()
    );
    assert_eq!(
        info.service_str().as_deref(),
        want["info"]["service"].as_str()
    );
    assert_eq!(info.host_str().as_deref(), want["info"]["host"].as_str());
    let exc = info
        .exception()
        .map(|e| serde_json::from_str::<Value>(e.get()).unwrap());
    assert_eq!(exc.as_ref(), want["info"].get("exception"));
    match want["info"].get("exception") {
        Some(Value::String(s)) if s == "None" => assert_eq!(info.error(), None),
        None => assert_eq!(info.error(), None),
        Some(_) => assert!(info.error().is_some()),
    }
    for (name, payload) in info.payloads() {
        let v: Value = serde_json::from_str(payload.get()).unwrap();
        assert_eq!(v, want["info"][format!("meta.raw_payload.{name}")]);
        assert_eq!(info.payload(name).map(RawValue::get), Some(payload.get()));
    }
    let kids = want["children"].as_array().unwrap();
    assert_eq!(node.children().len(), kids.len());
    for (n, w) in node.children().zip(kids) {
        check(n, w);
    }
    assert_eq!(serde_json::to_value(node).unwrap(), *want);
}

fn check_report(report: &Report, want: &Value) {
    let roots = want["children"].as_array().unwrap();
    assert_eq!(report.roots().len(), roots.len());
    for (n, w) in report.roots().zip(roots) {
        check(n, w);
    }
}

#[test]
fn accessors_walk_the_tree_as_the_json_says() {
    for c in cases() {
        let report = build_report(raws(&c));
        assert_eq!(
            report.is_empty(),
            c.report["children"].as_array().unwrap().is_empty()
        );
        assert_eq!(report.finished(), c.report["info"]["finished"].as_i64());
        assert_eq!(
            report.last_trace_started(),
            c.report["info"]["last_trace_started"].as_i64()
        );
        let stats: Vec<(String, Value)> = report
            .stats()
            .map(|(n, s)| (n.to_owned(), serde_json::to_value(s).unwrap()))
            .collect();
        let want: Vec<(String, Value)> = c.report["stats"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(stats, want);
        check_report(&report, &c.report);
        // Built from a list's text: notifications are kept as spans of that text.
        let list = serde_json::to_string(&c.notifications).unwrap();
        check_report(&report_from_json_text(list).unwrap(), &c.report);
        // Read back from a report file.
        check_report(
            &Report::from_json_value(c.report.clone()).unwrap(),
            &c.report,
        );
    }
}

#[test]
fn malformed_notifications_are_skipped_with_reasons() {
    let c = &cases()[2];
    let mut list: Vec<Box<RawValue>> = Vec::new();
    let mut n0 = c.notifications[0].clone();
    let bad: Vec<String> = vec![
        "[]".into(),
        "null".into(),
        r#"{"name": "x-start"}"#.into(),
        {
            n0["timestamp"] = json!("2026-13-01T00:00:00.0");
            n0.to_string()
        },
        {
            n0["timestamp"] = json!(12);
            n0.to_string()
        },
        {
            n0["timestamp"] = c.notifications[0]["timestamp"].clone();
            n0["name"] = Value::Null;
            n0.to_string()
        },
        {
            n0["name"] = json!("db-start");
            n0.as_object_mut().unwrap().shift_remove("parent_id");
            n0.to_string()
        },
    ];
    for (i, n) in c.notifications.iter().enumerate() {
        if let Some(b) = bad.get(i) {
            list.push(RawValue::from_string(b.clone()).unwrap());
        }
        list.push(raw(n));
    }
    let report = build_report(list);
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&c.report).unwrap()
    );
    let skipped = report.skipped();
    let positions: Vec<usize> = skipped.iter().map(|s| s.position).collect();
    assert_eq!(positions, [0, 2, 4, 6, 8, 10, 12]);
    assert_eq!(skipped[0].error, EntryError::NotAnObject);
    assert_eq!(skipped[1].error, EntryError::NotAnObject);
    assert_eq!(skipped[2].error, EntryError::Missing("trace_id"));
    assert!(
        matches!(&skipped[3].error, EntryError::Timestamp(e) if e.reason() == "month out of range")
    );
    assert_eq!(
        skipped[4].error.to_string(),
        "`timestamp` is a number, expected a string"
    );
    assert_eq!(
        skipped[5].error.to_string(),
        "`name` is null, expected a string"
    );
    assert_eq!(skipped[6].error, EntryError::Missing("parent_id"));
    assert_eq!(
        skipped[3].to_string(),
        "notification #6 skipped: bad `timestamp`: time data \"2026-13-01T00:00:00.0\" does \
         not match format '%Y-%m-%dT%H:%M:%S.%f': month out of range"
    );
}

fn n(name: &str, trace_id: &str, parent_id: &str, ts: &str, info: Value) -> Box<RawValue> {
    raw(
        &json!({"name": name, "base_id": "B", "trace_id": trace_id, "parent_id": parent_id,
        "timestamp": ts, "info": info, "project": "p", "service": "s"}),
    )
}

#[test]
fn edge_cases_equal_pythons_reports() {
    let cases = load(EDGES);
    assert!(cases.len() >= 6);
    for (i, c) in cases.iter().enumerate() {
        let report = build_report(raws(c));
        assert!(
            report.skipped().is_empty(),
            "edge case {i}: {:?}",
            report.skipped()
        );
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            c.report,
            "edge case {i} ({})",
            c.why
        );
        assert_eq!(
            serde_json::to_string_pretty(&report).unwrap(),
            serde_json::to_string_pretty(&c.report).unwrap(),
            "edge case {i} ({})",
            c.why
        );
        let loaded = Report::from_json_value(c.report.clone()).unwrap();
        assert_eq!(
            serde_json::to_string(&loaded).unwrap(),
            serde_json::to_string(&c.report).unwrap(),
            "edge case {i}"
        );
    }
}

/// Where Python fails outright, we keep going: a stop whose `info` is not an object gets
/// exception "None" and a null host (Python's Redis driver raises on `n["info"]["host"]`).
#[test]
fn non_object_info_is_taken_as_no_info() {
    let report = build_report([
        n(
            "a-start",
            "A",
            "B",
            "2020-01-01T00:00:00.000",
            json!({"host": "h"}),
        ),
        n("d-stop", "D", "A", "2020-01-01T00:00:00.001999", json!([1])),
        n(
            "e-stop",
            "E",
            "A",
            "2020-01-01T00:00:00.002",
            json!("text with info in it"),
        ),
    ]);
    assert!(report.skipped().is_empty());
    let a = report.roots().next().unwrap();
    let kids: Vec<_> = a.children().collect();
    assert_eq!(kids.len(), 2);
    for k in kids {
        assert_eq!(k.info().host().get(), "null");
        assert_eq!(k.info().exception().map(RawValue::get), Some(r#""None""#));
    }
}

#[test]
fn empty_and_stop_only_reports() {
    let empty = build_report(Vec::new());
    assert!(empty.is_empty());
    assert_eq!(
        serde_json::to_string(&empty).unwrap(),
        r#"{"info":{"name":"total","started":0,"finished":null,"last_trace_started":null},"children":[],"stats":{}}"#
    );
    let stops = build_report([n(
        "x-stop",
        "X",
        "B",
        "2020-01-01T00:00:00.5",
        json!({"host": "h"}),
    )]);
    assert_eq!(stops.finished(), Some(0));
    assert_eq!(stops.last_trace_started(), None);
}

#[test]
fn siblings_in_the_same_millisecond_keep_store_order() {
    let mk = |order: &[&str]| {
        build_report(order.iter().map(|id| {
            n(
                "k-start",
                id,
                "R",
                "2020-01-01T00:00:00.0001",
                json!({"host": "h"}),
            )
        }))
    };
    let ids = |r: &Report| {
        r.roots()
            .map(|n| n.trace_id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&mk(&["c", "a", "b"])), ["c", "a", "b"]);
    assert_eq!(ids(&mk(&["b", "c", "a"])), ["b", "c", "a"]);
}

fn chain(depth: usize) -> Report {
    build_report((0..depth).map(|i| {
        n(
            "deep-start",
            &format!("t{i}"),
            &format!("t{}", i.wrapping_sub(1)),
            "2020-01-01T00:00:00.0",
            json!({"host": "h"}),
        )
    }))
}

#[test]
fn deep_reports_serialize_up_to_the_limit_then_fail_instead_of_overflowing() {
    let max = osprofiler::report::MAX_SERIALIZE_DEPTH;
    // In a test thread (2 MiB of stack), unoptimized, pretty: the deepest allowed report.
    let ok = chain(max);
    let pretty = serde_json::to_string_pretty(&ok).unwrap();
    let value = serde_json::to_value(&ok).unwrap();
    assert_eq!(serde_json::to_string_pretty(&value).unwrap(), pretty);
    // Every node is named "deep", plus the stats key.
    assert_eq!(pretty.matches("\"deep\"").count(), max + 1);

    let report = chain(max + 10);
    assert_eq!(report.node_count(), max + 10);
    let mut node = report.roots().next().unwrap();
    let mut levels = 1;
    while let Some(child) = node.children().next() {
        node = child;
        levels += 1;
    }
    assert_eq!(levels, max + 10);
    let e = serde_json::to_string(&report).unwrap_err();
    assert!(e.to_string().contains("deeper than"), "{e}");
    assert!(serde_json::to_value(&report).is_err());
}
