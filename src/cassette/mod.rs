//! HTTP cassettes: record what a real engine answers to YAML, replay it
//! offline, byte for byte, in the same order.
//!
//! A [`Cassette`] wraps any engine (usually [`HyperEngine`](crate::engine::HyperEngine)).
//! Every request the client sends through it is one interaction: replayed
//! from the file when one matches, otherwise sent to the inner engine and
//! recorded (as the [`Mode`] allows). Errors are interactions too, so a
//! retry test recorded against a flaky server replays identically.
//!
//! ```
//! use wiretape::cassette::{Cassette, Environment, Mode};
//! use wiretape::mock::{MockEngine, respond_ok};
//! use wiretape::Client;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("greeting.yaml");
//! let api = MockEngine::new(|_| async { Ok(respond_ok("hello")) });
//!
//! // Record: the file does not exist yet, so `Once` records.
//! let cassette = Cassette::builder(&path)
//!     .environment(Environment::clean()) // ignore WIRETAPE_RECORD and CI here
//!     .build(api)?;
//! let client = Client::builder().engine(cassette.clone()).build()?;
//! assert_eq!(client.get("http://api.test/hi").send().await?.text().await?, "hello");
//! cassette.finish()?;
//!
//! // Replay: no engine behind it can answer, the tape does.
//! let offline = MockEngine::queue().build();
//! let cassette = Cassette::builder(&path).mode(Mode::Replay).environment(Environment::clean()).build(offline)?;
//! let client = Client::builder().engine(cassette).build()?;
//! assert_eq!(client.get("http://api.test/hi").send().await?.text().await?, "hello");
//! # Ok::<(), wiretape::Error>(())
//! # }).unwrap();
//! ```

mod filter;
pub mod format;
pub mod import;
mod matching;
mod record;
mod replay;
mod store;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

pub use self::filter::{DEFAULT_REDACTED_HEADERS, REDACTED};
pub use self::format::{FORMAT_VERSION, Interaction, Tape};
pub use self::matching::{CassetteMiss, Match, NearMiss, RequestParts};
pub use self::replay::Timing;

use self::filter::{Filters, JsonPath};
use self::format::{RecordedRequest, RecordedResponse};
use self::matching::{MissContext, miss_report};
use self::record::RecordOptions;
use self::replay::{Index, Lookup};
use self::store::{CassetteLock, file_error};
use crate::engine::{BoxFuture, Capabilities, Engine};
use crate::ws::WsConnection;
use crate::{Body, Error, Request, Response, Result};

/// The environment variable that overrides every cassette's mode for a run:
/// `once`, `new_episodes`, `none` (replay only), `all` (re-record) or
/// `passthrough`.
pub const RECORD_ENV: &str = "WIRETAPE_RECORD";

/// What a cassette does with requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Replay if the file exists (a miss is an error), else record it. The
    /// default. When `CI` is set, a missing file is an error instead.
    #[default]
    Once,
    /// Replay what matches; record the rest and append it to the file.
    NewEpisodes,
    /// Never touch the inner engine; a miss is an error.
    Replay,
    /// Record everything anew and replace the file.
    Record,
    /// Neither replay nor record: the inner engine answers everything.
    Passthrough,
}

impl Mode {
    /// The name `WIRETAPE_RECORD` uses for this mode.
    pub fn env_name(self) -> &'static str {
        match self {
            Mode::Once => "once",
            Mode::NewEpisodes => "new_episodes",
            Mode::Replay => "none",
            Mode::Record => "all",
            Mode::Passthrough => "passthrough",
        }
    }

    fn from_env_name(value: &str) -> Result<Mode> {
        match value.trim().to_ascii_lowercase().as_str() {
            "once" => Ok(Mode::Once),
            "new_episodes" => Ok(Mode::NewEpisodes),
            "none" | "replay" => Ok(Mode::Replay),
            "all" | "record" => Ok(Mode::Record),
            "passthrough" => Ok(Mode::Passthrough),
            other => Err(Error::invalid(format!(
                "{RECORD_ENV}={other:?} is not a mode; use once, new_episodes, none, all or passthrough"
            ))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Once => "once",
            Mode::NewEpisodes => "new_episodes",
            Mode::Replay => "replay",
            Mode::Record => "record",
            Mode::Passthrough => "passthrough",
        })
    }
}

/// The environment a cassette reads its overrides from: `WIRETAPE_RECORD`
/// and `CI`. Read from the process once by [`Environment::from_process`]
/// (the default); tests set their own so they never race on process
/// variables.
///
/// ```
/// use wiretape::cassette::Environment;
///
/// let on_ci = Environment::clean().ci(true);
/// let rerecord = Environment::clean().record("all");
/// # let _ = (on_ci, rerecord);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    record: Option<String>,
    ci: bool,
}

impl Environment {
    /// What the process environment says.
    pub fn from_process() -> Environment {
        let record = std::env::var(RECORD_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let ci = std::env::var("CI")
            .map(|v| !matches!(v.trim(), "" | "0" | "false"))
            .unwrap_or(false);
        Environment { record, ci }
    }

    /// No override and not on CI.
    pub fn clean() -> Environment {
        Environment::default()
    }

    /// Overrides the mode as `WIRETAPE_RECORD=value` would.
    pub fn record(mut self, value: impl Into<String>) -> Environment {
        self.record = Some(value.into());
        self
    }

    /// Whether this is a CI run.
    pub fn ci(mut self, ci: bool) -> Environment {
        self.ci = ci;
        self
    }
}

/// `cassettes/<name>.yaml` under the calling crate's `CARGO_MANIFEST_DIR`;
/// without a name, the current test's name (its thread's name, `::` becoming
/// folders).
///
/// ```
/// let path = wiretape::cassette_path!("users_api");
/// assert!(path.ends_with("cassettes/users_api.yaml"));
/// ```
#[macro_export]
macro_rules! cassette_path {
    () => {
        $crate::cassette::path_in(
            env!("CARGO_MANIFEST_DIR"),
            &$crate::cassette::current_test_name(),
        )
    };
    ($name:expr) => {
        $crate::cassette::path_in(env!("CARGO_MANIFEST_DIR"), $name)
    };
}

/// `dir/cassettes/<name>.yaml`, with `::` in `name` becoming folders: what
/// [`cassette_path!`](crate::cassette_path) expands to.
pub fn path_in(dir: impl AsRef<Path>, name: &str) -> PathBuf {
    let mut path = dir.as_ref().join("cassettes");
    for part in name.split("::") {
        path.push(part);
    }
    path.set_extension("yaml");
    path
}

/// The running test's name: the current thread's name, which the test
/// harness sets to the test's path.
pub fn current_test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

/// Configures a [`Cassette`]. Built with [`Cassette::builder`].
pub struct CassetteBuilder {
    path: PathBuf,
    mode: Mode,
    matchers: Vec<Match>,
    repeats: bool,
    filters: Filters,
    problems: Vec<String>,
    options: RecordOptions,
    timestamps: bool,
    timing: Timing,
    environment: Option<Environment>,
    error_on_unused: bool,
}

impl fmt::Debug for CassetteBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CassetteBuilder")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("matchers", &self.matchers)
            .finish_non_exhaustive()
    }
}

impl CassetteBuilder {
    /// The mode (default [`Mode::Once`]); `WIRETAPE_RECORD` overrides it.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The matchers, replacing the default `[Match::method(), Match::uri()]`.
    pub fn match_on(mut self, matchers: impl IntoIterator<Item = Match>) -> Self {
        self.matchers = matchers.into_iter().collect();
        self
    }

    /// Lets a request replay an interaction already used once all matching
    /// ones are used (the latest used one answers again).
    pub fn allow_playback_repeats(mut self, allow: bool) -> Self {
        self.repeats = allow;
        self
    }

    /// Writes `placeholder` instead of header `name`'s values (requests and
    /// responses).
    pub fn filter_header(mut self, name: &str, placeholder: &str) -> Self {
        self.filters.header(name, placeholder);
        self
    }

    /// Records header `name` as it is, even if it is redacted by default
    /// (see [`DEFAULT_REDACTED_HEADERS`]).
    pub fn keep_header(mut self, name: &str) -> Self {
        self.filters.keep_header(name);
        self
    }

    /// Writes `placeholder` instead of query parameter `param`'s value.
    pub fn filter_query(mut self, param: &str, placeholder: &str) -> Self {
        self.filters.query(param, placeholder);
        self
    }

    /// Replaces what `regex` matches in text bodies (only its first capture
    /// group, when it has one) by `placeholder`. An invalid regex is reported
    /// by [`build`](Self::build).
    pub fn filter_body(mut self, regex: &str, placeholder: &str) -> Self {
        match regex::Regex::new(regex) {
            Ok(regex) => self.filters.body_regex(regex, placeholder),
            Err(err) => self.problems.push(format!("body filter {regex:?}: {err}")),
        }
        self
    }

    /// Replaces the values a JSON path selects in JSON bodies (requests and
    /// responses) by `placeholder`: `$.access_token`, `$.items[*].secret`,
    /// `$['odd key'][0]`. An invalid path is reported by
    /// [`build`](Self::build).
    pub fn filter_json_path(mut self, path: &str, placeholder: &str) -> Self {
        match JsonPath::parse(path) {
            Ok(path) => self.filters.json_path(path, placeholder),
            Err(err) => self.problems.push(err),
        }
        self
    }

    /// Replaces `value` wherever it appears (URLs, headers, text bodies) by
    /// `placeholder` when recording, and the placeholder in recorded
    /// responses by `value` when replaying (VCR's `filter_sensitive_data`).
    pub fn filter_sensitive_data(mut self, placeholder: &str, value: &str) -> Self {
        self.filters.sensitive(placeholder, value);
        self
    }

    /// Stores gzip and deflate response bodies decoded, dropping
    /// `Content-Encoding`, so they read well in review. Off by default:
    /// bodies are stored exactly as received.
    pub fn decode_compressed(mut self, decode: bool) -> Self {
        self.options.decode_compressed = decode;
        self
    }

    /// Writes `recorded_at` on each new interaction (off by default, to keep
    /// diffs quiet).
    pub fn record_timestamps(mut self, record: bool) -> Self {
        self.timestamps = record;
        self
    }

    /// How replay paces responses (default [`Timing::Instant`]).
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Where `WIRETAPE_RECORD` and `CI` are read from (default: the process,
    /// when [`build`](Self::build) runs).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Makes [`Cassette::finish`] fail when recorded interactions were never
    /// replayed.
    pub fn error_on_unused(mut self, error: bool) -> Self {
        self.error_on_unused = error;
        self
    }

    /// Opens the cassette around `inner`: reads the file when the mode
    /// replays, takes the file's lock when it records.
    pub fn build<E: Engine>(self, inner: E) -> Result<Cassette<E>> {
        let path = self.path;
        if !self.problems.is_empty() {
            return Err(Error::invalid(format!(
                "cassette {}: {}",
                path.display(),
                self.problems.join("; ")
            )));
        }
        let environment = self.environment.unwrap_or_else(Environment::from_process);
        let mode = match &environment.record {
            Some(value) => Mode::from_env_name(value)?,
            None => self.mode,
        };
        let loaded = match mode {
            Mode::Record | Mode::Passthrough => None,
            _ => store::load(&path)?,
        };
        let (replaying, recording) = match (mode, loaded.is_some()) {
            (Mode::Passthrough, _) => (false, false),
            (Mode::Record, _) => (false, true),
            (Mode::NewEpisodes, exists) => (exists, true),
            (Mode::Replay, true) | (Mode::Once, true) => (true, false),
            (Mode::Replay, false) => {
                return Err(file_error(
                    &path,
                    format!(
                        "the cassette does not exist and mode replay never records; \
                         record it with {RECORD_ENV}=all"
                    ),
                ));
            }
            (Mode::Once, false) if environment.ci => {
                return Err(file_error(
                    &path,
                    format!(
                        "the cassette does not exist, and on CI (the CI variable is set) mode once \
                         does not record; record it locally by running this test without CI set \
                         (or with {RECORD_ENV}=all), then commit the file"
                    ),
                ));
            }
            (Mode::Once, false) => (false, true),
        };
        let loaded = loaded.unwrap_or_default().interactions;
        let index = Index::build(&loaded, &self.matchers).map_err(|err| file_error(&path, err))?;
        let lock = if recording {
            Some(CassetteLock::acquire(&path)?)
        } else {
            None
        };
        Ok(Cassette {
            inner: Arc::new(inner),
            shared: Arc::new(Shared {
                path,
                mode,
                matchers: self.matchers,
                repeats: self.repeats,
                filters: Arc::new(self.filters),
                options: self.options,
                timestamps: self.timestamps,
                timing: self.timing,
                error_on_unused: self.error_on_unused,
                replaying,
                recording,
                state: Mutex::new(State {
                    loaded,
                    index,
                    recorded: Vec::new(),
                    dirty: mode == Mode::Record,
                    replayed: 0,
                }),
                _lock: lock,
            }),
        })
    }
}

/// An engine that records and replays the exchanges of an inner engine.
///
/// Clones share the tape: give one to the client and keep one to call
/// [`finish`](Cassette::finish). The file is also written when the last
/// clone (and the last body still being recorded) is dropped, unless the
/// thread is panicking: a failed test writes nothing half-done.
pub struct Cassette<E> {
    inner: Arc<E>,
    shared: Arc<Shared>,
}

impl<E> Clone for Cassette<E> {
    fn clone(&self) -> Self {
        Cassette {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<E> fmt::Debug for Cassette<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cassette")
            .field("path", &self.shared.path)
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

/// What a cassette did, from [`Cassette::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CassetteReport {
    /// The cassette's path.
    pub path: PathBuf,
    /// The mode in force (after `WIRETAPE_RECORD`).
    pub mode: Mode,
    /// How many requests were answered from the tape.
    pub replayed: usize,
    /// How many interactions were recorded.
    pub recorded: usize,
    /// The recorded interactions never replayed, as `#index METHOD URI`.
    pub unused: Vec<String>,
}

impl Cassette<()> {
    /// A builder for the cassette at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> CassetteBuilder {
        CassetteBuilder {
            path: path.into(),
            mode: Mode::Once,
            matchers: vec![Match::method(), Match::uri()],
            repeats: false,
            filters: Filters::default(),
            problems: Vec::new(),
            options: RecordOptions::default(),
            timestamps: false,
            timing: Timing::Instant,
            environment: None,
            error_on_unused: false,
        }
    }
}

impl<E: Engine> Cassette<E> {
    /// The cassette at `path` around `inner`, with every setting at its
    /// default.
    pub fn new(path: impl Into<PathBuf>, inner: E) -> Result<Cassette<E>> {
        Cassette::builder(path).build(inner)
    }
}

impl<E> Cassette<E> {
    /// The cassette's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The mode in force (after `WIRETAPE_RECORD`).
    pub fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// Whether requests that the tape does not answer go to the inner engine
    /// (and are recorded): a test can start the real server only then.
    pub fn is_recording(&self) -> bool {
        self.shared.recording
    }

    /// Writes the file if anything was recorded, and reports what happened.
    /// Fails when a recorded body is still being read, when writing fails,
    /// or (with [`CassetteBuilder::error_on_unused`]) when interactions were
    /// never replayed.
    pub fn finish(&self) -> Result<CassetteReport> {
        self.shared.save()?;
        let report = self.report();
        if self.shared.error_on_unused && !report.unused.is_empty() {
            return Err(file_error(
                &self.shared.path,
                format!(
                    "{} recorded interaction(s) were never replayed: {}; \
                     remove them or re-record with {RECORD_ENV}=all",
                    report.unused.len(),
                    report.unused.join(", ")
                ),
            ));
        }
        Ok(report)
    }

    /// What happened so far.
    pub fn report(&self) -> CassetteReport {
        let state = self.shared.state();
        let unused = if self.shared.replaying {
            state
                .loaded
                .iter()
                .enumerate()
                .filter(|(i, _)| !state.index.is_used(*i))
                .map(|(i, it)| format!("#{i} {} {}", it.request.method, it.request.uri))
                .collect()
        } else {
            Vec::new()
        };
        CassetteReport {
            path: self.shared.path.clone(),
            mode: self.shared.mode,
            replayed: state.replayed,
            recorded: state.recorded.len(),
            unused,
        }
    }
}

struct Shared {
    path: PathBuf,
    mode: Mode,
    matchers: Vec<Match>,
    repeats: bool,
    filters: Arc<Filters>,
    options: RecordOptions,
    timestamps: bool,
    timing: Timing,
    error_on_unused: bool,
    replaying: bool,
    recording: bool,
    state: Mutex<State>,
    _lock: Option<CassetteLock>,
}

struct State {
    loaded: Vec<Interaction>,
    index: Index,
    recorded: Vec<Slot>,
    dirty: bool,
    replayed: usize,
}

/// A recorded interaction, or one whose response body is still arriving.
enum Slot {
    Pending(RecordedRequest),
    Done(Interaction),
}

enum Outcome {
    Response(RecordedResponse),
    Error(format::RecordedError),
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin(&self, request: RecordedRequest) -> usize {
        let mut state = self.state();
        state.recorded.push(Slot::Pending(request));
        state.recorded.len() - 1
    }

    fn complete(&self, slot: usize, outcome: Outcome) {
        let recorded_at = self.timestamps.then(record::timestamp);
        let mut state = self.state();
        let Some(entry) = state.recorded.get_mut(slot) else {
            return;
        };
        let Slot::Pending(request) = entry else {
            return;
        };
        let request = std::mem::replace(
            request,
            RecordedRequest {
                method: String::new(),
                uri: String::new(),
                headers: Default::default(),
                body: None,
            },
        );
        let (response, error) = match outcome {
            Outcome::Response(response) => (Some(response), None),
            Outcome::Error(error) => (None, Some(error)),
        };
        *entry = Slot::Done(Interaction {
            request,
            response,
            error,
            websocket: None,
            recorded_at,
        });
        state.dirty = true;
    }

    /// Writes the file when something changed.
    fn save(&self) -> Result<()> {
        let mut state = self.state();
        if !state.dirty {
            return Ok(());
        }
        let mut interactions = Vec::with_capacity(state.loaded.len() + state.recorded.len());
        if self.mode == Mode::NewEpisodes {
            interactions.extend(state.loaded.iter().cloned());
        }
        for slot in &state.recorded {
            match slot {
                Slot::Done(interaction) => interactions.push(interaction.clone()),
                Slot::Pending(request) => {
                    return Err(file_error(
                        &self.path,
                        format!(
                            "the response body of {} {} is still being read; \
                             read it to the end or drop it before finish()",
                            request.method, request.uri
                        ),
                    ));
                }
            }
        }
        store::save(
            &self.path,
            &Tape {
                version: FORMAT_VERSION,
                interactions,
            },
        )?;
        state.dirty = false;
        Ok(())
    }

    fn miss(&self, live: &RequestParts, state: &State) -> Error {
        let recorded: Vec<(usize, RequestParts, bool)> = state
            .loaded
            .iter()
            .enumerate()
            .filter_map(|(i, it)| {
                let parts = RequestParts::from_recorded(&it.request).ok()?;
                Some((i, parts, state.index.is_used(i)))
            })
            .collect();
        let used_matches = recorded
            .iter()
            .filter(|(_, parts, used)| {
                *used && self.matchers.iter().all(|m| m.matches(live, parts))
            })
            .count();
        let reason = if used_matches > 0 {
            format!(
                "the {used_matches} matching interaction(s) were already replayed; identical requests \
                 replay once each in recorded order (allow_playback_repeats(true) reuses them)"
            )
        } else if self.mode == Mode::Replay {
            "mode replay never records".to_string()
        } else {
            format!(
                "the cassette exists, so mode {} replays it and records nothing new",
                self.mode
            )
        };
        let context = MissContext {
            cassette: self.path.clone(),
            mode: self.mode.to_string(),
            reason,
        };
        Error::CassetteMiss(Box::new(miss_report(
            live,
            &recorded,
            &self.matchers,
            context,
        )))
    }
}

/// Completes a recording whose exchange was dropped before the inner engine
/// answered (a client-side timeout, a cancelled task) as a request timeout,
/// which is what the caller saw.
struct Abandoned {
    shared: Arc<Shared>,
    slot: usize,
    armed: bool,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let error = format::RecordedError {
            kind: crate::ErrorKind::RequestTimeout,
            message: "the caller stopped waiting before the response arrived".into(),
        };
        self.shared.complete(self.slot, Outcome::Error(error));
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Err(err) = self.save() {
            eprintln!("wiretape: could not save the cassette on drop: {err}");
        }
    }
}

impl<E: Engine> Engine for Cassette<E> {
    fn execute(&self, mut request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async move {
            let shared = &self.shared;
            if shared.mode == Mode::Passthrough {
                return self.inner.execute(request).await;
            }
            // The body is needed whole to match it; requests are small.
            let body: Bytes = request.take_body().collect().await?;
            let live = record::live_parts(&request, &body, &shared.filters);
            let name = request.to_string();
            if shared.replaying {
                let found = {
                    let mut guard = shared.state();
                    let state = &mut *guard;
                    match state
                        .index
                        .find(&live, &state.loaded, &shared.matchers, shared.repeats)
                    {
                        Lookup::Hit(i) => {
                            state.replayed += 1;
                            Some(Ok(replay::replay(
                                &state.loaded[i],
                                request.url(),
                                &name,
                                shared.timing,
                                &shared.filters,
                            )))
                        }
                        Lookup::Miss if !shared.recording => Some(Err(shared.miss(&live, state))),
                        Lookup::Miss => None,
                    }
                };
                match found {
                    Some(Ok(replayed)) => {
                        if let Some(delay) = replayed.delay {
                            tokio::time::sleep(delay).await;
                        }
                        return replayed.outcome;
                    }
                    Some(Err(miss)) => return Err(miss),
                    None => {}
                }
            }
            *request.body_mut() = Body::from(body);
            let head_only = request.method() == http::Method::HEAD;
            let slot = shared.begin(live.to_recorded());
            let mut abandoned = Abandoned {
                shared: shared.clone(),
                slot,
                armed: true,
            };
            let started = tokio::time::Instant::now();
            let outcome = self.inner.execute(request).await;
            abandoned.armed = false;
            drop(abandoned);
            match outcome {
                Err(error) => {
                    shared.complete(slot, Outcome::Error(record::recorded_error(&error)));
                    Err(error)
                }
                Ok(response) => {
                    let owner = shared.clone();
                    Ok(record::tee_response(
                        response,
                        head_only,
                        started,
                        shared.filters.clone(),
                        shared.options.clone(),
                        Box::new(move |recorded| owner.complete(slot, Outcome::Response(recorded))),
                    ))
                }
            }
        })
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        if self.shared.mode == Mode::Passthrough {
            return self.inner.websocket(request);
        }
        Box::pin(async move {
            Err(Error::websocket(
                request.to_string(),
                "cassettes do not record WebSockets yet; use Mode::Passthrough for this connection",
            ))
        })
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.inner.capabilities();
        caps.websocket &= self.shared.mode == Mode::Passthrough;
        caps
    }
}
