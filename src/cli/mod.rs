//! The `wiretape` command line's commands, as library code so that they can
//! be tested and the binary stays a thin argument parser.
//!
//! Each command has its own file: its clap arguments and a `run` that
//! returns the process's [`ExitCode`]. The conventions every command keeps:
//!
//! - **Exit codes**: [`OK`] (0) when all went well, [`FINDINGS`] (1) for
//!   findings, unmet expectations or a failure, [`USAGE`] (2) for a usage
//!   error (clap's own code).
//! - **Output**: plain text, readable without colour; colour (through
//!   `anstream`) only when the stream is a terminal. The first line of a
//!   server command names the URL to connect to, so scripts can read it.
//! - **Errors** say what failed and where, in command-line terms.

pub mod convert;
pub mod inspect;
pub mod lint;
pub mod proxy;
pub mod record;
pub mod serve;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::engine::Engine;
use crate::server::{self, ServerHandle};
use crate::{Error, Result};

/// What guards the socket of a long-running server (see
/// [`Server`](crate::server::Server)): `serve` and `echo` take these flags.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Close a connection that sends no complete request head for this
    /// many seconds (also the keep-alive idle timeout).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Answer 408 when the next piece of a request body has been awaited for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub body_idle_timeout: u64,
    /// Serve at most this many connections at once; more are refused (503).
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_connections: usize,
}

impl Default for LimitArgs {
    fn default() -> LimitArgs {
        LimitArgs {
            header_timeout: 10,
            body_idle_timeout: 30,
            max_connections: 512,
        }
    }
}

impl LimitArgs {
    /// A server with these limits.
    pub fn server(&self) -> server::Server {
        server::Server::new()
            .header_read_timeout(std::time::Duration::from_secs(self.header_timeout))
            .body_idle_timeout(std::time::Duration::from_secs(self.body_idle_timeout))
            .max_connections(self.max_connections)
    }
}

/// Exit code: all went well.
pub const OK: u8 = 0;
/// Exit code: findings, unmet expectations, or a failure.
pub const FINDINGS: u8 = 1;
/// Exit code: a usage error (clap exits with it too).
pub const USAGE: u8 = 2;

/// Prints `err` the way every command reports a failure, and gives the
/// failure's exit code.
pub fn fail(err: &Error) -> ExitCode {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Red.into()));
    anstream::eprintln!("{style}wiretape:{style:#} {err}");
    ExitCode::from(FINDINGS)
}

/// Binds `listen` and serves `engine`, printing the first line
/// (`wiretape: listening on <url> (<what>; …)`) that tools read to find the port.
pub(crate) async fn start(engine: impl Engine, listen: &str, what: &str) -> Result<ServerHandle> {
    start_with(server::Server::new(), engine, listen, what).await
}

/// [`start`] with a configured server (its socket limits).
pub(crate) async fn start_with(
    server: server::Server,
    engine: impl Engine,
    listen: &str,
    what: &str,
) -> Result<ServerHandle> {
    let server = server
        .serve(engine, listen)
        .await
        .map_err(|err| Error::invalid(format!("cannot listen on {listen}: {}", err.message())))?;
    // The listen URL comes first: an upstream URL in `what` must not be
    // mistaken for it.
    println!(
        "wiretape: listening on {} ({what}; Ctrl-C or SIGTERM to stop)",
        server.url("/")
    );
    Ok(server)
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A live status line on stderr, redrawn in place; silent unless stderr is a
/// terminal (a log file gets the final summary only).
pub(crate) struct StatusLine {
    live: bool,
    drawn: bool,
}

impl StatusLine {
    pub(crate) fn new() -> StatusLine {
        StatusLine {
            live: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    pub(crate) fn show(&mut self, text: &str) {
        if self.live {
            eprint!("\r\x1b[2K{text}");
            self.drawn = true;
        }
    }

    pub(crate) fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// A warning on stderr, in yellow on a terminal.
pub(crate) fn warn(text: &str) {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()));
    anstream::eprintln!("{style}wiretape: warning:{style:#} {text}");
}

/// Serves `engine` on `listen` until Ctrl-C or SIGTERM (`wiretape echo`).
pub async fn serve_until_stopped(engine: impl Engine, listen: &str, what: &str) -> Result<()> {
    serve_until_stopped_with(&LimitArgs::default(), engine, listen, what).await
}

/// [`serve_until_stopped`] with the socket limits of `limits`.
pub async fn serve_until_stopped_with(
    limits: &LimitArgs,
    engine: impl Engine,
    listen: &str,
    what: &str,
) -> Result<()> {
    let server = start_with(limits.server(), engine, listen, what).await?;
    stop_signal().await;
    server.shutdown().await;
    Ok(())
}
