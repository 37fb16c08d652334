//! Replay: the index that finds a recorded interaction in about constant time,
//! and the response (or error) rebuilt from it.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use url::Url;

use super::filter::Filters;
use super::format::{BodyForm, ChunkData, Interaction, RecordedError};
use super::matching::{Match, RequestParts, index_key, needs_full_check};
use crate::{Body, Error, Response, Result};

/// How replay paces responses. Every wait goes through `tokio::time`, so a
/// test under a paused clock stays instant whatever the choice.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Timing {
    /// No waiting (the default).
    #[default]
    Instant,
    /// Wait as long as the recording did: the head's latency, then each
    /// chunk at its recorded offset.
    Recorded,
    /// The recorded waits multiplied by a factor (`0.5` is twice as fast).
    Scaled(f64),
}

impl Timing {
    pub(crate) fn delay(self, ms: u64) -> Option<Duration> {
        let factor = match self {
            Timing::Instant => return None,
            Timing::Recorded => 1.0,
            Timing::Scaled(factor) if factor.is_finite() && factor > 0.0 => factor,
            Timing::Scaled(_) => return None,
        };
        // A latency too long for a Duration (a hand-edited file, a large
        // factor) waits as long as one can.
        Some(Duration::try_from_secs_f64(ms as f64 * factor / 1000.0).unwrap_or(Duration::MAX))
    }
}

/// Recorded interactions by index key (method and the URL parts the
/// matchers compare), each key's interactions in recorded order.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: HashMap<String, Slots>,
    used: Vec<bool>,
    full_check: bool,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<usize>,
    /// Entries before this one have all been used.
    cursor: usize,
    /// The latest entry replayed, for `allow_playback_repeats`.
    last: Option<usize>,
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// This interaction answers.
    Hit(usize),
    /// Nothing answers.
    Miss,
}

impl Index {
    /// Indexes `interactions`; the error names the first invalid one.
    pub(crate) fn build(interactions: &[Interaction], matchers: &[Match]) -> Result<Index, String> {
        let mut keys: HashMap<String, Slots> = HashMap::with_capacity(interactions.len());
        for (i, interaction) in interactions.iter().enumerate() {
            let request = &interaction.request;
            let url = Url::parse(&request.uri).map_err(|err| {
                format!(
                    "interaction {i}: invalid request uri {:?}: {err}",
                    request.uri
                )
            })?;
            check(i, interaction)?;
            keys.entry(index_key(matchers, &request.method, &url))
                .or_default()
                .entries
                .push(i);
        }
        Ok(Index {
            keys,
            used: vec![false; interactions.len()],
            full_check: needs_full_check(matchers),
        })
    }

    /// Finds the first unused interaction that answers `live`, marking it
    /// used; with `repeats`, the latest used one when all are used.
    pub(crate) fn find(
        &mut self,
        live: &RequestParts,
        interactions: &[Interaction],
        matchers: &[Match],
        repeats: bool,
    ) -> Lookup {
        let key = index_key(matchers, live.method(), live.url());
        let Some(slots) = self.keys.get_mut(&key) else {
            return Lookup::Miss;
        };
        while slots.cursor < slots.entries.len() && self.used[slots.entries[slots.cursor]] {
            slots.cursor += 1;
        }
        let full_check = self.full_check;
        let answers = |i: usize| {
            !full_check
                || RequestParts::from_recorded(&interactions[i].request)
                    .map(|recorded| matchers.iter().all(|m| m.matches(live, &recorded)))
                    .unwrap_or(false)
        };
        let found = slots.entries[slots.cursor..]
            .iter()
            .copied()
            .find(|&i| !self.used[i] && answers(i));
        if let Some(i) = found {
            self.used[i] = true;
            slots.last = Some(i);
            return Lookup::Hit(i);
        }
        if repeats {
            if let Some(i) = slots.last.filter(|&i| answers(i)) {
                return Lookup::Hit(i);
            }
            // A repeat of an interaction used under another lookup.
            if let Some(i) = slots.entries.iter().rev().copied().find(|&i| answers(i)) {
                return Lookup::Hit(i);
            }
        }
        Lookup::Miss
    }

    /// Whether interaction `i` has been replayed.
    pub(crate) fn is_used(&self, i: usize) -> bool {
        self.used.get(i).copied().unwrap_or(false)
    }
}

/// Checks what the index cannot, so that a broken file fails when it is
/// opened rather than in the middle of a test: one outcome, a valid status,
/// valid response headers, decodable bodies.
fn check(i: usize, interaction: &Interaction) -> Result<(), String> {
    let name = format!(
        "interaction {i} ({} {})",
        interaction.request.method, interaction.request.uri
    );
    if let Some(body) = &interaction.request.body {
        body.to_bytes()
            .map_err(|err| format!("{name}: request body: {err}"))?;
    }
    match (&interaction.response, &interaction.error) {
        (Some(_), Some(_)) => Err(format!("{name} has both a response and an error; keep one")),
        (None, None) => Err(format!("{name} has neither a response nor an error")),
        (Some(response), None) => {
            StatusCode::from_u16(response.status)
                .map_err(|_| format!("{name}: invalid status {}", response.status))?;
            response
                .headers
                .to_map()
                .map_err(|err| format!("{name}: response {err}"))?;
            if let Some(body) = &response.body {
                body.to_bytes()
                    .map_err(|err| format!("{name}: response body: {err}"))?;
            }
            Ok(())
        }
        (None, Some(_)) => Ok(()),
    }?;
    if let Some(events) = &interaction.websocket {
        super::ws::check(events).map_err(|err| format!("{name}: {err}"))?;
    }
    Ok(())
}

/// What replaying an interaction gives: how long to wait before answering,
/// then the answer.
pub(crate) struct Replayed {
    pub(crate) delay: Option<Duration>,
    pub(crate) outcome: Result<Response>,
}

/// Rebuilds the recorded answer to `request` (named `METHOD URL` in errors).
pub(crate) fn replay(
    interaction: &Interaction,
    url: &Url,
    request: &str,
    timing: Timing,
    filters: &Filters,
) -> Replayed {
    if let Some(error) = &interaction.error {
        return Replayed {
            delay: None,
            outcome: Err(rebuild_error(error, request)),
        };
    }
    let Some(recorded) = &interaction.response else {
        return Replayed {
            delay: None,
            outcome: Err(Error::invalid(format!(
                "{request}: the interaction has no response"
            ))),
        };
    };
    let delay = recorded.latency_ms.and_then(|ms| timing.delay(ms));
    let outcome = (|| {
        let status = StatusCode::from_u16(recorded.status).map_err(|_| {
            Error::invalid(format!("{request}: invalid status {}", recorded.status))
        })?;
        let mut headers = recorded.headers.clone();
        if filters.restores() {
            for (_, values) in &mut headers.0 {
                values.iter_mut().for_each(|v| {
                    filters.restore(v);
                });
            }
        }
        let mut headers = headers
            .to_map()
            .map_err(|err| Error::invalid(format!("{request}: recorded response {err}")))?;
        let body = match &recorded.body {
            None => Body::empty(),
            Some(BodyForm::Chunks(chunks)) => {
                let items = chunks
                    .iter()
                    .map(|chunk| {
                        let item = match &chunk.data {
                            ChunkData::Error(error) => Err(rebuild_error(error, request)),
                            data => data
                                .to_bytes()
                                .map(|b| restored(b.unwrap_or_default(), filters))
                                .map_err(|err| Error::invalid(format!("{request}: {err}"))),
                        };
                        (timing.delay(chunk.at_ms), item)
                    })
                    .collect();
                chunk_stream(items)
            }
            Some(form) => {
                let recorded = form
                    .to_bytes()
                    .map_err(|err| Error::invalid(format!("{request}: {err}")))?;
                let bytes = restored(recorded.clone(), filters);
                if bytes.len() != recorded.len() {
                    super::record::fit_content_length(&mut headers, bytes.len());
                }
                Body::from(bytes)
            }
        };
        let mut response = Response::new(status).with_body(body).with_url(url.clone());
        *response.headers_mut() = headers;
        Ok(response)
    })();
    Replayed { delay, outcome }
}

/// The recorded error, rebuilt for this request.
pub(crate) fn rebuild_error(error: &RecordedError, request: &str) -> Error {
    Error::from_kind(error.kind, request, error.message.clone())
}

fn restored(bytes: Bytes, filters: &Filters) -> Bytes {
    if !filters.restores() {
        return bytes;
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => {
            let mut text = text.to_string();
            if filters.restore(&mut text) {
                Bytes::from(text)
            } else {
                bytes
            }
        }
        Err(_) => bytes,
    }
}

/// A body that yields each chunk at its offset from the first read (when
/// timed), with the recorded boundaries; an error chunk ends it with that
/// error.
fn chunk_stream(items: Vec<(Option<Duration>, Result<Bytes>)>) -> Body {
    let state = (items.into_iter(), None::<tokio::time::Instant>, false);
    let stream = futures_util::stream::unfold(state, |(mut items, start, ended)| async move {
        if ended {
            return None;
        }
        let (delay, item) = items.next()?;
        let start = start.unwrap_or_else(tokio::time::Instant::now);
        if let Some(delay) = delay {
            match start.checked_add(delay) {
                Some(at) => tokio::time::sleep_until(at).await,
                // Beyond any instant: `sleep` waits as long as it can.
                None => tokio::time::sleep(delay).await,
            }
        }
        let ended = item.is_err();
        Some((item, (items, Some(start), ended)))
    });
    Body::from_chunk_stream(Box::pin(stream))
}
