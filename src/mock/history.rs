//! Bounded request history: what a [`Router`](super::Router)'s journal and a
//! [`MockEngine`](super::MockEngine)'s history keep.
//!
//! Why bounded: a mock behind `wiretape serve` can run for days, and a
//! history that keeps every request grows by about a kilobyte per request
//! (a million requests: over a gigabyte). Both histories therefore keep the
//! most recent requests in a ring, count what fell out, and keep at most the
//! first bytes of each body. Call counts (what expectations check) are kept
//! apart, so verification stays exact however small the ring is.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::{Body, Request};

/// How many requests a history keeps unless told otherwise: the most recent
/// ones; older ones are dropped and counted.
pub const DEFAULT_HISTORY_ENTRIES: usize = 10_000;

/// How many bytes of each request body a history keeps unless told
/// otherwise (64 KiB); the rest is cut off in the history only, never in
/// what the handler or route sees.
pub const DEFAULT_HISTORY_BODY_BYTES: usize = 64 * 1024;

/// The most recent `limit` items, and how many older ones were dropped.
pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    limit: usize,
    body_limit: usize,
    dropped: u64,
}

impl<T> Ring<T> {
    pub(crate) fn new() -> Ring<T> {
        Ring {
            items: VecDeque::new(),
            limit: DEFAULT_HISTORY_ENTRIES,
            body_limit: DEFAULT_HISTORY_BODY_BYTES,
            dropped: 0,
        }
    }

    /// Keeps at most `limit` items from now on (dropping the oldest now if
    /// there are more).
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.trim();
    }

    /// Keeps at most `bytes` bytes of each request body from now on.
    pub(crate) fn set_body_limit(&mut self, bytes: usize) {
        self.body_limit = bytes;
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.body_limit
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.limit == 0 {
            self.dropped += 1;
            return;
        }
        self.items.push_back(item);
        self.trim();
    }

    fn trim(&mut self) {
        while self.items.len() > self.limit {
            self.items.pop_front();
            self.dropped += 1;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// How many items were dropped to keep within the limit (since the last
    /// [`clear`](Ring::clear)).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.dropped = 0;
    }
}

/// Cuts `request`'s (buffered) body to at most `limit` bytes, copied so
/// that the history does not keep the whole original buffer alive. In
/// place: a request is 128 bytes, and every journal entry passes one here.
pub(crate) fn cap_body(request: &mut Request, limit: usize) {
    let cut = match request.body().as_bytes() {
        Some(bytes) if bytes.len() > limit => Some(cap_bytes(bytes, limit)),
        _ => None,
    };
    if let Some(kept) = cut {
        *request.body_mut() = Body::from(kept);
    }
}

/// At most the first `limit` bytes of `bytes`: a copy when cut, so that the
/// whole original buffer is not kept alive; a cheap clone otherwise.
pub(crate) fn cap_bytes(bytes: &Bytes, limit: usize) -> Bytes {
    if bytes.len() > limit {
        Bytes::copy_from_slice(&bytes[..limit])
    } else {
        bytes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_items_and_counts_the_rest() {
        let mut ring = Ring::new();
        ring.set_limit(3);
        for n in 0..10 {
            ring.push(n);
        }
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(ring.dropped(), 7);
        ring.set_limit(1);
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![9]);
        assert_eq!(ring.dropped(), 9);
        ring.clear();
        assert_eq!((ring.len(), ring.dropped()), (0, 0));
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut ring = Ring::new();
        ring.set_limit(0);
        ring.push("a");
        assert_eq!((ring.len(), ring.dropped()), (0, 1));
    }

    #[test]
    fn caps_bodies_by_copying_their_first_bytes() {
        let mut request = Request::new(http::Method::POST, "http://x.test/".parse().unwrap())
            .with_body(vec![b'x'; 100]);
        cap_body(&mut request, 10);
        assert_eq!(request.body().as_bytes().unwrap().len(), 10);
        let mut small =
            Request::new(http::Method::POST, "http://x.test/".parse().unwrap()).with_body("short");
        cap_body(&mut small, 10);
        assert_eq!(small.body().as_bytes().unwrap(), "short");
    }
}
