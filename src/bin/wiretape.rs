//! The `wiretape` command line: serve wiretape engines on a local socket so
//! that clients in any language can use them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wiretape::cassette::{Cassette, Environment, Match, Mode};
use wiretape::engine::Engine;
use wiretape::fault::{FaultPlan, Faulty};
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
        /// A cassette to replay, never recording. Requests match on method,
        /// path and query, whatever host and port they were recorded against.
        #[arg(long, value_name = "FILE")]
        cassette: Option<PathBuf>,
        /// Replay each recorded interaction as often as it is asked for,
        /// instead of once each in recorded order.
        #[arg(long)]
        repeat: bool,
        /// A YAML fault plan acted on the wire in front of everything served
        /// (resets, empty replies, malformed chunks, slow bodies, …).
        #[arg(long, value_name = "FILE")]
        faults: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Echo { listen } => run(wiretape::mock::echo(), &listen, "echo API").await,
        Command::Serve {
            listen,
            routes,
            cassette,
            repeat,
            faults,
        } => match build_serve_engine(&routes, cassette, repeat) {
            Ok((engine, what)) => match faults {
                None => run(engine, &listen, &what).await,
                Some(file) => match FaultPlan::from_yaml_file(&file) {
                    Ok(plan) => {
                        let what = format!(
                            "{what} with faults from {} (seed {})",
                            file.display(),
                            plan.seed()
                        );
                        run(Faulty::new(engine, plan), &listen, &what).await
                    }
                    Err(err) => Err(err),
                },
            },
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
    cassette: Option<PathBuf>,
    repeat: bool,
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
    let router = Router::new().without_drop_verification().with_not_found();
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
async fn run(engine: impl Engine, listen: &str, what: &str) -> Result<()> {
    let server = server::serve(engine, listen)
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
