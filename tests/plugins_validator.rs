//! ResponseValidator: expect_success globally and per request, custom checks.

mod common;

use std::time::Duration;

use common::scripted;
use wiretape::mock::{MockEngine, respond_error, respond_ok, respond_redirect};
use wiretape::plugins::{Backoff, Redirect, ResponseValidator, Retry};
use wiretape::{Client, Error, ErrorKind, Response, StatusCode};

#[tokio::test]
async fn error_statuses_become_errors_that_carry_the_response() {
    let engine = MockEngine::new(|_| async {
        Ok(respond_error(StatusCode::CONFLICT).with_header("x-reason", "duplicate"))
    });
    let client = Client::builder()
        .engine(engine)
        .expect_success(true)
        .build()
        .unwrap();

    let err = client
        .put("http://api.test/users/7")
        .send()
        .await
        .unwrap_err();

    let Error::Status(status) = &err else {
        panic!("expected a status error, got {err:?}")
    };
    assert_eq!(status.status(), StatusCode::CONFLICT);
    assert_eq!(status.headers()["x-reason"], "duplicate");
    assert_eq!(status.body(), b"Conflict");
    assert!(err.to_string().contains("409"), "{err}");
}

#[tokio::test]
async fn an_unfollowed_redirect_is_unsuccessful_and_a_request_can_opt_out() {
    let engine = MockEngine::new(|_| async { Ok(respond_redirect("/elsewhere")) });
    let client = Client::builder()
        .engine(engine)
        .expect_success(true)
        .redirect(Redirect::none())
        .build()
        .unwrap();

    assert_eq!(
        client
            .get("http://api.test/")
            .send()
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Status
    );
    let response = client
        .get("http://api.test/")
        .expect_success(false)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

#[tokio::test(start_paused = true)]
async fn retry_sees_the_raw_5xx_and_only_the_final_one_is_judged() {
    let engine = scripted(vec![|| Ok(respond_error(StatusCode::BAD_GATEWAY)), || {
        Ok(respond_ok("ok"))
    }]);
    let client = Client::builder()
        .engine(engine.clone())
        .expect_success(true)
        .retry(Retry::new().backoff(Backoff::Constant(Duration::from_secs(1))))
        .build()
        .unwrap();

    let response = client.get("http://api.test/").send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test]
async fn custom_checks_fail_successful_responses() {
    let engine = MockEngine::new(|_| async {
        Ok(Response::new(StatusCode::OK)
            .with_header("x-error", "quota")
            .with_body("{\"error\":\"quota\"}"))
    });
    let client = Client::builder()
        .engine(engine.clone())
        .response_validator(
            ResponseValidator::new().fail_when(|r| r.headers().contains_key("x-error")),
        )
        .build()
        .unwrap();
    let err = client.get("http://api.test/").send().await.unwrap_err();
    assert_eq!(
        err.status_response().unwrap().body().as_bytes().unwrap(),
        "{\"error\":\"quota\"}"
    );

    let client = Client::builder()
        .engine(engine)
        .response_validator(ResponseValidator::new().validate(
            |r| match r.headers().get("x-error") {
                Some(reason) => Err(Error::invalid(format!("the API refused: {reason:?}"))),
                None => Ok(()),
            },
        ))
        .build()
        .unwrap();
    let err = client.get("http://api.test/").send().await.unwrap_err();
    assert!(
        err.to_string().contains("the API refused: \"quota\""),
        "{err}"
    );
}
