//! `osprofiler`: show, list and start traces, and run a traced demo (Python OSprofiler's CLI,
//! wire-compatible with it).

mod demo;
mod pyjson;
mod show;
mod start;
mod table;
mod tree;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Command-line interface to OSprofiler traces: show, list and start traces, or run a demo.
#[derive(Debug, Parser)]
#[command(name = "osprofiler", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show, list and start traces.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Run a small traced workload in this process, store it, and show its trace.
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
enum TraceCommand {
    /// Display a trace as a tree with durations, or as Python's report JSON.
    Show(ShowArgs),
    /// List all traces (or those that contain an error).
    List(ListArgs),
    /// Print signed trace headers that start a new trace in any profiled service.
    #[command(after_help = START_HELP)]
    Start(StartArgs),
}

const START_HELP: &str = "\
Send the headers with curl:
  curl -H @<(osprofiler trace start --hmac-key SECRET_KEY) http://service/...
or, one header per -H:
  curl -H \"$(osprofiler trace start --hmac-key KEY --base-id ID | head -1)\" \\
       -H \"$(osprofiler trace start --hmac-key KEY --base-id ID | tail -1)\" http://...
The trace id goes to standard error; see the trace afterwards with
  osprofiler trace show <ID>";

#[derive(Debug, Args)]
struct Connection {
    /// Storage driver's connection string (sqlite://PATH, memory://, ...). Defaults to
    /// $OSPROFILER_CONNECTION_STRING if set, else to the embedded store.
    #[arg(
        long = "connection-string",
        value_name = "CS",
        env = "OSPROFILER_CONNECTION_STRING",
        hide_env_values = true,
        default_value_t = osprofiler::driver::default_connection_string()
    )]
    connection_string: String,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// Trace id (base id), or a JSON file holding a report or a list of notifications.
    #[arg(value_name = "ID|FILE")]
    trace: String,
    #[command(flatten)]
    connection: Connection,
    /// Print the report as JSON, exactly as Python's `osprofiler trace show --json`.
    #[arg(long)]
    json: bool,
    /// Write the output to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    connection: Connection,
    /// List only traces that contain an error (Python's `--error-trace True` is accepted).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL",
          default_value = "false", value_parser = parse_bool)]
    error_trace: bool,
}

#[derive(Debug, Args)]
struct StartArgs {
    /// Key to sign the headers with: one of the services' `[profiler] hmac_keys`.
    #[arg(long, value_name = "KEY", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    hmac_key: String,
    /// The trace's id (default: a new uuid4).
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    base_id: Option<String>,
    /// The parent of the first point (default: the base id).
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    parent_id: Option<String>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Where to store the demo trace.
    #[command(flatten)]
    connection: Connection,
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "y" | "t" => Ok(true),
        "false" | "no" | "off" | "0" | "n" | "f" => Ok(false),
        _ => Err(format!("expected a boolean, got {s:?}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Trace(TraceCommand::Show(a)) => {
                show::show(
                    &a.trace,
                    &a.connection.connection_string,
                    a.json,
                    a.out.as_deref(),
                )
                .await
            }
            Command::Trace(TraceCommand::List(a)) => {
                show::list(&a.connection.connection_string, a.error_trace).await
            }
            Command::Trace(TraceCommand::Start(a)) => {
                start::start(&a.hmac_key, a.base_id.as_deref(), a.parent_id.as_deref())
            }
            Command::Demo(a) => demo::run(&a.connection.connection_string).await,
        }
    });
    // Do not wait for tasks a failed command left behind.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Library warnings (a failing store, dropped points) go to standard error; `RUST_LOG`
/// chooses more.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn error_trace_takes_an_optional_value() {
        for (args, want) in [
            (&["osprofiler", "trace", "list"][..], false),
            (&["osprofiler", "trace", "list", "--error-trace"][..], true),
            (
                &["osprofiler", "trace", "list", "--error-trace", "True"][..],
                true,
            ),
            (
                &["osprofiler", "trace", "list", "--error-trace=false"][..],
                false,
            ),
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            match cli.command {
                Command::Trace(TraceCommand::List(a)) => assert_eq!(a.error_trace, want),
                other => panic!("{other:?}"),
            }
        }
    }
}
