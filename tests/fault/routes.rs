//! Faults on routes and on a whole router, in the DSL and in route files;
//! the old `reset`/`refused`/`hang` responders act through the same faults.

use std::path::Path;

use wiretape::fault::{Fault, FaultPlan};
use wiretape::mock::matchers::path;
use wiretape::mock::responders::{fault, refused, reset, text};
use wiretape::mock::{Route, Router};
use wiretape::{ErrorKind, server};

use super::{Outcome, client, outcome};

#[tokio::test(start_paused = true)]
async fn a_route_fault_acts_on_what_the_route_answers() {
    let router = Router::new();
    router.mock(
        Route::given(path("/pay"))
            .respond_with(text("paid"))
            .fault(FaultPlan::sequence([
                Fault::status(503),
                Fault::ResetAfter(2),
            ]))
            .times(3),
    );
    let client = client(router.clone());
    let url = "http://api.test/pay";
    assert!(matches!(
        outcome(client.get(url).send().await).await,
        Outcome::Answered(503, _)
    ));
    assert_eq!(
        outcome(client.get(url).send().await).await,
        Outcome::Answered(200, Err(ErrorKind::ConnectionReset))
    );
    assert_eq!(
        outcome(client.get(url).send().await).await,
        Outcome::Answered(200, Ok("paid".into()))
    );
    router.verify().assert();
}

#[tokio::test(start_paused = true)]
async fn a_router_plan_sees_every_request_even_misses() {
    let router = Router::new()
        .without_drop_verification()
        .with_faults(FaultPlan::every(2, Fault::Reset));
    router.mock(Route::given(path("/a")).respond_with(text("a")));
    let client = client(router.clone());
    assert_eq!(
        outcome(client.get("http://api.test/a").send().await).await,
        Outcome::Answered(200, Ok("a".into()))
    );
    assert_eq!(
        outcome(client.get("http://api.test/missing").send().await).await,
        Outcome::Failed(ErrorKind::ConnectionReset),
        "the second call is reset before routing"
    );
    assert_eq!(
        outcome(client.get("http://api.test/missing").send().await).await,
        Outcome::Failed(ErrorKind::NoRoute)
    );
}

#[tokio::test(start_paused = true)]
async fn a_reset_router_starts_its_plan_again() {
    let plan = FaultPlan::sequence([Fault::Reset, Fault::Ok])
        .or(FaultPlan::chance(0.5, Fault::status(503)))
        .with_seed(7);
    let router = Router::new()
        .without_drop_verification()
        .with_faults(plan.clone());
    let client = client(router.clone());
    let mut runs = Vec::new();
    for _ in 0..2 {
        router.mock(Route::given(path("/a")).respond_with(text("a")));
        let mut run = Vec::new();
        for _ in 0..8 {
            run.push(outcome(client.get("http://api.test/a").send().await).await);
        }
        runs.push((run, plan.journal()));
        router.reset();
    }
    assert_eq!(runs[0].0[0], Outcome::Failed(ErrorKind::ConnectionReset));
    assert_eq!(runs[0], runs[1], "the same schedule after a reset");
    assert_eq!(plan.journal().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn the_old_failure_responders_are_faults() {
    let router = Router::new().without_drop_verification();
    router.mock(Route::given(path("/reset")).respond_with(reset()));
    router.mock(Route::given(path("/refused")).respond_with(refused()));
    router.mock(Route::given(path("/garbage")).respond_with(fault(Fault::Garbage)));
    let client = client(router);
    for (url, kind) in [
        ("http://api.test/reset", ErrorKind::ConnectionReset),
        ("http://api.test/refused", ErrorKind::ConnectionRefused),
        ("http://api.test/garbage", ErrorKind::Protocol),
    ] {
        assert_eq!(
            outcome(client.get(url).send().await).await,
            Outcome::Failed(kind),
            "{url}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn route_files_carry_route_faults_and_a_router_plan() {
    let yaml = "\
routes:
  - request: {path: /pay}
    response: {body: {text: paid}}
    faults: {sequence: [reset, ok]}
  - request: {path: /other}
    response: {body: {text: other}}
seed: 5
faults:
  - request: {path: /other}
    first: 1
    fault: empty_reply
";
    let router = Router::new().without_drop_verification();
    router
        .load_yaml_str(yaml, Path::new("routes.yaml"))
        .unwrap();
    let client = client(router);
    let get = |url: &'static str| {
        let client = client.clone();
        async move { outcome(client.get(url).send().await).await }
    };
    assert_eq!(
        get("http://api.test/pay").await,
        Outcome::Failed(ErrorKind::ConnectionReset)
    );
    assert_eq!(
        get("http://api.test/pay").await,
        Outcome::Answered(200, Ok("paid".into()))
    );
    assert_eq!(
        get("http://api.test/other").await,
        Outcome::Failed(ErrorKind::ConnectionReset)
    );
    assert_eq!(
        get("http://api.test/other").await,
        Outcome::Answered(200, Ok("other".into()))
    );
}

#[test]
fn a_bad_route_fault_names_the_file_and_the_route() {
    let router = Router::new().without_drop_verification();
    let err = router
        .load_yaml_str(
            "routes:\n  - request: {path: /a}\n  - request: {path: /b}\n    faults: {every: 0, fault: reset}\n",
            Path::new("routes.yaml"),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("routes.yaml: route 2: faults: every needs n >= 1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_served_reset_is_a_real_rst() {
    // A raw socket sees ECONNRESET (an RST), not a clean end of stream (FIN).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let router = Router::new().without_drop_verification();
    router.mock(Route::new().respond_with(reset()));
    let server = server::serve(router, "127.0.0.1:0").await.unwrap();
    let mut socket = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        socket.read_to_end(&mut buf),
    )
    .await
    .expect("the server answers within 10 s")
    .expect_err("an RST is an error, a FIN would be a clean end");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset,
        "{err}; read {buf:?}"
    );
    server.shutdown().await;
}
