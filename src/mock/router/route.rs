//! A route: matchers, a responder, expectations, and its runtime state.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Method;

use super::expect::Times;
use super::matchers::{BodyKey, Hint, Matcher};
use super::responders::{Responder, status};
use super::socket::Socket;
use super::template::PathTemplate;
use crate::Request;
use crate::fault::FaultPlan;

/// The priority a route has unless it says otherwise. Lower numbers win.
pub const DEFAULT_PRIORITY: u8 = 5;

/// A declarative route: when every matcher passes, the responder answers.
///
/// Reads like a sentence:
///
/// ```
/// use wiretape::mock::{Route, matchers::*, responders::*};
///
/// let route = Route::given(method("GET"))
///     .and(path("/users/{id}"))
///     .and(header("x-team", "payments"))
///     .respond_with(json(&serde_json::json!({"id": 7})))
///     .times(1)
///     .named("get user");
/// # let _ = route;
/// ```
///
/// A route without [`respond_with`](Route::respond_with) answers `200 OK`
/// with an empty body. Among routes that match, the lowest
/// [`priority`](Route::priority) wins, then the first registered.
#[derive(Debug, Clone)]
pub struct Route {
    matchers: Vec<Matcher>,
    responder: Option<Responder>,
    name: Option<String>,
    priority: u8,
    expect: Times,
    limit: Option<usize>,
    scenario: Option<Scenario>,
    faults: Option<FaultPlan>,
    socket: Option<Arc<Socket>>,
}

/// A route's place in a named state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) when: Option<String>,
    pub(crate) then: Option<String>,
}

/// The state every scenario starts in.
pub const STARTED: &str = "Started";

impl Route {
    /// A route that matches every request (until matchers are added).
    pub fn new() -> Route {
        Route {
            matchers: Vec::new(),
            responder: None,
            name: None,
            priority: DEFAULT_PRIORITY,
            expect: Times::any(),
            limit: None,
            scenario: None,
            faults: None,
            socket: None,
        }
    }

    /// A route with a first matcher.
    pub fn given(matcher: impl Into<Matcher>) -> Route {
        Route::new().and(matcher)
    }

    /// Adds a matcher: the route matches when all of them pass.
    pub fn and(mut self, matcher: impl Into<Matcher>) -> Route {
        self.matchers.push(matcher.into());
        self
    }

    /// What the route answers with.
    pub fn respond_with(mut self, responder: impl Into<Responder>) -> Route {
        self.responder = Some(responder.into());
        self
    }

    /// Faults on this route's answers: a [`Fault`](crate::fault::Fault)
    /// every time, or a [`FaultPlan`] (`FaultPlan::sequence([Fault::Reset,
    /// Fault::Ok])`). The fault acts on whatever the route answers; on a
    /// [`websocket`](Route::websocket) route, on its handshakes and frames
    /// (`Fault::WsDrop(3)`, `Fault::WsRefuse`, `Fault::Reset` …).
    ///
    /// ```
    /// use wiretape::{fault::{Fault, FaultPlan}, mock::{Route, matchers::*, responders::*}};
    ///
    /// let flaky = Route::given(path("/pay"))
    ///     .respond_with(json(&serde_json::json!({"paid": true})))
    ///     .fault(FaultPlan::first(2, Fault::status(503)));
    /// # let _ = flaky;
    /// ```
    pub fn fault(mut self, plan: impl Into<FaultPlan>) -> Route {
        self.faults = Some(plan.into());
        self
    }

    /// Answers WebSocket handshakes with `socket` (see
    /// [`socket`](super::socket)). Such a route answers only handshakes, and
    /// plain HTTP routes only plain requests.
    pub fn websocket(mut self, socket: Socket) -> Route {
        self.socket = Some(Arc::new(socket));
        self
    }

    /// A name for reports and the journal.
    pub fn named(mut self, name: impl Into<String>) -> Route {
        self.name = Some(name.into());
        self
    }

    /// The priority: among matching routes the lowest number wins (default
    /// [`DEFAULT_PRIORITY`], 5); equal priorities go by registration order.
    pub fn priority(mut self, priority: u8) -> Route {
        self.priority = priority;
        self
    }

    /// Expects exactly `n` calls (checked by
    /// [`Router::verify`](super::Router::verify) and on drop).
    pub fn times(self, n: usize) -> Route {
        self.expect(Times::exactly(n))
    }

    /// Expects `n` calls or more.
    pub fn at_least(self, n: usize) -> Route {
        self.expect(Times::at_least(n))
    }

    /// Expects `n` calls or fewer.
    pub fn at_most(self, n: usize) -> Route {
        self.expect(Times::at_most(n))
    }

    /// Expects no call at all.
    pub fn never(self) -> Route {
        self.expect(Times::exactly(0))
    }

    /// Expects a call count that `times` allows.
    pub fn expect(mut self, times: Times) -> Route {
        self.expect = times;
        self
    }

    /// Stops matching after `n` answers, so that a later route takes over.
    /// (An expectation such as [`times`](Route::times) only counts.)
    pub fn up_to_n_times(mut self, n: usize) -> Route {
        self.limit = Some(n);
        self
    }

    /// Makes the route part of the state machine `name`. Every scenario
    /// starts in state [`STARTED`] (`"Started"`).
    ///
    /// ```
    /// use wiretape::mock::{Route, matchers::*, responders::*};
    ///
    /// // 503, 503, then 200 for ever.
    /// let routes = [
    ///     Route::given(path("/flaky")).in_scenario("retry").when_state("Started")
    ///         .will_set_state("failed once").respond_with(status(503)),
    ///     Route::given(path("/flaky")).in_scenario("retry").when_state("failed once")
    ///         .will_set_state("recovered").respond_with(status(503)),
    ///     Route::given(path("/flaky")).in_scenario("retry").when_state("recovered")
    ///         .respond_with(text("ok")),
    /// ];
    /// # let _ = routes;
    /// ```
    pub fn in_scenario(mut self, name: impl Into<String>) -> Route {
        self.scenario_mut().name = name.into();
        self
    }

    /// Matches only while the scenario is in `state`.
    pub fn when_state(mut self, state: impl Into<String>) -> Route {
        self.scenario_mut().when = Some(state.into());
        self
    }

    /// Moves the scenario to `state` after answering.
    pub fn will_set_state(mut self, state: impl Into<String>) -> Route {
        self.scenario_mut().then = Some(state.into());
        self
    }

    fn scenario_mut(&mut self) -> &mut Scenario {
        self.scenario.get_or_insert_with(|| Scenario {
            name: String::new(),
            when: None,
            then: None,
        })
    }

    /// Why this route cannot be served, if it cannot: the problems of its
    /// matchers and responder.
    pub fn problem(&self) -> Option<String> {
        let mut problems: Vec<String> = self
            .matchers
            .iter()
            .filter_map(|m| m.problem().map(str::to_owned))
            .collect();
        if let Some(problem) = self.responder.as_ref().and_then(Responder::problem) {
            problems.push(format!("responder: {problem}"));
        }
        if let Some(problem) = self.faults.as_ref().and_then(FaultPlan::problem) {
            problems.push(format!("fault: {problem}"));
        }
        if let Some(problem) = self.socket.as_ref().and_then(|s| s.problem()) {
            problems.push(format!("websocket: {problem}"));
        }
        if self.scenario.as_ref().is_some_and(|s| s.name.is_empty()) {
            problems.push(
                "when_state/will_set_state need a scenario name: add .in_scenario(\"…\")"
                    .to_owned(),
            );
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

impl Default for Route {
    fn default() -> Self {
        Route::new()
    }
}

/// Identifies a registered route, for [`Router::remove`](super::Router::remove)
/// and the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteId(pub(crate) u64);

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A registered route with its call counter.
pub(crate) struct Entry {
    pub(crate) id: RouteId,
    /// How the route is called in reports: `route "name"`, or
    /// `route #3 (GET /users/{id})` for an unnamed one.
    pub(crate) label: Arc<str>,
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) responder: Responder,
    pub(crate) priority: u8,
    pub(crate) expect: Times,
    pub(crate) limit: Option<usize>,
    pub(crate) scenario: Option<Scenario>,
    pub(crate) problem: Option<String>,
    /// The WebSocket responder, for a route that answers handshakes.
    pub(crate) socket: Option<Arc<Socket>>,
    /// A WebSocket route's fault plan (an HTTP route's is in its responder).
    pub(crate) faults: Option<FaultPlan>,
    /// The path template, for captures.
    pub(crate) template: Option<Arc<PathTemplate>>,
    /// Method and path, when both are literal enough to index.
    pub(crate) key: Option<(Method, Arc<PathTemplate>)>,
    /// The positions in `matchers` of the method and path matchers that
    /// `key` indexes: the index's walk has checked them exactly (see
    /// [`matches_past_key`](Entry::matches_past_key)).
    keyed: [Option<usize>; 2],
    /// The fingerprint of the exact body the route wants, if it wants one.
    pub(crate) body: Option<BodyKey>,
    pub(crate) hits: AtomicUsize,
}

impl Entry {
    pub(crate) fn new(id: RouteId, route: Route) -> Entry {
        let problem = route.problem();
        let mut method = None;
        let mut template = None;
        let mut body = None;
        let mut keyed = [None; 2];
        for (at, matcher) in route.matchers.iter().enumerate() {
            match matcher.hint() {
                Hint::Method(m) if method.is_none() => {
                    method = Some(m.clone());
                    keyed[0] = Some(at);
                }
                Hint::Path(t) if template.is_none() => {
                    template = Some(t.clone());
                    keyed[1] = Some(at);
                }
                Hint::Body(key) if body.is_none() => body = Some(*key),
                _ => {}
            }
        }
        // Without both, the route is scanned and every matcher is checked.
        if method.is_none() || template.is_none() {
            keyed = [None; 2];
        }
        let label = match (&route.name, &method, &template) {
            (Some(name), _, _) => format!("route {name:?}"),
            (None, Some(method), Some(template)) => format!("route {id} ({method} {template})"),
            (None, _, _) if route.matchers.is_empty() => format!("route {id} (matches anything)"),
            (None, _, _) => {
                let described: Vec<String> = route.matchers.iter().map(Matcher::describe).collect();
                format!("route {id} ({})", described.join(", "))
            }
        };
        Entry {
            id,
            label: label.into(),
            key: method.zip(template.clone()),
            keyed,
            body,
            template,
            matchers: route.matchers,
            // An HTTP route's faults act on its responder's answers; a
            // WebSocket route's on its handshakes (`Router::open_socket`).
            faults: route.faults.clone().filter(|_| route.socket.is_some()),
            responder: {
                let responder = route.responder.unwrap_or_else(|| status(200));
                match route.faults.filter(|_| route.socket.is_none()) {
                    Some(plan) => responder.with_faults(plan),
                    None => responder,
                }
            },
            priority: route.priority,
            expect: route.expect,
            limit: route.limit,
            scenario: route.scenario,
            socket: route.socket,
            problem,
            hits: AtomicUsize::new(0),
        }
    }

    /// Whether every matcher passes, for a route the index gave as a
    /// candidate for `request`: the method and path matchers it indexes
    /// by are not asked again, since the index's walk is theirs (an exact
    /// method, the template's segments over the same percent-encoded
    /// path). A body matcher is still asked: the index files bodies by a
    /// fingerprint, which two bodies may share.
    pub(crate) fn matches_past_key(&self, request: &Request) -> bool {
        self.matchers
            .iter()
            .enumerate()
            .all(|(at, m)| self.keyed.contains(&Some(at)) || m.matches(request))
    }

    /// Whether the route may answer once more (its limit not reached).
    pub(crate) fn has_capacity(&self) -> bool {
        self.limit
            .is_none_or(|limit| self.hits.load(Ordering::SeqCst) < limit)
    }

    /// Counts one answer; `false` if the limit was reached meanwhile.
    pub(crate) fn claim(&self) -> bool {
        match self.limit {
            None => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(limit) => self
                .hits
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |hits| {
                    (hits < limit).then_some(hits + 1)
                })
                .is_ok(),
        }
    }

    /// How many requests this route answered.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
