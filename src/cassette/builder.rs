//! The cassette builder: settings, then opening the file in the right mode.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::filter::{Filters, JsonPath};
use super::record::RecordOptions;
use super::replay::{Index, Timing};
use super::store::{self, file_error};
use super::{Cassette, Environment, FrameMatch, Match, Mode, RECORD_ENV, Shared, State};
use crate::engine::Engine;
use crate::{Error, Result};

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
    frames: FrameMatch,
    environment: Option<Environment>,
    error_on_unused: bool,
    tape: Option<super::Tape>,
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
    /// (see [`DEFAULT_REDACTED_HEADERS`](super::DEFAULT_REDACTED_HEADERS)
    /// and [`is_credential_header`](super::is_credential_header)).
    pub fn keep_header(mut self, name: &str) -> Self {
        self.filters.keep_header(name);
        self
    }

    /// Records the query parameter, form field or JSON key `name` as it is,
    /// even if its name says it holds a credential (see
    /// [`is_credential_key`](super::is_credential_key)): by default
    /// `?access_token=…` and `{"password": …}` are written as
    /// `<ACCESS_TOKEN>` and `<PASSWORD>` (a number under such a key too, as
    /// that string).
    pub fn keep_key(mut self, name: &str) -> Self {
        self.filters.keep_key(name);
        self
    }

    /// Records JSON Web Tokens as they are; by default any JWT in a URL,
    /// header or body is written as `<JWT>`.
    pub fn keep_jwts(mut self) -> Self {
        self.filters.keep_jwts();
        self
    }

    /// Records the password (or, without one, the user name) of a URL's
    /// userinfo as it is; by default it is written as `<PASSWORD>`.
    pub fn keep_userinfo(mut self) -> Self {
        self.filters.keep_userinfo();
        self
    }

    /// Hides a request's credentials only where they were found. By default
    /// a credential the request carries (in a redacted header, a credential
    /// key, the userinfo) is also hidden wherever else it appears in the
    /// same interaction, for an API that echoes a token back; values
    /// shorter than 6 characters are only hidden where they were found.
    pub fn keep_echoes(mut self) -> Self {
        self.filters.keep_echoes();
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

    /// Replaces `value` wherever it appears (URLs, headers, text bodies),
    /// also percent-encoded as in a query or form and escaped as in a JSON
    /// string, by `placeholder` when recording, and the placeholder in recorded
    /// responses by `value` when replaying (VCR's `filter_sensitive_data`).
    pub fn filter_sensitive_data(mut self, placeholder: &str, value: &str) -> Self {
        self.filters.sensitive(placeholder, value);
        self
    }

    /// Stores gzip and deflate response bodies decoded, dropping
    /// `Content-Encoding` (and fixing `Content-Length`), so they read well in
    /// review (a chunked compressed body is joined: compressed boundaries
    /// say nothing about decoded ones). Off by default: bodies are stored
    /// exactly as received, except that a compressed body in which a body
    /// filter hides something is stored decoded, since filters cannot see
    /// into compressed bytes.
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

    /// How a replayed WebSocket session checks the frames the client sends
    /// against the recorded ones (default [`FrameMatch::exact`]).
    ///
    /// ```
    /// use wiretape::cassette::{Cassette, FrameMatch};
    ///
    /// let builder = Cassette::builder("cassettes/feed.yaml")
    ///     .match_frames(FrameMatch::json_ignoring(["$.request_id"]));
    /// ```
    pub fn match_frames(mut self, frames: FrameMatch) -> Self {
        if let Some(problem) = frames.problem() {
            self.problems.push(problem.to_string());
        }
        self.frames = frames;
        self
    }

    /// How replay paces responses and WebSocket pushes (default
    /// [`Timing::Instant`]).
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

    /// Replays `tape` (another tool's recording, imported) instead of
    /// reading the file; the path still names the cassette in reports.
    pub fn replay_tape(mut self, tape: super::Tape) -> Self {
        self.tape = Some(tape);
        self
    }

    /// Opens the cassette around `inner`: reads the file when the mode
    /// replays. Recorders in several processes may share a file: each save
    /// takes the file's lock and adds its new interactions to what is on
    /// disk then.
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
        let mode = environment.mode(self.mode)?;
        // A tape handed over was not checked: its responses are rebuilt on
        // each replay (and fail then, if they are broken).
        let loaded = match (mode, self.tape) {
            (Mode::Record | Mode::Passthrough, _) => None,
            (_, Some(tape)) => Some((tape, Vec::new())),
            (_, None) => store::load_for_replay(&path)?,
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
            (Mode::Once, false) if environment.on_ci() => {
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
        let (tape, answers) = loaded.unwrap_or_default();
        let loaded = tape.interactions;
        let index = Index::build(&loaded, &self.matchers).map_err(|err| file_error(&path, err))?;
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
                frames: self.frames,
                sockets: Default::default(),
                error_on_unused: self.error_on_unused,
                replaying,
                recording,
                state: Mutex::new(State {
                    loaded,
                    answers,
                    index,
                    recorded: Default::default(),
                    dirty: mode == Mode::Record,
                    written: false,
                    sockets: Vec::new(),
                    replayed: 0,
                }),
            }),
        })
    }
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
            frames: FrameMatch::exact(),
            environment: None,
            error_on_unused: false,
            tape: None,
        }
    }
}
