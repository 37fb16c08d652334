//! ContentEncoding: ask for compressed bodies and decode them as they stream.
//!
//! Decoding uses `async-compression` over `tokio-util`'s `StreamReader` and
//! `ReaderStream`: the body is decoded chunk by chunk as the caller reads
//! it, never buffered whole, and one crate covers gzip, zlib, raw deflate and
//! brotli with the same streaming interface.
//!
//! Brotli is the `brotli` feature: its decoder is a large crate few test
//! suites need. Without it, `br` is neither asked for nor decoded, as
//! reqwest does without its `brotli` feature: a server that sends `br`
//! anyway gets its body passed through untouched, `Content-Encoding: br`
//! included, so the caller can see what arrived.

use std::io;
use std::pin::Pin;
use std::sync::Arc;

#[cfg(feature = "brotli")]
use async_compression::tokio::bufread::BrotliDecoder;
use async_compression::tokio::bufread::{DeflateDecoder, GzipDecoder, ZlibDecoder};

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use http::{HeaderValue, Method, StatusCode, header};
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use super::{Next, Plugin};
use crate::body::ChunkStream;
use crate::engine::BoxFuture;
use crate::{Body, Error, Request, Response, Result};

/// Asks servers for compressed bodies and decodes them transparently (Ktor's
/// `ContentEncoding`, reqwest's `gzip`/`deflate`/`brotli`).
///
/// - Requests get `Accept-Encoding` with the enabled codings
///   (`gzip, deflate, br` by default with the `brotli` feature, `gzip, deflate`
///   without it). A request that sets its own
///   `Accept-Encoding` is left alone and its response is not decoded: it
///   asked for the raw bytes.
/// - Responses whose `Content-Encoding` lists only enabled codings are
///   decoded while they stream (stacked codings such as `gzip, br` are
///   undone in reverse order); `Content-Encoding` and `Content-Length` are
///   removed, since they described the encoded bytes. `deflate` is decoded
///   as zlib-wrapped, as the standard says, or as raw deflate when the body
///   does not start with a zlib header (as some servers send it).
/// - A coding that is not enabled, or not compiled in (`br` without the
///   `brotli` feature), is left alone: the body and its `Content-Encoding`
///   pass through as they came.
/// - A body that does not decode fails, when it is read, with an
///   [`Error::Decode`](crate::Error::Decode) naming the coding and the request.
///
/// ```
/// use wiretape::{mock::MockEngine, plugins::ContentEncoding, Client, Response, StatusCode};
///
/// // "hello, hello, hello" compressed with gzip.
/// const GZIPPED: &[u8] = &[
///     0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
///     0xd7, 0x51, 0xc8, 0x40, 0xa2, 0x00, 0x9f, 0xa1, 0xca, 0x09, 0x13, 0x00, 0x00, 0x00,
/// ];
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|request| async move {
///     assert!(request.header_str("accept-encoding").unwrap().starts_with("gzip, deflate"));
///     Ok(Response::new(StatusCode::OK).with_header("content-encoding", "gzip").with_body(GZIPPED))
/// });
/// let client = Client::builder().engine(engine).content_encoding(ContentEncoding::new()).build()?;
/// let response = client.get("http://api.test/").send().await?;
/// assert!(response.headers().get("content-encoding").is_none());
/// assert_eq!(response.text().await?, "hello, hello, hello");
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentEncoding {
    gzip: bool,
    deflate: bool,
    #[cfg(feature = "brotli")]
    brotli: bool,
}

impl Default for ContentEncoding {
    fn default() -> Self {
        ContentEncoding::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
    #[cfg(feature = "brotli")]
    Brotli,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            #[cfg(feature = "brotli")]
            Coding::Brotli => "br",
        }
    }
}

impl ContentEncoding {
    /// gzip, deflate and, with the `brotli` feature, brotli.
    pub fn new() -> ContentEncoding {
        ContentEncoding {
            gzip: true,
            deflate: true,
            #[cfg(feature = "brotli")]
            brotli: true,
        }
    }

    /// Whether to accept and decode gzip.
    pub fn gzip(mut self, enabled: bool) -> ContentEncoding {
        self.gzip = enabled;
        self
    }

    /// Whether to accept and decode deflate.
    pub fn deflate(mut self, enabled: bool) -> ContentEncoding {
        self.deflate = enabled;
        self
    }

    /// Whether to accept and decode brotli (`br`). Needs the `brotli` feature.
    #[cfg(feature = "brotli")]
    #[cfg_attr(docsrs, doc(cfg(feature = "brotli")))]
    pub fn brotli(mut self, enabled: bool) -> ContentEncoding {
        self.brotli = enabled;
        self
    }

    fn enabled(&self) -> Vec<Coding> {
        [
            (Coding::Gzip, self.gzip),
            (Coding::Deflate, self.deflate),
            #[cfg(feature = "brotli")]
            (Coding::Brotli, self.brotli),
        ]
        .into_iter()
        .filter_map(|(coding, on)| on.then_some(coding))
        .collect()
    }

    /// The codings of a response, outermost last, if all are enabled.
    fn codings(&self, response: &Response) -> Option<Vec<Coding>> {
        let enabled = self.enabled();
        let mut codings = Vec::new();
        for value in response.headers().get_all(header::CONTENT_ENCODING) {
            for name in value.to_str().ok()?.split(',') {
                let name = name.trim().to_ascii_lowercase();
                let coding = match name.as_str() {
                    "" | "identity" => continue,
                    "gzip" | "x-gzip" => Coding::Gzip,
                    "deflate" => Coding::Deflate,
                    #[cfg(feature = "brotli")]
                    "br" => Coding::Brotli,
                    _ => return None,
                };
                if !enabled.contains(&coding) {
                    return None;
                }
                codings.push(coding);
            }
        }
        Some(codings)
    }

    async fn run(&self, mut request: Request, next: Next<'_>) -> Result<Response> {
        let enabled = self.enabled();
        if request.headers().contains_key(header::ACCEPT_ENCODING) || enabled.is_empty() {
            return next.run(request).await;
        }
        let accept: Vec<&str> = enabled.iter().map(|coding| coding.name()).collect();
        if let Ok(value) = HeaderValue::from_str(&accept.join(", ")) {
            request.headers_mut().insert(header::ACCEPT_ENCODING, value);
        }
        let bodiless = request.method() == Method::HEAD;
        let name = request.to_string();
        let mut response = next.run(request).await?;
        let status = response.status();
        if bodiless || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let Some(codings) = self.codings(&response) else {
            return Ok(response);
        };
        if codings.is_empty() || response.body().is_empty() {
            return Ok(response);
        }
        let mut body = std::mem::take(response.body_mut()).into_stream();
        for coding in codings.into_iter().rev() {
            let what: Arc<str> = format!("{} response body of {name}", coding.name()).into();
            body = decode(body, coding, what);
        }
        *response.body_mut() = Body::from_chunk_stream(body);
        response.headers_mut().remove(header::CONTENT_ENCODING);
        response.headers_mut().remove(header::CONTENT_LENGTH);
        Ok(response)
    }
}

/// The decoded form of `body`. An empty body stays empty: servers send
/// `Content-Encoding: gzip` with `Content-Length: 0`, which is no gzip stream.
fn decode(body: ChunkStream, coding: Coding, what: Arc<str>) -> ChunkStream {
    // Only the first two bytes tell zlib from raw deflate; one tells an empty body.
    let needed = if coding == Coding::Deflate { 2 } else { 1 };
    let decided = async move {
        match peek(body, needed).await {
            Ok((prefix, _)) if prefix.is_empty() => Box::pin(stream::empty()) as ChunkStream,
            Ok((prefix, body)) => decode_with(body, coding, is_zlib_header(&prefix), what),
            Err(err) => Box::pin(stream::once(async move { Err(err) })),
        }
    };
    Box::pin(stream::once(decided).flatten())
}

fn decode_with(body: ChunkStream, coding: Coding, zlib: bool, what: Arc<str>) -> ChunkStream {
    let reader = StreamReader::new(body.map(|chunk| chunk.map_err(io::Error::other)));
    let decoder: Pin<Box<dyn AsyncRead + Send>> = match coding {
        Coding::Gzip => {
            let mut decoder = GzipDecoder::new(reader);
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
        Coding::Deflate if zlib => Box::pin(ZlibDecoder::new(reader)),
        Coding::Deflate => Box::pin(DeflateDecoder::new(reader)),
        #[cfg(feature = "brotli")]
        Coding::Brotli => Box::pin(BrotliDecoder::new(reader)),
    };
    Box::pin(ReaderStream::new(decoder).map(move |chunk| chunk.map_err(|err| from_io(err, &what))))
}

/// An I/O error from the decoder: the body's own error if it broke off,
/// else a decode error.
fn from_io(err: io::Error, what: &str) -> Error {
    if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(Ok(ours)) = err.into_inner().map(|inner| inner.downcast::<Error>()) {
            return *ours;
        }
        return Error::decode(what, "the body broke off");
    }
    Error::decode(what, err)
}

/// Reads chunks until `n` bytes are known (or the body ends), and gives them
/// back with the whole body.
async fn peek(mut body: ChunkStream, n: usize) -> Result<(Bytes, ChunkStream)> {
    let mut prefix = BytesMut::new();
    while prefix.len() < n {
        match body.next().await {
            Some(chunk) => prefix.extend_from_slice(&chunk?),
            None => break,
        }
    }
    let prefix = prefix.freeze();
    let whole = stream::once({
        let prefix = prefix.clone();
        async move { Ok(prefix) }
    })
    .chain(body);
    Ok((prefix, Box::pin(whole)))
}

/// Whether `bytes` start with a zlib header (RFC 1950: deflate, a valid
/// window size, and a header checksum divisible by 31).
fn is_zlib_header(bytes: &[u8]) -> bool {
    match bytes {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

struct ContentEncodingPlugin(ContentEncoding);

impl Plugin for ContentEncodingPlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        Box::pin(self.0.run(request, next))
    }
}

pub(super) fn plugin(config: ContentEncoding) -> Arc<dyn Plugin> {
    Arc::new(ContentEncodingPlugin(config))
}
