//! The `wiretape` command line: serve wiretape engines on a local socket so
//! that clients in any language can use them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use wiretape::cassette::{Cassette, Environment, Match, Mode};
use wiretape::engine::Engine;
use wiretape::mock::{MockEngine, Router};
use wiretape::{Error, Result, server};

#[derive(Parser)]
#[command(
    name = "wiretape",
    version,
    about = "Serve mocks and cassettes to any HTTP or WebSocket client"
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
        limits: Limits,
    },
    /// Serve route files and/or replay a cassette. Routes answer first; what
    /// they do not match is replayed from the cassette; anything else is a
    /// 404 whose body explains the closest miss.
    Serve {
        /// The address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// A YAML route file (see fixtures/routes/); may be given several times.
        #[arg(long = "routes", value_name = "FILE")]
        routes: Vec<PathBuf>,
        /// Let route files serve `file:` bodies from DIR too (by default
        /// only from their own directory); may be given several times.
        #[arg(long = "allow-body-files", value_name = "DIR")]
        allow_body_files: Vec<PathBuf>,
        /// A cassette to replay, never recording. Requests match on method,
        /// path and query, whatever host and port they were recorded against.
        #[arg(long, value_name = "FILE")]
        cassette: Option<PathBuf>,
        /// Replay each recorded interaction as often as it is asked for,
        /// instead of once each in recorded order.
        #[arg(long)]
        repeat: bool,
        /// How many recent requests the routes' journal keeps (older ones
        /// are dropped and counted; call counts are kept apart).
        #[arg(long, value_name = "N", default_value_t = wiretape::mock::DEFAULT_HISTORY_ENTRIES)]
        journal_size: usize,
        #[command(flatten)]
        limits: Limits,
    },
}

/// What guards the socket of a long-running server (see `server::Server`).
#[derive(clap::Args)]
struct Limits {
    /// Close a connection that sends no complete request head for this
    /// many seconds (also the keep-alive idle timeout).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    header_timeout: u64,
    /// Answer 408 when a request body pauses for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    body_idle_timeout: u64,
    /// Serve at most this many connections at once; more are refused (503).
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_connections: usize,
}

impl Limits {
    fn server(&self) -> server::Server {
        server::Server::new()
            .header_read_timeout(Duration::from_secs(self.header_timeout))
            .body_idle_timeout(Duration::from_secs(self.body_idle_timeout))
            .max_connections(self.max_connections)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Echo { listen, limits } => {
            // A long-running echo keeps no history: nothing reads it.
            let engine = wiretape::mock::echo().with_history_limit(0);
            run(engine, &listen, "echo API", &limits).await
        }
        Command::Serve {
            listen,
            routes,
            allow_body_files,
            cassette,
            repeat,
            journal_size,
            limits,
        } => match build_serve_engine(&routes, &allow_body_files, cassette, repeat, journal_size) {
            Ok((engine, what)) => run(engine, &listen, &what, &limits).await,
            Err(err) => Err(err),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wiretape: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The engine `serve` answers with, and a description for the first line.
fn build_serve_engine(
    routes: &[PathBuf],
    allow_body_files: &[PathBuf],
    cassette: Option<PathBuf>,
    repeat: bool,
    journal_size: usize,
) -> Result<(Box<dyn Engine>, String)> {
    let tape = match &cassette {
        Some(path) => Some(
            Cassette::builder(path)
                .mode(Mode::Replay)
                .environment(Environment::clean())
                .match_on([Match::method(), Match::path(), Match::query()])
                .allow_playback_repeats(repeat)
                .build(MockEngine::queue().build())?,
        ),
        None => None,
    };
    let mut what = Vec::new();
    if routes.is_empty() {
        return match tape {
            Some(tape) => Ok((
                Box::new(tape),
                format!("cassette {}", path_text(cassette.as_ref())),
            )),
            None => Err(Error::invalid(
                "nothing to serve: give one or more --routes FILE, a --cassette FILE, or both",
            )),
        };
    }
    let router = allow_body_files.iter().fold(
        Router::new()
            .without_drop_verification()
            .with_not_found()
            .with_journal_limit(journal_size),
        |router, dir| router.allow_body_files_from(dir),
    );
    for file in routes {
        let ids = router.load_yaml_file(file)?;
        what.push(format!("{} route(s) from {}", ids.len(), file.display()));
    }
    let router = match tape {
        Some(tape) => {
            what.push(format!("cassette {}", path_text(cassette.as_ref())));
            router.with_fallback(tape)
        }
        None => router,
    };
    Ok((Box::new(router), what.join(" and ")))
}

fn path_text(path: Option<&PathBuf>) -> String {
    path.map(|p| p.display().to_string()).unwrap_or_default()
}

/// Serves `engine` until Ctrl-C.
async fn run(engine: impl Engine, listen: &str, what: &str, limits: &Limits) -> Result<()> {
    let server = limits
        .server()
        .serve(engine, listen)
        .await
        .map_err(|err| Error::invalid(format!("cannot listen on {listen}: {err}")))?;
    // The first line says where to connect; tools read it to find the port.
    println!(
        "wiretape: serving {what} on {} (Ctrl-C to stop)",
        server.url("/")
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(())
}
