//! Cache: an in-memory HTTP cache with revalidation.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use tokio::time::Instant;
use url::Url;

use super::observe::{BodyEvent, observe};
use super::{Next, Plugin};
use crate::engine::BoxFuture;
use crate::{Body, Request, Response, Result};

/// Where a response came from, when the [`Cache`] is installed: read it
/// with `response.extensions().get::<CacheStatus>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// From the server; stored if it may be.
    Miss,
    /// From the cache, without asking the server.
    Hit,
    /// From the cache, after the server answered `304 Not Modified`.
    Revalidated,
}

/// A private, in-memory HTTP cache (Ktor's `HttpCache`) for `GET` requests,
/// following RFC 9111 where it matters to a client:
///
/// - A response is stored when its status is cacheable (200, 203, 300, 301,
///   308, 404, 410) and it has a freshness lifetime (`Cache-Control:
///   max-age`, else `Expires` against `Date`) or a validator (`ETag`,
///   `Last-Modified`). `no-store`, in the response or the request, stores
///   nothing; `Vary: *` is never stored, and other `Vary` headers must match.
///   A stored response also varies on the request's `Authorization` and
///   `Cookie`, whatever its `Vary` says, so a client shared by several users
///   never serves one user's answer to another.
/// - While fresh (`max-age` minus `Age`, measured with `tokio::time`), it is
///   served without a request ([`CacheStatus::Hit`]). When stale, or when
///   either side says `no-cache`, it is revalidated with `If-None-Match` /
///   `If-Modified-Since`; a `304` gives back the stored body with the
///   updated headers ([`CacheStatus::Revalidated`]).
/// - A successful unsafe request (`POST`, `PUT`, `DELETE`, ...) removes the
///   stored response for its URL.
/// - Streamed bodies are stored as they are read, if they end and fit in
///   [`max_body_size`](Cache::max_body_size) (default 8 MiB); at most
///   [`max_entries`](Cache::max_entries) (default 1000) are kept, the oldest
///   going first.
///
/// Requests carrying their own `If-None-Match` or `If-Modified-Since` are
/// passed through: they are managing validation themselves.
///
/// ```
/// use wiretape::{mock::{MockEngine, respond}, plugins::{Cache, CacheStatus}, Client, HeaderMap, StatusCode};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let engine = MockEngine::new(|request| async move {
///     if request.header_str("if-none-match") == Some("\"v1\"") {
///         return Ok(respond("", StatusCode::NOT_MODIFIED, HeaderMap::new()));
///     }
///     let mut headers = HeaderMap::new();
///     headers.insert("cache-control", "max-age=60".parse().unwrap());
///     headers.insert("etag", "\"v1\"".parse().unwrap());
///     Ok(respond("the catalogue", StatusCode::OK, headers))
/// });
/// let client = Client::builder().engine(engine.clone()).cache(Cache::new()).build()?;
/// let status = |r: &wiretape::Response| r.extensions().get::<CacheStatus>().copied();
///
/// let first = client.get("http://shop.test/catalogue").send().await?;
/// assert_eq!(status(&first), Some(CacheStatus::Miss));
/// first.bytes().await?; // stored once read
/// let second = client.get("http://shop.test/catalogue").send().await?;
/// assert_eq!(status(&second), Some(CacheStatus::Hit));
/// tokio::time::advance(std::time::Duration::from_secs(61)).await;
/// let third = client.get("http://shop.test/catalogue").send().await?;
/// assert_eq!(status(&third), Some(CacheStatus::Revalidated));
/// assert_eq!(third.text().await?, "the catalogue");
/// assert_eq!(engine.request_history().len(), 2);
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Cache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    max_entries: usize,
    max_body_size: usize,
}

#[derive(Clone)]
struct Entry {
    /// The URL that answered: the last hop's, after redirects.
    url: Url,
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
    stored: Instant,
    fresh_for: Duration,
    no_cache: bool,
    vary: Vec<(HeaderName, Option<HeaderValue>)>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

/// The directives of a `Cache-Control` header that a client cache uses.
#[derive(Default)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    max_age: Option<u64>,
}

impl Directives {
    fn of(headers: &HeaderMap) -> Directives {
        let mut directives = Directives::default();
        for value in headers.get_all(header::CACHE_CONTROL) {
            let Ok(text) = value.to_str() else { continue };
            for part in text.split(',') {
                let (name, argument) = match part.split_once('=') {
                    Some((name, argument)) => (name, Some(argument.trim().trim_matches('"'))),
                    None => (part, None),
                };
                match name.trim().to_ascii_lowercase().as_str() {
                    "no-store" => directives.no_store = true,
                    "no-cache" => directives.no_cache = true,
                    "max-age" => directives.max_age = argument.and_then(|a| a.parse().ok()),
                    _ => {}
                }
            }
        }
        directives
    }
}

impl Cache {
    /// An empty cache with the default limits.
    pub fn new() -> Cache {
        Cache {
            entries: Arc::new(Mutex::new(HashMap::new())),
            max_entries: 1000,
            max_body_size: 8 * 1024 * 1024,
        }
    }

    /// The most responses kept.
    pub fn max_entries(mut self, entries: usize) -> Cache {
        self.max_entries = entries;
        self
    }

    /// The largest body stored.
    pub fn max_body_size(mut self, bytes: usize) -> Cache {
        self.max_body_size = bytes;
        self
    }

    /// How many responses are stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets every stored response.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn run(&self, mut request: Request, next: Next<'_>) -> Result<Response> {
        let key = cache_key(&request);
        if request.method() != Method::GET {
            let unsafe_method =
                ![Method::HEAD, Method::OPTIONS, Method::TRACE].contains(request.method());
            let response = next.run(request).await?;
            if unsafe_method
                && (response.status().is_success() || response.status().is_redirection())
            {
                // Every user's stored answer for this URL is now stale.
                let url = url_of(&key);
                self.lock().retain(|stored, _| url_of(stored) != url);
            }
            return Ok(response);
        }
        let asked = Directives::of(request.headers());
        if asked.no_store
            || request.headers().contains_key(header::IF_NONE_MATCH)
            || request.headers().contains_key(header::IF_MODIFIED_SINCE)
        {
            return next.run(request).await;
        }
        let stored = self
            .lock()
            .get(&key)
            .filter(|entry| entry.varies_with(&request))
            .cloned();
        if let Some(entry) = &stored {
            if !entry.no_cache && !asked.no_cache && entry.stored.elapsed() < entry.fresh_for {
                return Ok(entry.response(CacheStatus::Hit));
            }
            entry.add_validators(&mut request);
        }
        let url = request.url().clone();
        let head = request.copy_head();
        let mut response = next.run(request).await?;
        if let Some(mut entry) = stored
            && response.status() == StatusCode::NOT_MODIFIED
        {
            // The 304 updates the stored head, but not what describes
            // the stored body. A header it sends replaces every stored
            // value of that name with all of its own (two Cache-Control
            // lines are both kept).
            for name in response.headers().keys() {
                if ![
                    header::CONTENT_LENGTH,
                    header::CONTENT_ENCODING,
                    header::TRANSFER_ENCODING,
                ]
                .contains(name)
                {
                    entry.headers.remove(name);
                    for value in response.headers().get_all(name) {
                        entry.headers.append(name.clone(), value.clone());
                    }
                }
            }
            entry.restamp();
            let served = entry.response(CacheStatus::Revalidated);
            self.lock().insert(key, entry);
            return Ok(served);
        }
        if !response.has_url() {
            response.set_url(url);
        }
        self.store(key, &head, &mut response);
        response.extensions_mut().insert(CacheStatus::Miss);
        Ok(response)
    }

    /// Stores `response` under `key` once its body has been read, if it may
    /// be stored.
    fn store(&self, key: String, request: &Request, response: &mut Response) {
        let directives = Directives::of(response.headers());
        if directives.no_store {
            self.lock().remove(&key);
            return;
        }
        let cacheable = [200, 203, 300, 301, 308, 404, 410].contains(&response.status().as_u16());
        let vary = match vary_of(response.headers(), request) {
            Some(vary) => vary,
            None => return,
        };
        let fresh_for = freshness(response.headers(), &directives);
        let validated = response.headers().contains_key(header::ETAG)
            || response.headers().contains_key(header::LAST_MODIFIED);
        if !cacheable || (fresh_for.is_zero() && !validated) {
            return;
        }
        let template = Entry {
            url: response.url().clone(),
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            body: Bytes::new(),
            stored: Instant::now(),
            fresh_for,
            no_cache: directives.no_cache,
            vary,
        };
        let cache = self.clone();
        let mut kept: Vec<u8> = Vec::new();
        let mut fits = true;
        let body = std::mem::take(response.body_mut());
        *response.body_mut() = observe(body, move |event| match event {
            BodyEvent::Chunk(chunk) => {
                fits = fits && kept.len() + chunk.len() <= cache.max_body_size;
                if fits {
                    kept.extend_from_slice(chunk);
                }
            }
            BodyEvent::End if fits => {
                let mut entry = template.clone();
                entry.body = Bytes::from(std::mem::take(&mut kept));
                cache.insert(key.clone(), entry);
            }
            BodyEvent::End | BodyEvent::Error(_) => {}
        });
    }

    fn insert(&self, key: String, entry: Entry) {
        let mut entries = self.lock();
        if !entries.contains_key(&key) && entries.len() >= self.max_entries {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.stored)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(oldest) => {
                    entries.remove(&oldest);
                }
                None => return,
            }
        }
        entries.insert(key, entry);
    }
}

impl Entry {
    fn varies_with(&self, request: &Request) -> bool {
        self.vary
            .iter()
            .all(|(name, value)| request.headers().get(name) == value.as_ref())
    }

    fn add_validators(&self, request: &mut Request) {
        if let Some(etag) = self.headers.get(header::ETAG) {
            request
                .headers_mut()
                .insert(header::IF_NONE_MATCH, etag.clone());
        }
        if let Some(modified) = self.headers.get(header::LAST_MODIFIED) {
            request
                .headers_mut()
                .insert(header::IF_MODIFIED_SINCE, modified.clone());
        }
    }

    /// Starts the entry's freshness again from its (updated) head.
    fn restamp(&mut self) {
        let directives = Directives::of(&self.headers);
        self.stored = Instant::now();
        self.fresh_for = freshness(&self.headers, &directives);
        self.no_cache = directives.no_cache;
    }

    fn response(&self, status: CacheStatus) -> Response {
        let mut response = Response::new(self.status)
            .with_version(self.version)
            .with_url(self.url.clone())
            .with_body(Body::from(self.body.clone()));
        *response.headers_mut() = self.headers.clone();
        response.headers_mut().insert(
            header::AGE,
            HeaderValue::from(self.stored.elapsed().as_secs()),
        );
        response.extensions_mut().insert(status);
        response
    }
}

/// Request headers that every stored response varies on, whatever its
/// `Vary` says: the caller's credentials. A client shared by several users
/// (a server calling an API on each user's behalf) must never hand one user's
/// cached answer to another.
const CREDENTIALS: [HeaderName; 2] = [header::AUTHORIZATION, header::COOKIE];

/// The request header values a stored response depends on, or `None` for
/// `Vary: *`.
fn vary_of(
    headers: &HeaderMap,
    request: &Request,
) -> Option<Vec<(HeaderName, Option<HeaderValue>)>> {
    let mut vary: Vec<(HeaderName, Option<HeaderValue>)> = CREDENTIALS
        .iter()
        .map(|name| (name.clone(), request.headers().get(name).cloned()))
        .collect();
    for value in headers.get_all(header::VARY) {
        for name in value.to_str().unwrap_or("*").split(',') {
            let name = name.trim();
            if name == "*" {
                return None;
            }
            if let Ok(name) = HeaderName::try_from(name)
                && !vary.iter().any(|(known, _)| *known == name)
            {
                let value = request.headers().get(&name).cloned();
                vary.push((name, value));
            }
        }
    }
    Some(vary)
}

/// How long a response stays fresh: `max-age` less `Age`, else `Expires`
/// less `Date`, else not at all.
fn freshness(headers: &HeaderMap, directives: &Directives) -> Duration {
    let date = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|value| httpdate::parse_http_date(value.to_str().ok()?).ok())
    };
    let lifetime = match directives.max_age {
        Some(seconds) => Duration::from_secs(seconds),
        None => match (
            date(header::EXPIRES),
            date(header::DATE).unwrap_or_else(SystemTime::now),
        ) {
            (Some(expires), now) => expires.duration_since(now).unwrap_or(Duration::ZERO),
            (None, _) => Duration::ZERO,
        },
    };
    let age = headers
        .get(header::AGE)
        .and_then(|value| value.to_str().ok()?.trim().parse().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    lifetime.saturating_sub(age)
}

/// The URL without its fragment, then one line per credential header the
/// request carries: each user's answers are kept apart (see [`CREDENTIALS`]).
fn cache_key(request: &Request) -> String {
    let mut url = request.url().clone();
    url.set_fragment(None);
    let mut key = String::from(url);
    for name in &CREDENTIALS {
        for value in request.headers().get_all(name) {
            key.push('\n');
            key.push_str(name.as_str());
            key.push_str(": ");
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
    }
    key
}

/// The URL part of a [`cache_key`].
fn url_of(key: &str) -> &str {
    key.split('\n').next().unwrap_or(key)
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.len())
            .field("max_entries", &self.max_entries)
            .field("max_body_size", &self.max_body_size)
            .finish()
    }
}

struct CachePlugin(Cache);

impl Plugin for CachePlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        Box::pin(self.0.run(request, next))
    }
}

pub(super) fn plugin(config: Cache) -> Arc<dyn Plugin> {
    Arc::new(CachePlugin(config))
}
