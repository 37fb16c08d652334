//! Logging: requests and responses through `tracing`, credentials hidden.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::{HeaderMap, HeaderName, header};
use tokio::time::Instant;

use super::observe::{BodyEvent, observe};
use super::{CacheStatus, Next, Plugin};
use crate::engine::BoxFuture;
use crate::ws::WsConnection;
use crate::{Body, Request, Response, Result};

type Logger = Arc<dyn Fn(&str) + Send + Sync>;

/// How much [`Logging`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Nothing.
    None,
    /// One line per request and one per response: method, URL, status, time.
    Info,
    /// Also the headers.
    Headers,
    /// Also the bodies, up to [`Logging::body_limit`] bytes each.
    Body,
}

/// Logs each call (Ktor's `Logging`) through `tracing`, at `INFO` level with
/// target `wiretape::http`, or through your own [`logger`](Logging::logger).
///
/// - Credentials never reach the log: `Authorization`,
///   `Proxy-Authorization`, `Cookie` and `Set-Cookie`, any header value
///   marked sensitive, and the headers you add with
///   [`sanitize_header`](Logging::sanitize_header) show as `<redacted>`.
/// - Bodies are logged up to [`body_limit`](Logging::body_limit) bytes
///   (default 4 KiB). A streamed response body is logged when it has been
///   read, as far as the caller read it, without being buffered beyond the
///   limit; a streamed request body is not read.
///
/// Logging sits above Retry and Redirect: it logs the call the application
/// made and the response it got, with the total time. Retries are logged
/// by Retry (target `wiretape::retry`).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wiretape::{mock::{MockEngine, respond_ok}, plugins::{LogLevel, Logging}, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let lines = Arc::new(Mutex::new(Vec::<String>::new()));
/// let sink = lines.clone();
/// let engine = MockEngine::new(|_| async { Ok(respond_ok("hi")) });
/// let client = Client::builder()
///     .engine(engine)
///     .logging(Logging::new().level(LogLevel::Headers).logger(move |line| sink.lock().unwrap().push(line.to_owned())))
///     .build()?;
/// client.get("http://api.test/me").bearer_auth("s3cret").send().await?;
/// let log = lines.lock().unwrap().join("\n");
/// assert!(log.contains("REQUEST GET http://api.test/me"));
/// assert!(log.contains("authorization: <redacted>"));
/// assert!(!log.contains("s3cret"));
/// assert!(log.contains("RESPONSE 200 OK"));
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Logging {
    level: LogLevel,
    body_limit: usize,
    sanitized: Vec<HeaderName>,
    logger: Option<Logger>,
}

impl Default for Logging {
    fn default() -> Self {
        Logging::new()
    }
}

impl Logging {
    /// Logging at [`LogLevel::Info`] through `tracing`.
    pub fn new() -> Logging {
        Logging {
            level: LogLevel::Info,
            body_limit: 4096,
            sanitized: vec![
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::COOKIE,
                header::SET_COOKIE,
            ],
            logger: None,
        }
    }

    /// How much to log.
    pub fn level(mut self, level: LogLevel) -> Logging {
        self.level = level;
        self
    }

    /// The most bytes of each body to log.
    pub fn body_limit(mut self, bytes: usize) -> Logging {
        self.body_limit = bytes;
        self
    }

    /// Hides the value of another header (an API key, say). An invalid
    /// header name is ignored: no header can have it.
    pub fn sanitize_header(mut self, name: &str) -> Logging {
        if let Ok(name) = HeaderName::try_from(name) {
            self.sanitized.push(name);
        }
        self
    }

    /// Sends each log entry to `logger` instead of `tracing`.
    pub fn logger<F>(mut self, logger: F) -> Logging
    where
        F: Fn(&str) + Send + Sync + 'static,
    {
        self.logger = Some(Arc::new(logger));
        self
    }

    fn emit(&self, entry: &str) {
        match &self.logger {
            Some(logger) => logger(entry),
            None => tracing::info!(target: "wiretape::http", "{entry}"),
        }
    }

    fn headers(&self, entry: &mut String, arrow: &str, headers: &HeaderMap) {
        if self.level < LogLevel::Headers {
            return;
        }
        for (name, value) in headers {
            let shown = if value.is_sensitive() || self.sanitized.contains(name) {
                "<redacted>".into()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            let _ = write!(entry, "\n{arrow} {name}: {shown}");
        }
    }

    fn request_entry(&self, request: &Request) -> String {
        let mut entry = format!("REQUEST {request}");
        self.headers(&mut entry, ">", request.headers());
        if self.level >= LogLevel::Body {
            match request.body().as_bytes() {
                Some(bytes) if !bytes.is_empty() => {
                    let _ = write!(entry, "\n{}", self.body_text(bytes, bytes.len()));
                }
                Some(_) => {}
                None => entry.push_str("\nBODY <a stream, not logged>"),
            }
        }
        entry
    }

    fn body_text(&self, kept: &[u8], total: usize) -> String {
        let shown = &kept[..kept.len().min(self.body_limit)];
        let text = match std::str::from_utf8(shown) {
            Ok(text) => text.to_owned(),
            // A cut through a multi-byte character: show what is whole.
            Err(err) if err.error_len().is_none() => {
                String::from_utf8_lossy(&shown[..err.valid_up_to()]).into_owned()
            }
            Err(_) => return format!("BODY ({total} bytes, binary)"),
        };
        let more = if total > shown.len() {
            " …(truncated)"
        } else {
            ""
        };
        format!("BODY ({total} bytes): {text}{more}")
    }

    fn log_response(&self, name: &str, started: Instant, response: &mut Response) {
        let cache = match response.extensions().get::<CacheStatus>() {
            Some(CacheStatus::Hit) => " (from cache)",
            Some(CacheStatus::Revalidated) => " (revalidated)",
            _ => "",
        };
        let mut entry = format!(
            "RESPONSE {} from {name} in {:?}{cache}",
            response.status(),
            started.elapsed()
        );
        self.headers(&mut entry, "<", response.headers());
        self.emit(&entry);
        if self.level >= LogLevel::Body {
            let body = std::mem::take(response.body_mut());
            *response.body_mut() = self.log_body(body, name.to_owned());
        }
    }

    /// The body, logged once read.
    fn log_body(&self, body: Body, name: String) -> Body {
        let logging = self.clone();
        let mut kept: Vec<u8> = Vec::new();
        let mut total = 0;
        observe(body, move |event| match event {
            BodyEvent::Chunk(chunk) => {
                total += chunk.len();
                let room = logging.body_limit.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            BodyEvent::End if total > 0 => {
                logging.emit(&format!(
                    "RESPONSE BODY of {name}\n{}",
                    logging.body_text(&kept, total)
                ));
            }
            BodyEvent::End => {}
            BodyEvent::Error(err) => logging.emit(&format!(
                "RESPONSE BODY of {name} broke off after {total} bytes: {err}"
            )),
        })
    }

    async fn run(&self, request: Request, next: Next<'_>) -> Result<Response> {
        if self.level == LogLevel::None {
            return next.run(request).await;
        }
        let name = request.to_string();
        self.emit(&self.request_entry(&request));
        let started = Instant::now();
        match next.run(request).await {
            Ok(mut response) => {
                self.log_response(&name, started, &mut response);
                Ok(response)
            }
            Err(err) => {
                self.emit(&format!(
                    "FAILED {name} after {:?}: {err}",
                    started.elapsed()
                ));
                Err(err)
            }
        }
    }
}

impl fmt::Debug for Logging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logging")
            .field("level", &self.level)
            .field("body_limit", &self.body_limit)
            .field("sanitized", &self.sanitized)
            .field("logger", &self.logger.is_some())
            .finish()
    }
}

struct LoggingPlugin(Logging);

impl Plugin for LoggingPlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        Box::pin(self.0.run(request, next))
    }

    fn websocket<'a>(
        &'a self,
        request: Request,
        next: Next<'a>,
    ) -> BoxFuture<'a, Result<WsConnection>> {
        Box::pin(async move {
            if self.0.level == LogLevel::None {
                return next.websocket(request).await;
            }
            let name = request.to_string();
            self.0
                .emit(&format!("WEBSOCKET {}", self.0.request_entry(&request)));
            let started = Instant::now();
            let result = next.websocket(request).await;
            match &result {
                Ok(_) => self
                    .0
                    .emit(&format!("WEBSOCKET OPEN {name} in {:?}", started.elapsed())),
                Err(err) => self.0.emit(&format!(
                    "FAILED {name} after {:?}: {err}",
                    started.elapsed()
                )),
            }
            result
        })
    }
}

pub(super) fn plugin(config: Logging) -> Arc<dyn Plugin> {
    Arc::new(LoggingPlugin(config))
}
