//! `wiretape record`: a recording reverse proxy. A client in any language
//! points at the local socket; every exchange goes to the upstream through
//! the real engine and lands in a cassette, exactly as a Rust test's
//! `Cassette<HyperEngine>` would record it (same redaction, same modes,
//! streamed bodies passed through as they arrive, errors recorded).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use url::Url;

use super::proxy::{ReverseProxy, TlsArgs, parse_upstream};
use super::{StatusLine, fail, start, stop_signal};
use crate::Result;
use crate::cassette::{Cassette, CassetteReport, Environment, Mode};
use crate::engine::HyperEngine;

/// What `record` does with a cassette that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RecordMode {
    /// Record a new cassette; an existing one is replayed and nothing new
    /// is recorded (VCR's `once`).
    Once,
    /// Replay what the cassette has, record what it lacks.
    NewEpisodes,
    /// Record everything again, replacing the cassette.
    All,
}

impl From<RecordMode> for Mode {
    fn from(mode: RecordMode) -> Mode {
        match mode {
            RecordMode::Once => Mode::Once,
            RecordMode::NewEpisodes => Mode::NewEpisodes,
            RecordMode::All => Mode::Record,
        }
    }
}

/// The arguments of `wiretape record`.
#[derive(Args, Debug, Clone)]
pub struct RecordArgs {
    /// The API to record, e.g. <https://staging.example.com> (a path prefix
    /// is kept: /v2 + /users → /v2/users).
    #[arg(long, value_name = "URL", value_parser = parse_upstream)]
    pub upstream: Url,
    /// The cassette to write (wiretape YAML).
    #[arg(long, value_name = "FILE")]
    pub cassette: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// What to do with an existing cassette.
    #[arg(long, value_enum, default_value = "once")]
    pub mode: RecordMode,
    /// Upstream TLS.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `wiretape record` until Ctrl-C or SIGTERM, then writes the cassette.
pub async fn run(args: RecordArgs) -> ExitCode {
    match record(args).await {
        Ok(report) => {
            println!(
                "wiretape: recorded {} interaction(s) to {}",
                report.recorded,
                report.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

async fn record(args: RecordArgs) -> Result<CassetteReport> {
    let cassette = recording_cassette(&args.cassette, args.mode.into(), args.tls.engine()?)?;
    if !cassette.is_recording() {
        super::warn(&format!(
            "{} exists: mode once replays it and records nothing new \
             (--mode new_episodes adds to it, --mode all re-records it)",
            args.cassette.display()
        ));
    }
    let proxy = ReverseProxy::new(cassette.clone(), args.upstream.clone());
    let what = format!(
        "recording {} into {}",
        args.upstream,
        args.cassette.display()
    );
    let server = start(proxy, &args.listen, &what).await?;
    let mut status = StatusLine::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let saving = checkpoints(&cassette);
    tokio::pin!(saving);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = &mut saving => {}
            _ = tick.tick() => {
                let report = cassette.report();
                status.show(&format!(
                    "recorded {} interaction(s), replayed {}",
                    report.recorded, report.replayed
                ));
            }
        }
    }
    status.clear();
    // Let exchanges in flight finish, so their bodies are on the tape.
    server.shutdown().await;
    cassette.finish()
}

/// Writes what `cassette` has recorded every few seconds, for as long as it
/// is polled, so that a crash or `kill -9` loses only the last few seconds
/// and memory holds only what is not on disk yet. Saving reads and rewrites
/// the whole file (under its lock, atomically), so the pause after a save
/// is at least ten times as long as the save took: a large tape costs the
/// proxy at most a tenth of its time. The save is file I/O, so it runs on
/// a blocking thread, not on the runtime that serves the proxy. A failed
/// save is reported and tried again; `finish` at the end reports it for
/// good.
pub(crate) async fn checkpoints(cassette: &Cassette<HyperEngine>) {
    let mut pause = CHECKPOINT_EVERY;
    loop {
        tokio::time::sleep(pause).await;
        let started = std::time::Instant::now();
        let saving = cassette.clone();
        let saved = tokio::task::spawn_blocking(move || saving.checkpoint()).await;
        match saved {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => super::warn(&format!("could not save the cassette yet: {err}")),
            Err(err) => super::warn(&format!("the cassette's save stopped: {err}")),
        }
        pause = CHECKPOINT_EVERY.max(started.elapsed() * 10);
    }
}

/// How often a recording is saved at most.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// The cassette `record` and `serve --upstream` write: the library's
/// default redaction, a clean environment (the flags decide the mode, not
/// `WIRETAPE_RECORD` or `CI`), matching on method, path and query whatever
/// host the client used.
pub(crate) fn recording_cassette(
    path: &std::path::Path,
    mode: Mode,
    engine: HyperEngine,
) -> Result<Cassette<HyperEngine>> {
    Cassette::builder(path)
        .mode(mode)
        .environment(Environment::clean())
        .match_on(super::serve::replay_matchers())
        .build(engine)
}
