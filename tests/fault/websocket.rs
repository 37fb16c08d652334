//! WebSocket faults, in-process and through a served socket.

use std::time::Duration;

use wiretape::fault::{Delay, Fault, Faulty};
use wiretape::ws::CloseFrame;
use wiretape::{ErrorKind, server};

use super::client;

/// Sends each text, then collects the echoed texts until the connection ends,
/// and the close code it ended with.
async fn echoes(ws: &mut wiretape::ws::WebSocket, texts: &[&str]) -> (Vec<String>, Option<u16>) {
    for text in texts {
        // The sink may already be closed by a fault; what comes back is the test.
        let _ = ws.send_text(*text).await;
    }
    let mut got = Vec::new();
    while got.len() < texts.len() {
        match tokio::time::timeout(Duration::from_secs(10), ws.recv_text()).await {
            Ok(Ok(Some(text))) => got.push(text),
            Ok(_) => break,
            Err(_) => panic!("no frame within 10 s; got {got:?}"),
        }
    }
    (got, ws.close_frame().map(|c| c.code))
}

#[tokio::test(start_paused = true)]
async fn a_dropped_websocket_ends_with_1006_after_its_frames() {
    let client = client(Faulty::new(wiretape::mock::echo(), Fault::WsDrop(1)));
    let mut ws = client.websocket("ws://api.test/chat").await.unwrap();
    let (got, code) = echoes(&mut ws, &["one", "two"]).await;
    assert_eq!(
        (got, code),
        (vec!["one".to_owned()], Some(CloseFrame::ABNORMAL))
    );
}

#[tokio::test(start_paused = true)]
async fn a_close_fault_sends_its_code_and_a_refusal_fails_the_handshake() {
    let client_for = |fault| client(Faulty::new(wiretape::mock::echo(), fault));
    let mut ws = client_for(Fault::WsClose {
        code: 4000,
        after: 1,
    })
    .websocket("ws://api.test/chat")
    .await
    .unwrap();
    let (got, code) = echoes(&mut ws, &["one", "two"]).await;
    assert_eq!((got, code), (vec!["one".to_owned()], Some(4000)));

    let err = client_for(Fault::WsRefuse)
        .websocket("ws://api.test/chat")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status, "{err}");
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(403)
    );
    let err = client_for(Fault::Reset)
        .websocket("ws://api.test/chat")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[tokio::test(start_paused = true)]
async fn frames_can_be_delayed_and_thinned() {
    let slow = client(Faulty::new(
        wiretape::mock::echo(),
        Fault::WsDelay(Delay::Fixed(Duration::from_secs(3))),
    ));
    let mut ws = slow.websocket("ws://api.test/chat").await.unwrap();
    let start = tokio::time::Instant::now();
    let (got, _) = echoes(&mut ws, &["a", "b"]).await;
    assert_eq!(got, ["a", "b"]);
    assert_eq!(start.elapsed(), Duration::from_secs(6));

    let lossy = client(Faulty::new(wiretape::mock::echo(), Fault::WsDropFrames(2)));
    let mut ws = lossy.websocket("ws://api.test/chat").await.unwrap();
    for text in ["1", "2", "3", "4", "5"] {
        ws.send_text(text).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(ws.recv_text().await.unwrap().unwrap());
    }
    assert_eq!(got, ["1", "3", "5"]);
}

#[tokio::test]
async fn a_served_websocket_drop_reaches_a_real_client_as_1006() {
    let engine = Faulty::new(wiretape::mock::echo(), Fault::WsDrop(1));
    let server = server::serve(engine, "127.0.0.1:0").await.unwrap();
    let real = client(wiretape::engine::HyperEngine::default());
    let mut ws = real.websocket(server.ws_url("/chat")).await.unwrap();
    let (got, code) = echoes(&mut ws, &["one", "two"]).await;
    assert_eq!(
        (got, code),
        (vec!["one".to_owned()], Some(CloseFrame::ABNORMAL))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_served_refusal_reaches_a_real_client_as_its_status() {
    let server = server::serve(
        Faulty::new(wiretape::mock::echo(), Fault::WsRefuse),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let real = client(wiretape::engine::HyperEngine::default());
    let err = real.websocket(server.ws_url("/chat")).await.unwrap_err();
    let refusal = err.status_response().expect("a status error");
    assert_eq!(refusal.status().as_u16(), 403, "{err}");
    let body = String::from_utf8_lossy(refusal.body().as_bytes().unwrap()).into_owned();
    // The body says which fault refused it and the seed that reproduces it.
    assert!(body.contains("\"ws_refuse\""), "{body}");
    assert!(body.contains("WIRETAPE_SEED="), "{body}");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_router_plan_acts_on_websocket_handshakes_too() {
    let router = wiretape::mock::Router::new()
        .without_drop_verification()
        .with_fallback(wiretape::mock::echo())
        .with_faults(wiretape::fault::FaultPlan::sequence([
            Fault::WsRefuse,
            Fault::WsDrop(0),
        ]));
    let client = client(router);
    let err = client.websocket("ws://api.test/chat").await.unwrap_err();
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(403),
        "{err}"
    );
    let mut ws = client.websocket("ws://api.test/chat").await.unwrap();
    assert_eq!(
        echoes(&mut ws, &["lost"]).await,
        (vec![], Some(CloseFrame::ABNORMAL))
    );
}

#[tokio::test(start_paused = true)]
async fn a_websocket_route_fault_acts_on_its_handshakes_and_frames() {
    use wiretape::fault::FaultPlan;
    use wiretape::mock::{Route, Router, matchers::path, socket::Socket};
    let router = Router::new().without_drop_verification();
    router.mock(
        Route::given(path("/chat"))
            .websocket(Socket::new().echo())
            .fault(FaultPlan::sequence([Fault::WsRefuse, Fault::WsDrop(1)]))
            .named("chat"),
    );
    let client = client(router.clone());
    let err = client.websocket("ws://api.test/chat").await.unwrap_err();
    assert_eq!(
        err.status_response().map(|r| r.status().as_u16()),
        Some(403),
        "{err}"
    );
    assert!(err.to_string().contains("route \"chat\""), "{err}");
    let mut ws = client.websocket("ws://api.test/chat").await.unwrap();
    assert_eq!(
        echoes(&mut ws, &["one", "two"]).await,
        (vec!["one".to_owned()], Some(CloseFrame::ABNORMAL))
    );
    let mut ws = client.websocket("ws://api.test/chat").await.unwrap();
    assert_eq!(echoes(&mut ws, &["three"]).await.0, ["three"]);
    // Both handshakes reached the route; only the two let through opened.
    assert_eq!(router.journal().len(), 3);
    assert_eq!(router.sockets().len(), 2);
}

#[test]
fn a_route_file_puts_faults_on_a_websocket_route() {
    let router = wiretape::mock::Router::new().without_drop_verification();
    router
        .load_yaml_str(
            "routes:\n  - request: {path: /chat}\n    websocket: {echo: true}\n    faults: {sequence: [ws_refuse]}\n",
            std::path::Path::new("routes.yaml"),
        )
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = client(router.clone());
        let err = client.websocket("ws://api.test/chat").await.unwrap_err();
        assert_eq!(
            err.status_response().map(|r| r.status().as_u16()),
            Some(403)
        );
        assert!(client.websocket("ws://api.test/chat").await.is_ok());
    });
}
