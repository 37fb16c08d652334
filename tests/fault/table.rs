//! The table in `wiretape::fault`'s docs, checked: each fault acted by
//! `serve` on a real socket, as `HyperEngine` reports it, against the same
//! fault acted in-process by `Faulty<Router>`.

use std::time::Duration;

use wiretape::fault::{Delay, Fault};
use wiretape::mock::{Route, Router, responders::text};
use wiretape::{ErrorKind, server};

use super::{BODY, Outcome, client, faulty, outcome};

/// The outcome of a GET through the real engine to a served router whose
/// only route has `fault`.
async fn over_the_wire(fault: Fault) -> Outcome {
    let router = Router::new().without_drop_verification();
    router.mock(Route::new().respond_with(text(BODY)).fault(fault));
    let server = server::serve(router, "127.0.0.1:0").await.expect("binds");
    let client = client(wiretape::engine::HyperEngine::default());
    let call = async { outcome(client.get(server.url("/")).send().await).await };
    // Bounded: a fault acted wrongly on the wire must fail the test, not hang it.
    let got = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap_or(Outcome::Hung);
    server.shutdown().await;
    got
}

async fn in_process(fault: Fault) -> Outcome {
    let (client, _plan) = faulty(fault);
    outcome(client.get("http://api.test/").send().await).await
}

/// The kinds must agree; bodies that are read fully must be equal.
fn same_kind(wire: &Outcome, local: &Outcome) -> bool {
    match (wire, local) {
        (Outcome::Failed(a), Outcome::Failed(b)) => a == b,
        (Outcome::Answered(s1, Ok(b1)), Outcome::Answered(s2, Ok(b2))) => s1 == s2 && b1 == b2,
        (Outcome::Answered(s1, Err(k1)), Outcome::Answered(s2, Err(k2))) => s1 == s2 && k1 == k2,
        _ => false,
    }
}

#[tokio::test]
async fn every_socket_fault_gives_the_same_kind_over_the_wire_and_in_process() {
    let cases: Vec<(Fault, Outcome)> = vec![
        (Fault::Reset, Outcome::Failed(ErrorKind::ConnectionReset)),
        (
            Fault::EmptyReply,
            Outcome::Failed(ErrorKind::ConnectionReset),
        ),
        (Fault::Garbage, Outcome::Failed(ErrorKind::Protocol)),
        (
            Fault::ResetAfter(5),
            Outcome::Answered(200, Err(ErrorKind::ConnectionReset)),
        ),
        (
            Fault::MalformedChunk,
            Outcome::Answered(200, Err(ErrorKind::Protocol)),
        ),
        (
            Fault::Truncated(10),
            Outcome::Answered(200, Err(ErrorKind::ConnectionReset)),
        ),
        (
            Fault::Dribble {
                chunks: 4,
                over: Duration::from_millis(40),
            },
            Outcome::Answered(200, Ok(BODY.to_owned())),
        ),
        (
            Fault::Bandwidth(2_000),
            Outcome::Answered(200, Ok(BODY.to_owned())),
        ),
        (
            Fault::latency(Duration::from_millis(20)),
            Outcome::Answered(200, Ok(BODY.to_owned())),
        ),
        (
            Fault::ChunkLatency(Delay::Fixed(Duration::from_millis(5))),
            Outcome::Answered(200, Ok(BODY.to_owned())),
        ),
    ];
    let mut wrong = Vec::new();
    for (fault, expected) in cases {
        let wire = over_the_wire(fault.clone()).await;
        let local = in_process(fault.clone()).await;
        if !same_kind(&wire, &expected) || !same_kind(&local, &expected) {
            wrong.push(format!(
                "{}: expected {expected:?}, over the wire {wire:?}, in-process {local:?}",
                fault.name()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "faults that disagree:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn a_status_fault_is_the_same_answer_over_the_wire_and_in_process() {
    let fault = Fault::retry_after(503, Duration::from_secs(2));
    let (wire, local) = (over_the_wire(fault.clone()).await, in_process(fault).await);
    for got in [&wire, &local] {
        match got {
            Outcome::Answered(503, Ok(body)) => assert!(body.contains("seed"), "{body}"),
            other => panic!("expected a 503 naming the seed, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn refusal_and_dns_are_connect_errors_in_process_and_resets_on_the_wire() {
    // A served connection is already accepted: the closest a server can
    // come to refusing it is an RST, which the table says.
    for (fault, local_kind) in [
        (Fault::Refused, ErrorKind::ConnectionRefused),
        (Fault::Dns, ErrorKind::Dns),
    ] {
        assert_eq!(in_process(fault.clone()).await, Outcome::Failed(local_kind));
        assert_eq!(
            over_the_wire(fault).await,
            Outcome::Failed(ErrorKind::ConnectionReset)
        );
    }
}

#[tokio::test]
async fn over_http2_the_socket_faults_reset_the_stream_and_the_connection_lives_on() {
    // h2c with prior knowledge: RST_STREAM instead of an RST or raw bytes.
    let router = Router::new().without_drop_verification();
    for (at, fault) in [
        Fault::Reset,
        Fault::EmptyReply,
        Fault::Garbage,
        Fault::MalformedChunk,
        Fault::Truncated(3),
    ]
    .into_iter()
    .enumerate()
    {
        router.mock(
            Route::given(wiretape::mock::matchers::path(format!("/{at}")))
                .respond_with(text(BODY))
                .fault(fault),
        );
    }
    router.mock(Route::given(wiretape::mock::matchers::path("/fine")).respond_with(text(BODY)));
    let server = server::serve(router, "127.0.0.1:0").await.expect("binds");
    let engine = wiretape::engine::HyperEngine::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let client = client(engine);
    for at in 0..5 {
        let got = tokio::time::timeout(
            Duration::from_secs(10),
            outcome(client.get(server.url(&format!("/{at}"))).send().await),
        )
        .await
        .unwrap_or(Outcome::Hung);
        assert_eq!(
            got,
            Outcome::Failed(ErrorKind::ConnectionReset),
            "fault {at}"
        );
    }
    let fine = outcome(client.get(server.url("/fine")).send().await).await;
    assert_eq!(fine, Outcome::Answered(200, Ok(BODY.to_owned())));
    assert_eq!(
        server.connections_accepted(),
        1,
        "one HTTP/2 connection served every stream"
    );
    server.shutdown().await;
}
