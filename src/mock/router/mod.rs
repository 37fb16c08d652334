//! The routing DSL: a [`Router`] engine that answers requests from
//! declarative [`Route`]s, verifies how they were called, and explains
//! precisely why a request matched nothing.
//!
//! ```
//! use wiretape::mock::{Router, Route, matchers::*, responders::*};
//! use wiretape::Client;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let router = Router::new();
//! router.mock(
//!     Route::given(method("GET"))
//!         .and(path("/users/{id}"))
//!         .respond_with(from_fn(|_, params| {
//!             wiretape::mock::respond_json(&serde_json::json!({"id": params.get("id")}))
//!         }))
//!         .times(1)
//!         .named("get user"),
//! );
//! let client = Client::builder().engine(router.clone()).base_url("http://api.test").build()?;
//! let user: serde_json::Value = client.get("/users/7").send().await?.json().await?;
//! assert_eq!(user["id"], "7");
//!
//! let miss = client.get("/user/7").send().await.unwrap_err();
//! assert!(miss.to_string().contains("✗ path is /users/{id}"));
//! router.verify().assert();
//! # Ok::<(), wiretape::Error>(())
//! # }).unwrap();
//! ```

mod expect;
pub(crate) mod file;
mod index;
mod journal;
pub mod matchers;
mod near_miss;
pub mod responders;
mod route;
pub mod socket;
mod template;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use http::{HeaderValue, StatusCode, header};

pub use self::expect::{Times, Unmet, Verification};
use self::index::Index;
pub use self::journal::{Answer, JournalEntry};
use self::responders::{Context, Reply};
use self::route::Entry;
pub use self::route::{DEFAULT_PRIORITY, Route, RouteId, STARTED};
use super::MockEngine;
use super::engine::lock;
use super::history::Ring;
use crate::engine::{BoxFuture, Capabilities, Engine};
use crate::fault::{Call, FaultPlan, act_http, act_websocket};
use crate::ws::WsConnection;
use crate::{Error, Request, Response, Result};

/// An engine that answers requests from [`Route`]s.
///
/// - **Shared**: `Clone + Send + Sync`; clones share routes, journal and
///   state, so a test keeps one clone while the client owns another, and
///   routes can be added ([`mock`](Router::mock)) and removed
///   ([`remove`](Router::remove)) while requests run.
/// - **Order**: the matching route with the lowest priority number wins,
///   then the first registered. Routes with a literal method and path
///   (literal or templated) are found through an index; only the others are
///   scanned.
/// - **Misses**: a request that no route answers goes to the fallback engine
///   if there is one ([`with_fallback`](Router::with_fallback), spy mode);
///   otherwise it fails with an [`Error::NoRoute`] whose message lists the
///   closest routes, each check passed or failed, with a diff of each
///   failure (or, with [`with_not_found`](Router::with_not_found), it gets a
///   `404` carrying that report).
/// - **Verification**: [`verify`](Router::verify) reports every route whose
///   call count is off. When the last clone is dropped, the router verifies
///   itself and panics with the report, unless the thread is already
///   panicking (turn this off with
///   [`without_drop_verification`](Router::without_drop_verification)).
/// - **Journal**: the most recent requests (10,000 unless
///   [`with_journal_limit`](Router::with_journal_limit) says otherwise,
///   bodies cut at 64 KiB), and what answered each
///   ([`journal`](Router::journal)); older entries are dropped and counted
///   ([`journal_dropped`](Router::journal_dropped)). Call counts are kept on
///   the routes, so verification is exact whatever the journal dropped.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
}

struct Shared {
    table: RwLock<Arc<Table>>,
    next_id: AtomicU64,
    journal: Mutex<Ring<JournalEntry>>,
    /// The WebSocket connections' journals: a ring like `journal`.
    sockets: Mutex<Ring<socket::SharedJournal>>,
    scenarios: Mutex<HashMap<String, String>>,
    fallback: RwLock<Option<Arc<dyn Engine>>>,
    faults: RwLock<Option<FaultPlan>>,
    not_found: AtomicBool,
    verify_on_drop: AtomicBool,
    /// Directories route files may serve `file:` bodies from, besides their own.
    body_file_roots: Mutex<Vec<PathBuf>>,
}

/// The routes, sorted by priority then registration, and their index.
/// Requests read a snapshot (`Arc`) without holding a lock; a change makes a
/// new table, or changes this one in place when no request holds it.
#[derive(Default, Clone)]
struct Table {
    routes: Vec<Arc<Entry>>,
    index: Index,
    /// The problems of routes that could not be built, if any.
    broken: Option<String>,
}

impl Table {
    /// The table of `routes`, which are sorted.
    fn new(routes: Vec<Arc<Entry>>) -> Table {
        let index = Index::build(&routes);
        let problems: Vec<String> = routes
            .iter()
            .filter_map(|r| r.problem.as_ref().map(|p| format!("{}: {p}", r.label)))
            .collect();
        let broken = (!problems.is_empty()).then(|| problems.join("; "));
        Table {
            routes,
            index,
            broken,
        }
    }
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn write<T>(lock: &RwLock<T>, value: T) {
    *lock
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = value;
}

impl Router {
    /// An empty router: every request is a miss until routes are added.
    pub fn new() -> Router {
        Router {
            shared: Arc::new(Shared {
                table: RwLock::new(Arc::new(Table::default())),
                next_id: AtomicU64::new(1),
                journal: Mutex::new(Ring::new()),
                sockets: Mutex::new(Ring::new()),
                scenarios: Mutex::new(HashMap::new()),
                fallback: RwLock::new(None),
                faults: RwLock::new(None),
                not_found: AtomicBool::new(false),
                verify_on_drop: AtomicBool::new(true),
                body_file_roots: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends requests that no route answers to `engine` (spy mode: mock a
    /// few endpoints, let the rest reach the real network).
    pub fn with_fallback(self, engine: impl Engine) -> Router {
        write(
            &self.shared.fallback,
            Some(Arc::new(engine) as Arc<dyn Engine>),
        );
        self
    }

    /// Answers requests that no route answers with `404 Not Found` (the
    /// near-miss report as a plain-text body, and `x-wiretape-error:
    /// no_route`) instead of an [`Error::NoRoute`].
    pub fn with_not_found(self) -> Router {
        self.shared.not_found.store(true, Ordering::SeqCst);
        self
    }

    /// Keeps the `entries` most recent requests in the journal, and as many
    /// WebSocket connection journals (default 10,000; `0` keeps none). Older ones are dropped and counted by
    /// [`journal_dropped`](Router::journal_dropped); call counts and
    /// [`verify`](Router::verify) are not affected.
    ///
    /// ```
    /// use wiretape::mock::{Router, Route, matchers::*};
    /// use wiretape::engine::Engine;
    /// use wiretape::{Method, Request};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::new().with_journal_limit(2);
    /// router.mock(Route::given(path("/ping")).times(5));
    /// for _ in 0..5 {
    ///     router.execute(Request::new(Method::GET, "http://api.test/ping".parse().unwrap())).await.unwrap();
    /// }
    /// assert_eq!(router.journal().len(), 2);
    /// assert_eq!(router.journal_dropped(), 3);
    /// router.verify().assert(); // exactly 5 calls, counted apart from the journal
    /// # });
    /// ```
    pub fn with_journal_limit(self, entries: usize) -> Router {
        lock(&self.shared.journal).set_limit(entries);
        lock(&self.shared.sockets).set_limit(entries);
        self
    }

    /// Keeps at most the first `bytes` bytes of each request body in the
    /// journal (default 64 KiB). Routes and responders always see the
    /// whole body; [`JournalEntry::body_len`] gives the full length.
    pub fn with_journal_body_limit(self, bytes: usize) -> Router {
        lock(&self.shared.journal).set_body_limit(bytes);
        self
    }

    /// Lets route files loaded from now on serve `file:` bodies from `dir`
    /// (and below) as well as from their own directory, which is all they
    /// may use otherwise.
    pub fn allow_body_files_from(self, dir: impl Into<PathBuf>) -> Router {
        lock(&self.shared.body_file_roots).push(dir.into());
        self
    }

    /// Does not verify expectations when the last clone is dropped.
    pub fn without_drop_verification(self) -> Router {
        self.shared.verify_on_drop.store(false, Ordering::SeqCst);
        self
    }

    /// Registers `route` and returns its id.
    ///
    /// A route built from bad input (an invalid regex, method, header or
    /// status) is registered all the same, and every request to the router
    /// then fails with an [`Error::InvalidInput`] that names the route and
    /// the problem, so the mistake cannot go unnoticed; use
    /// [`try_mock`](Router::try_mock) to get the error here instead.
    pub fn mock(&self, route: Route) -> RouteId {
        self.insert(route)
    }

    /// Registers `route`, or returns an [`Error::InvalidInput`] naming what
    /// is wrong with it.
    pub fn try_mock(&self, route: Route) -> Result<RouteId> {
        if let Some(problem) = route.problem() {
            return Err(Error::invalid(format!("invalid route: {problem}")));
        }
        Ok(self.insert(route))
    }

    /// Registers `route` until the returned guard drops; then the route is
    /// removed and its expectation verified (panicking with the report
    /// unless the thread is already panicking).
    pub fn mock_scoped(&self, route: Route) -> RouteGuard {
        RouteGuard {
            id: self.insert(route),
            router: self.clone(),
        }
    }

    fn insert(&self, route: Route) -> RouteId {
        self.insert_all(vec![route])[0]
    }

    /// Registers `routes` in one change of the table: appended and indexed
    /// in place when they sort after every registered route (the usual case:
    /// registration order, one priority), else merged, sorted and indexed
    /// once. Either way loading `n` routes costs `n log n`, not `n²`.
    fn insert_all(&self, routes: Vec<Route>) -> Vec<RouteId> {
        let entries: Vec<Arc<Entry>> = routes
            .into_iter()
            .map(|route| {
                let id = RouteId(self.shared.next_id.fetch_add(1, Ordering::SeqCst));
                Arc::new(Entry::new(id, route))
            })
            .collect();
        let ids = entries.iter().map(|e| e.id).collect();
        let mut guard = self
            .shared
            .table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Copies the table only if a request is still reading it.
        let table = Arc::make_mut(&mut guard);
        let order = |r: &Arc<Entry>| (r.priority, r.id);
        let mut last = table.routes.last().map(order);
        let in_order = entries.iter().all(|entry| {
            let after = last.is_none_or(|last| order(entry) > last);
            last = Some(order(entry));
            after
        });
        if in_order {
            for entry in entries {
                table.index.add(table.routes.len(), &entry);
                if let Some(problem) = &entry.problem {
                    let broken = table.broken.get_or_insert_with(String::new);
                    if !broken.is_empty() {
                        broken.push_str("; ");
                    }
                    let _ = write!(broken, "{}: {problem}", entry.label);
                }
                table.routes.push(entry);
            }
        } else {
            let mut routes = std::mem::take(&mut table.routes);
            routes.extend(entries);
            routes.sort_by_key(order);
            *table = Table::new(routes);
        }
        ids
    }

    /// Removes a route; `false` if there was none with this id.
    pub fn remove(&self, id: RouteId) -> bool {
        let mut removed = false;
        self.update(|routes| {
            let before = routes.len();
            routes.retain(|r| r.id != id);
            removed = routes.len() != before;
        });
        removed
    }

    /// Puts a fault plan in front of every request the router answers
    /// (routes, misses and the fallback alike); see [`crate::fault`].
    ///
    /// ```
    /// use wiretape::{fault::{Fault, FaultPlan}, mock::Router};
    ///
    /// let router = Router::new().with_faults(FaultPlan::every(10, Fault::Reset));
    /// # let _ = router;
    /// ```
    pub fn with_faults(self, plan: impl Into<FaultPlan>) -> Router {
        write(&self.shared.faults, Some(plan.into()));
        self
    }

    /// Removes the routes named `name` (route files' `name:`,
    /// [`Route::named`]); returns how many there were.
    pub fn remove_named(&self, name: &str) -> usize {
        let label = format!("route {name:?}");
        let mut removed = 0;
        self.update(|routes| {
            let before = routes.len();
            routes.retain(|r| *r.label != *label);
            removed = before - routes.len();
        });
        removed
    }

    /// Removes every route, empties the journal, resets every scenario and
    /// rewinds the router's fault plan ([`FaultPlan::rewind`]), which stays.
    pub fn reset(&self) {
        self.update(Vec::clear);
        lock(&self.shared.journal).clear();
        lock(&self.shared.sockets).clear();
        lock(&self.shared.scenarios).clear();
        if let Some(plan) = read(&self.shared.faults) {
            plan.rewind();
        }
    }

    fn update(&self, change: impl FnOnce(&mut Vec<Arc<Entry>>)) {
        let mut guard = self
            .shared
            .table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut routes = guard.routes.clone();
        change(&mut routes);
        *guard = Arc::new(Table::new(routes));
    }

    /// How many routes are registered.
    pub fn len(&self) -> usize {
        read(&self.shared.table).routes.len()
    }

    /// Whether no route is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many requests route `id` answered (`None` if it is not registered).
    pub fn hits(&self, id: RouteId) -> Option<usize> {
        read(&self.shared.table)
            .routes
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.hits())
    }

    /// The requests received so far (the most recent ones, up to the
    /// journal's limit), in order, with what answered each.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.shared.journal).iter().cloned().collect()
    }

    /// How many requests the journal dropped to stay within its limit
    /// (since it was last cleared).
    pub fn journal_dropped(&self) -> u64 {
        lock(&self.shared.journal).dropped()
    }

    /// Empties the journal and its dropped count (routes, call counts and
    /// scenarios stay).
    pub fn clear_journal(&self) {
        lock(&self.shared.journal).clear();
        lock(&self.shared.sockets).clear();
    }

    /// Every WebSocket connection a route answered, in order, with the
    /// frames it received and sent so far.
    pub fn sockets(&self) -> Vec<socket::SocketJournal> {
        lock(&self.shared.sockets)
            .iter()
            .map(|journal| lock(journal).clone())
            .collect()
    }

    /// The requests route `id` answered, in order.
    pub fn requests_for(&self, id: RouteId) -> Vec<JournalEntry> {
        self.journal_where(|entry| entry.route() == Some(id))
    }

    /// The requests no route answered (including those sent to the fallback).
    pub fn unmatched_requests(&self) -> Vec<JournalEntry> {
        self.journal_where(|entry| entry.route().is_none())
    }

    fn journal_where(&self, keep: impl Fn(&JournalEntry) -> bool) -> Vec<JournalEntry> {
        lock(&self.shared.journal)
            .iter()
            .filter(|e| keep(e))
            .cloned()
            .collect()
    }

    /// The current state of scenario `name` ([`STARTED`] until a route moves it).
    pub fn scenario_state(&self, name: &str) -> String {
        lock(&self.shared.scenarios)
            .get(name)
            .cloned()
            .unwrap_or_else(|| STARTED.to_owned())
    }

    /// Moves scenario `name` to `state`.
    pub fn set_scenario_state(&self, name: impl Into<String>, state: impl Into<String>) {
        lock(&self.shared.scenarios).insert(name.into(), state.into());
    }

    /// Checks every route's call count against its expectation.
    pub fn verify(&self) -> Verification {
        self.shared.verify(|_| true)
    }

    /// Loads the routes of a YAML route file into a new router; see
    /// [`load_yaml_str`](Router::load_yaml_str) for the format.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<Router> {
        let router = Router::new();
        router.load_yaml_file(path)?;
        Ok(router)
    }

    /// Adds the routes of a YAML route file; `file:` bodies are relative to
    /// the file's directory and must stay inside it (see
    /// [`allow_body_files_from`](Router::allow_body_files_from)).
    pub fn load_yaml_file(&self, path: impl AsRef<Path>) -> Result<Vec<RouteId>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::invalid(format!("cannot read route file {}: {err}", path.display()))
        })?;
        self.load_yaml_str(&text, path)
    }

    /// Adds the routes of YAML route-file text; `origin` (the file's path)
    /// names the file in errors and anchors `file:` bodies, which must be in
    /// its directory or below (symbolic links and `..` resolved) unless
    /// [`allow_body_files_from`](Router::allow_body_files_from) allows
    /// another directory. Either every route is added or, on an error, none.
    ///
    /// Errors name the file, line and column. The format:
    ///
    /// ```yaml
    /// routes:
    ///   - name: get user            # optional
    ///     priority: 1               # optional, lower wins (default 5)
    ///     times: 1                  # or at_least and/or at_most; optional
    ///     up_to: 3                  # stop matching after 3 answers; optional
    ///     scenario: {name: outage, when: Started, set: recovered}   # optional
    ///     request:                  # every key optional; all must pass
    ///       method: GET
    ///       path: /users/{id}       # exact or template; or path_prefix, path_regex
    ///       scheme: https
    ///       host: api.test
    ///       port: 443
    ///       query: {page: 2}        # query_exists, query_missing: [names]
    ///       query_regex: {since: '^\d+$'}
    ///       headers: {x-team: payments}   # header_exists, header_missing: [names]
    ///       header_regex: {accept: json}
    ///       bearer: s3cret          # or basic: {user: ada, password: pw}
    ///       body: {partial_json: {name: Ada}}
    ///             # or json, text, contains, regex, form: {field: value}
    ///     response:                 # one of body, chunks, sse, error, sequence
    ///       status: 200
    ///       headers: {x-served-by: wiretape}
    ///       body: {json: {id: 7}}   # or text, base64, file (in this file's directory)
    ///       delay_ms: 20
    ///   - request: {path: /feed}
    ///     response: {sse: [one, two], chunk_delay_ms: 1000}   # or chunks: [..]
    ///   - request: {method: GET, path: /flaky}
    ///     response:
    ///       sequence: [{status: 503}, {status: 503}, {body: {text: ok}}]
    ///       then: repeat_last       # or cycle, fail
    ///   - request: {path_prefix: /down}
    ///     response: {error: reset}  # or refused, hang
    ///   - request: {path: /pay}
    ///     faults: {sequence: [reset, 503, ok]}   # a fault rule (see fault plan files)
    ///   - request: {path: /chat}    # a WebSocket route: answers handshakes
    ///     websocket:                # (see mock::socket for every key)
    ///       on_open: [{text: welcome}]
    ///       messages: [{when: {text: ping}, reply: [{text: pong}]}]
    /// seed: 42                      # optional: the seed of the faults below
    /// faults:                       # optional: a plan on the whole router
    ///   - every: 10
    ///     fault: empty_reply
    /// ```
    ///
    /// ```
    /// use wiretape::mock::Router;
    ///
    /// let router = Router::new();
    /// let err = router
    ///     .load_yaml_str("routes:\n  - request: {method: \"G T\"}\n", "routes.yaml".as_ref())
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("routes.yaml:2:"), "{err}");
    /// ```
    pub fn load_yaml_str(&self, text: &str, origin: &Path) -> Result<Vec<RouteId>> {
        let roots = lock(&self.shared.body_file_roots).clone();
        let (routes, faults) = file::parse(text, origin, &file::BodyFiles::new(origin, &roots))?;
        let mut problems = Vec::new();
        for (at, route) in routes.iter().enumerate() {
            if let Some(problem) = route.problem() {
                problems.push(format!("route {}: {problem}", at + 1));
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid(format!(
                "{}: {}",
                origin.display(),
                problems.join("; ")
            )));
        }
        if let Some(plan) = faults {
            write(&self.shared.faults, Some(plan));
        }
        Ok(self.insert_all(routes))
    }

    /// Finds and claims the route that answers `request` (a WebSocket
    /// handshake when `socket`).
    fn find(&self, table: &Table, request: &Request, socket: bool) -> Option<Arc<Entry>> {
        thread_local! {
            // Reused between calls: the hot path allocates no candidate list.
            static CANDIDATES: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        CANDIDATES.with(|cell| match cell.try_borrow_mut() {
            Ok(mut candidates) => {
                candidates.clear();
                self.find_in(table, request, socket, &mut candidates)
            }
            // A custom matcher that routes through this router re-enters.
            Err(_) => self.find_in(table, request, socket, &mut Vec::new()),
        })
    }

    fn find_in(
        &self,
        table: &Table,
        request: &Request,
        socket: bool,
        candidates: &mut Vec<usize>,
    ) -> Option<Arc<Entry>> {
        table.index.candidates(
            request.method(),
            request.path(),
            matchers::body(request),
            candidates,
        );
        for &position in candidates.iter() {
            let route = &table.routes[position];
            if route.socket.is_some() != socket
                || !route.has_capacity()
                || !route.matches_past_key(request)
            {
                continue;
            }
            let Some(scenario) = &route.scenario else {
                if route.claim() {
                    return Some(route.clone());
                }
                continue;
            };
            // Check and move the state under one lock, so that two requests
            // cannot both take the same transition.
            let mut states = lock(&self.shared.scenarios);
            let state = states.get(&scenario.name).map_or(STARTED, String::as_str);
            if scenario.when.as_deref().is_some_and(|when| when != state) || !route.claim() {
                continue;
            }
            if let Some(next) = &scenario.then {
                states.insert(scenario.name.clone(), next.clone());
            }
            return Some(route.clone());
        }
        None
    }

    fn record(&self, request: Request, answer: journal::Answer) {
        let mut journal = lock(&self.shared.journal);
        let entry = JournalEntry::new(request, answer, journal.body_limit());
        journal.push(entry);
    }

    /// The routes, unless some could not be built (then every request fails,
    /// naming them).
    fn usable_table(&self) -> Result<Arc<Table>> {
        let table = read(&self.shared.table);
        if let Some(broken) = &table.broken {
            return Err(Error::invalid(format!(
                "the router has routes that could not be built: {broken}"
            )));
        }
        Ok(table)
    }

    /// The fallback engine, if there is one, with `request` journaled as
    /// sent to it.
    fn fallback_for(&self, request: &Request) -> Option<Arc<dyn Engine>> {
        let fallback = read(&self.shared.fallback)?;
        if let Some(copy) = request.try_clone() {
            self.record(copy, Answer::Fallback);
        }
        Some(fallback)
    }

    /// The near-miss report for `request`, journaled as unmatched.
    fn unmatched(&self, table: &Table, request: Request) -> crate::error::NoRoute {
        let report = {
            let states = lock(&self.shared.scenarios);
            near_miss::report(&table.routes, &request, &states)
        };
        self.record(request, Answer::Unmatched);
        report
    }

    async fn miss(&self, table: Arc<Table>, request: Request) -> Result<Response> {
        if let Some(fallback) = self.fallback_for(&request) {
            return fallback.execute(request).await;
        }
        let report = self.unmatched(&table, request);
        if !self.shared.not_found.load(Ordering::SeqCst) {
            return Err(Error::NoRoute(Box::new(report)));
        }
        Ok(Response::new(StatusCode::NOT_FOUND)
            .with_header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )
            .with_header("x-wiretape-error", HeaderValue::from_static("no_route"))
            .with_body(format!("{report}\n")))
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = read(&self.shared.table);
        let labels: Vec<&str> = table.routes.iter().map(|r| &*r.label).collect();
        f.debug_struct("Router").field("routes", &labels).finish()
    }
}

impl Shared {
    fn verify(&self, include: impl Fn(RouteId) -> bool) -> Verification {
        let table = read(&self.table);
        let journal = lock(&self.journal);
        let mut report = Verification::default();
        for route in table.routes.iter().filter(|r| include(r.id)) {
            if let Some(problem) = &route.problem {
                report.broken.push(format!("{}: {problem}", route.label));
            }
            if let Some(socket) = &route.socket {
                for journal in lock(&self.sockets).iter() {
                    let journal = lock(journal);
                    if journal.route == route.id {
                        report.missing_messages.extend(
                            socket::missing(socket, &journal)
                                .into_iter()
                                .map(|m| format!("{}: {m}", route.label)),
                        );
                    }
                }
            }
            let calls = route.hits();
            if !route.expect.allows(calls) {
                report.unmet.push(Unmet {
                    route: route.label.to_string(),
                    expected: route.expect,
                    calls,
                    requests: journal
                        .iter()
                        .filter(|e| e.route() == Some(route.id))
                        .map(|e| e.request.to_string())
                        .collect(),
                });
            }
        }
        report.unmatched = journal
            .iter()
            .filter(|e| e.answer == Answer::Unmatched)
            .map(|e| e.request.to_string())
            .collect();
        report
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if !self.verify_on_drop.load(Ordering::SeqCst) || std::thread::panicking() {
            return;
        }
        let report = self.verify(|_| true);
        if !report.is_ok() {
            panic!("{report}");
        }
    }
}

/// What routing a request whose body is in memory comes to.
enum Routed {
    /// A route's reply, most often ready at once.
    Reply(Reply),
    /// No route: the fallback or a near-miss report, which may have to wait.
    Miss(Arc<Table>, Request),
}

impl Router {
    /// Routes one request (the router's plan, if any, has already spoken).
    async fn answer(&self, mut request: Request) -> Result<Response> {
        if request.body().is_stream() {
            let body = request.take_body().buffered().await?;
            *request.body_mut() = body;
        }
        match self.route(request) {
            Routed::Reply(reply) => reply.into_response().await,
            Routed::Miss(table, request) => self.miss(table, request).await,
        }
    }

    /// Routes a request whose body is in memory, without waiting for
    /// anything: `execute`'s future hands a ready reply back on its first
    /// poll, without the state machine of [`answer`](Self::answer), as most
    /// routed calls allow.
    fn route(&self, request: Request) -> Routed {
        let table = match self.usable_table() {
            Ok(table) => table,
            Err(err) => return Routed::Reply(Reply::Ready(Err(err))),
        };
        let Some(route) = self.find(&table, &request, false) else {
            return Routed::Miss(table, request);
        };
        let reply = route.responder.respond(&Context {
            request: &request,
            template: route.template.as_deref(),
            route: &route.label,
        });
        self.record(
            request,
            Answer::Route {
                id: route.id,
                label: route.label.clone(),
            },
        );
        Routed::Reply(reply)
    }

    /// Opens a WebSocket route (the router's plan, if any, has already spoken).
    async fn open_socket(&self, request: Request) -> Result<WsConnection> {
        let table = self.usable_table()?;
        let Some(route) = self.find(&table, &request, true) else {
            if let Some(fallback) = self.fallback_for(&request) {
                return fallback.websocket(request).await;
            }
            let report = self.unmatched(&table, request);
            return Err(Error::NoRoute(Box::new(report)));
        };
        let socket = route.socket.clone().expect("found among WebSocket routes");
        // Opened only when the route's fault, if any, lets the handshake
        // through (a refusal opens nothing the journal could show).
        let connect = async {
            let opened = socket::open(&socket, route.id, &request);
            if let Ok((_, journal)) = &opened {
                lock(&self.shared.sockets).push(journal.clone());
            }
            opened.map(|(connection, _)| connection)
        };
        let hit = route.faults.as_ref().and_then(|plan| plan.decide(&request));
        let connection = match hit {
            Some(hit) => {
                let call = Call::of(&request).by(&route.label);
                act_websocket(hit, call, connect).await
            }
            None => connect.await,
        };
        self.record(
            request,
            Answer::Route {
                id: route.id,
                label: route.label.clone(),
            },
        );
        connection
    }
}

impl Engine for Router {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        if let Some(hit) = read(&self.shared.faults).and_then(|plan| plan.decide(&request)) {
            let call = Call::of(&request);
            return Box::pin(act_http(hit, call, self.answer(request)));
        }
        if request.body().is_stream() {
            return Box::pin(self.answer(request));
        }
        // Routed on the first poll, not now: a future does nothing until
        // polled (`Faulty` drops this one unpolled when its fault stands for
        // the exchange, and the journal must not show the request).
        let mut request = Some(request);
        let mut waiting: Option<BoxFuture<'_, Result<Response>>> = None;
        Box::pin(std::future::poll_fn(move |cx| {
            if let Some(request) = request.take() {
                waiting = Some(match self.route(request) {
                    Routed::Reply(Reply::Ready(result)) => return std::task::Poll::Ready(result),
                    Routed::Reply(Reply::Later(later)) => later,
                    Routed::Miss(table, request) => Box::pin(self.miss(table, request)),
                });
            }
            match &mut waiting {
                Some(waiting) => waiting.as_mut().poll(cx),
                None => panic!("the router's future was polled after it completed"),
            }
        }))
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        if let Some(hit) = read(&self.shared.faults).and_then(|plan| plan.decide(&request)) {
            let call = Call::of(&request);
            return Box::pin(act_websocket(hit, call, self.open_socket(request)));
        }
        Box::pin(self.open_socket(request))
    }

    fn capabilities(&self) -> Capabilities {
        // WebSocket routes answer handshakes (and may be added at any time).
        Capabilities::none().with_streaming().with_websocket()
    }
}

impl From<Router> for MockEngine {
    /// A [`MockEngine`] whose handler is the router, for code that expects a
    /// `MockEngine` (its request and response history come along).
    fn from(router: Router) -> MockEngine {
        MockEngine::new(move |request| {
            let router = router.clone();
            async move { router.execute(request).await }
        })
    }
}

/// A route registered by [`Router::mock_scoped`]: removed and verified when
/// the guard drops.
///
/// ```
/// use wiretape::mock::{Router, Route, matchers::*};
///
/// let router = Router::new();
/// {
///     let _guard = router.mock_scoped(Route::given(path("/once")).never());
///     assert_eq!(router.len(), 1);
/// } // verified (never called: fine) and removed here
/// assert!(router.is_empty());
/// ```
#[must_use = "the route is removed as soon as the guard is dropped"]
pub struct RouteGuard {
    router: Router,
    id: RouteId,
}

impl RouteGuard {
    /// The route's id.
    pub fn id(&self) -> RouteId {
        self.id
    }

    /// How many requests the route answered.
    pub fn hits(&self) -> usize {
        self.router.hits(self.id).unwrap_or(0)
    }

    /// The requests the route answered.
    pub fn requests(&self) -> Vec<JournalEntry> {
        self.router.requests_for(self.id)
    }

    /// Checks the route's call count against its expectation.
    pub fn verify(&self) -> Verification {
        let id = self.id;
        let mut report = self.router.shared.verify(|route| route == id);
        // Misses belong to the router's report, not to one route's.
        report.unmatched.clear();
        report
    }
}

impl std::fmt::Debug for RouteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteGuard").field("id", &self.id).finish()
    }
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        let report = self.verify();
        self.router.remove(self.id);
        if !report.is_ok() && !std::thread::panicking() {
            panic!("{report}");
        }
    }
}
