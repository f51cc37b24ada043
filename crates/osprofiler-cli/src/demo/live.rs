//! `osprofiler demo` without `--connection-string`: the main job. A collector and the three
//! example services run in this process; signed requests go through them; the tree of one
//! trace is printed with its address in the web UI, and the collector keeps serving until
//! Ctrl-C or SIGTERM.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use osprofiler::driver::{DriverOptions, GetReport};

use super::client::{self, Sent, REQUESTS};
use super::collector::{self, RunningCollector};
use super::services::{self, Rpc, Services, PROBE_TIMEOUT};
use super::wait::{self, Progress};
use super::HMAC_KEY;
use crate::show::{emit, Format, ShownReport};

/// The `--help` of `osprofiler demo`, after the options.
pub const HELP: &str = "\
Without --connection-string, `osprofiler demo` runs, all in this one process:
  - a collector (`osprofiler serve`'s) on 127.0.0.1:9411, or on a free loopback port when
    9411 is taken (--listen chooses), over its default store (the file `osprofiler serve`
    uses; its traces are still there after the demo);
  - the example services of crates/osprofiler-examples, each a task with its own trace
    pipeline sending to the collector over HTTP (the http:// driver), as a separate process
    would: `api`, a real HTTP server (axum behind osprofiler-tower's middleware) on a free
    loopback port; `worker` and `dbsvc`, RPC servers on RabbitMQ when the broker of
    --transport-url (default amqp://guest:guest@127.0.0.1:5672/) answers within 2 s, else
    called in process (the server's dispatch run as a task of its own, the trace passed in
    the request context as over RabbitMQ); `dbsvc` runs real SQL on a SQLite file in a
    temporary folder. The first lines say which RPC it was.
Then it sends four POST /servers requests to the API, each in a new trace signed with the
key SECRET_KEY (as `osprofiler trace start --hmac-key SECRET_KEY` signs), one of which fails
in the worker (flavor m1.xlarge: no valid host). A progress line on standard error shows
the wait for each trace to be complete in the collector (every start has its stop and the
count has stopped growing; at most 20 s a trace). It prints the tree of the failed trace,
the addresses of that trace (http://ADDR/traces/ID) and of the trace list (http://ADDR/) in
the web UI, and keeps serving until Ctrl-C or SIGTERM; then it stops the services, delivers
their last points, stops the collector and exits with 0.

With --connection-string CS it runs a smaller workload (two services, one trace with an
error) in this process, stores its trace in CS, prints its tree and how to show it again,
and exits: for scripts. --transport-url is then the broker of messaging://, and --token
the collector's token for http://.";

/// Runs the demo until Ctrl-C or SIGTERM. `listen`: the collector's address (else the
/// default, with a fallback); `transport_url`: the broker to try for the RPC.
pub async fn run(listen: Option<&str>, transport_url: Option<&str>) -> Result<()> {
    if !osprofiler::driver::schemes().iter().any(|s| s == "http") {
        bail!(
            "this osprofiler was built without the cargo feature `http`, which the demo's \
             services send their points with; run `osprofiler demo --connection-string CS`"
        );
    }
    // Handled from the start: a signal while things start stops them cleanly.
    let mut shutdown = Box::pin(crate::serve::shutdown_signal()?);
    let collector = collector::start(listen).await?;
    let collector_url = collector.url();
    let started = tokio::select! {
        s = services::start(&collector_url, transport_url) => Some(s),
        () = &mut shutdown => None,
    };
    let services = match started {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            let _ = collector.stop().await;
            return Err(e);
        }
        None => return collector.stop().await,
    };
    describe(&collector, &services);
    let exercised = tokio::select! {
        r = exercise(&collector, &services) => Some(r),
        () = &mut shutdown => None,
    };
    let outcome = match exercised {
        Some(Ok(())) => {
            println!("Serving until Ctrl-C.");
            shutdown.await;
            Ok(())
        }
        Some(Err(e)) => Err(e),
        None => {
            // Off the progress line, if it was being drawn.
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!();
            }
            Ok(())
        }
    };
    eprintln!("osprofiler demo: stopping");
    let delivered = services.stop().await;
    let stopped = collector.stop().await;
    let counts: Vec<String> = delivered
        .iter()
        .map(|(service, s)| {
            let lost = s.dropped + s.failed;
            if lost > 0 {
                format!("{service} {} ({lost} lost)", s.sent)
            } else {
                format!("{service} {}", s.sent)
            }
        })
        .collect();
    eprintln!(
        "osprofiler demo: stopped; trace points delivered: {}",
        counts.join(", ")
    );
    outcome.and(stopped)
}

/// Says what runs, and which parts are real and which in process.
fn describe(collector: &RunningCollector, services: &Services) {
    println!("osprofiler demo: a collector and three example services, all in this process.");
    let fallback = collector
        .fallback
        .as_ref()
        .map(|why| format!(" ({why})"))
        .unwrap_or_default();
    println!(
        "  collector  {}{fallback}, storing in {}",
        collector.url(),
        collector.store
    );
    println!(
        "  api        http://{}: a real HTTP server (axum behind osprofiler-tower's middleware)",
        services.api
    );
    match &services.rpc {
        Rpc::Amqp {
            url,
            worker_queue,
            dbsvc_queue,
        } => {
            println!("  worker     RPC over RabbitMQ at {url}, queue {worker_queue}");
            println!("  dbsvc      RPC over RabbitMQ at {url}, queue {dbsvc_queue}");
        }
        Rpc::InProcess { url, why } => {
            println!(
                "  worker     RPC in process: no RabbitMQ answered at {url} within {} s ({why}); \
                 each call runs the server's dispatch as a task of its own, the trace in the \
                 request context as over RabbitMQ",
                PROBE_TIMEOUT.as_secs()
            );
            println!("  dbsvc      RPC in process, as the worker's");
        }
    }
    println!(
        "             real SQL on SQLite: {}",
        services.database.display()
    );
    println!(
        "  Each service sends its trace points to the collector over HTTP (the http:// \
         driver), through a pipeline of its own, as a separate process would."
    );
    println!();
}

/// Sends the requests, waits for their traces, prints the tree of the failed one and the
/// addresses to open.
async fn exercise(collector: &RunningCollector, services: &Services) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot make the demo's HTTP client")?;
    let api_url = format!("http://{}", services.api);
    println!(
        "Requests to the API, POST /servers, each a new trace signed with the key {HMAC_KEY}:"
    );
    let mut sent: Vec<Sent> = Vec::new();
    for (name, flavor) in REQUESTS {
        let s = client::create_server(&http, &api_url, name, flavor).await?;
        println!(
            "  {name:<5} {flavor:<10} {:<16} trace {}",
            s.status.to_string(),
            s.base_id
        );
        if let Some(e) = &s.error {
            println!("        {e}");
        }
        sent.push(s);
    }
    println!();
    let progress = Progress::new();
    let total = sent.len();
    for (i, s) in sent.iter().enumerate() {
        let what = format!("trace {}/{total}", i + 1);
        wait::until_complete(&http, &collector.url(), &s.base_id, &what, &progress).await?;
    }

    let shown = sent
        .iter()
        .find(|s| s.failed())
        .or_else(|| sent.last())
        .ok_or_else(|| anyhow!("the demo sent no request"))?;
    let reader = crate::show::open_driver(DriverOptions::new(collector.url())).await?;
    let report = reader
        .get_report(&shown.base_id)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let report = ShownReport::Built(report);
    if report.is_empty() {
        bail!(
            "the trace {} is not in the collector at {}",
            shown.base_id,
            collector.url()
        );
    }
    println!(
        "The trace of POST /servers {} ({}), {}:",
        shown.name,
        shown.flavor,
        if shown.failed() {
            "the one that failed"
        } else {
            "the last one"
        }
    );
    emit(&report, Format::Tree, None)?;
    println!();
    println!("Open it in the web UI:");
    println!(
        "  this trace:  {}/traces/{}",
        collector.url(),
        shown.base_id
    );
    println!("  all traces:  {}/", collector.url());
    Ok(())
}
