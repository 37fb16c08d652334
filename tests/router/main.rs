//! The routing DSL, through the full `Client` unless a test says otherwise.

mod expectations;
mod files;
mod matchers;
mod near_miss;
mod responders;
mod routing;
mod sockets;

use wiretape::mock::Router;
use wiretape::{Client, Method, Request};

/// A client whose relative URLs go to `http://api.test`, answered by `router`.
pub fn client(router: &Router) -> Client {
    Client::builder()
        .engine(router.clone())
        .base_url("http://api.test")
        .build()
        .expect("valid client configuration")
}

/// A bare request, for matcher tests that do not need a client.
pub fn request(method: &str, url: &str) -> Request {
    Request::new(
        Method::from_bytes(method.as_bytes()).expect("valid method"),
        url.parse().expect("valid URL"),
    )
}

/// The text of a `GET` through `client`, which must succeed.
pub async fn get_text(client: &Client, url: impl AsRef<str>) -> String {
    client
        .get(url)
        .send()
        .await
        .expect("the GET succeeds")
        .text()
        .await
        .expect("the body is readable")
}
