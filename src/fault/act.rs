//! Acting a fault on one HTTP exchange: the one place that turns a [`Fault`]
//! into errors and body behaviour, shared by [`Faulty`](super::Faulty),
//! route faults and the socket server.
//!
//! In-process, a fault becomes the [`Error`] kind `HyperEngine` reports for
//! the real thing (see the table in the module docs). When the request came
//! in through [`serve`](crate::server::serve), the request carries the
//! connection's [`WireControl`] and the faults that only a socket can show
//! (an RST, raw bytes) are handed to it instead.

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::plan::{Hit, SEED_VAR};
use super::vocab::{Delay, Fault, RetryAfter};
use super::wire::WireControl;
use crate::plugins::ConnectTimeout;
use crate::{Body, ChunkStream, ConnectFailure, Error, Request, Response, Result, TimeoutKind};

/// What acting a fault needs to know about the request, taken before the
/// request moves on to the engine.
pub(crate) struct Call {
    name: String,
    wire: Option<WireControl>,
    http2: bool,
    connect_limit: Option<Duration>,
    /// Who put the fault there (`route "pay"`), for messages.
    by: Option<String>,
}

impl Call {
    pub(crate) fn of(request: &Request) -> Call {
        Call {
            name: request.to_string(),
            wire: request.wire().cloned(),
            http2: request.version() == http::Version::HTTP_2,
            connect_limit: request.extensions().get::<ConnectTimeout>().map(|c| c.0),
            by: None,
        }
    }

    /// Names who put the fault there, for messages.
    pub(crate) fn by(mut self, who: &str) -> Call {
        self.by = Some(who.to_owned());
        self
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The connection's control when raw bytes can go on it (HTTP/1 only:
    /// over HTTP/2 they would break every stream, so those faults reset the
    /// stream instead).
    fn raw_wire(&self) -> Option<&WireControl> {
        self.wire.as_ref().filter(|_| !self.http2)
    }

    /// Asks for a TCP RST when the connection closes (HTTP/1: over HTTP/2 the
    /// stream alone is reset, RST_STREAM).
    fn reset_wire(&self) {
        if let Some(wire) = self.raw_wire() {
            wire.reset();
        }
    }
}

/// The message of an injected error: what happened, who asked for it and
/// how to reproduce it.
pub(super) fn says(hit: &Hit, call: &Call, what: &str) -> String {
    let by = call
        .by
        .as_deref()
        .map(|who| format!(" by {who}"))
        .unwrap_or_default();
    format!(
        "{what} (fault {:?} injected{by} on call {} of a plan with seed {}; {SEED_VAR}={} reproduces it)",
        hit.fault.name(),
        hit.call,
        hit.seed,
        hit.seed
    )
}

/// Over HTTP/2 raw bytes would break every stream of the connection: the
/// fault resets its own stream (RST_STREAM), what clients see as a reset.
fn stream_reset(hit: &Hit, call: &Call) -> Error {
    Error::reset(
        &call.name,
        says(hit, call, "the HTTP/2 stream was reset (RST_STREAM)"),
    )
}

fn fixed(delay: &Delay, draws: u64) -> Duration {
    delay.sample(&mut StdRng::seed_from_u64(draws))
}

/// Acts `hit` on an exchange whose real answer `respond` gives.
pub(crate) async fn http<F>(hit: Hit, call: Call, respond: F) -> Result<Response>
where
    F: Future<Output = Result<Response>> + Send,
{
    let name = call.name.as_str();
    match &hit.fault {
        Fault::Latency(delay) => {
            tokio::time::sleep(fixed(delay, hit.draws)).await;
            respond.await
        }
        Fault::ChunkLatency(delay) => {
            let delay = *delay;
            let mut rng = StdRng::seed_from_u64(hit.draws);
            let response = respond.await?;
            Ok(map_body(response, move |stream| {
                stream
                    .enumerate()
                    .then(move |(at, chunk)| {
                        let gap = if at > 0 {
                            delay.sample(&mut rng)
                        } else {
                            Duration::ZERO
                        };
                        async move {
                            tokio::time::sleep(gap).await;
                            chunk
                        }
                    })
                    .boxed()
            }))
        }
        Fault::Hang => futures_util::future::pending().await,
        Fault::Refused => {
            call.reset_wire();
            Err(Error::connect(
                ConnectFailure::Refused,
                name,
                says(&hit, &call, "connection refused"),
            ))
        }
        Fault::Dns => {
            call.reset_wire();
            Err(Error::connect(
                ConnectFailure::Dns,
                name,
                says(&hit, &call, "the host name does not resolve"),
            ))
        }
        Fault::ConnectDelay(delay) => {
            let delay = fixed(delay, hit.draws);
            if let Some(limit) = call.connect_limit.filter(|limit| delay >= *limit) {
                tokio::time::sleep(limit).await;
                return Err(Error::timeout(TimeoutKind::Connect, name, Some(limit)));
            }
            tokio::time::sleep(delay).await;
            respond.await
        }
        Fault::Reset => {
            // The request reached the server; its answer is what is lost.
            let _ = respond.await;
            call.reset_wire();
            Err(Error::reset(
                name,
                says(&hit, &call, "connection reset by peer"),
            ))
        }
        Fault::ResetAfter(limit) => {
            let response = respond.await?;
            if let Some(wire) = call.raw_wire() {
                // Raw, so that the head and the bytes are on the wire before
                // the RST: hyper would still hold them in its buffer.
                let (response, body) = response.into_parts();
                let body = body.collect().await?;
                let mut raw = head_bytes(&response, Some(body.len() as u64));
                raw.extend_from_slice(&body[..body.len().min(*limit as usize)]);
                wire.take_over(raw.freeze());
                wire.reset();
                return Ok(Response::new(response.status()));
            }
            let error = Error::reset(
                name,
                says(
                    &hit,
                    &call,
                    &format!("connection reset by peer after {limit} bytes of the body"),
                ),
            );
            Ok(map_body(response, move |stream| {
                cut_after(stream, *limit, error)
            }))
        }
        Fault::EmptyReply => {
            let _ = respond.await;
            // On the wire, the error makes the server close (FIN) without a byte.
            Err(Error::reset(
                name,
                says(
                    &hit,
                    &call,
                    "the server closed the connection without a reply",
                ),
            ))
        }
        Fault::MalformedChunk => {
            let response = respond.await?;
            if let Some(wire) = call.raw_wire() {
                let mut raw = head_bytes(&response, None);
                raw.extend_from_slice(b"zz\r\nnot a chunk\r\n");
                wire.take_over(raw.freeze());
                return Ok(Response::new(response.status()));
            }
            if call.wire.is_some() {
                return Err(stream_reset(&hit, &call));
            }
            let error = Error::Protocol {
                request: name.to_owned(),
                message: says(&hit, &call, "invalid chunk size line in the chunked body"),
            };
            Ok(map_body(response, move |_| {
                futures_util::stream::once(async move { Err(error) }).boxed()
            }))
        }
        Fault::Garbage => {
            let _ = respond.await;
            if let Some(wire) = call.raw_wire() {
                wire.take_over(garbage(hit.draws));
                return Ok(Response::new(http::StatusCode::OK));
            }
            if call.wire.is_some() {
                return Err(stream_reset(&hit, &call));
            }
            Err(Error::Protocol {
                request: name.to_owned(),
                message: says(&hit, &call, "the reply is not HTTP (invalid status line)"),
            })
        }
        Fault::Truncated(missing) => {
            let response = respond.await?;
            let (response, body) = response.into_parts();
            let body = body.collect().await?;
            let claimed = body.len() as u64 + missing;
            if let Some(wire) = call.raw_wire() {
                let mut raw = head_bytes(&response, Some(claimed));
                raw.extend_from_slice(&body);
                wire.take_over(raw.freeze());
                return Ok(Response::new(response.status()));
            }
            if call.wire.is_some() {
                return Err(stream_reset(&hit, &call));
            }
            let error = Error::reset(
                name,
                says(
                    &hit,
                    &call,
                    &format!(
                        "the connection closed after {} of the {claimed} bytes Content-Length promised",
                        body.len()
                    ),
                ),
            );
            let mut response = response.with_body(Body::from_chunk_stream(
                futures_util::stream::iter([Ok(body), Err(error)]).boxed(),
            ));
            response.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(claimed),
            );
            Ok(response)
        }
        Fault::Status { code, retry_after } => Ok(status(&hit, &call, *code, retry_after.as_ref())),
        Fault::Dribble { chunks, over } => {
            let (chunks, over) = (*chunks, *over);
            let response = respond.await?;
            let (response, body) = response.into_parts();
            let body = body.collect().await?;
            let gap = over / chunks.max(1);
            let pieces = split(body, chunks.max(1) as usize);
            let stream = futures_util::stream::iter(pieces).then(move |piece| async move {
                tokio::time::sleep(gap).await;
                Ok(piece)
            });
            Ok(response.with_body(Body::from_chunk_stream(stream.boxed())))
        }
        Fault::Bandwidth(rate) => {
            let rate = (*rate).max(1);
            let response = respond.await?;
            Ok(map_body(response, move |stream| throttle(stream, rate)))
        }
        Fault::Ok
        | Fault::WsDrop(_)
        | Fault::WsClose { .. }
        | Fault::WsDelay(_)
        | Fault::WsDropFrames(_)
        | Fault::WsRefuse => respond.await,
    }
}

fn status(hit: &Hit, call: &Call, code: u16, retry_after: Option<&RetryAfter>) -> Response {
    let status = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
    let mut response = Response::new(status)
        .with_header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .with_body(format!("{}\n", says(hit, call, &format!("status {code}"))));
    let value = match retry_after {
        Some(RetryAfter::Seconds(seconds)) => Some(seconds.to_string()),
        Some(RetryAfter::Date(date)) => Some(date.clone()),
        None => None,
    };
    if let Some(value) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

fn map_body(mut response: Response, f: impl FnOnce(ChunkStream) -> ChunkStream) -> Response {
    let body = std::mem::take(response.body_mut());
    *response.body_mut() = Body::from_chunk_stream(f(body.into_stream()));
    // The length no longer holds for a stream cut short or re-timed.
    response
}

/// The body up to `limit` bytes, then `error`.
fn cut_after(stream: ChunkStream, limit: u64, error: Error) -> ChunkStream {
    let state = (stream, limit, Some(error));
    futures_util::stream::unfold(state, |(mut stream, left, error)| async move {
        let error = error?;
        if left == 0 {
            return Some((Err(error), (stream, 0, None)));
        }
        match stream.next().await {
            Some(Ok(mut chunk)) => {
                if chunk.len() as u64 >= left {
                    chunk.truncate(left as usize);
                }
                let left = left - chunk.len() as u64;
                Some((Ok(chunk), (stream, left, Some(error))))
            }
            Some(Err(err)) => Some((Err(err), (stream, 0, None))),
            // A body shorter than the limit still ends in the reset.
            None => Some((Err(error), (stream, 0, None))),
        }
    })
    .boxed()
}

/// The body at `rate` bytes per second: pieces of a tenth of a second each.
fn throttle(stream: ChunkStream, rate: u64) -> ChunkStream {
    let piece = (rate / 10).max(1) as usize;
    stream
        .flat_map(move |chunk| {
            let pieces: Vec<Result<Bytes>> = match chunk {
                Ok(bytes) => split_every(bytes, piece).into_iter().map(Ok).collect(),
                Err(err) => vec![Err(err)],
            };
            futures_util::stream::iter(pieces)
        })
        .then(move |piece| async move {
            if let Ok(bytes) = &piece {
                let wait = Duration::from_secs_f64(bytes.len() as f64 / rate as f64);
                tokio::time::sleep(wait).await;
            }
            piece
        })
        .boxed()
}

fn split_every(mut bytes: Bytes, size: usize) -> Vec<Bytes> {
    let mut pieces = Vec::with_capacity(bytes.len() / size + 1);
    while bytes.len() > size {
        pieces.push(bytes.split_to(size));
    }
    if !bytes.is_empty() {
        pieces.push(bytes);
    }
    pieces
}

/// `bytes` in `n` nearly equal pieces (fewer when it is shorter than `n`,
/// one empty piece when it is empty, so that the wait still happens).
fn split(bytes: Bytes, n: usize) -> Vec<Bytes> {
    if bytes.is_empty() {
        return vec![bytes];
    }
    let size = bytes.len().div_ceil(n);
    split_every(bytes, size)
}

/// Random bytes that are not an HTTP status line, from the hit's seed.
fn garbage(draws: u64) -> Bytes {
    let mut rng = StdRng::seed_from_u64(draws);
    // Letters and digits: every client reads them as a status line that is
    // not HTTP (curl: HTTP/0.9; Python: BadStatusLine).
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes: Vec<u8> = (0..64)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect();
    Bytes::from(bytes)
}

/// An HTTP/1.1 response head for raw writing: `content_length` when given,
/// else chunked.
fn head_bytes(response: &Response, content_length: Option<u64>) -> BytesMut {
    let status = response.status();
    let mut raw = BytesMut::from(
        format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    for (name, value) in response.headers() {
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        raw.extend_from_slice(name.as_str().as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    match content_length {
        Some(length) => raw.extend_from_slice(format!("content-length: {length}\r\n").as_bytes()),
        None => raw.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    raw.extend_from_slice(b"connection: close\r\n\r\n");
    raw
}
