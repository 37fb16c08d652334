//! The absolute URL of each incoming request, which engines see as the
//! request's [`Target`] (a [`Url`] when they ask): the scheme the server speaks, the request's authority (its own
//! over HTTP/2, else the `Host` header, else the bound address), then its
//! path and query.
//!
//! The requests of one connection almost always name the same host, so each
//! connection keeps a [`LastOrigin`]: a request naming the host again with a
//! plain path and query has nothing parsed (a target starting `//` or `/\` is still
//! parsed whole, so no target can move the host). WebSocket upgrades, rare
//! and of another scheme, are parsed whole.

use std::net::SocketAddr;

use http::header;
use url::Url;

use crate::origin::LastOrigin;
use crate::target::Target;
use crate::{Error, Result};

/// One connection's request URLs.
pub(super) struct Targets {
    secure: bool,
    /// The bound address, the host of a request that names none.
    local_host: String,
    /// The last host an HTTP (not WebSocket) request named.
    last: LastOrigin,
}

impl Targets {
    pub(super) fn new(secure: bool, local_addr: SocketAddr) -> Targets {
        Targets {
            secure,
            local_host: local_addr.to_string(),
            last: LastOrigin::default(),
        }
    }

    /// The absolute URL of `incoming`, or the client's mistake (a `Host`
    /// that is not a host and port) as an error naming the target.
    pub(super) fn target<B>(
        &self,
        incoming: &hyper::Request<B>,
        websocket: bool,
    ) -> Result<Target> {
        let uri = incoming.uri();
        let host = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                incoming
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .unwrap_or(&self.local_host);
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let scheme = match (websocket, self.secure) {
            (false, false) => "http",
            (false, true) => "https",
            (true, false) => "ws",
            (true, true) => "wss",
        };
        if websocket {
            return parse(scheme, host, path, uri).map(Target::from);
        }
        self.last.target(
            host,
            path,
            || parse(scheme, host, path, uri),
            |err| cannot(uri, host, err),
        )
    }
}

/// The URL of `scheme://host` and `path`, parsed whole.
fn parse(scheme: &str, host: &str, path: &str, uri: &http::Uri) -> Result<Url> {
    // Only an authority: a Host of `api.test/admin?` must not move the path.
    if host.parse::<http::uri::Authority>().is_err() {
        return Err(Error::invalid(format!(
            "the Host header {host:?} of request target {uri} is not a host and port"
        )));
    }
    Url::parse(&format!("{scheme}://{host}{path}")).map_err(|err| cannot(uri, host, err))
}

fn cannot(uri: &http::Uri, host: &str, err: url::ParseError) -> Error {
    Error::invalid(format!(
        "cannot make a URL of request target {uri} with host {host:?}: {err}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, host: Option<&str>) -> hyper::Request<()> {
        let mut builder = hyper::Request::get(target);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(()).expect("a request")
    }

    fn targets() -> Targets {
        Targets::new(false, "127.0.0.1:4000".parse().expect("an address"))
    }

    #[test]
    fn a_cached_host_gives_the_url_a_whole_parse_would() {
        let targets = targets();
        for target in [
            "/",
            "/users/7",
            "/a/../b/./c?x=1&y=%20z",
            "/caf%C3%A9?q=a+b",
            "/%2F%2Fevil/x",
            "/x?next=//evil",
        ] {
            // The first call parses the base, the second joins to it.
            for _ in 0..2 {
                let url = targets
                    .target(&request(target, Some("api.test:8080")), false)
                    .map(Target::into_url)
                    .expect("a URL");
                let whole = Url::parse(&format!("http://api.test:8080{target}")).expect("parses");
                assert_eq!(url, whole, "{target}");
            }
        }
    }

    #[test]
    fn a_target_that_looks_like_an_authority_cannot_move_the_host() {
        let targets = targets();
        targets
            .target(&request("/warm", Some("api.test")), false)
            .map(Target::into_url)
            .expect("a URL");
        let url = targets
            .target(&request("//evil.test/x", Some("api.test")), false)
            .map(Target::into_url)
            .expect("a URL");
        assert_eq!(url.host_str(), Some("api.test"));
        assert_eq!(url.path(), "//evil.test/x");
    }

    #[test]
    fn each_host_gets_its_own_base_and_a_missing_one_is_the_bound_address() {
        let targets = targets();
        let first = targets
            .target(&request("/a", Some("one.test")), false)
            .map(Target::into_url)
            .expect("a URL");
        let second = targets
            .target(&request("/a", Some("two.test:81")), false)
            .map(Target::into_url)
            .expect("a URL");
        let bound = targets
            .target(&request("/a", None), false)
            .map(Target::into_url)
            .expect("a URL");
        assert_eq!(first.as_str(), "http://one.test/a");
        assert_eq!(second.as_str(), "http://two.test:81/a");
        assert_eq!(bound.as_str(), "http://127.0.0.1:4000/a");
    }

    #[test]
    fn websockets_and_tls_get_their_schemes() {
        let secure = Targets::new(true, "127.0.0.1:4000".parse().expect("an address"));
        let https = secure
            .target(&request("/a", Some("api.test")), false)
            .map(Target::into_url)
            .expect("a URL");
        let wss = secure
            .target(&request("/a", Some("api.test")), true)
            .map(Target::into_url)
            .expect("a URL");
        let ws = targets()
            .target(&request("/a", Some("api.test")), true)
            .map(Target::into_url)
            .expect("a URL");
        assert_eq!(https.as_str(), "https://api.test/a");
        assert_eq!(wss.as_str(), "wss://api.test/a");
        assert_eq!(ws.as_str(), "ws://api.test/a");
    }

    #[test]
    fn a_host_that_is_not_an_authority_is_refused_even_after_a_good_one() {
        let targets = targets();
        targets
            .target(&request("/a", Some("api.test")), false)
            .map(Target::into_url)
            .expect("a URL");
        let err = targets
            .target(&request("/a", Some("api.test/admin?")), false)
            .map(Target::into_url)
            .expect_err("refused");
        assert!(err.to_string().contains("is not a host and port"), "{err}");
    }
}
