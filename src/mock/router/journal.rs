//! The request journal: the requests a router saw, and what answered them.
//!
//! The journal is a bounded ring (the one `MockEngine` history uses): it keeps
//! the most recent requests, with at most the first bytes of each body, so
//! that a long-running `serve` keeps flat memory. Call counts live on the
//! routes, not here, so verification does not depend on what the ring kept.

use std::fmt;
use std::sync::Arc;

use super::route::RouteId;
use crate::Request;
use crate::mock::history::cap_body;

/// What answered a journaled request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A route (its id and how reports call it).
    Route {
        /// The route's id.
        id: RouteId,
        /// The route's name, or its id and matchers.
        label: Arc<str>,
    },
    /// The fallback engine (spy mode).
    Fallback,
    /// Nothing: the request got a near-miss report.
    Unmatched,
}

/// One request the router received, with its buffered body (up to the
/// journal's body limit), and what answered it.
///
/// The request is kept in the entry itself, not behind an `Arc`: a routed
/// call then costs no allocation for its journal entry, and reading the
/// journal, which is rare, copies each request's head (reference counts:
/// its headers, URL and body are shared).
pub struct JournalEntry {
    pub(crate) request: Request,
    pub(crate) answer: Answer,
    pub(crate) body_len: usize,
}

impl Clone for JournalEntry {
    fn clone(&self) -> JournalEntry {
        JournalEntry {
            // A journaled body is always in memory (the router reads a
            // streamed one before routing it); were it not, the copy
            // would have the head alone.
            request: self
                .request
                .try_clone()
                .unwrap_or_else(|| self.request.copy_head()),
            answer: self.answer.clone(),
            body_len: self.body_len,
        }
    }
}

impl JournalEntry {
    pub(crate) fn new(mut request: Request, answer: Answer, body_limit: usize) -> JournalEntry {
        let body_len = request.body().len().unwrap_or(0) as usize;
        cap_body(&mut request, body_limit);
        JournalEntry {
            request,
            answer,
            body_len,
        }
    }

    /// The request, body included (its first bytes only when it was longer
    /// than the journal's body limit: compare [`body_len`](JournalEntry::body_len)).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The length in bytes of the body the router received, even when the
    /// journal kept only its first bytes.
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// Whether the journal kept only the first bytes of the body.
    pub fn body_truncated(&self) -> bool {
        self.request.body().len().unwrap_or(0) as usize != self.body_len
    }

    /// What answered it.
    pub fn answer(&self) -> &Answer {
        &self.answer
    }

    /// The id of the route that answered, if one did.
    pub fn route(&self) -> Option<RouteId> {
        match &self.answer {
            Answer::Route { id, .. } => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Debug for JournalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {:?}", self.request, self.answer)
    }
}
