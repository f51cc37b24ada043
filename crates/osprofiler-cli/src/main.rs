//! `osprofiler`: show, list and start traces, and run a traced demo (Python OSprofiler's CLI,
//! wire-compatible with it).

#![forbid(unsafe_code)]

mod demo;
mod dot;
mod drivers;
mod html;
mod options;
mod serve;
mod show;
mod start;
mod table;
mod tree;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use show::Format;

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
    /// Run a collector and example services in this process, trace signed requests through
    /// them, show a trace and serve the web UI until Ctrl-C (with --connection-string: store
    /// one trace and exit).
    #[command(after_help = demo::live::HELP)]
    Demo(DemoArgs),
    /// Run the centralized collector: take notifications over HTTP (and AMQP), store them, serve
    /// traces.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

const SERVE_HELP: &str = "\
The collector answers on http://ADDR (https://ADDR with --tls-cert and --tls-key):
  POST /api/v1/notifications            a JSON list of notifications (202; 401 without the token)
  GET  /api/v1/traces                   the traces, newest first (paged, filtered)
  GET  /api/v1/traces/ID                Python's report, as `osprofiler trace show ID --json`
  GET  /api/v1/traces/ID/notifications  the notifications as received
  GET  /healthz, /metrics, /api/v1/openapi.json   (no token needed)
Python OSprofiler reads a PostgreSQL store directly:
  osprofiler trace show ID --json --connection-string postgresql://user@host/db
It logs one line at start (the address and the store, password masked; never the token),
and on SIGTERM or Ctrl-C stops accepting, finishes the requests under way, closes the store
and exits with 0. A store that cannot be opened at start is an error (exit code 1).
With --transport-url it also consumes the queue profiler.info on the exchange `openstack`
([DEFAULT] control_exchange), declared as oslo.messaging declares it, where Python's and
this project's messaging:// drivers publish. A batch is acknowledged only once stored; a
message that is not a notification is set aside in the store's osprofiler_dead_letters
table. While the store fails nothing is acknowledged and the messages wait in RabbitMQ; a
lost broker is reconnected by itself. A broker that does not answer at start is an error.
Several collectors may consume one queue and share one PostgreSQL store.";

#[derive(Debug, Subcommand)]
enum TraceCommand {
    /// Display a trace: a tree with durations, Python's report JSON, an HTML page, or a DOT graph.
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
    /// Storage driver's connection string, e.g. sqlite://PATH, postgresql://USER@HOST/DB,
    /// redis://HOST:6379, messaging:// (with --transport-url), otlp://HOST:4318 (write only),
    /// http://HOST:9411 or https://HOST:9411 (a collector, `osprofiler serve`; a private CA's
    /// PEM file in $OSPROFILER_CA_FILE).
    /// Defaults to $OSPROFILER_CONNECTION_STRING if set, else to the embedded store.
    #[arg(
        long = "connection-string",
        value_name = "CS",
        env = "OSPROFILER_CONNECTION_STRING",
        hide_env_values = true,
        default_value_t = osprofiler::driver::default_connection_string()
    )]
    connection_string: String,
    /// Oslo.messaging transport URL of the message broker, for the messaging:// driver only,
    /// e.g. rabbit://user:password@host:5672/ (several hosts: rabbit://u:p@h1:5672,u:p@h2:5672/).
    /// Defaults to $OSPROFILER_TRANSPORT_URL if set.
    #[arg(
        long = "transport-url",
        value_name = "URL",
        env = "OSPROFILER_TRANSPORT_URL",
        hide_env_values = true,
        value_parser = options::TransportUrlParser
    )]
    transport_url: Option<String>,
    /// Bearer token of the collector, for the http:// driver only (the collector's
    /// `osprofiler serve --token`). Defaults to $OSPROFILER_COLLECTOR_TOKEN if set.
    #[arg(
        long = "token",
        value_name = "TOKEN",
        env = "OSPROFILER_COLLECTOR_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("format").args(["json", "html", "dot"]).multiple(false)))]
struct ShowArgs {
    /// Trace id (base id), or a JSON file holding a report (as --json writes it) or a list of
    /// notifications.
    #[arg(value_name = "ID|FILE")]
    trace: String,
    #[command(flatten)]
    connection: Connection,
    /// How long to wait for the trace to finish, in seconds: reading stops once no
    /// notification came for this long (for the messaging:// driver only).
    #[arg(long = "idle-timeout", value_name = "SECONDS", default_value = "1",
          allow_negative_numbers = true, value_parser = options::parse_idle_timeout)]
    idle_timeout: std::time::Duration,
    /// Print the report as JSON, exactly as Python's `osprofiler trace show --json`.
    /// Without --json, --html or --dot, the trace is shown as a tree with durations.
    #[arg(long)]
    json: bool,
    /// Write one self-contained HTML page (no network access needed): a collapsible tree
    /// with a timeline bar per point, each point's details on a click, and the stats per kind.
    #[arg(long)]
    html: bool,
    /// Accepted for compatibility with Python's CLI; the --html page never loads libraries.
    #[arg(long = "local-libs", hide = true)]
    local_libs: bool,
    /// Print the trace as a Graphviz DOT graph, as Python's `osprofiler trace show --dot`:
    /// one node per point labelled `service:name - N ms`, an edge from parent to child.
    #[arg(long)]
    dot: bool,
    /// Also render the DOT graph with Graphviz's `dot` program into FILE, in the format its
    /// extension names (.pdf, .svg, .png, ...); with no known extension, into FILE.pdf as
    /// Python does. Implies --dot.
    #[arg(long = "render-dot", value_name = "FILE", conflicts_with_all = ["json", "html"])]
    render_dot: Option<PathBuf>,
    /// Write the output (tree, JSON, HTML or DOT) to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    tree: options::TreeArgs,
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
struct ServeArgs {
    /// Address to listen on, HOST:PORT [default: 127.0.0.1:9411, or [collector] listen].
    /// Port 0 takes a free port (the start line names it).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The collector's store: sqlite://PATH or postgresql://USER@HOST/DB (Python's `data`
    /// table beside the collector's own tables) [default: [collector] store, else the
    /// file collector.sqlite next to the embedded default store, here
    /// `STORE_DEFAULT`].
    #[arg(long, value_name = "CS")]
    store: Option<String>,
    /// Require `Authorization: Bearer TOKEN` on the API's routes (ingest and traces)
    /// [default: $OSPROFILER_COLLECTOR_TOKEN, else [collector] token, else none].
    #[arg(
        long,
        value_name = "TOKEN",
        env = "OSPROFILER_COLLECTOR_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Delete the traces whose first notification is older than DAYS (fractions allowed),
    /// at start and then every hour [default: [collector] retention_days, else keep all].
    #[arg(long, value_name = "DAYS", value_parser = serve::parse_retention_days)]
    retention: Option<f64>,
    /// Also consume notifications from RabbitMQ: an oslo.messaging transport URL,
    /// rabbit://USER:PASS@HOST:5672/VHOST [default: $OSPROFILER_TRANSPORT_URL, else
    /// [collector] transport_url, else transport_url of [profiler] or [DEFAULT], else no
    /// AMQP ingest].
    #[arg(
        long = "transport-url",
        value_name = "URL",
        env = "OSPROFILER_TRANSPORT_URL",
        hide_env_values = true,
        value_parser = options::parse_transport_url
    )]
    transport_url: Option<String>,
    /// AMQP: messages stored per batch, one transaction each [default: 500, or [collector]
    /// amqp_batch_size].
    #[arg(long = "amqp-batch-size", value_name = "N", value_parser = serve::parse_batch_size)]
    amqp_batch_size: Option<usize>,
    /// AMQP: unacknowledged messages RabbitMQ may hand over at once, at least the batch
    /// size [default: 2000, or [collector] amqp_prefetch].
    #[arg(long = "amqp-prefetch", value_name = "N", value_parser = serve::parse_prefetch)]
    amqp_prefetch: Option<u16>,
    /// Serve HTTPS instead of HTTP with this PEM certificate chain (the server's certificate
    /// first, then its intermediates); needs --tls-key [default: [collector] tls_cert, else
    /// plain HTTP].
    #[arg(long = "tls-cert", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1) [default: [collector]
    /// tls_key].
    #[arg(long = "tls-key", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// An OpenStack-style INI file: its [collector] section (listen, store, token,
    /// retention_days, transport_url, amqp_batch_size, amqp_prefetch, tls_cert, tls_key)
    /// gives what the command line does not, and so do transport_url and control_exchange
    /// where services read them. Its [profiler] section is checked; its connection_string
    /// is where services send, not the collector's store.
    #[arg(long = "config-file", value_name = "FILE")]
    config_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Instead of running the services and the collector: store one demo trace in CS, show
    /// it and exit (for scripts). CS is a driver's connection string, e.g. sqlite://PATH,
    /// postgresql://USER@HOST/DB, redis://HOST:6379, messaging:// (with --transport-url),
    /// otlp://HOST:4318 (write only), http://HOST:9411 (a collector, `osprofiler serve`).
    /// $OSPROFILER_CONNECTION_STRING is not read here: without this option the demo runs.
    #[arg(long = "connection-string", value_name = "CS")]
    connection_string: Option<String>,
    /// Oslo.messaging transport URL of RabbitMQ. Without --connection-string: the broker the
    /// demo's RPC goes over when it answers within 2 s (default
    /// amqp://guest:guest@127.0.0.1:5672/; else the RPC runs in process). With
    /// --connection-string messaging://: where the trace is sent.
    /// Defaults to $OSPROFILER_TRANSPORT_URL if set.
    #[arg(
        long = "transport-url",
        value_name = "URL",
        env = "OSPROFILER_TRANSPORT_URL",
        hide_env_values = true,
        value_parser = options::TransportUrlParser
    )]
    transport_url: Option<String>,
    /// With --connection-string http://...: the collector's bearer token.
    /// Defaults to $OSPROFILER_COLLECTOR_TOKEN if set.
    #[arg(
        long = "token",
        value_name = "TOKEN",
        env = "OSPROFILER_COLLECTOR_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Without --connection-string: the collector's address, HOST:PORT [default:
    /// 127.0.0.1:9411, or a free loopback port when it is taken]. Port 0 takes a free port.
    #[arg(long, value_name = "ADDR", conflicts_with = "connection_string")]
    listen: Option<String>,
}

impl Connection {
    /// The options the driver is opened with: the connection string, and the broker and
    /// idle timeout of `messaging://`.
    fn driver_options(
        &self,
        idle_timeout: Option<std::time::Duration>,
    ) -> osprofiler::driver::DriverOptions {
        // The http:// driver takes its token from here (it is never part of a URL).
        #[cfg(feature = "http")]
        osprofiler_http::set_token(self.token.clone());
        #[cfg(not(feature = "http"))]
        let _ = &self.token;
        options::driver_options(
            &self.connection_string,
            self.transport_url.as_deref(),
            idle_timeout,
        )
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "y" | "t" => Ok(true),
        "false" | "no" | "off" | "0" | "n" | "f" => Ok(false),
        _ => Err(format!("expected a boolean, got {s:?}")),
    }
}

/// The command line, with the schemes this build knows (the registry's list) in the help
/// of every `--connection-string`.
fn command() -> clap::Command {
    fn with_schemes(mut cmd: clap::Command, schemes: &str) -> clap::Command {
        if cmd
            .get_arguments()
            .any(|a| a.get_id() == "connection_string")
        {
            cmd = cmd.mut_arg("connection_string", |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                let help = help.trim_end_matches('.');
                arg.help(format!("{help}. This build knows {schemes}."))
            });
        }
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        for name in names {
            cmd = cmd.mut_subcommand(name, |c| with_schemes(c, schemes));
        }
        cmd
    }
    let cmd = with_schemes(Cli::command(), &drivers::known_schemes());
    // The default store's path depends on the user: shown as it is here.
    cmd.mut_subcommand("serve", |c| {
        c.mut_arg("store", |arg| {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(help.replace("STORE_DEFAULT", &serve::default_store()))
        })
    })
}

fn main() -> ExitCode {
    drivers::register_all();
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    init_logging(matches!(cli.command, Command::Serve(_)));
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
                let format = Format::from_flags(a.json, a.html, a.dot || a.render_dot.is_some());
                // Python's --local-libs chooses local copies of its page's libraries; ours
                // has none to load.
                let _ = a.local_libs;
                let options = a.connection.driver_options(Some(a.idle_timeout));
                show::show(
                    &a.trace,
                    options,
                    format,
                    &a.tree.options(),
                    a.render_dot.as_deref(),
                    a.out.as_deref(),
                )
                .await
            }
            Command::Trace(TraceCommand::List(a)) => {
                show::list(a.connection.driver_options(None), a.error_trace).await
            }
            Command::Trace(TraceCommand::Start(a)) => {
                start::start(&a.hmac_key, a.base_id.as_deref(), a.parent_id.as_deref())
            }
            Command::Demo(a) => match a.connection_string {
                Some(connection_string) => {
                    let connection = Connection {
                        connection_string,
                        transport_url: a.transport_url,
                        token: a.token,
                    };
                    demo::run(connection.driver_options(None)).await
                }
                None => demo::live::run(a.listen.as_deref(), a.transport_url.as_deref()).await,
            },
            Command::Serve(a) => {
                let given = serve::ServeSettings {
                    listen: a.listen,
                    store: a.store,
                    token: a.token,
                    retention_days: a.retention,
                    transport_url: a.transport_url,
                    exchange: None,
                    prefetch: a.amqp_prefetch,
                    batch_size: a.amqp_batch_size,
                    tls_cert: a.tls_cert,
                    tls_key: a.tls_key,
                };
                let settings = match &a.config_file {
                    Some(file) => serve::read_config_file(file).map(|f| given.or(f)),
                    None => Ok(given),
                };
                match settings {
                    Ok(s) => serve::run(s).await,
                    Err(e) => Err(e),
                }
            }
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
/// `osprofiler serve` also logs its start line and its retention rounds (info).
fn init_logging(serve: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        if serve {
            EnvFilter::new("warn,osprofiler=info")
        } else {
            // The messaging reader reports its progress while it waits for the queue to go
            // quiet.
            EnvFilter::new("warn,osprofiler_messaging=info")
        }
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn connection_string_help_lists_the_registry() {
        drivers::register_all();
        let mut cmd = command();
        for sub in [&["trace", "show"][..], &["trace", "list"], &["demo"]] {
            let mut c = &mut cmd;
            for name in sub {
                c = c.find_subcommand_mut(name).unwrap();
            }
            // Lines wrapped anywhere: compare words.
            let help = c.render_long_help().to_string();
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            for scheme in osprofiler::driver::schemes() {
                assert!(help.contains(&format!("{scheme}://")), "{scheme} in {help}");
            }
            assert!(help.contains("This build knows"), "{help}");
        }
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
