//! The route index: method → path-segment trie, so that finding the routes
//! that can match a request does not cost one check per registered route.
//!
//! Routes with a literal method and a literal or templated path live in the
//! trie; every other route is scanned. Lookups give candidate positions in
//! the router's table (sorted by priority, then registration), which the
//! router then checks in full.

use std::sync::Arc;

use http::Method;

use super::route::Entry;
use super::template::Segment;

/// A map hashed with foldhash: lookups hash a method and short path segments
/// on every request, where SipHash's cost showed in profiles.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default, Clone)]
pub(crate) struct Index {
    by_method: HashMap<Method, Node>,
    /// Positions of routes that must be checked for every request.
    scanned: Vec<usize>,
}

#[derive(Default, Clone)]
struct Node {
    literal: HashMap<Box<str>, Node>,
    param: Option<Box<Node>>,
    /// Routes whose template ends in a catch-all at this node.
    catch_all: Vec<usize>,
    /// Routes whose template ends exactly at this node.
    end: Vec<usize>,
}

impl Index {
    /// Indexes `routes`, whose positions are their table positions.
    pub(crate) fn build(routes: &[Arc<Entry>]) -> Index {
        let mut index = Index::default();
        for (position, route) in routes.iter().enumerate() {
            index.add(position, route);
        }
        index
    }

    /// Indexes `route` at table position `position`, which must be after
    /// every position already indexed (candidates stay in table order).
    pub(crate) fn add(&mut self, position: usize, route: &Entry) {
        let Some((method, template)) = &route.key else {
            self.scanned.push(position);
            return;
        };
        let mut node = self.by_method.entry(method.clone()).or_default();
        for segment in template.segments() {
            node = match segment {
                Segment::Literal(text) => node.literal.entry(text.clone()).or_default(),
                Segment::Param(_) => node.param.get_or_insert_with(Default::default),
                Segment::CatchAll(_) => {
                    node.catch_all.push(position);
                    return;
                }
            };
        }
        node.end.push(position);
    }

    /// Appends to `out` the positions of every route that may match a
    /// request with `method` and (percent-encoded) `path`, in table order.
    pub(crate) fn candidates(&self, method: &Method, path: &str, out: &mut Vec<usize>) {
        if let (Some(root), Some(rest)) = (self.by_method.get(method), path.strip_prefix('/')) {
            root.collect(Some(rest), out);
        }
        out.extend_from_slice(&self.scanned);
        out.sort_unstable();
    }
}

impl Node {
    fn collect(&self, rest: Option<&str>, out: &mut Vec<usize>) {
        out.extend_from_slice(&self.catch_all);
        let Some(rest) = rest else {
            out.extend_from_slice(&self.end);
            return;
        };
        let (part, tail) = match rest.split_once('/') {
            Some((part, tail)) => (part, Some(tail)),
            None => (rest, None),
        };
        if let Some(child) = self.literal.get(part) {
            child.collect(tail, out);
        }
        if let (Some(child), false) = (&self.param, part.is_empty()) {
            child.collect(tail, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::router::RouteId;
    use crate::mock::{Route, matchers::*};

    fn index(routes: Vec<Route>) -> Index {
        let entries: Vec<Arc<Entry>> = routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| Arc::new(Entry::new(RouteId(i as u64), r)))
            .collect();
        Index::build(&entries)
    }

    fn found(index: &Index, method: Method, path: &str) -> Vec<usize> {
        let mut out = Vec::new();
        index.candidates(&method, path, &mut out);
        out
    }

    #[test]
    fn finds_literal_templated_and_catch_all_routes_only() {
        let index = index(vec![
            Route::given(method("GET")).and(path("/users")),
            Route::given(method("GET")).and(path("/users/{id}")),
            Route::given(method("POST")).and(path("/users")),
            Route::given(method("GET")).and(path("/files/{*rest}")),
            Route::given(path_prefix("/users")),
            Route::given(method("GET")).and(path("/")),
        ]);
        assert_eq!(found(&index, Method::GET, "/users"), vec![0, 4]);
        assert_eq!(found(&index, Method::GET, "/users/7"), vec![1, 4]);
        assert_eq!(found(&index, Method::POST, "/users"), vec![2, 4]);
        assert_eq!(found(&index, Method::GET, "/files"), vec![3, 4]);
        assert_eq!(found(&index, Method::GET, "/files/a/b"), vec![3, 4]);
        assert_eq!(found(&index, Method::GET, "/users/"), vec![4]);
        assert_eq!(found(&index, Method::GET, "/"), vec![4, 5]);
        assert_eq!(found(&index, Method::DELETE, "/users"), vec![4]);
    }
}
