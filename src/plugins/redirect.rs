//! Redirect: follow 301/302/303/307/308 with safe rules.

use std::sync::Arc;

use http::{Method, StatusCode, header};
use url::Url;

use super::{Next, Plugin};
use crate::engine::BoxFuture;
use crate::{Body, Error, Request, Response, Result};

/// Follows redirects (Ktor's `HttpRedirect`), on by default.
///
/// - `301`, `302` and `303` continue with a `GET` without a body (a `HEAD`
///   stays a `HEAD`; `301` and `302` keep any method but `POST`, as browsers
///   do); `307` and `308` keep the method and the body. A `307`/`308` for a
///   request whose body is a stream (which can be sent only once) is
///   returned as it is.
/// - At most [`max_hops`](Redirect::max_hops) hops (default 10); one more
///   fails with an [`Error::Protocol`](crate::Error::Protocol) listing the
///   chain.
/// - When a hop changes origin (scheme, host or port), `Authorization`,
///   `Proxy-Authorization` and `Cookie` are dropped; the cookie jar, if
///   installed, adds the new origin's own cookies.
/// - An `https` to `http` hop fails with an error unless
///   [`allow_https_downgrade`](Redirect::allow_https_downgrade).
///
/// The final response's [`url`](crate::Response::url) is the last hop's.
/// Configure with [`ClientBuilder::redirect`](crate::ClientBuilder::redirect)
/// or per request with [`RequestBuilder::redirect`](crate::RequestBuilder::redirect).
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_ok, respond_redirect}, plugins::Redirect, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|request| async move {
///     Ok(match request.url().path() {
///         "/old" => respond_redirect("/new"),
///         _ => respond_ok("moved here"),
///     })
/// });
/// let client = Client::builder().engine(engine).redirect(Redirect::new().max_hops(5)).build()?;
/// let response = client.get("http://site.test/old").send().await?;
/// assert_eq!(response.url().path(), "/new");
/// assert_eq!(response.text().await?, "moved here");
///
/// let raw = client.get("http://site.test/old").redirect(Redirect::none()).send().await?;
/// assert_eq!(raw.status(), 302);
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect {
    max_hops: usize,
    allow_https_downgrade: bool,
}

impl Default for Redirect {
    fn default() -> Self {
        Redirect::new()
    }
}

impl Redirect {
    /// Follows up to 10 hops, never from `https` to `http`.
    pub fn new() -> Redirect {
        Redirect {
            max_hops: 10,
            allow_https_downgrade: false,
        }
    }

    /// Follows no redirect: `3xx` responses are returned as they are.
    pub fn none() -> Redirect {
        Redirect::new().max_hops(0)
    }

    /// The most hops to follow; `0` follows none.
    pub fn max_hops(mut self, hops: usize) -> Redirect {
        self.max_hops = hops;
        self
    }

    /// Whether an `https` page may redirect to an `http` one.
    pub fn allow_https_downgrade(mut self, allow: bool) -> Redirect {
        self.allow_https_downgrade = allow;
        self
    }

    /// Follows redirects; called only with `max_hops > 0`.
    ///
    /// Most calls are never redirected, so the first hop is sent before the
    /// returned future is built: it holds only the hop's head and resendable
    /// body, not the request too, and stays small (a smaller allocation is a
    /// cheaper one). The loop that follows redirects is boxed separately,
    /// only when one happens.
    fn run<'a>(
        self,
        request: Request,
        next: Next<'a>,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        let head = request.copy_head();
        let body = request.body().try_clone();
        let sent = next.run(request);
        async move {
            let response = sent.await?;
            if !is_followed(response.status()) {
                return Ok(answered_by(response, head));
            }
            Box::pin(self.follow(head, body, response, next)).await
        }
    }

    /// Follows the redirect `response` to the request `head` (whose body, if
    /// it can be resent, is `body`), and the ones after it.
    async fn follow(
        self,
        mut head: Request,
        mut body: Option<Body>,
        mut response: Response,
        next: Next<'_>,
    ) -> Result<Response> {
        let origin = head.to_string();
        let mut chain = vec![head.url().to_string()];
        loop {
            let Some(target) = location(&head, &response)? else {
                return Ok(answered_by(response, head));
            };
            chain.push(target.to_string());
            if chain.len() > self.max_hops + 1 {
                return Err(Error::Protocol {
                    request: origin,
                    message: format!(
                        "more than {} redirects: {}",
                        self.max_hops,
                        chain.join(" -> ")
                    ),
                });
            }
            if head.url().scheme() == "https"
                && target.scheme() == "http"
                && !self.allow_https_downgrade
            {
                return Err(Error::invalid(format!(
                    "{origin} was redirected from {} to {target}, which is not encrypted; \
                     allow it with Redirect::allow_https_downgrade(true)",
                    head.url()
                )));
            }
            let becomes_get = becomes_get(head.method(), response.status());
            let current = match body {
                // The body must be resent but was a stream: this is the answer.
                None if !becomes_get => return Ok(answered_by(response, head)),
                body => next_request(head, body, becomes_get, target),
            };
            head = current.copy_head();
            body = current.body().try_clone();
            response = next.run(current).await?;
            if !is_followed(response.status()) {
                return Ok(answered_by(response, head));
            }
        }
    }
}

fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The absolute URL a redirect points to, if it has a `Location`.
fn location(request: &Request, response: &Response) -> Result<Option<Url>> {
    let Some(value) = response.headers().get(header::LOCATION) else {
        return Ok(None);
    };
    let bad = |why: String| Error::Protocol {
        request: request.to_string(),
        message: format!(
            "the {} redirect has an unusable Location: {why}",
            response.status()
        ),
    };
    let text = value
        .to_str()
        .map_err(|_| bad("it is not visible ASCII".into()))?;
    let target = request
        .url()
        .join(text)
        .map_err(|err| bad(format!("{text:?}: {err}")))?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(bad(format!("{target} is not an http or https URL")));
    }
    Ok(Some(target))
}

/// Whether a `status` redirect turns a `method` request into a `GET`
/// without a body.
fn becomes_get(method: &Method, status: StatusCode) -> bool {
    status == StatusCode::SEE_OTHER && method != Method::HEAD
        || matches!(status.as_u16(), 301 | 302) && method == Method::POST
}

/// The request for the next hop; `body` is resent unless it `becomes_get`.
fn next_request(mut head: Request, body: Option<Body>, becomes_get: bool, target: Url) -> Request {
    if becomes_get {
        *head.method_mut() = Method::GET;
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
            header::TRANSFER_ENCODING,
        ] {
            head.headers_mut().remove(name);
        }
    } else if let Some(body) = body {
        *head.body_mut() = body;
    }
    if head.url().origin() != target.origin() {
        for name in [
            header::AUTHORIZATION,
            header::PROXY_AUTHORIZATION,
            header::COOKIE,
        ] {
            head.headers_mut().remove(name);
        }
    }
    head.headers_mut().remove(header::HOST);
    *head.url_mut() = target;
    head
}

/// The response, with the URL of the hop that answered it when the engine did
/// not say (a router, a user's engine). Moving the URL out of the hop's head
/// costs no copy.
fn answered_by(mut response: Response, head: Request) -> Response {
    if !response.has_url() {
        response.set_target(head.into_target());
    }
    response
}

struct RedirectPlugin(Redirect);

impl Plugin for RedirectPlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        let policy = request
            .extensions()
            .get::<Redirect>()
            .copied()
            .unwrap_or(self.0);
        if policy.max_hops == 0 {
            // Nothing will be followed: keep only the URL the response may
            // need, not a copy of the whole request head.
            let target = request.target().clone();
            return Box::pin(async move {
                let mut response = next.run(request).await?;
                if !response.has_url() {
                    response.set_target(target);
                }
                Ok(response)
            });
        }
        Box::pin(policy.run(request, next))
    }
}

pub(super) fn plugin(config: Redirect) -> Arc<dyn Plugin> {
    Arc::new(RedirectPlugin(config))
}
