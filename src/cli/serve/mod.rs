//! `wiretape serve`: route files and cassettes (of any supported format) on
//! a local socket, `--upstream` to record what the tape lacks, route
//! expectations verified at exit and on demand through the admin API
//! ([`admin`](super::serve::Admin)).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use url::Url;

use super::proxy::{Relocate, ReverseProxy, TlsArgs, parse_upstream};
use super::{fail, start_with, stop_signal};
use crate::cassette::import::{self, Format};
use crate::cassette::{Cassette, CassetteReport, Environment, Match, Mode};
use crate::engine::HyperEngine;
use crate::fault::FaultPlan;
use crate::mock::{MockEngine, Router};
use crate::{Error, Result};

mod admin;

pub use self::admin::{ADMIN_PREFIX, Admin};

/// The arguments of `wiretape serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// A YAML route file (see fixtures/routes/); may be given several times.
    #[arg(long = "routes", value_name = "FILE")]
    pub routes: Vec<PathBuf>,
    /// A cassette to replay: wiretape YAML, Ruby VCR, vcrpy or HAR. Requests
    /// match on method, path and query, whatever host they were recorded
    /// against.
    #[arg(long, value_name = "FILE")]
    pub cassette: Option<PathBuf>,
    /// Replay each recorded interaction as often as it is asked for,
    /// instead of once each in recorded order.
    #[arg(long)]
    pub repeat: bool,
    /// Send what the cassette does not answer to this URL and record it
    /// into the cassette (VCR's new_episodes).
    #[arg(long, value_name = "URL", value_parser = parse_upstream, requires = "cassette")]
    pub upstream: Option<Url>,
    /// Upstream TLS (with --upstream).
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Let route files serve `file:` bodies from DIR too (by default only
    /// from their own directory); may be given several times.
    #[arg(long = "allow-body-files", value_name = "DIR")]
    pub allow_body_files: Vec<PathBuf>,
    /// How many recent requests the routes' journal keeps (older ones are
    /// dropped and counted; call counts are kept apart).
    #[arg(long, value_name = "N", default_value_t = crate::mock::DEFAULT_HISTORY_ENTRIES)]
    pub journal_size: usize,
    /// The socket's limits.
    #[command(flatten)]
    pub limits: super::LimitArgs,
    /// A YAML fault plan acted on the wire in front of routes and cassette
    /// (resets, empty replies, malformed chunks, slow bodies, …); the admin
    /// API is left alone. WIRETAPE_SEED forces its seed.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

/// How `serve` matches live requests to recorded ones: method, path and
/// query, whatever host the client used (it talks to us, not the origin).
pub(crate) fn replay_matchers() -> [Match; 3] {
    [Match::method(), Match::path(), Match::query()]
}

/// What `serve` answers with: the admin layer over a router whose
/// fallback is the cassette, and the recording cassette to finish at exit.
pub struct Served {
    /// The engine to put on the socket.
    pub engine: Admin,
    /// What is served, for the first line.
    pub what: String,
    recorder: Option<Cassette<HyperEngine>>,
}

impl Served {
    /// Builds what `args` asks for, or says what is wrong with it.
    pub fn build(args: &ServeArgs) -> Result<Served> {
        if args.routes.is_empty() && args.cassette.is_none() {
            return Err(Error::invalid(
                "nothing to serve: give one or more --routes FILE, a --cassette FILE, or both",
            ));
        }
        let router = args.allow_body_files.iter().fold(
            Router::new()
                .without_drop_verification()
                .with_not_found()
                .with_journal_limit(args.journal_size),
            |router, dir| router.allow_body_files_from(dir),
        );
        let mut what = Vec::new();
        for file in &args.routes {
            let ids = router.load_yaml_file(file)?;
            what.push(format!("{} route(s) from {}", ids.len(), file.display()));
        }
        let mut recorder = None;
        let router = match (&args.cassette, &args.upstream) {
            (Some(path), Some(upstream)) => {
                if let Some(format) = existing_format(path)?
                    && format != Format::Wiretape
                {
                    return Err(Error::invalid(format!(
                        "--upstream records into wiretape cassettes, and {} is a {}; \
                             convert it first: wiretape convert {} new.yaml",
                        path.display(),
                        format_name(format),
                        path.display()
                    )));
                }
                let cassette =
                    super::record::recording_cassette(path, Mode::NewEpisodes, args.tls.engine()?)?;
                what.push(format!(
                    "cassette {} (recording what it lacks from {upstream})",
                    path.display()
                ));
                recorder = Some(cassette.clone());
                router.with_fallback(ReverseProxy::new(cassette, upstream.clone()))
            }
            (Some(path), None) => {
                what.push(format!("cassette {}", path.display()));
                router.with_fallback(replay_cassette(path, args.repeat)?)
            }
            (None, _) => router,
        };
        let router = match &args.faults {
            Some(file) => {
                let plan = FaultPlan::from_yaml_file(file)?;
                what.push(format!(
                    "faults from {} (seed {})",
                    file.display(),
                    plan.seed()
                ));
                router.with_faults(plan)
            }
            None => router,
        };
        Ok(Served {
            engine: Admin::new(router, args.routes.clone()),
            what: what.join(" and "),
            recorder,
        })
    }

    /// Writes what `--upstream` recorded; `None` without `--upstream`.
    pub fn finish(&self) -> Result<Option<CassetteReport>> {
        self.recorder.as_ref().map(Cassette::finish).transpose()
    }
}

/// Runs `wiretape serve` until Ctrl-C or SIGTERM; exits 1 when route
/// expectations were not met.
pub async fn run(args: ServeArgs) -> ExitCode {
    let served = match Served::build(&args) {
        Ok(served) => served,
        Err(err) => return fail(&err),
    };
    let server = match start_with(
        args.limits.server(),
        served.engine.clone(),
        &args.listen,
        &format!("serving {}", served.what),
    )
    .await
    {
        Ok(server) => server,
        Err(err) => return fail(&err),
    };
    match &served.recorder {
        Some(recorder) => {
            tokio::select! {
                _ = stop_signal() => {}
                _ = super::record::checkpoints(recorder) => {}
            }
        }
        None => stop_signal().await,
    }
    server.shutdown().await;
    let mut code = ExitCode::SUCCESS;
    match served.finish() {
        Ok(Some(report)) => println!(
            "wiretape: recorded {} new interaction(s) into {}",
            report.recorded,
            report.path.display()
        ),
        Ok(None) => {}
        Err(err) => code = fail(&err),
    }
    let verification = served.engine.router().verify();
    if !verification.is_ok() {
        code = fail(&Error::invalid(verification.to_string()));
    }
    code
}

/// The format of the file at `path`, `None` when there is no such file.
fn existing_format(path: &Path) -> Result<Option<Format>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(Error::invalid(format!(
                "cannot read cassette {}: {err}",
                path.display()
            )));
        }
    };
    import::detect(&text).map(Some).ok_or_else(|| {
        Error::invalid(format!(
            "{} is not a wiretape, Ruby VCR or vcrpy cassette, nor a HAR file",
            path.display()
        ))
    })
}

/// The name of a format as the command line spells it.
pub(crate) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Wiretape => "wiretape cassette",
        Format::RubyVcr => "Ruby VCR cassette",
        Format::Vcrpy => "vcrpy cassette",
        Format::Har => "HAR file",
    }
}

/// The cassette at `path`, in any supported format, replayed and never
/// recording; answers pointing at the hosts it was recorded from (absolute
/// redirects, cookie domains) are rewritten onto this server.
fn replay_cassette(path: &Path, repeat: bool) -> Result<Relocate<Cassette<MockEngine>>> {
    existing_format(path)?.ok_or_else(|| {
        Error::invalid(format!(
            "cassette {} does not exist; record one with \
             `wiretape record --upstream URL --cassette {}`, or add --upstream URL \
             to record what is missing while serving",
            path.display(),
            path.display()
        ))
    })?;
    let tape = import::import_file(path)?;
    let mut origins: Vec<Url> = Vec::new();
    for interaction in &tape.interactions {
        if let Ok(mut url) = Url::parse(&interaction.request.uri) {
            url.set_path("/");
            url.set_query(None);
            if !origins.contains(&url) {
                origins.push(url);
            }
        }
    }
    let cassette = Cassette::builder(path)
        .mode(Mode::Replay)
        .environment(Environment::clean())
        .match_on(replay_matchers())
        .allow_playback_repeats(repeat)
        .replay_tape(tape)
        .build(MockEngine::queue().build())?;
    Ok(Relocate::new(cassette, origins))
}
