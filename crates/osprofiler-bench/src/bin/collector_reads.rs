//! The collector's reads at scale, over HTTP on loopback, from a SQLite store:
//!
//! - `GET /api/v1/traces` (first page of 50) over a store of `--traces` traces (default
//!   100,000, of 10 notifications each: 1,000,000 notifications), without a filter and with
//!   each filter (`error`, `service`, `project`, `host`, `since`, `min_duration_ms`, `q`);
//! - `GET /api/v1/traces/{id}` of one trace of `--big` notifications (default 1,000,000,
//!   the generated realistic trace of `report_gen`), against `osprofiler trace show FILE
//!   --json` on the same notifications (the `--cli` binary; default `target/release/
//!   osprofiler`), both writing the same bytes.
//!
//! Prints every run and the medians.
//!
//!     cargo build --release -p osprofiler-cli -p osprofiler-bench
//!     target/release/collector_reads [--traces 100000] [--big 1000000] [--runs 21] [--cli PATH]

use std::sync::Arc;
use std::time::Instant;

use osprofiler_bench::report_gen;
use osprofiler_collector::{Collector, CollectorConfig};
use osprofiler_sql::store::{Incoming, TraceStore};
use serde_json::value::RawValue;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn ts(micros: u64) -> String {
    let s = micros / 1_000_000;
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:06}",
        1 + (s / 86_400) % 28,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        micros % 1_000_000
    )
}

/// Trace `t` of 10 notifications: a wsgi point around 4 db points; one trace in 50 has an
/// error; services, projects and hosts vary.
fn small_trace(t: u64) -> Vec<String> {
    let base = format!("{:08x}-0000-4000-8000-{:012x}", t, t);
    let start = t * 20_000; // one trace every 20 ms
    let services = ["api", "conductor", "compute", "scheduler"];
    let projects = ["nova", "cinder", "neutron", "glance", "keystone"];
    let service = services[(t % 4) as usize];
    let project = projects[(t % 5) as usize];
    let host = format!("node-{}", t % 13);
    let root = format!("{base}-r");
    let mut out = Vec::with_capacity(10);
    let mut note = |name: &str, trace: &str, parent: &str, at: u64, extra: &str| {
        out.push(format!(
            r#"{{"name": "{name}", "base_id": "{base}", "trace_id": "{trace}", "parent_id": "{parent}", "timestamp": "{}", "info": {{"host": "{host}"{extra}}}, "project": "{project}", "service": "{service}"}}"#,
            ts(at)
        ));
    };
    note(
        "wsgi-start",
        &root,
        &base,
        start,
        r#", "request": {"path": "/v2/servers", "method": "GET"}"#,
    );
    for p in 0..4u64 {
        let id = format!("{base}-{p}");
        let at = start + 100 + p * 1000;
        note(
            "db-start",
            &id,
            &root,
            at,
            r#", "db": {"statement": "SELECT * FROM instances WHERE uuid = %s"}"#,
        );
        let extra = if t % 50 == 0 && p == 3 {
            r#", "etype": "OperationalError", "message": "Lost connection""#
        } else {
            ""
        };
        note("db-stop", &id, &root, at + 200 + (t % 7) * 100, extra);
    }
    note(
        "wsgi-stop",
        &root,
        &base,
        start + 5000 + (t % 11) * 1000,
        "",
    );
    out
}

fn incoming(texts: &[String]) -> Vec<Incoming> {
    texts
        .iter()
        .map(|t| Incoming::parse(RawValue::from_string(t.clone()).unwrap()).unwrap())
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces: u64 = arg("--traces").map_or(Ok(100_000), |c| c.parse())?;
    let big: usize = arg("--big").map_or(Ok(1_000_000), |c| c.parse())?;
    let runs: usize = arg("--runs").map_or(Ok(21), |c| c.parse())?;
    let cli = arg("--cli").unwrap_or_else(|| "target/release/osprofiler".into());
    let dir = std::env::temp_dir().join(osprofiler_testkit::unique_name("collector-reads"));
    std::fs::create_dir_all(&dir)?;
    let cs = format!("sqlite://{}", dir.join("store.sqlite").display());
    let store = Arc::new(TraceStore::open(&cs).await?);

    let started = Instant::now();
    let mut batch = Vec::new();
    for t in 0..traces {
        batch.extend(small_trace(t));
        if batch.len() >= 5000 || t + 1 == traces {
            store.ingest(incoming(&batch)).await?;
            batch.clear();
        }
    }
    println!(
        "stored {traces} traces ({} notifications) in {:.1} s",
        traces * 10,
        started.elapsed().as_secs_f64()
    );
    let big_notes = report_gen::generate(big, 42);
    let big_id = serde_json::from_str::<serde_json::Value>(&big_notes[0])?["base_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = Instant::now();
    for chunk in big_notes.chunks(5000) {
        store.ingest(incoming(chunk)).await?;
    }
    println!(
        "stored a trace of {big} notifications in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let collector = Collector::new(store.clone(), CollectorConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = collector.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let t = Instant::now();
            let r = client.get(format!("http://{addr}{path}")).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            if !status.is_success() {
                return Err(format!("{path}: {status}: {}", String::from_utf8_lossy(&body)).into());
            }
            Ok::<_, Box<dyn std::error::Error>>((t.elapsed(), body))
        }
    };

    println!("\nGET /api/v1/traces over {traces} traces (first page of 50), {runs} runs each:");
    let filters = [
        "",
        "&error=true",
        "&service=compute",
        "&project=neutron",
        "&host=node-5",
        "&since=2026-11-01T00:16:40.000000",
        "&min_duration_ms=14",
        "&q=Lost%20connection",
    ];
    for f in filters {
        let path = format!("/api/v1/traces?limit=50{f}");
        let (_, body) = get(path.clone()).await?; // warm
        let n = serde_json::from_slice::<serde_json::Value>(&body)?["traces"]
            .as_array()
            .map_or(0, Vec::len);
        let mut ms = Vec::new();
        for _ in 0..runs {
            ms.push(get(path.clone()).await?.0.as_secs_f64() * 1000.0);
        }
        println!(
            "  {:<40} {n:>3} traces  median {:>7.2} ms  (min {:.2}, max {:.2})",
            if f.is_empty() { "(no filter)" } else { &f[1..] },
            median(&mut ms.clone()),
            ms.iter().copied().fold(f64::MAX, f64::min),
            ms.iter().copied().fold(0.0, f64::max)
        );
    }

    println!("\nA trace of {big} notifications, 5 runs each, interleaved:");
    let file = dir.join("trace.json");
    report_gen::write_json_list(
        &big_notes,
        std::io::BufWriter::new(std::fs::File::create(&file)?),
    )?;
    drop(big_notes);
    let (mut api, mut show) = (Vec::new(), Vec::new());
    let mut same = None;
    for run in 0..5 {
        let (took, body) = get(format!("/api/v1/traces/{big_id}")).await?;
        api.push(took.as_secs_f64());
        let t = Instant::now();
        let out = std::process::Command::new(&cli)
            .args(["trace", "show", file.to_str().unwrap_or_default(), "--json"])
            .output()?;
        let took_show = t.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!("{cli}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        show.push(took_show);
        if run == 0 {
            same = Some(out.stdout.trim_ascii_end() == body.trim_ascii_end());
        }
        println!(
            "  run {run}: GET {:.3} s ({} MiB), trace show FILE --json {took_show:.3} s",
            took.as_secs_f64(),
            body.len() >> 20
        );
    }
    println!(
        "  medians: GET {:.3} s, trace show FILE --json {:.3} s; same bytes: {}",
        median(&mut api),
        median(&mut show),
        same.unwrap_or(false)
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
