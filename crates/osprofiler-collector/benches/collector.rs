//! The collector over HTTP on loopback (a real TCP listener, reqwest as the client), storing
//! into SQLite (a file in a temporary folder, WAL):
//!
//! - `http_ingest_sqlite/batch_500`: `POST /api/v1/notifications` with 500 new notifications
//!   (10 traces of 25 points each) per request; throughput in notifications per second;
//! - `http_ingest_sqlite/4_senders_batch_500`: four such requests at once;
//! - `get_trace/10000`: `GET /api/v1/traces/{id}` of a trace of 10,000 notifications (one
//!   root, 4,999 children), the body read to its end.
//!
//! Run: `cargo bench -p osprofiler-collector --bench collector`.

#![allow(missing_docs)] // criterion_group! makes public functions without docs.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use osprofiler_collector::{Collector, CollectorConfig};
use osprofiler_sql::store::TraceStore;

fn ts(micros: u64) -> String {
    let s = micros / 1_000_000;
    format!(
        "2026-11-25T{:02}:{:02}:{:02}.{:06}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        micros % 1_000_000
    )
}

#[allow(clippy::too_many_arguments)]
fn note(
    out: &mut String,
    base: &str,
    trace: &str,
    parent: &str,
    name: &str,
    micros: u64,
    service: &str,
) {
    if out.len() > 1 {
        out.push_str(", ");
    }
    out.push_str(&format!(
        r#"{{"name": "{name}", "base_id": "{base}", "trace_id": "{trace}", "parent_id": "{parent}", "timestamp": "{}", "info": {{"db": {{"statement": "SELECT * FROM instances WHERE uuid = %s", "params": {{}}}}, "host": "node-{}"}}, "project": "nova", "service": "{service}"}}"#,
        ts(micros),
        micros % 7
    ));
}

/// A uuid4-shaped id whose bits are a hash of `parts` (spread over the index, as real ids).
fn uuid(parts: [u64; 3]) -> String {
    let mut x = parts[0] ^ parts[1].rotate_left(21) ^ parts[2].rotate_left(42);
    let mut next = || {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// 500 notifications: 10 traces of 25 points (start and stop), random-looking ids from `n`.
fn ingest_body(n: u64) -> String {
    let mut out = String::with_capacity(500 * 330);
    out.push('[');
    for t in 0..10 {
        let base = uuid([n, t, u64::MAX]);
        for p in 0..25u64 {
            let id = uuid([n, t, p]);
            let at = n * 1000 + p * 10;
            note(&mut out, &base, &id, &base, "db-start", at, "api");
            note(&mut out, &base, &id, &base, "db-stop", at + 5, "api");
        }
    }
    out.push(']');
    out
}

/// One trace of `children * 2 + 2` notifications, in `batch`-sized bodies.
fn big_trace(base: &str, children: u64, batch: usize) -> Vec<String> {
    let mut all = Vec::new();
    let root = format!("{base}-root");
    let mut one = |name: &str, trace: &str, parent: &str, at: u64| {
        let mut s = String::from("[");
        note(&mut s, base, trace, parent, name, at, "api");
        all.push(s[1..].to_owned());
    };
    one("wsgi-start", &root, base, 0);
    for c in 0..children {
        let id = format!("{base}-{c}");
        one("db-start", &id, &root, c * 20 + 1);
        one("db-stop", &id, &root, c * 20 + 11);
    }
    one("wsgi-stop", &root, base, children * 20 + 5);
    all.chunks(batch)
        .map(|c| format!("[{}]", c.join(", ")))
        .collect()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cs = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Arc::new(rt.block_on(TraceStore::open(&cs)).unwrap());
    let collector = Collector::new(store, CollectorConfig::default());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = collector.router();
    rt.spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let post_url = format!("http://{addr}/api/v1/notifications");
    let post = |body: String| {
        let (client, url) = (client.clone(), post_url.clone());
        rt.block_on(async move {
            let r = client.post(url).body(body).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 202);
            r.bytes().await.unwrap()
        })
    };

    // The parts: reading a body, and storing it without HTTP.
    let mut group = c.benchmark_group("parts");
    group.throughput(Throughput::Elements(500));
    let body = ingest_body(u64::MAX >> 8);
    group.bench_function("parse_body_500", |b| {
        b.iter(|| osprofiler_collector::parse_body(body.as_bytes()).unwrap())
    });
    let mut m = 1u64 << 40;
    group.bench_function("store_ingest_500", |b| {
        b.iter_batched(
            || {
                m += 1;
                osprofiler_collector::parse_body(ingest_body(m).as_bytes()).unwrap()
            },
            |batch| rt.block_on(collector.store().ingest(batch)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("http_ingest_sqlite");
    group.throughput(Throughput::Elements(500));
    let mut n = 0u64;
    group.bench_function("batch_500", |b| {
        b.iter_batched(
            || {
                n += 1;
                ingest_body(n)
            },
            &post,
            BatchSize::PerIteration,
        )
    });
    // Four senders at once (as several services send to one collector): reading and
    // checking one body overlaps with storing another.
    group.throughput(Throughput::Elements(2000));
    let mut k = 1u64 << 50;
    group.bench_function("4_senders_batch_500", |b| {
        b.iter_batched(
            || {
                (0..4)
                    .map(|_| {
                        k += 1;
                        ingest_body(k)
                    })
                    .collect::<Vec<_>>()
            },
            |bodies| {
                rt.block_on(async {
                    let sends = bodies.into_iter().map(|body| {
                        let (client, url) = (client.clone(), post_url.clone());
                        tokio::spawn(async move {
                            let r = client.post(url).body(body).send().await.unwrap();
                            assert_eq!(r.status().as_u16(), 202);
                            r.bytes().await.unwrap()
                        })
                    });
                    for s in sends.collect::<Vec<_>>() {
                        s.await.unwrap();
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let base = "0badcafe-0000-4000-8000-000000010000";
    for body in big_trace(base, 4_999, 500) {
        post(body);
    }
    let get_url = format!("http://{addr}/api/v1/traces/{base}");
    let mut group = c.benchmark_group("get_trace");
    group.sample_size(30);
    group.bench_function("10000", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client.get(&get_url).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.bytes().await.unwrap().len()
            })
        })
    });
    group.bench_function("10000_store_read", |b| {
        b.iter(|| {
            rt.block_on(collector.store().notifications_json(base))
                .unwrap()
        })
    });
    let list = rt
        .block_on(collector.store().notifications_json(base))
        .unwrap()
        .unwrap();
    group.bench_function("10000_report", |b| {
        b.iter(|| osprofiler_report::report_from_json_text(list.clone()).unwrap())
    });
    let report = osprofiler_report::report_from_json_text(list.clone()).unwrap();
    group.bench_function("10000_write_json", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(8 << 20);
            osprofiler_core::pyjson::write_pretty(&mut out, &report, 2).unwrap();
            out.len()
        })
    });
    group.finish();
}

criterion_group!(collector, benches);
criterion_main!(collector);
