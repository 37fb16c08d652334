//! The last origin a stream of URLs named, so that the next URL naming it
//! again costs no parse at all (a path join when the path is not plain)
//! instead of a whole-URL parse.
//!
//! Why: parsing a whole URL costs most in its host. The `url` crate runs
//! IDNA processing on every host, even `127.0.0.1` or `api.test`, then
//! writes it back out; that was about 6,000 of the 13,000 instructions the
//! full `Client` added to a GET over hyper-util's client, and most of what
//! `serve` added over a raw hyper server. Yet the requests of one client, or
//! of one served connection, nearly always name the host they named last.
//!
//! So [`LastOrigin`] keeps the text of the last origin and a URL parsed with
//! it. A URL naming the same origin text with a
//! [plain](crate::target::plain_path_len) path is a [`Target`] of the two texts,
//! parsed only if someone asks for its `Url`; with any other *absolute path*
//! (`/…`) it is that URL joined with the path: a path-absolute reference replaces the
//! path, query and fragment and keeps the rest (RFC 3986, 5.2.2), which is
//! exactly what a whole parse would give, because the origin text is the
//! same. A path starting `//` (or `/\`, which the `url` crate reads the same
//! way for HTTP) would name a new host, so it is always parsed whole.

use std::sync::{Arc, Mutex};

use url::Url;

use crate::mock::lock;
use crate::target::{Origin, Target};
use crate::{Error, Result};

/// The last origin seen and a URL parsed with it; see the [module](self).
///
/// One `Client` may be used from many threads at once, so the lock is held
/// only to clone an `Arc`, never while a URL is parsed or joined.
#[derive(Debug, Default)]
pub(crate) struct LastOrigin {
    last: Mutex<Option<Arc<Last>>>,
}

#[derive(Debug)]
struct Last {
    /// The origin's text, as the caller keys it.
    key: String,
    origin: Arc<Origin>,
}

impl LastOrigin {
    /// The URL of `origin` (its text, as the caller keys it) followed by
    /// `path`. `whole` parses the two together; it runs when `path` could
    /// move the host or `origin` is not the last one seen. `cannot` names
    /// the error of a path that does not join.
    ///
    /// Naming the last origin again with a [plain](crate::target::plain_path_len)
    /// path parses nothing at all: the [`Target`] is the two texts, and a
    /// `Url` is made only if someone asks for one.
    pub(crate) fn target(
        &self,
        origin: &str,
        path: &str,
        whole: impl FnOnce() -> Result<Url>,
        cannot: impl FnOnce(url::ParseError) -> Error,
    ) -> Result<Target> {
        if !keeps_host(path) {
            return whole().map(Target::from);
        }
        let last = lock(&self.last).clone();
        if let Some(last) = last
            && last.key == origin
        {
            return Target::join(&last.origin, path).map_err(cannot);
        }
        let url = whole()?;
        *lock(&self.last) = Some(Arc::new(Last {
            key: origin.to_owned(),
            origin: Arc::new(Origin::of(url.clone())),
        }));
        Ok(Target::from(url))
    }
}

/// Whether `path` is an absolute path that cannot name a host of its own.
fn keeps_host(path: &str) -> bool {
    path.starts_with('/') && !path[1..].starts_with(['/', '\\'])
}

/// An absolute `http`, `https`, `ws` or `wss` URL's text split into its
/// origin (`scheme://authority`) and the rest, when that split is the one
/// the `url` crate's parser makes: no byte the parser strips or rewrites
/// (spaces, tabs, newlines, controls) anywhere in the text, and the
/// authority ending at the first `/`, `?`, `#` or `\`. `None` otherwise, and
/// the caller parses the text whole.
pub(crate) fn split_origin(url: &str) -> Option<(&str, &str)> {
    let bytes = url.as_bytes();
    let colon = bytes.iter().position(|&b| b == b':')?;
    let scheme = &bytes[..colon];
    let known = [&b"http"[..], b"https", b"ws", b"wss"];
    if !known.iter().any(|k| scheme.eq_ignore_ascii_case(k)) || !url[colon..].starts_with("://") {
        return None;
    }
    // Without early exits: this runs on every request, and nearly every
    // URL has no such byte.
    let stripped = bytes
        .iter()
        .fold(false, |seen, &b| seen | (b <= b' ') | (b == 0x7f));
    if stripped {
        return None;
    }
    let authority = colon + 3;
    let end = bytes[authority..]
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .map_or(bytes.len(), |at| authority + at);
    Some(url.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_cache(cache: &LastOrigin, text: &str) -> Result<Url> {
        match split_origin(text) {
            Some((origin, path)) => cache
                .target(
                    origin,
                    path,
                    || Url::parse(text).map_err(|err| Error::invalid(err.to_string())),
                    |err| Error::invalid(err.to_string()),
                )
                .map(Target::into_url),
            None => Url::parse(text).map_err(|err| Error::invalid(err.to_string())),
        }
    }

    #[test]
    fn a_cached_origin_gives_the_url_a_whole_parse_would() {
        let cache = LastOrigin::default();
        let origins = [
            "http://api.test",
            "HTTP://API.test:80",
            "https://user:secret@api.test:8443",
            "http://127.0.0.1:4000",
            "http://[::1]:4000",
            "http://xn--caf-dma.test",
            "http://café.test",
            "ws://api.test",
        ];
        let paths = [
            "/",
            "/users/7",
            "/a/../b/./c?x=1&y=%20z",
            "/caf%C3%A9?q=a+b#frag",
            "/café?q=ü",
            "/%2F%2Fevil/x",
            "/x?next=//evil",
            "/a\\b",
            "//evil.test/x",
            "/\\evil.test/x",
            "",
            "?q=1",
            "#top",
            "\\x",
        ];
        for origin in origins {
            for path in paths {
                let text = format!("{origin}{path}");
                // The first call may store the origin, the second joins to it.
                for round in 0..2 {
                    let cached = via_cache(&cache, &text).expect("parses");
                    let whole = Url::parse(&text).expect("parses");
                    assert_eq!(cached, whole, "{text} (round {round})");
                }
            }
        }
    }

    #[test]
    fn a_path_that_names_a_host_cannot_move_the_origin() {
        let cache = LastOrigin::default();
        via_cache(&cache, "http://api.test/warm").expect("parses");
        let url = via_cache(&cache, "http://api.test//evil.test/x").expect("parses");
        assert_eq!(url.host_str(), Some("api.test"));
        assert_eq!(url.path(), "//evil.test/x");
    }

    #[test]
    fn threads_alternating_origins_each_get_their_own_url() {
        let cache = LastOrigin::default();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let cache = &cache;
                scope.spawn(move || {
                    for i in 0..200 {
                        let host = ["one.test", "two.test:81", "127.0.0.1:9"][(thread + i) % 3];
                        let text = format!("http://{host}/t{thread}/{i}?q={i}");
                        let url = via_cache(cache, &text).expect("parses");
                        assert_eq!(url, Url::parse(&text).expect("parses"), "{text}");
                    }
                });
            }
        });
    }

    #[test]
    fn only_a_plain_http_or_websocket_url_is_split() {
        assert_eq!(
            split_origin("http://api.test:81/a?b"),
            Some(("http://api.test:81", "/a?b"))
        );
        assert_eq!(
            split_origin("https://api.test"),
            Some(("https://api.test", ""))
        );
        assert_eq!(split_origin("file:///etc/passwd"), None);
        assert_eq!(split_origin("http://api.test/a b"), None);
        assert_eq!(split_origin("http://api.\ttest/a"), None);
        assert_eq!(split_origin(" http://api.test/"), None);
        assert_eq!(split_origin("/relative"), None);
    }
}
