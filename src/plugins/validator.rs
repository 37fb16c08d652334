//! ResponseValidator: error statuses and custom checks become typed errors.

use std::fmt;
use std::sync::Arc;

use super::{Link, Next, Plugin};
use crate::engine::BoxFuture;
use crate::{Request, Response, Result};

type Check = Arc<dyn Fn(&Response) -> bool + Send + Sync>;
type Validate = Arc<dyn Fn(&Response) -> Result<()> + Send + Sync>;

/// Turns unwanted responses into errors (Ktor's `expectSuccess` and
/// `HttpResponseValidator`).
///
/// - [`expect_success`](ResponseValidator::expect_success): a `3xx`, `4xx`
///   or `5xx` final response becomes an [`Error::Status`](crate::Error::Status)
///   that carries the response, its body buffered (up to 64 KiB) so the
///   caller can read what the server said. Redirects that were followed
///   never get here; a `3xx` does only when it was not followed.
/// - [`fail_when`](ResponseValidator::fail_when): any response you call a
///   failure becomes an `Error::Status` the same way.
/// - [`validate`](ResponseValidator::validate): a check that returns an
///   error of your choosing.
///
/// It judges the final response, once, above Retry, Auth and Redirect, which
/// see raw statuses. A request overrides `expect_success` with
/// [`RequestBuilder::expect_success`](crate::RequestBuilder::expect_success).
///
/// ```
/// use wiretape::{mock::{MockEngine, respond_error}, plugins::ResponseValidator, Client, Error, StatusCode};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_error(StatusCode::NOT_FOUND)) });
/// let client = Client::builder()
///     .engine(engine)
///     .response_validator(ResponseValidator::new().expect_success(true))
///     .build()?;
/// match client.get("http://api.test/users/9").send().await {
///     Err(Error::Status(status)) => {
///         assert_eq!(status.status(), StatusCode::NOT_FOUND);
///         assert_eq!(status.body(), b"Not Found");
///     }
///     other => panic!("expected a status error, got {other:?}"),
/// }
/// // One request that handles its own statuses:
/// let response = client.get("http://api.test/users/9").expect_success(false).send().await?;
/// assert_eq!(response.status(), 404);
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct ResponseValidator {
    expect_success: bool,
    checks: Vec<Check>,
    validators: Vec<Validate>,
}

/// A per-request override of [`ResponseValidator::expect_success`], set by
/// [`RequestBuilder::expect_success`](crate::RequestBuilder::expect_success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectSuccess(pub bool);

impl ResponseValidator {
    /// A validator that lets every response through.
    pub fn new() -> ResponseValidator {
        ResponseValidator::default()
    }

    /// Whether `3xx`, `4xx` and `5xx` responses become errors (default: no).
    pub fn expect_success(mut self, expect: bool) -> ResponseValidator {
        self.expect_success = expect;
        self
    }

    /// Responses for which `check` returns `true` become an
    /// [`Error::Status`](crate::Error::Status) carrying the response.
    pub fn fail_when<F>(mut self, check: F) -> ResponseValidator
    where
        F: Fn(&Response) -> bool + Send + Sync + 'static,
    {
        self.checks.push(Arc::new(check));
        self
    }

    /// A check that turns a response into the error it returns.
    pub fn validate<F>(mut self, validate: F) -> ResponseValidator
    where
        F: Fn(&Response) -> Result<()> + Send + Sync + 'static,
    {
        self.validators.push(Arc::new(validate));
        self
    }

    /// Whether judging could reject anything: success is expected, or some
    /// check or validator is installed.
    fn is_active(&self, over: Option<ExpectSuccess>) -> bool {
        over.map_or(self.expect_success, |over| over.0)
            || !self.checks.is_empty()
            || !self.validators.is_empty()
    }

    async fn judge(&self, over: Option<ExpectSuccess>, response: Response) -> Result<Response> {
        let expect_success = over.map_or(self.expect_success, |over| over.0);
        let status = response.status();
        let unsuccessful =
            status.is_redirection() || status.is_client_error() || status.is_server_error();
        if (expect_success && unsuccessful) || self.checks.iter().any(|check| check(&response)) {
            return Err(response.into_status_error().await);
        }
        for validate in &self.validators {
            validate(&response)?;
        }
        Ok(response)
    }
}

impl fmt::Debug for ResponseValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseValidator")
            .field("expect_success", &self.expect_success)
            .field("checks", &self.checks.len())
            .field("validators", &self.validators.len())
            .finish()
    }
}

struct ValidatorPlugin(ResponseValidator);

impl Plugin for ValidatorPlugin {
    fn call<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        let over = request.extensions().get::<ExpectSuccess>().copied();
        if !self.0.is_active(over) {
            return next.run(request);
        }
        Box::pin(async move {
            let response = next.run(request).await?;
            self.0.judge(over, response).await
        })
    }
}

/// The validator's link: idle when it has nothing to judge, as `call`'s
/// fast path is for a request without an `ExpectSuccess` of its own.
pub(super) fn plugin(config: ResponseValidator) -> Link {
    let idle = !config.is_active(None);
    Link::idle_if(Arc::new(ValidatorPlugin(config)), idle)
}
