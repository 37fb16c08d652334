//! Cassettes: record what a real engine answers to YAML, replay it
//! offline, byte for byte, in the same order; HTTP exchanges and WebSocket
//! sessions alike.
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
//!
//! In a test, name the cassette after the test and let the environment pick
//! the mode: [`cassette_path!`](crate::cassette_path) resolves
//! `cassettes/<test name>.yaml`, `WIRETAPE_RECORD=all` re-records, and on CI
//! a missing cassette is an error rather than a silent recording.
//!
//! ```no_run
//! use wiretape::cassette::{Cassette, Match};
//! use wiretape::{engine::HyperEngine, Client};
//!
//! # async fn test() -> wiretape::Result<()> {
//! let cassette = Cassette::builder(wiretape::cassette_path!())
//!     .match_on([Match::method(), Match::uri(), Match::json_body()])
//!     .filter_json_path("$.access_token", "<ACCESS_TOKEN>")
//!     .filter_sensitive_data("<ACCOUNT>", "acct_1234")
//!     .build(HyperEngine::default())?;
//! let client = Client::builder().engine(cassette.clone()).build()?;
//! // … the test's calls …
//! cassette.finish()?;
//! # Ok(()) }
//! ```
//!
//! Secrets never reach the file by default: credential headers (by name and
//! by pattern, [`is_credential_header`]), credential query, form and JSON
//! keys ([`is_credential_key`]), URL userinfo and JWTs ([`is_jwt`]) become
//! placeholders such as `<ACCESS_TOKEN>`, and a value found in one of them
//! is hidden wherever else it appears in the same interaction. Replay puts
//! the replaying request's own values back in place of the placeholders of
//! its credentials, with no filter to repeat; a credential the request did
//! not carry (a new token in a login response) replays as its placeholder.
//! Each default can be switched off on its own
//! ([`CassetteBuilder::keep_header`], [`keep_key`](CassetteBuilder::keep_key),
//! …).
//!
//! Several recorders, in one process or many, may share a cassette: each
//! save takes the lock `.<name>.lock` beside it (kept, empty), reads the
//! file as it is then, adds its new interactions and writes it atomically;
//! temporary files a killed save left behind are removed by the next save.
//!
//! A WebSocket handshake through a cassette is an interaction too: recorded,
//! the session's frames are kept in both directions as they pass; replayed,
//! the server's side plays as a script that waits for the client's frames and
//! checks them with a [`FrameMatch`] (see [`CassetteBuilder::match_frames`]).
//! A client frame that differs closes the socket with 1008, and
//! [`finish`](Cassette::finish) returns the report, with a diff.
//!
//! The file format (version 1) is described in [`mod@format`]; [`import`]
//! reads Ruby VCR, vcrpy and HAR files (Chrome's `_webSocketMessages`
//! included) and writes HAR.

mod builder;
mod env;
mod filter;
pub mod format;
pub mod import;
mod matching;
mod record;
mod replay;
mod secrets;
mod store;
mod ws;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

pub use self::builder::CassetteBuilder;
pub use self::env::{Environment, Mode, RECORD_ENV, current_test_name, path_in};
pub use self::filter::{DEFAULT_REDACTED_HEADERS, REDACTED};
pub use self::format::{FORMAT_VERSION, Interaction, Tape};
pub use self::matching::{CassetteMiss, Match, NearMiss, RequestParts};
pub use self::replay::Timing;
pub use self::secrets::{is_credential_header, is_credential_key, is_jwt};
pub use self::ws::FrameMatch;

use self::filter::Filters;
use self::format::{RecordedRequest, RecordedResponse};
use self::matching::{MissContext, miss_report};
use self::record::RecordOptions;
use self::replay::{Index, Lookup};
use self::store::file_error;
#[cfg(feature = "cli")]
pub(crate) use self::store::write_atomic;
use crate::engine::{BoxFuture, Capabilities, Engine};
use crate::ws::WsConnection;
use crate::{Body, Error, Request, Response, Result};

/// An engine that records and replays the exchanges of an inner engine.
///
/// A request body is read whole before matching (request bodies are small;
/// a response body is teed chunk by chunk and reaches the caller as it
/// arrives).
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
    /// The replayed WebSocket sessions whose recorded data frames were not
    /// all replayed (the client closed early, or the session is still open),
    /// as `#index METHOD URI: …`.
    pub unplayed_frames: Vec<String>,
    /// The replayed WebSocket sessions that failed because the client sent
    /// a frame the recording does not have, each with its report.
    pub frame_mismatches: Vec<String>,
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

    /// Writes what has been recorded and is complete so far, and frees it
    /// from memory; returns how many interactions this wrote. Exchanges
    /// whose body is still arriving are written by a later call (or by
    /// [`finish`](Cassette::finish)), WebSocket sessions as far as they have
    /// got. A long-running recorder calls this now and then, so that a
    /// crash loses at most the last few exchanges and memory holds only
    /// what is not on disk yet (`wiretape record` does, every few seconds).
    /// The write is atomic and locked like every other.
    pub fn checkpoint(&self) -> Result<usize> {
        self.shared.save(false)
    }

    /// Writes the file if anything was recorded, and reports what happened.
    /// Fails when a recorded body is still being read, when writing fails,
    /// when a replayed WebSocket client sent a frame the recording does not
    /// have (a [`CassetteMiss`] naming the frame, with a diff), or (with
    /// [`CassetteBuilder::error_on_unused`]) when interactions or recorded
    /// WebSocket frames were never replayed.
    pub fn finish(&self) -> Result<CassetteReport> {
        self.shared.save(true)?;
        if let Some(miss) = self.shared.sockets.mismatches().into_iter().next() {
            return Err(Error::CassetteMiss(Box::new(miss)));
        }
        let report = self.report();
        if self.shared.error_on_unused && !report.unplayed_frames.is_empty() {
            return Err(file_error(
                &self.shared.path,
                format!(
                    "recorded WebSocket frames were never replayed: {}",
                    report.unplayed_frames.join("; ")
                ),
            ));
        }
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
            recorded: state.recorded.count(),
            unused,
            unplayed_frames: self.shared.sockets.unplayed(),
            frame_mismatches: self
                .shared
                .sockets
                .mismatches()
                .iter()
                .map(ToString::to_string)
                .collect(),
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
    frames: FrameMatch,
    sockets: Arc<ws::replay::Ledger>,
    error_on_unused: bool,
    replaying: bool,
    recording: bool,
    state: Mutex<State>,
}

struct State {
    loaded: Vec<Interaction>,
    /// The responses of `loaded` as replay hands them out, made when the
    /// file was checked (empty for a tape handed to the builder).
    answers: Vec<Option<replay::Answer>>,
    index: Index,
    recorded: Slots,
    dirty: bool,
    /// Whether this cassette has written its file once (a re-record
    /// replaces the file only the first time).
    written: bool,
    /// The WebSocket sessions among `recorded` as the last save wrote them.
    sockets: Vec<(usize, Interaction)>,
    replayed: usize,
}

/// The exchanges recorded by this cassette, by slot number in the order
/// they began. Saved interactions leave memory: the saved ones at the front
/// are dropped, and `first` is the number of the slot now at the front, so
/// a long-running recorder holds only what is not on disk yet (and what
/// came after it).
#[derive(Default)]
struct Slots {
    first: usize,
    slots: std::collections::VecDeque<Slot>,
}

impl Slots {
    /// Adds a slot and returns its number.
    fn push(&mut self, slot: Slot) -> usize {
        self.slots.push_back(slot);
        self.count() - 1
    }

    /// How many exchanges were ever recorded.
    fn count(&self) -> usize {
        self.first + self.slots.len()
    }

    /// The slot numbered `number`, unless it was saved and dropped.
    fn get_mut(&mut self, number: usize) -> Option<&mut Slot> {
        self.slots.get_mut(number.checked_sub(self.first)?)
    }

    /// The slots still in memory, with their numbers.
    fn iter(&self) -> impl Iterator<Item = (usize, &Slot)> {
        (self.first..).zip(&self.slots)
    }

    /// Marks the slots numbered `numbers` saved, and drops the saved ones
    /// at the front.
    fn saved(&mut self, numbers: &[usize]) {
        for &number in numbers {
            if let Some(slot) = self.get_mut(number) {
                *slot = Slot::Saved;
            }
        }
        while matches!(self.slots.front(), Some(Slot::Saved)) {
            self.slots.pop_front();
            self.first += 1;
        }
    }
}

/// A recorded interaction, one whose response body is still arriving, one
/// already in the file (and no longer in memory), or a WebSocket session
/// (saved as far as it has got).
enum Slot {
    Pending(RecordedRequest),
    Done(Interaction),
    Saved,
    Socket(Arc<ws::record::SessionLog>),
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
        state.recorded.push(Slot::Pending(request))
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

    /// Writes the interactions recorded since the last save, when there are
    /// any: `whole`, all of them, failing if a body is still being read
    /// (`finish`); else the complete ones (`checkpoint`). Under the file's
    /// lock, they are added to what is on disk at that moment (another
    /// process may have saved since this one read it); only a re-record
    /// ([`Mode::Record`]) replaces the file, on its first save. Written
    /// interactions leave memory. Returns how many were written.
    fn save(&self, whole: bool) -> Result<usize> {
        let mut guard = self.state();
        let state = &mut *guard;
        if !state.dirty {
            return Ok(0);
        }
        let mut fresh = Vec::new();
        let mut done = Vec::new();
        let mut grown: Vec<(Interaction, Interaction)> = Vec::new();
        let mut written = Vec::new();
        for (i, slot) in state.recorded.iter() {
            match slot {
                Slot::Done(interaction) => {
                    fresh.push(interaction.clone());
                    done.push(i);
                }
                Slot::Saved => {}
                Slot::Socket(log) => {
                    // A session may still be going: what an earlier save
                    // wrote of it is replaced by what there is now.
                    let now = log.snapshot();
                    written.push((i, now.clone()));
                    match state.sockets.iter().find(|(slot, _)| *slot == i) {
                        Some((_, before)) if *before != now => grown.push((before.clone(), now)),
                        Some(_) => {}
                        None => fresh.push(now),
                    }
                }
                Slot::Pending(request) if whole => {
                    return Err(file_error(
                        &self.path,
                        format!(
                            "the response body of {} {} is still being read; \
                             read it to the end or drop it before finish()",
                            request.method, request.uri
                        ),
                    ));
                }
                Slot::Pending(_) => {}
            }
        }
        let count = fresh.len();
        if count == 0 && grown.is_empty() && state.written {
            // Nothing new since the last write (a session that did not grow).
            return Ok(0);
        }
        let replace = self.mode == Mode::Record && !state.written;
        store::update(&self.path, |on_disk| {
            let mut interactions = match on_disk {
                Some(tape) if !replace => tape.interactions,
                _ => Vec::new(),
            };
            for (before, now) in grown {
                match interactions.iter().position(|it| *it == before) {
                    Some(at) => interactions[at] = now,
                    None => interactions.push(now),
                }
            }
            interactions.extend(fresh);
            Ok(Tape {
                version: FORMAT_VERSION,
                interactions,
            })
        })?;
        state.sockets = written;
        state.recorded.saved(&done);
        state.written = true;
        // A body still arriving marks the state dirty when it completes; a
        // WebSocket session may still grow, so the next save looks again.
        state.dirty = !state.sockets.is_empty();
        Ok(count)
    }

    /// Finds the recorded interaction that answers `live` and makes `answer`
    /// of it (index, interaction and its response as replay hands it out);
    /// a miss error when nothing answers and the cassette does not record,
    /// `None` when it records.
    fn lookup<T>(
        &self,
        live: &RequestParts,
        answer: impl FnOnce(usize, &Interaction, Option<&replay::Answer>) -> T,
    ) -> Option<Result<T>> {
        let mut guard = self.state();
        let state = &mut *guard;
        match state
            .index
            .find(live, &state.loaded, &self.matchers, self.repeats)
        {
            Lookup::Hit(i) => {
                state.replayed += 1;
                let prepared = state.answers.get(i).and_then(Option::as_ref);
                Some(Ok(answer(i, &state.loaded[i], prepared)))
            }
            Lookup::Miss if !self.recording => Some(Err(self.miss(live, state))),
            Lookup::Miss => None,
        }
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
        if let Err(err) = self.save(true) {
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
            let (filters, live) = record::filtered_request(&request, &body, &shared.filters);
            if shared.replaying {
                let found = shared.lookup(&live, |_, interaction, answer| {
                    replay::replay(
                        interaction,
                        answer,
                        request.target(),
                        &request,
                        shared.timing,
                        &filters,
                    )
                });
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
                    let recorded = record::recorded_error(&error, &filters);
                    shared.complete(slot, Outcome::Error(recorded));
                    Err(error)
                }
                Ok(response) => {
                    let owner = shared.clone();
                    Ok(record::tee_response(
                        response,
                        head_only,
                        started,
                        filters,
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
        Box::pin(ws::open(&*self.inner, &self.shared, request))
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.inner.capabilities();
        // A tape with sessions replays them whatever the inner engine is.
        caps.websocket |= self.shared.replaying;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::{Slot, Slots, format};

    fn pending() -> Slot {
        Slot::Pending(format::RecordedRequest {
            method: "GET".into(),
            uri: "http://api.test/".into(),
            headers: Default::default(),
            body: None,
        })
    }

    #[test]
    fn saved_slots_leave_memory_and_keep_their_numbers() {
        let mut slots = Slots::default();
        let numbers: Vec<usize> = (0..3).map(|_| slots.push(pending())).collect();
        assert_eq!(numbers, [0, 1, 2]);
        // Slot 1 is still in flight: only slot 0 can leave the front.
        slots.saved(&[0, 2]);
        assert!(slots.get_mut(0).is_none());
        assert!(matches!(slots.get_mut(1), Some(Slot::Pending(_))));
        assert_eq!(slots.iter().map(|(n, _)| n).collect::<Vec<_>>(), [1, 2]);
        slots.saved(&[1]);
        assert_eq!(slots.iter().count(), 0);
        assert_eq!(slots.count(), 3);
        assert_eq!(slots.push(pending()), 3);
    }
}
