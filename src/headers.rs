//! [`SharedHeaders`]: the header map a [`Request`](crate::Request) or a
//! [`Response`](crate::Response) carries, shared until it changes.
//!
//! Why shared: the same head is handed out again and again. The redirect
//! plugin keeps the head of every request it sends, the client's default
//! headers go on every request, and a route or a tape gives every response
//! it answers the same head. Sharing makes each of those a reference count
//! rather than a copy of the map (two allocations and a clone of every
//! name and value).
//!
//! Why one pointer: requests and responses are moved into and out of every
//! plugin, engine and future they pass through, and the compiler moves a
//! value of up to 128 bytes with a few vector stores but a larger one with
//! a call to `memcpy`. A `HeaderMap` is 96 bytes by itself; this is 8.

use std::sync::{Arc, OnceLock};

use http::HeaderMap;

/// A header map behind an [`Arc`], copied on the first change if anyone
/// else holds it, and nothing at all while it is empty.
#[derive(Clone, Default)]
pub(crate) struct SharedHeaders(Option<Arc<HeaderMap>>);

const _: () = assert!(std::mem::size_of::<SharedHeaders>() == std::mem::size_of::<usize>());

impl SharedHeaders {
    /// The headers of `map`, taken as they are: an empty map allocates
    /// nothing.
    pub(crate) fn new(map: HeaderMap) -> SharedHeaders {
        SharedHeaders((!map.is_empty()).then(|| Arc::new(map)))
    }

    /// `map`, shared with whoever else holds it.
    pub(crate) fn shared(map: Arc<HeaderMap>) -> SharedHeaders {
        SharedHeaders(Some(map))
    }

    /// The map.
    pub(crate) fn get(&self) -> &HeaderMap {
        match &self.0 {
            Some(map) => map,
            None => empty(),
        }
    }

    /// The map, mutably: copied first if it is shared, so that a change
    /// reaches this holder only.
    pub(crate) fn get_mut(&mut self) -> &mut HeaderMap {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }

    /// The map by value: the map itself if this is its only holder, else
    /// `copy` of it.
    pub(crate) fn into_map(self, copy: impl FnOnce(&HeaderMap) -> HeaderMap) -> HeaderMap {
        match self.0 {
            Some(map) => Arc::try_unwrap(map).unwrap_or_else(|kept| copy(&kept)),
            None => HeaderMap::new(),
        }
    }
}

/// The map of a holder that has no headers.
fn empty() -> &'static HeaderMap {
    static EMPTY: OnceLock<HeaderMap> = OnceLock::new();
    EMPTY.get_or_init(HeaderMap::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &'static str, value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, http::HeaderValue::from_static(value));
        map
    }

    #[test]
    fn an_empty_map_holds_nothing_and_reads_as_empty() {
        let headers = SharedHeaders::new(HeaderMap::new());
        assert!(headers.0.is_none());
        assert!(headers.get().is_empty());
        assert!(headers.into_map(HeaderMap::clone).is_empty());
    }

    #[test]
    fn a_change_reaches_only_the_holder_that_made_it() {
        let kept = Arc::new(one("x-a", "1"));
        let mut first = SharedHeaders::shared(Arc::clone(&kept));
        let second = first.clone();
        first
            .get_mut()
            .insert("x-b", http::HeaderValue::from_static("2"));
        assert_eq!(first.get()["x-b"], "2");
        assert!(!second.get().contains_key("x-b"));
        assert!(!kept.contains_key("x-b"));
        assert_eq!(second.get()["x-a"], "1");
    }

    #[test]
    fn the_only_holder_gets_the_map_itself_and_others_a_copy() {
        let alone = SharedHeaders::new(one("x-a", "1"));
        let map = alone.into_map(|_| panic!("the only holder is not copied"));
        assert_eq!(map["x-a"], "1");

        let kept = Arc::new(one("x-a", "1"));
        let copied = SharedHeaders::shared(Arc::clone(&kept)).into_map(|map| {
            let mut copy = map.clone();
            copy.insert("x-copied", http::HeaderValue::from_static("yes"));
            copy
        });
        assert_eq!(copied["x-copied"], "yes");
        assert_eq!(kept.len(), 1);
    }
}
