//! Times building a report from a large trace, and makes the trace file that
//! `scripts/bench_report_vs_python.sh` feeds to both Python OSprofiler and us.
//!
//! ```text
//! cargo run --release -p osprofiler-bench --bin report_bench                   # N = 1,000,000, in memory
//! cargo run --release -p osprofiler-bench --bin report_bench -- mem N          # N notifications, in memory
//! cargo run --release -p osprofiler-bench --bin report_bench -- gen N FILE     # write them as a JSON list
//! cargo run --release -p osprofiler-bench --bin report_bench -- file FILE [OUT]  # time a file; OUT: the report JSON
//! ```
//!
//! `mem` times `build_report` over notifications already held as `Box<RawValue>` texts.
//! `file` times what `trace show FILE.json` does after reading the file: reading (validating)
//! the JSON list from text and building the report (`report_from_json_text`, which keeps the
//! text as the notifications' storage). Both use all cores and print `key=value` lines:
//! seconds, and peak RSS (`VmHWM` of /proc/self/status; in `mem`, reset after generating the
//! input so that it shows the build's peak with the input resident).

use std::time::Instant;

use osprofiler_bench::report_gen;
use osprofiler_report::{build_report, report_from_json_text};
use serde_json::value::RawValue;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds used so far by the whole process, all threads (user + system, from
/// /proc/self/stat, in ticks of 1/100 s): on a shared machine, steadier than wall time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets VmHWM to the current RSS (Linux 4.0+); false if the kernel refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The cores the report may use.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match arg(0) {
        None | Some("mem") => {
            let n: usize = arg(1).unwrap_or("1000000").replace('_', "").parse()?;
            let texts = report_gen::generate(n, 42);
            let bytes: usize = texts.iter().map(String::len).sum();
            let raws: Vec<Box<RawValue>> = texts
                .into_iter()
                .map(RawValue::from_string)
                .collect::<Result<_, _>>()?;
            let reset = reset_peak();
            let rss_before = status_kib("VmRSS:").unwrap_or(0);
            let cpu = cpu_seconds();
            let t = Instant::now();
            let report = build_report(raws);
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu;
            println!("mode=mem");
            println!("threads={}", threads());
            println!("notifications={n}");
            println!("input_bytes={bytes}");
            println!("nodes={}", report.node_count());
            println!("skipped={}", report.skipped().len());
            println!("rust_build_seconds={secs:.3}");
            println!("rust_build_cpu_seconds={cpu:.2}");
            println!("rss_before_build_kib={rss_before}");
            println!("peak_reset={reset}");
            println!("rust_peak_kib={}", status_kib("VmHWM:").unwrap_or(0));
            let t = Instant::now();
            drop(report);
            println!("rust_drop_seconds={:.3}", t.elapsed().as_secs_f64());
        }
        Some("gen") => {
            let (Some(n), Some(path)) = (arg(1), arg(2)) else {
                return Err("usage: report_bench gen N FILE".into());
            };
            let n: usize = n.replace('_', "").parse()?;
            let texts = report_gen::generate(n, 42);
            let file = std::io::BufWriter::new(std::fs::File::create(path)?);
            report_gen::write_json_list(&texts, file)?;
            println!("wrote {n} notifications to {path}");
        }
        Some("file") => {
            let Some(path) = arg(1) else {
                return Err("usage: report_bench file FILE [OUT]".into());
            };
            let t = Instant::now();
            let text = std::fs::read_to_string(path)?;
            let read_secs = t.elapsed().as_secs_f64();
            let input_bytes = text.len();
            let cpu = cpu_seconds();
            let t = Instant::now();
            let report = report_from_json_text(text)?;
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu;
            println!("mode=file");
            println!("threads={}", threads());
            println!("input_bytes={input_bytes}");
            println!("nodes={}", report.node_count());
            println!("skipped={}", report.skipped().len());
            println!("rust_read_seconds={read_secs:.3}");
            println!("rust_parse_and_build_seconds={secs:.3}");
            println!("rust_parse_and_build_cpu_seconds={cpu:.2}");
            println!("rust_peak_kib={}", status_kib("VmHWM:").unwrap_or(0));
            if let Some(out) = arg(2) {
                let t = Instant::now();
                let w = std::io::BufWriter::new(std::fs::File::create(out)?);
                serde_json::to_writer(w, &report)?;
                println!("rust_write_json_seconds={:.3}", t.elapsed().as_secs_f64());
            }
        }
        Some(other) => return Err(format!("unknown mode {other:?} (mem, gen, file)").into()),
    }
    Ok(())
}
