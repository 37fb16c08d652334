//! Recording: the live request as a cassette stores it, and a response whose
//! body is teed chunk by chunk (passed through as it arrives, kept for the
//! cassette) until it ends.

use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, header};
use tokio::time::Instant;

use super::filter::Filters;
use super::format::{BodyForm, Chunk, ChunkData, Headers, RecordedError, RecordedResponse};
use super::matching::RequestParts;
use crate::body::ChunkStream;
use crate::{Body, Error, Request, Response, Result};

/// What recording does besides keeping bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordOptions {
    /// Store gzip/deflate bodies decoded, without `Content-Encoding`.
    pub(crate) decode_compressed: bool,
}

/// The filters for one request (the cassette's, plus the credentials this
/// request carries: see [`Filters::request`]), and the live request
/// (whose body has been read into `body`) after them: what matching compares
/// and what the cassette keeps. The headers are converted once, for both.
pub(crate) fn filtered_request(
    request: &Request,
    body: &Bytes,
    filters: &Filters,
) -> (Arc<Filters>, RequestParts) {
    let mut headers = Headers::from_map(request.headers());
    let mut url = request.target().without_fragment();
    let filtered = filters.request_and_body(&mut url, &mut headers, body);
    let body = filtered
        .body
        .map(Bytes::from)
        .unwrap_or_else(|| body.clone());
    let mut live = RequestParts::with_target(request.method().as_str(), url, headers, body);
    live.keep_json(filtered.json);
    (Arc::new(filtered.filters), live)
}

/// The failure as a cassette stores it, with secrets in its message hidden.
pub(crate) fn recorded_error(error: &Error, filters: &Filters) -> RecordedError {
    RecordedError {
        kind: error.kind(),
        message: filters.message(&error.message()),
    }
}

/// Called once with the finished recording of a response.
pub(crate) type OnRecorded = Box<dyn FnOnce(RecordedResponse) + Send + 'static>;

/// Hands `response` on with its body teed; `done` receives the recording when
/// the body has ended, failed or been dropped (a body dropped half-read is
/// recorded as far as it was read). A response that has no body (to `HEAD`,
/// a 1xx, 204 or 304, or `Content-Length: 0`) is recorded at once, so that
/// nobody has to read an empty body before the cassette can be saved.
pub(crate) fn tee_response(
    response: Response,
    head_only: bool,
    started: Instant,
    filters: Arc<Filters>,
    options: RecordOptions,
    done: OnRecorded,
) -> Response {
    let head_at = Instant::now();
    let latency_ms = millis(head_at - started);
    let (head, body) = response.into_parts();
    let recording = Recording {
        status: head.status().as_u16(),
        headers: head.headers().clone(),
        latency_ms,
        filters,
        options,
    };
    let status = head.status();
    let bodiless = head_only
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
        || head.content_length() == Some(0);
    if bodiless {
        done(recording.finish(Vec::new()));
        return head.with_body(body);
    }
    if let Some(bytes) = body.as_bytes() {
        let bytes = bytes.clone();
        done(recording.finish(vec![(0, Ok(bytes))]));
        return head.with_body(body);
    }
    let tee = Tee {
        inner: body.into_stream(),
        head_at,
        chunks: Vec::new(),
        pending: Some((recording, done)),
    };
    head.with_body(Body::from_chunk_stream(Box::pin(tee)))
}

/// The recording of a response whose body is already in memory: the
/// answer that refused a WebSocket upgrade, recorded as an answer so that
/// replay refuses with the same status, headers and body.
pub(crate) fn record_buffered(
    response: &Response,
    started: Instant,
    filters: Arc<Filters>,
    options: RecordOptions,
) -> RecordedResponse {
    let recording = Recording {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        latency_ms: millis(Instant::now() - started),
        filters,
        options,
    };
    let pieces = match response.body().as_bytes() {
        Some(bytes) if !bytes.is_empty() => vec![(0, Ok(bytes.clone()))],
        _ => Vec::new(),
    };
    recording.finish(pieces)
}

struct Recording {
    status: u16,
    headers: HeaderMap,
    latency_ms: u64,
    filters: Arc<Filters>,
    options: RecordOptions,
}

type Piece = (u64, std::result::Result<Bytes, RecordedError>);

impl Recording {
    fn finish(mut self, pieces: Vec<Piece>) -> RecordedResponse {
        let mut headers = std::mem::take(&mut self.headers);
        let failed = pieces.iter().any(|(_, piece)| piece.is_err());
        let streamed = pieces.len() > 1 && !headers.contains_key(header::CONTENT_LENGTH);
        let decoded = if failed {
            None
        } else {
            self.decoded(&mut headers, &pieces)
        };
        let body = if let Some(bytes) = decoded {
            self.whole(&mut headers, bytes)
        } else if failed || streamed {
            Some(BodyForm::Chunks(filtered_chunks(&self.filters, pieces)))
        } else {
            let mut bytes: Vec<u8> = Vec::new();
            for (_, piece) in pieces {
                if let Ok(chunk) = piece {
                    bytes.extend_from_slice(&chunk);
                }
            }
            self.whole(&mut headers, bytes)
        };
        let mut headers = Headers::from_map(&headers);
        self.filters.headers(&mut headers);
        RecordedResponse {
            status: self.status,
            headers,
            body,
            latency_ms: Some(self.latency_ms),
        }
    }
}

/// The chunks of a streamed body after filters. Each chunk is filtered on
/// its own, which keeps the recorded boundaries; when the joined result
/// still shows something a filter hides (a secret split over two chunks, a
/// JSON document spread over several), the data is filtered whole and kept
/// as one chunk at the time the last one arrived: no secret reaches disk
/// because of where the network cut the body.
fn filtered_chunks(filters: &Filters, pieces: Vec<Piece>) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::with_capacity(pieces.len());
    let mut joined: Vec<u8> = Vec::new();
    let mut last_data_ms = 0;
    for (at_ms, piece) in pieces {
        let data = match piece {
            Ok(bytes) => {
                let filtered = filters.body(&bytes).map(Bytes::from).unwrap_or(bytes);
                joined.extend_from_slice(&filtered);
                last_data_ms = at_ms;
                ChunkData::from_bytes(&filtered)
            }
            Err(error) => ChunkData::Error(error),
        };
        chunks.push(Chunk { at_ms, data });
    }
    let Some(whole) = filters.body(&joined).filter(|whole| *whole != joined) else {
        return chunks;
    };
    let mut merged = vec![Chunk {
        at_ms: last_data_ms,
        data: ChunkData::from_bytes(&whole),
    }];
    merged.extend(
        chunks
            .into_iter()
            .filter(|chunk| matches!(chunk.data, ChunkData::Error(_))),
    );
    merged
}

impl Recording {
    /// A whole body after filters; when they changed its length, a
    /// `Content-Length` is made to fit it.
    fn whole(&self, headers: &mut HeaderMap, bytes: Vec<u8>) -> Option<BodyForm> {
        let bytes = match self.filters.body(&bytes) {
            Some(filtered) if filtered.len() != bytes.len() => {
                fit_content_length(headers, filtered.len());
                filtered
            }
            Some(filtered) => filtered,
            None => bytes,
        };
        BodyForm::from_bytes(&bytes)
    }

    /// The whole body decoded, when it is gzip or deflate and is to be
    /// stored decoded: on request ([`RecordOptions::decode_compressed`]), or
    /// because a filter hides something in it (filters cannot see into
    /// compressed bytes, and a secret must not reach disk). Drops
    /// `Content-Encoding` then (fixing `Content-Length`). Streamed chunks
    /// are joined: compressed boundaries say nothing about decoded ones.
    fn decoded(&self, headers: &mut HeaderMap, pieces: &[Piece]) -> Option<Vec<u8>> {
        // The default filters look into every body, so a compressed one is
        // always decoded to see whether they hide something in it.
        let mut joined: Vec<u8> = Vec::new();
        for (_, piece) in pieces {
            if let Ok(chunk) = piece {
                joined.extend_from_slice(chunk);
            }
        }
        let decoded = decode(headers, &joined)?;
        let wanted = self.options.decode_compressed
            || self
                .filters
                .body(&decoded)
                .is_some_and(|filtered| filtered != decoded);
        if !wanted {
            return None;
        }
        headers.remove(header::CONTENT_ENCODING);
        fit_content_length(headers, decoded.len());
        Some(decoded)
    }
}

/// Sets a `Content-Length` that is there to `len`.
pub(crate) fn fit_content_length(headers: &mut HeaderMap, len: usize) {
    if headers.contains_key(header::CONTENT_LENGTH) {
        headers.insert(header::CONTENT_LENGTH, len.into());
    }
}

/// A gzip or deflate body decoded; `None` for another encoding, none, or a
/// body that does not decode.
fn decode(headers: &HeaderMap, bytes: &[u8]) -> Option<Vec<u8>> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())?;
    let mut decoded = Vec::new();
    let ok = match encoding.as_str() {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut decoded)
            .is_ok(),
        "deflate" => flate2::read::ZlibDecoder::new(bytes)
            .read_to_end(&mut decoded)
            .is_ok(),
        _ => false,
    };
    ok.then_some(decoded)
}

/// Passes chunks through as they arrive and keeps them, with their offsets
/// from the response head, for the recording.
struct Tee {
    inner: ChunkStream,
    head_at: Instant,
    chunks: Vec<Piece>,
    pending: Option<(Recording, OnRecorded)>,
}

impl Tee {
    fn finish(&mut self) {
        if let Some((recording, done)) = self.pending.take() {
            done(recording.finish(std::mem::take(&mut self.chunks)));
        }
    }
}

impl Stream for Tee {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.pending.is_none() {
            return Poll::Ready(None);
        }
        let polled = this.inner.as_mut().poll_next(cx);
        if let Poll::Ready(item) = &polled {
            let at_ms = millis(this.head_at.elapsed());
            match item {
                Some(Ok(chunk)) => this.chunks.push((at_ms, Ok(chunk.clone()))),
                Some(Err(error)) => {
                    let recorded =
                        recorded_error(error, &this.pending.as_ref().expect("pending").0.filters);
                    this.chunks.push((at_ms, Err(recorded)));
                    this.finish();
                }
                None => this.finish(),
            }
        }
        polled
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        self.finish();
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Now, as RFC 3339 UTC to the second (`2026-11-22T16:29:29Z`).
pub(crate) fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
