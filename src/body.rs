//! Request and response bodies: empty, full, or a stream of chunks.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use sync_wrapper::SyncWrapper;

use crate::{BoxError, Error, Result};

/// A boxed stream of body chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'static>>;

/// The body of a [`Request`](crate::Request) or [`Response`](crate::Response).
///
/// A body is one of three things:
///
/// - **empty**;
/// - **full**: a single [`Bytes`] buffer, cheap to clone, so that retries
///   can resend it and recorders can keep it;
/// - **streamed**: chunks that arrive over time (a large download, server-sent
///   events). A streamed body is read once; it cannot be cloned, and wiretape
///   never buffers it whole unless you ask ([`Body::collect`]).
///
/// ```
/// use wiretape::Body;
///
/// let body = Body::from("hello");
/// assert_eq!(body.as_bytes().unwrap(), "hello");
/// assert!(body.try_clone().is_some());
/// ```
pub struct Body {
    kind: Kind,
}

/// An empty body is a `Full` with no bytes (`From<Bytes>` keeps it so):
/// with two variants the enum fits in a `Bytes`'s 32 bytes, where a third
/// took 40, and every `Request` and `Response` carries one through every
/// layer.
enum Kind {
    Full(Bytes),
    // SyncWrapper makes the body `Sync` (so errors and responses carrying it are)
    // without asking every user stream to be `Sync`: the stream is only ever
    // reached through `&mut`.
    Stream(SyncWrapper<ChunkStream>),
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Body {
        Body {
            kind: Kind::Full(Bytes::new()),
        }
    }

    /// A body from a stream of chunks. Errors from the stream end the body
    /// with an [`Error::Io`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use wiretape::Body;
    ///
    /// let chunks = futures_util::stream::iter(vec![
    ///     Ok::<_, std::io::Error>(Bytes::from("data: 1\n\n")),
    ///     Ok(Bytes::from("data: 2\n\n")),
    /// ]);
    /// let body = Body::from_stream(chunks);
    /// assert!(body.is_stream());
    /// ```
    pub fn from_stream<S, E>(stream: S) -> Body
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        use futures_util::StreamExt;
        Body::from_chunk_stream(Box::pin(
            stream.map(|chunk| chunk.map_err(|err| box_error_to_error(err.into()))),
        ))
    }

    /// A body from a stream that already yields wiretape errors.
    pub fn from_chunk_stream(stream: ChunkStream) -> Body {
        Body {
            kind: Kind::Stream(SyncWrapper::new(stream)),
        }
    }

    /// The bytes of a full body, or an empty slice for an empty body; `None`
    /// for a streamed body.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(bytes) => Some(bytes),
            Kind::Stream(_) => None,
        }
    }

    /// Whether this body is a stream of chunks.
    pub fn is_stream(&self) -> bool {
        matches!(self.kind, Kind::Stream(_))
    }

    /// Whether this body is known to be empty.
    pub fn is_empty(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_empty(),
            Kind::Stream(_) => false,
        }
    }

    /// The exact length, when known (not for streams).
    pub fn len(&self) -> Option<u64> {
        self.as_bytes().map(|b| b.len() as u64)
    }

    /// A copy of an empty or full body; `None` for a stream, which can only be
    /// read once.
    pub fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            Kind::Full(bytes) => Some(Body {
                kind: Kind::Full(bytes.clone()),
            }),
            Kind::Stream(_) => None,
        }
    }

    /// Reads the whole body into one buffer.
    pub async fn collect(self) -> Result<Bytes> {
        match self.kind {
            Kind::Full(bytes) => Ok(bytes),
            Kind::Stream(stream) => {
                use futures_util::StreamExt;
                let mut stream = stream.into_inner();
                // One chunk is the whole body, uncopied. Several are kept as
                // they come and copied once, into a buffer of the exact size:
                // growing a buffer chunk by chunk copied a 1 MiB download
                // about twice.
                let Some(first) = stream.next().await.transpose()? else {
                    return Ok(Bytes::new());
                };
                // A stream that knows it has ended (its size hint says no
                // more chunks) is not polled again to say so.
                if stream.size_hint().1 == Some(0) {
                    return Ok(first);
                }
                let Some(second) = stream.next().await.transpose()? else {
                    return Ok(first);
                };
                let mut chunks = vec![first, second];
                while let Some(chunk) = stream.next().await {
                    chunks.push(chunk?);
                }
                Ok(Bytes::from(chunks.concat()))
            }
        }
    }

    /// Turns the body into a stream of chunks (a full body is one chunk, an
    /// empty body none).
    pub fn into_stream(self) -> ChunkStream {
        match self.kind {
            Kind::Full(bytes) if bytes.is_empty() => Box::pin(futures_util::stream::empty()),
            Kind::Full(bytes) => Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
            Kind::Stream(stream) => stream.into_inner(),
        }
    }

    /// Reads the body fully if it is a stream, so that it becomes cloneable.
    pub async fn buffered(self) -> Result<Body> {
        if self.is_stream() {
            Ok(Body::from(self.collect().await?))
        } else {
            Ok(self)
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Full(bytes) if bytes.is_empty() => f.write_str("Body::Empty"),
            Kind::Full(bytes) => f.debug_tuple("Body::Full").field(bytes).finish(),
            Kind::Stream(_) => f.write_str("Body::Stream(..)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body {
            kind: Kind::Full(bytes),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(bytes))
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

fn box_error_to_error(err: BoxError) -> Error {
    match err.downcast::<Error>() {
        Ok(ours) => *ours,
        Err(other) => Error::Io {
            request: "reading a streamed body".into(),
            message: other.to_string(),
        },
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, Error>>> {
        match &mut self.kind {
            Kind::Full(bytes) if bytes.is_empty() => Poll::Ready(None),
            Kind::Full(bytes) => {
                Poll::Ready(Some(Ok(http_body::Frame::data(std::mem::take(bytes)))))
            }
            Kind::Stream(stream) => stream
                .get_mut()
                .as_mut()
                .poll_next(cx)
                .map(|item| item.map(|chunk| chunk.map(http_body::Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.kind, Kind::Full(bytes) if bytes.is_empty())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.kind {
            Kind::Full(bytes) => http_body::SizeHint::with_exact(bytes.len() as u64),
            Kind::Stream(_) => http_body::SizeHint::default(),
        }
    }
}

/// Wraps any `http_body::Body` (hyper's `Incoming`, say) as a streamed
/// [`Body`], mapping its errors with `map_err`.
pub(crate) fn from_http_body<B, F>(body: B, map_err: F) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    F: Fn(B::Error) -> Error + Send + 'static,
{
    Body::from_chunk_stream(Box::pin(DataFrames { body, map_err }))
}

pin_project_lite::pin_project! {
    /// An `http_body::Body`'s data frames as a stream of chunks, its errors
    /// mapped and its trailers skipped: one layer where http-body-util's
    /// `BodyDataStream` over `MapErr` made two. Its size hint says when the
    /// body has ended (a `Content-Length` body read to its length), so that
    /// [`Body::collect`] stops after the last chunk instead of polling the
    /// whole stack once more to hear that nothing is left.
    struct DataFrames<B, F> {
        #[pin]
        body: B,
        map_err: F,
    }
}

impl<B, F> Stream for DataFrames<B, F>
where
    B: http_body::Body<Data = Bytes>,
    F: Fn(B::Error) -> Error,
{
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let mut this = self.project();
        loop {
            match std::task::ready!(this.body.as_mut().poll_frame(cx)) {
                // Trailers are not part of the body's bytes: read on.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Some(Err(err)) => return Poll::Ready(Some(Err((this.map_err)(err)))),
                None => return Poll::Ready(None),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.body.is_end_stream() {
            (0, Some(0))
        } else {
            (0, None)
        }
    }
}

// Every `Request` and `Response` moves one through every layer.
const _: () = assert!(std::mem::size_of::<Body>() == std::mem::size_of::<Bytes>());

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static str]) -> Body {
        let items: Vec<std::io::Result<Bytes>> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        Body::from_stream(futures_util::stream::iter(items))
    }

    /// A body of one frame that says it has ended once the frame is out,
    /// and fails the test if it is polled again.
    struct OneFrame(Option<Bytes>);

    impl http_body::Body for OneFrame {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, Self::Error>>> {
            let data = self
                .0
                .take()
                .expect("not polled after it said it had ended");
            Poll::Ready(Some(Ok(http_body::Frame::data(data))))
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_none()
        }
    }

    #[tokio::test]
    async fn a_wrapped_body_that_has_ended_is_not_polled_again() {
        let body = from_http_body(
            OneFrame(Some(Bytes::from_static(b"whole"))),
            |never| match never {},
        );
        assert_eq!(body.collect().await.unwrap(), "whole");
    }

    #[tokio::test]
    async fn a_wrapped_body_yields_its_data_maps_its_errors_and_skips_trailers() {
        use http_body::Frame;
        let frames = |last: std::io::Result<Frame<Bytes>>| {
            http_body_util::StreamBody::new(futures_util::stream::iter(vec![
                Ok(Frame::data(Bytes::from_static(b"ab"))),
                Ok(Frame::data(Bytes::from_static(b"c"))),
                last,
            ]))
        };
        let mapped = |err: std::io::Error| Error::invalid(format!("mapped: {err}"));
        let trailers = Frame::trailers(http::HeaderMap::new());
        let body = from_http_body(frames(Ok(trailers)), mapped);
        assert_eq!(body.collect().await.unwrap(), "abc");
        let broken = from_http_body(frames(Err(std::io::Error::other("cut off"))), mapped);
        let err = broken.collect().await.unwrap_err().to_string();
        assert!(err.contains("mapped: cut off"), "{err}");
    }

    #[tokio::test]
    async fn collecting_a_stream_joins_its_chunks_in_order() {
        assert_eq!(chunks(&[]).collect().await.unwrap(), "");
        assert_eq!(chunks(&["only"]).collect().await.unwrap(), "only");
        assert_eq!(
            chunks(&["a", "", "bc", "def"]).collect().await.unwrap(),
            "abcdef"
        );
        let broken = Body::from_stream(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"a")),
            Ok(Bytes::from_static(b"b")),
            Err(std::io::Error::other("cut off")),
        ]));
        assert!(
            broken
                .collect()
                .await
                .unwrap_err()
                .to_string()
                .contains("cut off")
        );
    }
}
