//! Expectations, verification (explicit, on drop, scoped) and the journal.

use std::panic::{AssertUnwindSafe, catch_unwind};

use wiretape::ErrorKind;
use wiretape::mock::matchers::*;
use wiretape::mock::responders::*;
use wiretape::mock::{Answer, Route, Router, Times};

use crate::{client, get_text};

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[tokio::test]
async fn verify_reports_every_unmet_expectation_with_its_requests() {
    let router = Router::new().without_drop_verification();
    router.mock(Route::given(path("/once")).times(1).named("once"));
    router.mock(
        Route::given(path("/twice+"))
            .at_least(2)
            .named("twice or more"),
    );
    router.mock(Route::given(path("/few")).at_most(1).named("at most one"));
    router.mock(Route::given(path("/never")).never().named("never"));
    router.mock(
        Route::given(path("/range"))
            .expect(Times::between(1, 2))
            .named("range"),
    );
    let client = client(&router);
    client.get("/twice+").send().await.unwrap();
    client.get("/few").send().await.unwrap();
    client.get("/few?again=1").send().await.unwrap();
    client.get("/never").send().await.unwrap();
    client.get("/range").send().await.unwrap();
    let _ = client.get("/typo").send().await;

    let report = router.verify();
    assert!(!report.is_ok());
    let unmet: Vec<(&str, usize)> = report
        .unmet
        .iter()
        .map(|u| (u.route.as_str(), u.calls))
        .collect();
    assert_eq!(
        unmet,
        [
            ("route \"once\"", 0),
            ("route \"twice or more\"", 1),
            ("route \"at most one\"", 2),
            ("route \"never\"", 1)
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains("router verification failed (4 problem(s))"),
        "{text}"
    );
    assert!(
        text.contains("route \"once\" expected exactly 1 call, got 0"),
        "{text}"
    );
    assert!(
        text.contains("route \"twice or more\" expected at least 2 calls, got 1"),
        "{text}"
    );
    assert!(text.contains("route \"at most one\" expected at most 1 call, got 2\n      GET http://api.test/few\n      GET http://api.test/few?again=1"), "{text}");
    assert!(
        text.contains("route \"never\" expected no calls, got 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "1 request(s) matched no route (a likely cause):\n      GET http://api.test/typo"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn up_to_n_times_hands_over_to_the_next_route() {
    let router = Router::new();
    router.mock(
        Route::given(path("/token"))
            .up_to_n_times(1)
            .respond_with(text("first")),
    );
    router.mock(Route::given(path("/token")).respond_with(text("later")));
    let client = client(&router);
    let a = get_text(&client, "/token").await;
    let b = get_text(&client, "/token").await;
    assert_eq!((a.as_str(), b.as_str()), ("first", "later"));
}

#[test]
fn dropping_the_last_clone_panics_with_the_report() {
    let router = Router::new();
    router.mock(
        Route::given(path("/expected"))
            .times(1)
            .named("expected call"),
    );
    let clone = router.clone();
    drop(router);
    let payload = catch_unwind(AssertUnwindSafe(move || drop(clone))).unwrap_err();
    let message = panic_message(payload);
    assert!(
        message.contains("route \"expected call\" expected exactly 1 call, got 0"),
        "{message}"
    );
}

#[test]
fn drop_verification_stays_quiet_when_met_disabled_or_already_panicking() {
    let met = Router::new();
    met.mock(Route::given(path("/x")).never());
    drop(met);

    let disabled = Router::new().without_drop_verification();
    disabled.mock(Route::given(path("/x")).times(3));
    drop(disabled);

    // A test that already fails must show its own panic, not a second one.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let router = Router::new();
        router.mock(Route::given(path("/x")).times(1));
        panic!("the test's own failure");
    }));
    assert_eq!(panic_message(result.unwrap_err()), "the test's own failure");
}

#[tokio::test]
async fn scoped_routes_are_removed_and_verified_on_drop() {
    let router = Router::new();
    let client = client(&router);
    {
        let guard = router.mock_scoped(
            Route::given(path("/scoped"))
                .times(2)
                .respond_with(text("in scope")),
        );
        assert_eq!(get_text(&client, "/scoped").await, "in scope");
        client.get("/scoped?n=2").send().await.unwrap();
        assert_eq!(guard.hits(), 2);
        assert_eq!(guard.requests().len(), 2);
        assert!(guard.verify().is_ok());
    }
    assert!(router.is_empty());
    assert_eq!(
        client.get("/scoped").send().await.unwrap_err().kind(),
        ErrorKind::NoRoute
    );

    let guard = router.mock_scoped(Route::given(path("/short")).times(1).named("short"));
    let payload = catch_unwind(AssertUnwindSafe(move || drop(guard))).unwrap_err();
    assert!(panic_message(payload).contains("route \"short\" expected exactly 1 call, got 0"));
    assert!(router.is_empty(), "removed even though verification failed");
}

#[tokio::test]
async fn the_journal_records_every_request_and_its_answer() {
    let router = Router::new();
    let users = router.mock(
        Route::given(method("POST"))
            .and(path("/users"))
            .named("create user"),
    );
    let client = client(&router);
    client
        .post("/users")
        .body("{\"name\":\"Ada\"}")
        .send()
        .await
        .unwrap();
    let _ = client.get("/nothing").send().await;

    let journal = router.journal();
    assert_eq!(journal.len(), 2);
    assert_eq!(journal[0].route(), Some(users));
    assert!(
        matches!(journal[0].answer(), Answer::Route { label, .. } if &**label == "route \"create user\"")
    );
    assert_eq!(
        &journal[0].request().body().as_bytes().unwrap()[..],
        b"{\"name\":\"Ada\"}"
    );
    assert_eq!(journal[1].answer(), &Answer::Unmatched);
    assert_eq!(router.requests_for(users).len(), 1);
    assert_eq!(
        router.unmatched_requests()[0].request().url().path(),
        "/nothing"
    );

    router.reset();
    assert!(router.journal().is_empty() && router.is_empty());
}

#[tokio::test]
async fn the_journal_keeps_the_most_recent_requests_and_verify_still_counts_them_all() {
    let router = Router::new()
        .without_drop_verification()
        .with_journal_limit(3);
    router.mock(Route::given(path("/ping")).times(10).named("ping"));
    router.mock(Route::given(path("/once")).times(1).named("once"));
    let client = client(&router);
    for n in 0..10 {
        client.get(format!("/ping?n={n}")).send().await.unwrap();
    }
    let journal = router.journal();
    let kept: Vec<&str> = journal
        .iter()
        .map(|e| e.request().url().query().unwrap())
        .collect();
    assert_eq!(kept, ["n=7", "n=8", "n=9"], "the most recent, in order");
    assert_eq!(router.journal_dropped(), 7);

    // Counts live on the routes: "ping" is exact although 7 of its requests
    // left the journal, and "once" is reported short.
    let report = router.verify();
    assert_eq!(report.unmet.len(), 1, "{report}");
    assert_eq!(report.unmet[0].route, "route \"once\"");

    router.clear_journal();
    assert_eq!((router.journal().len(), router.journal_dropped()), (0, 0));
}

#[tokio::test]
async fn the_journal_is_bounded_by_default() {
    let router = Router::new();
    router.mock(Route::given(path("/ping")));
    let engine = router.clone();
    for _ in 0..wiretape::mock::DEFAULT_HISTORY_ENTRIES + 5 {
        wiretape::engine::Engine::execute(&engine, crate::request("GET", "http://api.test/ping"))
            .await
            .unwrap();
    }
    assert_eq!(
        router.journal().len(),
        wiretape::mock::DEFAULT_HISTORY_ENTRIES
    );
    assert_eq!(router.journal_dropped(), 5);
    let hits = router.journal()[0].route().and_then(|id| router.hits(id));
    assert_eq!(hits, Some(wiretape::mock::DEFAULT_HISTORY_ENTRIES + 5));
}

#[tokio::test]
async fn the_journal_keeps_only_the_first_bytes_of_a_large_body_but_the_route_sees_it_all() {
    let router = Router::new().with_journal_body_limit(8);
    router.mock(
        Route::given(method("POST")).respond_with(from_fn(|request, _| {
            let length = request.body().len().unwrap_or(0);
            wiretape::mock::respond_ok(format!("{length} bytes"))
        })),
    );
    let client = client(&router);
    let answer = client
        .post("/upload")
        .body(vec![b'x'; 1000])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "1000 bytes");
    let entry = &router.journal()[0];
    assert_eq!(entry.request().body().as_bytes().unwrap(), &b"xxxxxxxx"[..]);
    assert_eq!(entry.body_len(), 1000);
    assert!(entry.body_truncated());
}
