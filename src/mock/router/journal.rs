//! The request journal: every request a router saw, and what answered it.

use std::fmt;
use std::sync::Arc;

use super::route::RouteId;
use crate::Request;

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

/// One request the router received, with its buffered body, and what
/// answered it.
#[derive(Clone)]
pub struct JournalEntry {
    pub(crate) request: Arc<Request>,
    pub(crate) answer: Answer,
}

impl JournalEntry {
    /// The request, body included.
    pub fn request(&self) -> &Request {
        &self.request
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
