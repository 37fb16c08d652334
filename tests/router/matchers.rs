//! Every matcher, on requests that pass and requests that fail.

use serde_json::json;
use wiretape::mock::matchers::*;
use wiretape::mock::{Route, Router, responders::text};
use wiretape::{ErrorKind, HeaderValue};

use crate::{client, request};

#[test]
fn method_is_case_insensitive_and_exact() {
    let get = request("GET", "http://api.test/");
    assert!(method("get").matches(&get));
    assert!(method("GET").matches(&get));
    assert!(!method("POST").matches(&get));
    assert!(
        method("G T")
            .problem()
            .unwrap()
            .contains("not a valid HTTP method")
    );
    assert!(!method("G T").matches(&get));
}

#[test]
fn path_exact_template_catch_all_prefix_and_regex() {
    let users = request("GET", "http://api.test/users/7");
    assert!(path("/users/7").matches(&users));
    assert!(!path("/users").matches(&users));
    assert!(path("/users/{id}").matches(&users));
    assert!(!path("/users/{id}/posts").matches(&users));
    assert!(path("/{*rest}").matches(&users));
    assert!(path_prefix("/users/").matches(&users));
    assert!(!path_prefix("/teams").matches(&users));
    assert!(path_regex(r"^/users/\d+$").matches(&users));
    assert!(!path_regex(r"^/users/[a-z]+$").matches(&users));
    assert!(path_regex("(").problem().unwrap().contains("invalid regex"));
    assert!(
        path("users")
            .problem()
            .unwrap()
            .contains("must start with '/'")
    );
}

#[tokio::test]
async fn a_path_written_with_spaces_or_accents_matches_the_request_that_sends_it() {
    // A client percent-encodes what may not travel raw; the route says the
    // path as a person reads it.
    let router = Router::new();
    router.mock(
        Route::given(method("GET"))
            .and(path("/files/my report/{name}"))
            .respond_with(text("report")),
    );
    router.mock(Route::given(path("/search/café")).respond_with(text("café")));
    let client = client(&router);
    assert_eq!(
        crate::get_text(&client, "/files/my report/q1.pdf").await,
        "report",
        "indexed route"
    );
    assert_eq!(crate::get_text(&client, "/search/café").await, "café");
    let sent = request("GET", "http://api.test/search/caf%C3%A9");
    assert!(path("/search/café").matches(&sent));
    assert!(path("/search/caf%C3%A9").matches(&sent), "already encoded");
    assert!(!path("/search/cafe").matches(&sent));
}

#[test]
fn scheme_host_and_port_use_the_url() {
    let secure = request("GET", "https://API.test/");
    assert!(scheme("HTTPS").matches(&secure));
    assert!(!scheme("http").matches(&secure));
    assert!(host("api.test").matches(&secure));
    assert!(!host("other.test").matches(&secure));
    assert!(
        port(443).matches(&secure),
        "the scheme's default port counts"
    );
    assert!(port(8080).matches(&request("GET", "http://api.test:8080/")));
    assert!(!port(80).matches(&request("GET", "http://api.test:8080/")));
}

#[test]
fn query_equals_exists_missing_regex_and_subset() {
    let search = request("GET", "http://api.test/s?q=rust%20lang&tag=a&tag=b&page=2");
    assert!(
        query_param("q", "rust lang").matches(&search),
        "values are decoded"
    );
    assert!(
        query_param("tag", "b").matches(&search),
        "any of repeated values"
    );
    assert!(!query_param("page", "3").matches(&search));
    assert!(query_param_exists("page").matches(&search));
    assert!(!query_param_exists("limit").matches(&search));
    assert!(query_param_missing("limit").matches(&search));
    assert!(!query_param_missing("page").matches(&search));
    assert!(query_param_regex("page", r"^\d+$").matches(&search));
    assert!(!query_param_regex("q", r"^\d+$").matches(&search));
    assert!(query_params([("page", "2"), ("tag", "b"), ("tag", "a")]).matches(&search));
    assert!(!query_params([("page", "2"), ("tag", "c")]).matches(&search));
    assert!(
        !query_params([("tag", "a"), ("tag", "a")]).matches(&search),
        "a pair listed twice must appear twice"
    );
}

#[test]
fn headers_equal_exist_missing_regex_bearer_and_basic() {
    let authed = request("GET", "http://api.test/")
        .with_header("x-team", HeaderValue::from_static("payments"))
        .with_header("authorization", HeaderValue::from_static("Bearer s3cret"));
    assert!(header("X-Team", "payments").matches(&authed));
    assert!(!header("x-team", "billing").matches(&authed));
    assert!(header_exists("x-team").matches(&authed));
    assert!(!header_exists("x-other").matches(&authed));
    assert!(header_missing("x-other").matches(&authed));
    assert!(!header_missing("x-team").matches(&authed));
    assert!(header_regex("x-team", "^pay").matches(&authed));
    assert!(!header_regex("x-team", "^bill").matches(&authed));
    assert!(bearer_token("s3cret").matches(&authed));
    assert!(!bearer_token("other").matches(&authed));
    assert!(
        header("bad name", "x")
            .problem()
            .unwrap()
            .contains("not a valid header name")
    );

    // "ada:pw" in base64.
    let basic = request("GET", "http://api.test/")
        .with_header("authorization", HeaderValue::from_static("Basic YWRhOnB3"));
    assert!(basic_auth("ada", "pw").matches(&basic));
    assert!(!basic_auth("ada", "wrong").matches(&basic));
    assert!(!basic_auth("ada", "pw").matches(&authed));
}

#[test]
fn body_bytes_string_contains_and_regex() {
    let post = request("POST", "http://api.test/").with_body("hello, world");
    assert!(body_bytes(&b"hello, world"[..]).matches(&post));
    assert!(!body_bytes(&b"hello"[..]).matches(&post));
    assert!(body_string("hello, world").matches(&post));
    assert!(!body_string("hello").matches(&post));
    assert!(body_string_contains("o, w").matches(&post));
    assert!(!body_string_contains("bye").matches(&post));
    assert!(body_regex(r"^hello, \w+$").matches(&post));
    assert!(!body_regex(r"^\d+$").matches(&post));
}

#[test]
fn json_equality_ignores_key_order_and_whitespace() {
    let post = request("POST", "http://api.test/")
        .with_body("{ \"b\": [1, 2],\n  \"a\": {\"y\": null, \"x\": \"s\"} }");
    assert!(body_json(&json!({"a": {"x": "s", "y": null}, "b": [1, 2]})).matches(&post));
    assert!(!body_json(&json!({"a": {"x": "s"}, "b": [1, 2]})).matches(&post));
    assert!(!body_json(&json!({"b": [2, 1], "a": {"x": "s", "y": null}})).matches(&post));
    assert!(
        !body_json(&json!({})).matches(&request("POST", "http://api.test/").with_body("not json"))
    );
}

#[test]
fn partial_json_is_a_recursive_subset() {
    let post = request("POST", "http://api.test/")
        .with_body(r#"{"user": {"name": "Ada", "langs": ["en", "fr"], "age": 36}, "v": 1}"#);
    assert!(body_partial_json(&json!({"user": {"name": "Ada"}})).matches(&post));
    assert!(body_partial_json(&json!({"user": {"langs": ["en", "fr"]}, "v": 1})).matches(&post));
    assert!(!body_partial_json(&json!({"user": {"langs": ["en"]}})).matches(&post));
    assert!(!body_partial_json(&json!({"user": {"name": "Bob"}})).matches(&post));
    assert!(!body_partial_json(&json!({"missing": true})).matches(&post));
}

#[test]
fn custom_closures_and_combinators() {
    let get = request("GET", "http://api.test/a/b/c");
    let deep = matching("path has 3 segments", |r: &wiretape::Request| {
        r.url().path_segments().map_or(0, |s| s.count()) == 3
    });
    assert!(deep.matches(&get));
    assert_eq!(deep.describe(), "path has 3 segments");
    assert!(any([method("POST"), path("/a/b/c")]).matches(&get));
    assert!(!any([method("POST"), path("/x")]).matches(&get));
    assert!(!any([]).matches(&get));
    assert!(all([method("GET"), path_prefix("/a")]).matches(&get));
    assert!(!all([method("GET"), path_prefix("/x")]).matches(&get));
    assert!(all([]).matches(&get));
    assert!(not(method("POST")).matches(&get));
    assert!(!not(method("GET")).matches(&get));
    assert!(
        not(path_regex("(")).problem().is_some(),
        "problems propagate"
    );
    assert!(
        any([method("GET"), header("bad name", "x")])
            .problem()
            .is_some()
    );
}

#[tokio::test]
async fn form_fields_match_through_the_client() {
    let router = Router::new();
    router.mock(
        Route::given(method("POST"))
            .and(path("/login"))
            .and(form_field("user", "ada lovelace"))
            .respond_with(text("welcome")),
    );
    let client = client(&router);
    let ok = client
        .post("/login")
        .form(&[("user", "ada lovelace"), ("remember", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "welcome");
    let miss = client
        .post("/login")
        .form(&[("user", "bob")])
        .send()
        .await
        .unwrap_err();
    assert_eq!(miss.kind(), ErrorKind::NoRoute);
}

#[cfg(feature = "multipart")]
#[tokio::test]
async fn multipart_parts_and_files_match_through_the_client() {
    use wiretape::{Form, Part};

    let router = Router::new();
    router.mock(
        Route::given(path("/upload"))
            .and(multipart_part("title", "holiday"))
            .and(multipart_file("photo", "beach.jpg"))
            .respond_with(text("stored")),
    );
    let client = client(&router);
    let form = Form::new().text("title", "holiday").part(
        "photo",
        Part::bytes(vec![0xff, 0xd8]).file_name("beach.jpg"),
    );
    let ok = client.post("/upload").multipart(form).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "stored");

    let wrong_file = Form::new()
        .text("title", "holiday")
        .part("photo", Part::bytes(vec![0xff]).file_name("mountain.jpg"));
    let err = client
        .post("/upload")
        .multipart(wrong_file)
        .send()
        .await
        .unwrap_err();
    let report = err.to_string();
    assert!(
        report.contains("✗ multipart part \"photo\" is a file named \"beach.jpg\""),
        "{report}"
    );
    assert!(report.contains("+ photo: file mountain.jpg"), "{report}");

    let not_multipart = client
        .post("/upload")
        .body("plain")
        .send()
        .await
        .unwrap_err();
    assert!(
        not_multipart.to_string().contains("(not multipart:"),
        "{not_multipart}"
    );
}

/// A user's own matcher: the API version in a custom header.
struct ApiVersion(u32);

impl Match for ApiVersion {
    fn matches(&self, request: &wiretape::Request) -> bool {
        request.header_str("x-api-version") == Some(&self.0.to_string())
    }

    fn describe(&self) -> String {
        format!("API version {}", self.0)
    }

    fn mismatch(&self, request: &wiretape::Request) -> Option<Mismatch> {
        Some(Mismatch {
            expected: self.0.to_string(),
            actual: request
                .header_str("x-api-version")
                .unwrap_or("none")
                .to_owned(),
        })
    }
}

#[tokio::test]
async fn own_match_implementations_route_and_explain_themselves() {
    let router = Router::new();
    router.mock(Route::given(ApiVersion(2)).respond_with(text("v2")));
    let client = client(&router);
    let ok = client
        .get("/")
        .header("x-api-version", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "v2");
    let err = client
        .get("/")
        .header("x-api-version", "1")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("✗ API version 2\n           - 2\n           + 1"),
        "{err}"
    );
}
