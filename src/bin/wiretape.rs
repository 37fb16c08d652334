//! The `wiretape` command line: serve wiretape engines on a local socket so
//! that clients in any language can use them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wiretape::server;

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
    /// Serve an echo API: every HTTP request is answered with its own method,
    /// target and body; WebSocket messages are sent back.
    Echo {
        /// The address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Echo { listen } => echo(&listen).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wiretape: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn echo(listen: &str) -> wiretape::Result<()> {
    let engine = wiretape::mock::echo();
    let server = server::serve(engine, listen)
        .await
        .map_err(|err| wiretape::Error::invalid(format!("cannot listen on {listen}: {err}")))?;
    // The first line says where to connect; tools read it to find the port.
    println!(
        "wiretape: echo API listening on {} (Ctrl-C to stop)",
        server.url("/")
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(())
}
