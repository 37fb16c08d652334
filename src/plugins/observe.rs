//! Watching a body go by without buffering it: the one stream wrapper that
//! Logging, Cache and progress share.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::body::ChunkStream;
use crate::{Body, Error, Result};

/// What an observer is told about a body.
pub(crate) enum BodyEvent<'a> {
    /// A chunk went by.
    Chunk(&'a Bytes),
    /// The body ended normally.
    End,
    /// The body broke off with this error.
    Error(&'a Error),
}

/// Returns `body` unchanged for its reader, telling `observer` about each
/// chunk and how it ends. A full body is reported at once; a stream as it is
/// read.
pub(crate) fn observe<F>(body: Body, mut observer: F) -> Body
where
    F: FnMut(BodyEvent<'_>) + Send + Unpin + 'static,
{
    if let Some(bytes) = body.as_bytes() {
        if !bytes.is_empty() {
            observer(BodyEvent::Chunk(bytes));
        }
        observer(BodyEvent::End);
        return body;
    }
    Body::from_chunk_stream(Box::pin(Observed {
        inner: body.into_stream(),
        observer,
        done: false,
    }))
}

struct Observed<F> {
    inner: ChunkStream,
    observer: F,
    done: bool,
}

impl<F> Stream for Observed<F>
where
    F: FnMut(BodyEvent<'_>) + Send + Unpin,
{
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = std::task::ready!(this.inner.as_mut().poll_next(cx));
        if !this.done {
            match &item {
                Some(Ok(chunk)) => (this.observer)(BodyEvent::Chunk(chunk)),
                Some(Err(err)) => {
                    this.done = true;
                    (this.observer)(BodyEvent::Error(err));
                }
                None => {
                    this.done = true;
                    (this.observer)(BodyEvent::End);
                }
            }
        }
        Poll::Ready(item)
    }
}
