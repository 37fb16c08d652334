//! Replay: the index that finds a recorded interaction in about constant time,
//! and the response (or error) rebuilt from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use url::Url;

use super::filter::Filters;
use super::format::{BodyForm, ChunkData, Interaction, RecordedError, RecordedResponse};
use super::matching::{Match, RequestParts, index_key, keys_body};
use crate::target::Target;
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

/// A map hashed with foldhash: every lookup hashes a key of the length of
/// a URL, where SipHash's cost showed in profiles.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Recorded interactions by index key (method, the URL parts the matchers
/// compare and, with a body matcher, the body's fingerprint), each key's
/// interactions in recorded order.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: HashMap<String, Slots>,
    used: Vec<bool>,
    /// The positions of the matchers the key does not cover exactly, which
    /// a lookup checks on what the key offers.
    unkeyed: Vec<usize>,
    /// The recorded requests the full check has compared, as matchers see
    /// them (`None`: invalid), so that no lookup parses one twice.
    parts: HashMap<usize, Option<RequestParts>>,
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
    /// Indexes `interactions`, which [`validate`] has checked (reading a
    /// file does); the error names an interaction whose URI does not parse.
    pub(crate) fn build(interactions: &[Interaction], matchers: &[Match]) -> Result<Index, String> {
        let mut keys: HashMap<String, Slots> =
            HashMap::with_capacity_and_hasher(interactions.len(), Default::default());
        let body_keyed = keys_body(matchers);
        for (i, interaction) in interactions.iter().enumerate() {
            let request = &interaction.request;
            // Checked by `validate` when the file was read; only the key is
            // needed here.
            let url = Url::parse(&request.uri).map_err(|err| {
                format!(
                    "interaction {i}: invalid request uri {:?}: {err}",
                    request.uri
                )
            })?;
            let body = match (&request.body, body_keyed) {
                (Some(body), true) => body.to_bytes()?,
                _ => Bytes::new(),
            };
            keys.entry(index_key(
                matchers,
                &request.method,
                &url.into(),
                &body,
                None,
            ))
            .or_default()
            .entries
            .push(i);
        }
        Ok(Index {
            keys,
            used: vec![false; interactions.len()],
            unkeyed: (0..matchers.len())
                .filter(|&m| !matchers[m].covered_by_key())
                .collect(),
            parts: HashMap::default(),
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
        let key = index_key(
            matchers,
            live.method(),
            live.target(),
            live.body(),
            live.parsed_json(),
        );
        let Some(slots) = self.keys.get_mut(&key) else {
            return Lookup::Miss;
        };
        while slots.cursor < slots.entries.len() && self.used[slots.entries[slots.cursor]] {
            slots.cursor += 1;
        }
        let (unkeyed, parts) = (&self.unkeyed, &mut self.parts);
        let mut answers = |i: usize| {
            unkeyed.is_empty()
                || parts
                    .entry(i)
                    .or_insert_with(|| RequestParts::from_recorded(&interactions[i].request).ok())
                    .as_ref()
                    .is_some_and(|recorded| {
                        unkeyed.iter().all(|&m| matchers[m].matches(live, recorded))
                    })
        };
        let used = &self.used;
        let found = slots.entries[slots.cursor..]
            .iter()
            .copied()
            .find(|&i| !used[i] && answers(i));
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

/// Why an interaction cannot be replayed, and the keys that lead to the
/// field at fault (`["response", "status"]`), for a position in the file.
#[derive(Debug, Clone)]
pub(crate) struct Invalid {
    pub(crate) message: String,
    pub(crate) field: &'static [&'static str],
}

/// A recorded response as replay hands it out: its status, its headers as a
/// [`HeaderMap`] and its whole body's bytes (`None` for a streamed body,
/// whose chunks are rebuilt on replay). Checking a file when it is opened
/// ([`validate`]) builds all three anyway, so they are kept: rebuilt on
/// every replay (a JSON body re-encoded from its tree, each header parsed
/// again), they cost more than the rest of the lookup.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    status: StatusCode,
    /// Shared with every response that replays it.
    headers: Arc<HeaderMap>,
    body: Option<Bytes>,
}

/// Checks interaction `i` as opening a cassette does, so that a broken file
/// fails when it is opened rather than in the middle of a test, and an
/// importer never writes what would not open: a parseable URI, one
/// outcome, a valid status, valid headers, decodable bodies. Gives the
/// response as replay hands it out (`None` for a recorded error).
pub(crate) fn validate(i: usize, interaction: &Interaction) -> Result<Option<Answer>, Invalid> {
    let request = &interaction.request;
    let name = format!("interaction {i} ({} {})", request.method, request.uri);
    let invalid = |field: &'static [&'static str], message: String| Invalid { message, field };
    if let Err(err) = Url::parse(&request.uri) {
        return Err(invalid(
            &["request", "uri"],
            format!(
                "interaction {i}: invalid request uri {:?}: {err}",
                request.uri
            ),
        ));
    }
    if http::Method::from_bytes(request.method.as_bytes()).is_err() {
        return Err(invalid(
            &["request", "method"],
            format!("{name}: invalid method {:?}", request.method),
        ));
    }
    request
        .headers
        .to_map()
        .map_err(|err| invalid(&["request", "headers"], format!("{name}: request {err}")))?;
    if let Some(body) = &request.body {
        body.to_bytes()
            .map_err(|err| invalid(&["request", "body"], format!("{name}: request body: {err}")))?;
    }
    let answer = match (&interaction.response, &interaction.error) {
        (Some(_), Some(_)) => Err(invalid(
            &["error"],
            format!("{name} has both a response and an error; keep one"),
        )),
        (None, None) => Err(invalid(
            &["request"],
            format!("{name} has neither a response nor an error"),
        )),
        (Some(response), None) => {
            let status = StatusCode::from_u16(response.status).map_err(|_| {
                invalid(
                    &["response", "status"],
                    format!("{name}: invalid status {}", response.status),
                )
            })?;
            let headers = response.headers.to_map().map_err(|err| {
                invalid(&["response", "headers"], format!("{name}: response {err}"))
            })?;
            let body = match &response.body {
                Some(body) => Some(body.to_bytes().map_err(|err| {
                    invalid(
                        &["response", "body"],
                        format!("{name}: response body: {err}"),
                    )
                })?),
                None => None,
            };
            let streamed = matches!(response.body, Some(BodyForm::Chunks(_)));
            Ok(Some(Answer {
                status,
                headers: Arc::new(headers),
                body: body.filter(|_| !streamed),
            }))
        }
        (None, Some(_)) => Ok(None),
    }?;
    if let Some(events) = &interaction.websocket {
        super::ws::check(events).map_err(|err| Invalid {
            message: format!("{name}: {err}"),
            field: &["websocket"],
        })?;
    }
    Ok(answer)
}

/// What replaying an interaction gives: how long to wait before answering,
/// then the answer.
pub(crate) struct Replayed {
    pub(crate) delay: Option<Duration>,
    pub(crate) outcome: Result<Response>,
}

/// Rebuilds the recorded answer to `request` (`METHOD URL`, formatted only
/// for an error), from `answer` when the file was checked as it was opened
/// and nothing in the head is to be restored.
pub(crate) fn replay(
    interaction: &Interaction,
    answer: Option<&Answer>,
    url: &Target,
    request: &dyn fmt::Display,
    timing: Timing,
    filters: &Filters,
) -> Replayed {
    if let Some(error) = &interaction.error {
        return Replayed {
            delay: None,
            outcome: Err(rebuild_error(error, &request.to_string())),
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
        // The head kept at opening, shared, unless placeholders in it are
        // restored for this request.
        let (status, headers) = match answer.filter(|_| !filters.restores()) {
            Some(answer) => (answer.status, Arc::clone(&answer.headers)),
            None => rebuild_head(recorded, request, filters).map(|(s, h)| (s, Arc::new(h)))?,
        };
        let mut length = None;
        let body = match &recorded.body {
            None => Body::empty(),
            Some(BodyForm::Chunks(chunks)) => {
                let items = chunks
                    .iter()
                    .map(|chunk| {
                        let item = match &chunk.data {
                            ChunkData::Error(error) => {
                                Err(rebuild_error(error, &request.to_string()))
                            }
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
                let recorded = match answer.and_then(|answer| answer.body.as_ref()) {
                    Some(bytes) => bytes.clone(),
                    None => form
                        .to_bytes()
                        .map_err(|err| Error::invalid(format!("{request}: {err}")))?,
                };
                let bytes = restored(recorded.clone(), filters);
                if bytes.len() != recorded.len() {
                    length = Some(bytes.len());
                }
                Body::from(bytes)
            }
        };
        let mut response = Response::new(status)
            .with_body(body)
            .with_target(url.clone());
        response.share_headers(headers);
        if let Some(length) = length {
            super::record::fit_content_length(response.headers_mut(), length);
        }
        Ok(response)
    })();
    Replayed { delay, outcome }
}

/// The status and headers of a recorded response, with the placeholders of
/// what the replaying request carries restored in the headers.
fn rebuild_head(
    recorded: &RecordedResponse,
    request: &dyn fmt::Display,
    filters: &Filters,
) -> Result<(StatusCode, HeaderMap)> {
    let status = StatusCode::from_u16(recorded.status)
        .map_err(|_| Error::invalid(format!("{request}: invalid status {}", recorded.status)))?;
    let restored_headers;
    let headers = if filters.restores() {
        let mut headers = recorded.headers.clone();
        for (_, values) in &mut headers.0 {
            values.iter_mut().for_each(|v| {
                filters.restore(v);
            });
        }
        restored_headers = headers;
        &restored_headers
    } else {
        &recorded.headers
    };
    let headers = headers
        .to_map()
        .map_err(|err| Error::invalid(format!("{request}: recorded response {err}")))?;
    Ok((status, headers))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::format::{Headers, RecordedRequest, RecordedResponse};

    fn graphql(i: usize) -> Interaction {
        let body = format!(r#"{{"query":"user","variables":{{"id":{}}}}}"#, i % 500);
        Interaction {
            request: RecordedRequest {
                method: "POST".into(),
                uri: "http://api.test/graphql".into(),
                headers: Headers::default(),
                body: BodyForm::from_bytes(body.as_bytes()),
            },
            response: Some(RecordedResponse {
                status: 200,
                headers: Headers::default(),
                body: None,
                latency_ms: None,
            }),
            error: None,
            websocket: None,
            recorded_at: None,
        }
    }

    fn answered(headers: Headers, body: Option<BodyForm>) -> Interaction {
        Interaction {
            response: Some(RecordedResponse {
                status: 201,
                headers,
                body,
                latency_ms: Some(3),
            }),
            ..graphql(0)
        }
    }

    /// Status, headers in order and body bytes of a replay of `interaction`.
    async fn replayed(
        interaction: &Interaction,
        answer: Option<&Answer>,
        filters: &Filters,
    ) -> (StatusCode, Vec<(String, Vec<u8>)>, Bytes) {
        let url = Target::from(Url::parse("http://api.test/graphql").unwrap());
        let request = "POST http://api.test/graphql";
        let response = replay(
            interaction,
            answer,
            &url,
            &request,
            Timing::Instant,
            filters,
        )
        .outcome
        .unwrap();
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        (status, headers, response.bytes().await.unwrap())
    }

    #[tokio::test]
    async fn a_kept_answer_replays_as_the_recorded_response_rebuilt_would() {
        let headers = |pairs: &[(&str, &[&str])]| {
            Headers(
                pairs
                    .iter()
                    .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.to_string()).collect()))
                    .collect(),
            )
        };
        let chunks = vec![
            super::super::format::Chunk {
                at_ms: 0,
                data: ChunkData::Text("data: <AUTHORIZATION>\n".into()),
            },
            super::super::format::Chunk {
                at_ms: 1,
                data: ChunkData::Base64("AAEC".into()),
            },
        ];
        let cases = [
            answered(Headers::default(), None),
            answered(
                headers(&[
                    ("content-type", &["application/json"]),
                    ("content-length", &["16"]),
                ]),
                BodyForm::from_bytes(br#"{"id":7,"a":[1]}"#),
            ),
            answered(
                headers(&[
                    ("set-cookie", &["a=1", "b=2"]),
                    ("x-token", &["<AUTHORIZATION>"]),
                ]),
                BodyForm::from_bytes(b"token <AUTHORIZATION> here"),
            ),
            answered(
                headers(&[("content-length", &["3"])]),
                BodyForm::from_bytes(&[0, 159, 255]),
            ),
            answered(headers(&[("x", &["1"])]), Some(BodyForm::Chunks(chunks))),
        ];
        // Without and with a credential in the replaying request: with one,
        // its placeholder in the recorded head and body is restored.
        let plain = Filters::default();
        let carrying = Filters::default().request(
            &mut Url::parse("http://api.test/graphql").unwrap().into(),
            &mut headers(&[("authorization", &["Bearer s3cr3t-t0ken"])]),
            b"",
        );
        for filters in [&plain, &carrying] {
            for interaction in &cases {
                let answer = validate(0, interaction).unwrap();
                assert!(answer.is_some());
                assert_eq!(
                    replayed(interaction, answer.as_ref(), filters).await,
                    replayed(interaction, None, filters).await,
                    "{:?}",
                    interaction.response
                );
            }
        }
        let (_, restored, body) = replayed(
            &cases[2],
            validate(0, &cases[2]).unwrap().as_ref(),
            &carrying,
        )
        .await;
        assert!(restored.contains(&("x-token".into(), b"Bearer s3cr3t-t0ken".to_vec())));
        assert_eq!(body, "token Bearer s3cr3t-t0ken here");
    }

    #[test]
    fn body_matchers_key_the_index_by_body_so_a_lookup_offers_only_equal_bodies() {
        let interactions: Vec<Interaction> = (0..1_000).map(graphql).collect();
        let uri_only = [Match::method(), Match::uri()];
        let index = Index::build(&interactions, &uri_only).unwrap();
        assert_eq!(index.keys.len(), 1);
        for matchers in [
            [Match::method(), Match::uri(), Match::body()],
            [Match::method(), Match::uri(), Match::json_body()],
        ] {
            let index = Index::build(&interactions, &matchers).unwrap();
            // 500 distinct bodies, each sent twice.
            assert_eq!(index.keys.len(), 500);
            assert!(index.keys.values().all(|slots| slots.entries.len() == 2));
        }
    }
}
