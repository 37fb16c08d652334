//! The `wiretape` command line: serve wiretape engines on a local socket so
//! that clients in any language can use them, record through a proxy, and
//! check and convert cassettes. The commands live in `wiretape::cli`; this
//! file only parses arguments.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use wiretape::cli::{self, convert, inspect, lint, record, serve};

const EXAMPLES: &str = "\
Examples:
  wiretape record --upstream https://staging.example.com --cassette api.yaml --listen 127.0.0.1:8080
  wiretape serve --cassette api.yaml --listen 127.0.0.1:8080
  wiretape serve --cassette api.yaml --upstream https://staging.example.com
  wiretape serve --routes fixtures/routes/users-api.yaml
  wiretape lint cassettes/ --format github
  wiretape convert fixtures/cassettes/ruby_vcr.yml api.yaml
  wiretape inspect api.yaml --json

Exit codes: 0 ok, 1 findings or failures (lint findings, unmet route
expectations, errors), 2 usage errors.";

#[derive(Parser)]
#[command(
    name = "wiretape",
    version,
    about = "Record, replay, mock and lint HTTP traffic for clients in any language",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve an echo API: every HTTP request is answered with its own body,
    /// method and target (x-echo-* headers); WebSocket messages come back.
    Echo {
        /// The address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        limits: cli::LimitArgs,
    },
    /// Serve route files and/or a cassette (wiretape, Ruby VCR, vcrpy or
    /// HAR). Routes answer first; what they do not match is replayed from
    /// the cassette (or, with --upstream, fetched and recorded); anything
    /// else is a 404 whose body explains the closest miss. An admin API
    /// under /__wiretape/ serves the journal, verification, reset and
    /// runtime routes.
    #[command(after_help = "Examples:
  wiretape serve --cassette api.yaml
  wiretape serve --routes routes.yaml --cassette api.yaml --repeat
  wiretape serve --cassette api.yaml --upstream https://staging.example.com

Admin API: GET /__wiretape/requests, POST /__wiretape/verify,
POST /__wiretape/reset, POST /__wiretape/routes, DELETE /__wiretape/routes/NAME")]
    Serve(serve::ServeArgs),
    /// Record a cassette through a reverse proxy: point any client at the
    /// listen address; every exchange with the upstream is recorded
    /// (credentials redacted). Ctrl-C or SIGTERM writes the cassette.
    #[command(after_help = "Example:
  wiretape record --upstream https://staging.example.com --cassette api.yaml --listen 127.0.0.1:8080
  curl http://127.0.0.1:8080/users")]
    Record(record::RecordArgs),
    /// Scan cassettes and route files for secrets; exit 1 with
    /// file:line:column for each finding.
    #[command(after_help = "Examples:
  wiretape lint cassettes/
  wiretape lint cassettes/ --format github --allowlist .wiretape-allow
  wiretape lint api.yaml --fix")]
    Lint(lint::LintArgs),
    /// Convert between wiretape YAML, Ruby VCR, vcrpy and HAR, redacting
    /// credentials on the way.
    #[command(after_help = "Examples:
  wiretape convert old.yml api.yaml
  wiretape convert api.yaml api.har
  wiretape convert api.yaml vcr.yml --to ruby-vcr")]
    Convert(convert::ConvertArgs),
    /// One line per interaction of a cassette: method, URI, status, body
    /// size, latency, WebSocket frames.
    Inspect(inspect::InspectArgs),
    /// Print shell completions for SHELL.
    #[command(after_help = "Example:
  wiretape completions bash > /etc/bash_completion.d/wiretape")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Echo { listen, limits } => echo(&listen, &limits).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Record(args) => record::run(args).await,
        Command::Lint(args) => lint::run(args).await,
        Command::Convert(args) => convert::run(args).await,
        Command::Inspect(args) => inspect::run(args).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "wiretape",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

async fn echo(listen: &str, limits: &cli::LimitArgs) -> ExitCode {
    // A long-running echo keeps no history: nothing reads it.
    let engine = wiretape::mock::echo().with_history_limit(0);
    match cli::serve_until_stopped_with(limits, engine, listen, "serving echo API").await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => cli::fail(&err),
    }
}
