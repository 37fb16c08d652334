//! WebSocket faults: the handshake refused or failed, and the server's frame
//! stream dropped, closed, delayed or thinned.

use std::time::Duration;

use futures_util::StreamExt;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::act::{self, Call};
use super::plan::Hit;
use super::vocab::Fault;
use crate::ws::{Frame, WsConnection};
use crate::{Error, Response, Result};

/// Acts `hit` on a handshake whose real connection `connect` gives.
pub(crate) async fn websocket<F>(hit: Hit, call: Call, connect: F) -> Result<WsConnection>
where
    F: std::future::Future<Output = Result<WsConnection>> + Send,
{
    let name = call.name().to_owned();
    if !hit.fault.is_websocket() {
        // Connection faults act on the handshake as on any exchange.
        let answer = act::http(hit, call, async {
            Ok(Response::new(http::StatusCode::SWITCHING_PROTOCOLS))
        })
        .await?;
        if answer.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::refused_upgrade(name, answer));
        }
        return connect.await;
    }
    if hit.fault == Fault::WsRefuse {
        // The body says who refused, as every injected error does.
        let why = act::says(&hit, &call, "WebSocket upgrade refused");
        let answer = Response::new(http::StatusCode::FORBIDDEN).with_body(why);
        return Err(Error::refused_upgrade(name, answer));
    }
    let (response, sink, stream) = connect.await?.into_parts();
    let stream = match hit.fault {
        Fault::WsDrop(after) => stream.take(after as usize).boxed(),
        Fault::WsClose { code, after } => stream
            .take(after as usize)
            .chain(futures_util::stream::once(async move {
                Ok(Frame::close(code, "closed by a fault"))
            }))
            .boxed(),
        Fault::WsDelay(delay) => {
            let mut rng = StdRng::seed_from_u64(hit.draws);
            stream
                .then(move |frame| {
                    let wait: Duration = delay.sample(&mut rng);
                    async move {
                        tokio::time::sleep(wait).await;
                        frame
                    }
                })
                .boxed()
        }
        Fault::WsDropFrames(every) => {
            let every = every.max(1) as usize;
            stream
                .enumerate()
                .filter(move |(at, frame)| {
                    let keep =
                        (at + 1) % every != 0 || matches!(frame, Ok(Frame::Close(_)) | Err(_));
                    async move { keep }
                })
                .map(|(_, frame)| frame)
                .boxed()
        }
        _ => stream,
    };
    Ok(WsConnection::new(response, sink, stream))
}
