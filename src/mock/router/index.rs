//! The route index: method → path-segment trie, so that finding the routes
//! that can match a request does not cost one check per registered route;
//! at each end of the trie, routes that want an exact body (bytes or JSON)
//! are filed by the body's fingerprint, so that many routes on one method
//! and path (GraphQL, JSON-RPC) do not cost one check each either.
//!
//! A node keeps a handful of literal children in a list and hashes them
//! past that; the methods are a list too. Comparing a short segment with
//! each of a few known ones costs less than hashing it, and that is what
//! almost every level of a REST API's trie holds.
//!
//! Routes with a literal method and a literal or templated path live in the
//! trie; every other route is scanned. Lookups give candidate positions in
//! the router's table (sorted by priority, then registration), which the
//! router then checks in full.

use std::cell::OnceCell;
use std::sync::Arc;

use http::Method;

use super::matchers::BodyKey;
use super::route::Entry;
use super::template::{Segment, split_once_byte};
use crate::fingerprint;

/// A map hashed with foldhash: lookups hash short path segments (at a node
/// with many children) and body fingerprints on every request, where
/// SipHash's cost showed in profiles.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default, Clone)]
pub(crate) struct Index {
    /// A root per method, searched in order: a router uses a handful of
    /// methods, and comparing two is cheaper than hashing one.
    by_method: Vec<(Method, Node)>,
    /// Positions of routes that must be checked for every request.
    scanned: Vec<usize>,
}

#[derive(Default, Clone)]
struct Node {
    literal: Literals,
    param: Option<Box<Node>>,
    /// Routes whose template ends in a catch-all at this node.
    catch_all: Bucket,
    /// Routes whose template ends exactly at this node.
    end: Bucket,
}

/// A node's literal children. Most nodes have one or a few (`/api`, `/v1`),
/// where comparing the segment with each is cheaper than hashing it; a
/// node with many (one per resource) hashes.
#[derive(Clone)]
enum Literals {
    Few(Vec<(Box<str>, Node)>),
    Many(HashMap<Box<str>, Node>),
}

/// The most children [`Literals::Few`] holds before it becomes a map.
const FEW: usize = 8;

impl Default for Literals {
    fn default() -> Literals {
        Literals::Few(Vec::new())
    }
}

impl Literals {
    fn get(&self, part: &str) -> Option<&Node> {
        match self {
            Literals::Few(children) => children
                .iter()
                .find(|(text, _)| **text == *part)
                .map(|(_, node)| node),
            Literals::Many(children) => children.get(part),
        }
    }

    /// The child for `text`, added empty if it is new.
    fn child(&mut self, text: &str) -> &mut Node {
        if let Literals::Few(children) = self
            && children.len() == FEW
            && !children.iter().any(|(known, _)| **known == *text)
        {
            *self = Literals::Many(std::mem::take(children).into_iter().collect());
        }
        match self {
            Literals::Few(children) => {
                let at = match children.iter().position(|(known, _)| **known == *text) {
                    Some(at) => at,
                    None => {
                        children.push((text.into(), Node::default()));
                        children.len() - 1
                    }
                };
                &mut children[at].1
            }
            Literals::Many(children) => children.entry(text.into()).or_default(),
        }
    }
}

/// Routes that end at one place in the trie.
#[derive(Default, Clone)]
struct Bucket {
    /// Those that may match any body (as far as the index knows).
    any: Vec<usize>,
    /// Those that want an exact body, by its fingerprint.
    by_body: HashMap<BodyKey, Vec<usize>>,
}

impl Bucket {
    fn push(&mut self, position: usize, body: Option<BodyKey>) {
        match body {
            Some(key) => self.by_body.entry(key).or_default().push(position),
            None => self.any.push(position),
        }
    }

    fn is_empty(&self) -> bool {
        self.any.is_empty() && self.by_body.is_empty()
    }

    fn collect(&self, body: &RequestBody<'_>, out: &mut Vec<usize>) {
        if !self.any.is_empty() {
            out.extend_from_slice(&self.any);
        }
        if self.by_body.is_empty() {
            return;
        }
        for key in [Some(body.bytes_key()), body.json_key()]
            .into_iter()
            .flatten()
        {
            if let Some(positions) = self.by_body.get(&key) {
                out.extend_from_slice(positions);
            }
        }
    }
}

/// A request body's fingerprints, computed on first use: most lookups never
/// reach a route that wants an exact body.
struct RequestBody<'a> {
    bytes: &'a [u8],
    bytes_key: OnceCell<BodyKey>,
    json_key: OnceCell<Option<BodyKey>>,
}

impl RequestBody<'_> {
    fn bytes_key(&self) -> BodyKey {
        *self
            .bytes_key
            .get_or_init(|| BodyKey::Bytes(fingerprint::of_bytes(self.bytes)))
    }

    fn json_key(&self) -> Option<BodyKey> {
        *self
            .json_key
            .get_or_init(|| fingerprint::of_json_bytes(self.bytes).map(BodyKey::Json))
    }
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
        let at = match self.by_method.iter().position(|(known, _)| known == method) {
            Some(at) => at,
            None => {
                self.by_method.push((method.clone(), Node::default()));
                self.by_method.len() - 1
            }
        };
        let mut node = &mut self.by_method[at].1;
        for segment in template.segments() {
            node = match segment {
                Segment::Literal(text) => node.literal.child(text),
                Segment::Param(_) => node.param.get_or_insert_with(Default::default),
                Segment::CatchAll(_) => {
                    node.catch_all.push(position, route.body);
                    return;
                }
            };
        }
        node.end.push(position, route.body);
    }

    /// Appends to `out` the positions of every route that may match a
    /// request with `method`, (percent-encoded) `path` and `body`, in table
    /// order.
    pub(crate) fn candidates(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
        out: &mut Vec<usize>,
    ) {
        let root = self.by_method.iter().find(|(known, _)| known == method);
        if let (Some((_, root)), Some(rest)) = (root, path.strip_prefix('/')) {
            let body = RequestBody {
                bytes: body,
                bytes_key: OnceCell::new(),
                json_key: OnceCell::new(),
            };
            root.collect(Some(rest), &body, out);
        }
        out.extend_from_slice(&self.scanned);
        out.sort_unstable();
    }
}

impl Node {
    fn collect(&self, rest: Option<&str>, body: &RequestBody<'_>, out: &mut Vec<usize>) {
        // Most nodes end no route: skip their buckets without a call.
        if !self.catch_all.is_empty() {
            self.catch_all.collect(body, out);
        }
        let Some(rest) = rest else {
            if !self.end.is_empty() {
                self.end.collect(body, out);
            }
            return;
        };
        let (part, tail) = match split_once_byte(rest, b'/') {
            Some((part, tail)) => (part, Some(tail)),
            None => (rest, None),
        };
        if let Some(child) = self.literal.get(part) {
            child.collect(tail, body, out);
        }
        if let (Some(child), false) = (&self.param, part.is_empty()) {
            child.collect(tail, body, out);
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
        found_with(index, method, path, "")
    }

    fn found_with(index: &Index, method: Method, path: &str, body: &str) -> Vec<usize> {
        let mut out = Vec::new();
        index.candidates(&method, path, body.as_bytes(), &mut out);
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

    #[test]
    fn siblings_are_found_whether_their_node_lists_or_hashes_them() {
        // Each sibling has a literal and a templated child, so that a
        // known segment is met again before and after the node hashes.
        for count in [1, FEW, FEW + 1, 3 * FEW] {
            let routes = (0..count)
                .flat_map(|i| {
                    [
                        Route::given(method("GET")).and(path(format!("/r{i}/x"))),
                        Route::given(method("GET")).and(path(format!("/r{i}/{{id}}"))),
                    ]
                })
                .collect();
            let index = index(routes);
            for i in 0..count {
                let at = 2 * i;
                assert_eq!(
                    found(&index, Method::GET, &format!("/r{i}/x")),
                    vec![at, at + 1],
                    "{count} siblings"
                );
                assert_eq!(
                    found(&index, Method::GET, &format!("/r{i}/7")),
                    vec![at + 1]
                );
            }
            assert_eq!(
                found(&index, Method::GET, &format!("/r{count}/x")),
                Vec::<usize>::new()
            );
        }
    }

    #[test]
    fn exact_bodies_are_found_by_fingerprint_and_the_rest_are_offered_to_all() {
        let graphql = || Route::given(method("POST")).and(path("/graphql"));
        let index = index(vec![
            graphql().and(body_json(&serde_json::json!({"query": "a", "n": 1}))),
            graphql().and(body_string(r#"{"query":"b"}"#)),
            graphql().and(body_partial_json(&serde_json::json!({"query": "a"}))),
            graphql().and(body_bytes(&b"\x00\x01"[..])),
            graphql().and(body_json(&serde_json::json!({"query": "b"}))),
            Route::given(method("POST"))
                .and(path("/rpc/{*rest}"))
                .and(body_string("ping")),
        ]);
        let post = |path, body| found_with(&index, Method::POST, path, body);
        assert_eq!(post("/graphql", r#"{ "n": 1, "query": "a" }"#), vec![0, 2]);
        // Bytes and JSON fingerprints are both looked up.
        assert_eq!(post("/graphql", r#"{"query":"b"}"#), vec![1, 2, 4]);
        assert_eq!(post("/graphql", "\u{0}\u{1}"), vec![2, 3]);
        assert_eq!(post("/graphql", "not json"), vec![2]);
        assert_eq!(post("/rpc/a/b", "ping"), vec![5]);
        assert_eq!(post("/rpc/a/b", "pong"), Vec::<usize>::new());
    }
}
