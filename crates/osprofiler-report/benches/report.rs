//! Building reports (Python's `_append_results` + `_parse_results`) from realistic traces of
//! 10^4 and 10^5 notifications (see `osprofiler-bench`'s `report_gen`); the 10^6 case and the
//! comparison with Python live in `osprofiler-bench`'s `report_bench` and
//! `scripts/bench_report_vs_python.sh`.
//!
//! Target: a JSON list of 10^6 notifications to a report in about 0.7 s or less on 2 cores
//! (20 times Python OSprofiler 4.4.0, with margin), i.e. well under 1 us per notification.

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use osprofiler_bench::report_gen;
use osprofiler_report::{build_report, report_from_json_file_contents, report_from_json_text};
use serde_json::value::RawValue;

fn raws(texts: &[String]) -> Vec<Box<RawValue>> {
    texts
        .iter()
        .filter_map(|t| RawValue::from_string(t.clone()).ok())
        .collect()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("report");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for n in [10_000usize, 100_000] {
        let texts = report_gen::generate(n, 42);
        let mut list = Vec::new();
        if report_gen::write_json_list(&texts, &mut list).is_err() {
            return;
        }
        let list = String::from_utf8(list).unwrap_or_default();
        g.throughput(Throughput::Elements(n as u64));

        // What drivers do: one notification text each (Redis LRANGE, AMQP messages).
        g.bench_function(format!("build_from_raw/{n}"), |b| {
            b.iter_batched(
                || raws(&texts),
                |input| black_box(build_report(input)),
                BatchSize::PerIteration,
            )
        });
        // What `trace show FILE.json` does: read the list and build (copying the text).
        g.bench_function(format!("from_json_list_text/{n}"), |b| {
            b.iter(|| black_box(report_from_json_file_contents(&list).ok()))
        });
        // The same, handing over the text (no copy: the report keeps it).
        g.bench_function(format!("from_json_list_text_owned/{n}"), |b| {
            b.iter_batched(
                || list.clone(),
                |text| black_box(report_from_json_text(text).ok()),
                BatchSize::PerIteration,
            )
        });
        // Printing it (compact; payloads re-laid-out through a transient Value).
        let report = build_report(raws(&texts));
        g.bench_function(format!("serialize_compact/{n}"), |b| {
            b.iter(|| black_box(serde_json::to_vec(&report).map(|v| v.len()).ok()))
        });
    }
    g.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
