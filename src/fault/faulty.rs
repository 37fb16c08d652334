//! [`Faulty`]: any engine, with a fault plan in front of it.

use super::act::{self, Call};
use super::plan::FaultPlan;
use super::ws;
use crate::engine::{BoxFuture, Capabilities, Engine};
use crate::ws::WsConnection;
use crate::{Request, Response, Result};

/// An engine with a [`FaultPlan`] in front: each call asks the plan, and the
/// fault that fires is acted in-process, waiting only on `tokio::time`, with
/// the same [`ErrorKind`](crate::ErrorKind) the real engine reports for the
/// real thing (the table in the [module docs](super)). A call no fault hits
/// goes straight to the inner engine: one lock and a counter, no allocation.
///
/// Wraps anything: [`HyperEngine`](crate::engine::HyperEngine), a
/// [`Router`](crate::mock::Router), a [`Cassette`](crate::cassette::Cassette)
/// (a recorded API made flaky), a [`MockEngine`](crate::mock::MockEngine).
///
/// ```
/// use wiretape::{fault::{Fault, FaultPlan, Faulty}, mock::{Router, Route, responders::text}, Client, ErrorKind};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::new();
/// router.mock(Route::new().respond_with(text("ok")));
/// let plan = FaultPlan::sequence([Fault::Reset, Fault::Ok]).with_seed(1);
/// let client = Client::builder().engine(Faulty::new(router, plan.clone())).build()?;
/// let first = client.get("http://api.test/").send().await.unwrap_err();
/// assert_eq!(first.kind(), ErrorKind::ConnectionReset);
/// assert_eq!(client.get("http://api.test/").send().await?.text().await?, "ok");
/// assert_eq!(plan.journal().hits.len(), 1);
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Faulty<E> {
    inner: E,
    plan: FaultPlan,
}

impl<E: Engine> Faulty<E> {
    /// `inner`, with `plan` (or a single [`Fault`](super::Fault), always) in
    /// front.
    pub fn new(inner: E, plan: impl Into<FaultPlan>) -> Faulty<E> {
        Faulty {
            inner,
            plan: plan.into(),
        }
    }

    /// The plan, for its seed and journal.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The wrapped engine.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

impl<E: Engine> Engine for Faulty<E> {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        match self.plan.decide(&request) {
            None => self.inner.execute(request),
            Some(hit) => {
                let call = Call::of(&request);
                Box::pin(act::http(hit, call, self.inner.execute(request)))
            }
        }
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        match self.plan.decide(&request) {
            None => self.inner.websocket(request),
            Some(hit) => {
                let call = Call::of(&request);
                Box::pin(ws::websocket(hit, call, self.inner.websocket(request)))
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}
