//! A request's URL, kept as text and parsed into a [`Url`] only when asked.
//!
//! Why: building a `url::Url` costs 1,500 to 2,500 instructions even when
//! only a path is joined to a known origin (the parser walks the path byte
//! by byte, encoding as it goes), and most requests never need one. The
//! client sends the text, a router reads the path and the query, a name in
//! an error message is the text. So a [`Target`] made from an origin the
//! [`LastOrigin`](crate::origin::LastOrigin) cache already parsed and a
//! *plain* path (see [`plain_path_len`]) is the two texts put together; the `Url`
//! is the origin's URL joined with the path, made the first time someone
//! calls [`Target::url`], and kept.
//!
//! The contract: a text target's text is exactly what the `Url` serializes
//! to, so nobody can tell the two representations apart. [`plain_path_len`]
//! accepts only paths the `url` crate keeps byte for byte, and the tests
//! check that against the parser for every byte and every tricky form (dot
//! segments, percent-encoded dots, backslashes, fragments).

use std::fmt;
use std::sync::Arc;

use once_cell::race::OnceBox;

use url::Url;

/// A URL as text, or as a parsed [`Url`]; see the [module](self).
#[derive(Clone)]
pub(crate) struct Target {
    repr: Repr,
}

// Small on purpose (40 bytes against a `Url`'s 88; `OnceBox` rather than
// `OnceLock` keeps the parsed URL's cell to one pointer): requests and responses
// carry one through every layer, and each move of a future holding them
// copies it. A text target is shared, not copied, when cloned: the
// redirect plugin keeps one for every request it sends, a cassette one for
// the request it matches and one for the response it replays.
#[derive(Clone)]
enum Repr {
    Parsed(Box<Url>),
    Text {
        /// The origin's serialization followed by a plain path.
        text: Arc<str>,
        /// Where the path starts in `text`.
        path_at: u32,
        /// Where the path ends in `text`: at its `?`, or the end.
        path_end: u32,
        /// The origin; the whole URL is its URL joined with the path.
        origin: Arc<Origin>,
        url: OnceBox<Arc<Url>>,
    },
}

/// A parsed URL kept for its origin (`scheme://authority`), which text
/// targets share.
#[derive(Debug)]
pub(crate) struct Origin {
    url: Url,
    /// The length of the URL's serialization up to its path.
    len: usize,
    /// The origin as an `http::Uri`'s scheme and authority, parsed once:
    /// a text target's URI is these and its path, so that sending it
    /// parses only the path (`None` when the origin is not a URI's, which
    /// the whole text's parse then reports).
    uri: Option<(http::uri::Scheme, http::uri::Authority)>,
}

impl Origin {
    /// The origin of `url`.
    pub(crate) fn of(url: Url) -> Origin {
        let len = url[..url::Position::BeforePath].len();
        let uri = http::Uri::try_from(&url.as_str()[..len])
            .ok()
            .map(http::Uri::into_parts)
            .and_then(|parts| Some((parts.scheme?, parts.authority?)));
        Origin { url, len, uri }
    }

    /// The URL the origin was taken from.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The origin's serialization, as [`Url::as_str`] starts with it.
    fn text(&self) -> &str {
        &self.url.as_str()[..self.len]
    }
}

impl Target {
    /// `reference` resolved against `origin`'s URL, as [`Url::join`] does:
    /// a [plain](plain_path_len) absolute path is put after the origin's
    /// text without parsing, anything else is joined.
    pub(crate) fn join(origin: &Arc<Origin>, reference: &str) -> Result<Target, url::ParseError> {
        match Target::joined(origin, reference) {
            Some(target) => Ok(target),
            None => origin.url.join(reference).map(Target::from),
        }
    }

    /// The target `origin` followed by `path`, if `path` is [plain](plain_path_len): the
    /// two texts put together, no parsing.
    fn joined(origin: &Arc<Origin>, path: &str) -> Option<Target> {
        let path_len = plain_path_len(path)?;
        let origin_text = origin.text();
        let path_at = u32::try_from(origin_text.len()).ok()?;
        let path_end = u32::try_from(origin_text.len() + path_len).ok()?;
        Some(Target {
            repr: Repr::Text {
                text: concat(origin_text, path),
                path_at,
                path_end,
                origin: Arc::clone(origin),
                url: OnceBox::new(),
            },
        })
    }

    /// The parsed URL, parsing it now if it was text.
    pub(crate) fn url(&self) -> &Url {
        match &self.repr {
            Repr::Parsed(url) => url,
            Repr::Text {
                text,
                path_at,
                origin,
                url,
                ..
            } => url.get_or_init(|| Box::new(Arc::new(parse_text(&origin.url, text, *path_at)))),
        }
    }

    /// The parsed URL, mutably: from here on the target is the `Url`.
    pub(crate) fn url_mut(&mut self) -> &mut Url {
        if let Repr::Text { .. } = self.repr {
            let url = Box::new(self.url().clone());
            self.repr = Repr::Parsed(url);
        }
        match &mut self.repr {
            Repr::Parsed(url) => url,
            Repr::Text { .. } => unreachable!("just replaced by a parsed URL"),
        }
    }

    /// The parsed URL, by value.
    pub(crate) fn into_url(self) -> Url {
        match self.repr {
            Repr::Parsed(url) => *url,
            Repr::Text {
                text,
                path_at,
                origin,
                url,
                ..
            } => url.get().map_or_else(
                || parse_text(&origin.url, &text, path_at),
                |url| Url::clone(url),
            ),
        }
    }

    /// A copy without the fragment (`#...`), which is never sent.
    pub(crate) fn without_fragment(&self) -> Target {
        match &self.repr {
            Repr::Parsed(url) if url.fragment().is_some() => {
                let mut url = url.clone();
                url.set_fragment(None);
                Target::from(*url)
            }
            // A plain path has no fragment.
            _ => self.clone(),
        }
    }

    /// The URL's text, as [`Url::as_str`] gives it.
    pub(crate) fn as_str(&self) -> &str {
        match &self.repr {
            Repr::Parsed(url) => url.as_str(),
            Repr::Text { text, .. } => text,
        }
    }

    /// The path, as [`Url::path`] gives it.
    pub(crate) fn path(&self) -> &str {
        match &self.repr {
            Repr::Parsed(url) => url.path(),
            Repr::Text {
                text,
                path_at,
                path_end,
                ..
            } => &text[*path_at as usize..*path_end as usize],
        }
    }

    /// The query, without its `?`, as [`Url::query`] gives it.
    pub(crate) fn query(&self) -> Option<&str> {
        match &self.repr {
            Repr::Parsed(url) => url.query(),
            Repr::Text { text, path_end, .. } => text.get(*path_end as usize + 1..),
        }
    }

    /// The scheme, as [`Url::scheme`] gives it.
    pub(crate) fn scheme(&self) -> &str {
        self.authority().scheme()
    }

    /// A parsed URL with this one's scheme, userinfo, host and port (its
    /// path and query may differ): for a text target, its origin's, so that
    /// reading the host or a password costs no parse.
    pub(crate) fn authority(&self) -> &Url {
        match &self.repr {
            Repr::Parsed(url) => url,
            Repr::Text { origin, .. } => &origin.url,
        }
    }

    /// Whether the URL carries a password (which names must hide).
    pub(crate) fn has_password(&self) -> bool {
        self.authority().password().is_some()
    }

    /// The `http::Uri` to send: the URL without its fragment.
    pub(crate) fn to_uri(&self) -> crate::Result<http::Uri> {
        match &self.repr {
            Repr::Parsed(url) => crate::request::url_to_uri(url),
            // A plain path has no fragment and only bytes a URI allows.
            Repr::Text {
                text,
                path_at,
                origin,
                ..
            } => {
                let invalid = |err: http::Error| crate::request::unsendable(text, err);
                let Some((scheme, authority)) = &origin.uri else {
                    return text
                        .parse()
                        .map_err(|err: http::uri::InvalidUri| invalid(err.into()));
                };
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(scheme.clone());
                parts.authority = Some(authority.clone());
                parts.path_and_query = Some(
                    http::uri::PathAndQuery::try_from(&text[*path_at as usize..])
                        .map_err(|err| invalid(err.into()))?,
                );
                http::Uri::from_parts(parts).map_err(|err| invalid(err.into()))
            }
        }
    }
}

/// `a` followed by `b`, in one allocation: an `Arc<str>` made from a
/// `String` would cost a second one, and this runs on every request.
fn concat(a: &str, b: &str) -> Arc<str> {
    const ON_STACK: usize = 256;
    let len = a.len() + b.len();
    if len > ON_STACK {
        return Arc::from([a, b].concat());
    }
    let mut buffer = [0u8; ON_STACK];
    buffer[..a.len()].copy_from_slice(a.as_bytes());
    buffer[a.len()..len].copy_from_slice(b.as_bytes());
    Arc::from(std::str::from_utf8(&buffer[..len]).expect("two strs put together are UTF-8"))
}

/// The URL of a text target: its origin joined with its path, which gives
/// the text itself (the [module](self)'s contract).
fn parse_text(origin: &Url, text: &str, path_at: u32) -> Url {
    origin
        .join(&text[path_at as usize..])
        .expect("an origin joined with a plain path is a URL")
}

impl From<Url> for Target {
    fn from(url: Url) -> Target {
        Target {
            repr: Repr::Parsed(Box::new(url)),
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// If `path` (an absolute path with an optional query) is *plain*, the
/// length of its path, up to the query's `?`. Plain: the `url` crate keeps
/// it byte for byte when it is joined to an HTTP origin, and an HTTP URI may
/// carry it as it is.
///
/// Allowed: RFC 3986's path characters (unreserved, sub-delimiters, `:`,
/// `@`, `/`) and `%` followed by two hex digits, then a query of the same
/// and `?` (but not `'`, which the parser encodes in an HTTP query). Refused,
/// so that the caller parses: anything else (spaces, controls, `"`, `<`,
/// `\`, non-ASCII, a `#` fragment), a `//` start (it would name a host), a
/// dot segment (`.`, `..`) and a percent-encoded dot (which the parser
/// reads as a dot).
pub(crate) fn plain_path_len(path: &str) -> Option<usize> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') || bytes.get(1) == Some(&b'/') {
        return None;
    }
    // One pass, one table lookup per byte: this runs on every request.
    let mut allowed = IN_PATH;
    let mut path_len = bytes.len();
    // Where the current path segment started (just after its '/').
    let mut segment = 1;
    let mut at = 1;
    while at < bytes.len() {
        let b = bytes[at];
        let class = CLASS[b as usize];
        if class & allowed == 0 {
            return None;
        }
        if class & SPECIAL != 0 {
            let in_path = allowed == IN_PATH;
            match b {
                b'%' => {
                    let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
                    if !hex(at + 1) || !hex(at + 2) {
                        return None;
                    }
                    if in_path && bytes[at + 1] == b'2' && bytes[at + 2].eq_ignore_ascii_case(&b'e')
                    {
                        return None;
                    }
                    at += 2;
                }
                b'/' | b'?' if in_path => {
                    if is_dot_segment(&bytes[segment..at]) {
                        return None;
                    }
                    segment = at + 1;
                    if b == b'?' {
                        allowed = IN_QUERY;
                        path_len = at;
                    }
                }
                _ => {}
            }
        }
        at += 1;
    }
    let ends_in_dots = allowed == IN_PATH && is_dot_segment(&bytes[segment..]);
    (!ends_in_dots).then_some(path_len)
}

/// A byte a plain path may hold as it is.
const IN_PATH: u8 = 1;
/// A byte a plain query may hold as it is.
const IN_QUERY: u8 = 2;
/// A byte [`plain_path_len`] looks at more closely: `%`, `/`, `?`.
const SPECIAL: u8 = 4;

/// Which of [`IN_PATH`], [`IN_QUERY`] and [`SPECIAL`] each byte is.
static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let both = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@";
    let mut i = 0;
    while i < both.len() {
        class[both[i] as usize] = IN_PATH | IN_QUERY;
        i += 1;
    }
    class[b'\'' as usize] = IN_PATH;
    class[b'%' as usize] = IN_PATH | IN_QUERY | SPECIAL;
    class[b'/' as usize] = IN_PATH | IN_QUERY | SPECIAL;
    class[b'?' as usize] = IN_PATH | IN_QUERY | SPECIAL;
    class
};

fn is_dot_segment(segment: &[u8]) -> bool {
    segment == b"." || segment == b".."
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    const ORIGINS: &[&str] = &[
        "http://api.test",
        "https://api.test:8443",
        "http://127.0.0.1:4000",
        "http://[::1]:4000",
        "https://user:secret@api.test",
        "ws://api.test",
    ];

    /// The target made from `origin` and `path`, if `path` is plain.
    pub(crate) fn target(origin: &str, path: &str) -> Option<Target> {
        let origin = Arc::new(Origin::of(Url::parse(origin).expect("an origin")));
        Target::joined(&origin, path)
    }

    /// Checks a plain path's target against the parser and `http::Uri`.
    fn check_plain(origin: &str, path: &str) {
        let Some(target) = target(origin, path) else {
            return;
        };
        let whole = Url::parse(&format!("{origin}{path}")).expect("a plain path parses");
        assert_eq!(target.as_str(), whole.as_str(), "{origin} + {path:?}");
        assert_eq!(target.url(), &whole, "{origin} + {path:?}");
        assert_eq!(target.path(), whole.path(), "{origin} + {path:?}");
        assert_eq!(target.query(), whole.query(), "{origin} + {path:?}");
        let uri = target.to_uri().expect("a plain path is a URI");
        assert_eq!(uri.to_string(), whole.as_str(), "{origin} + {path:?}");
    }

    #[test]
    fn targets_of_every_length_keep_their_text() {
        for len in [1, 200, 230, 240, 255, 256, 257, 300, 5000] {
            let path = format!("/{}?q=1", "a".repeat(len));
            for origin in ORIGINS {
                assert!(target(origin, &path).is_some(), "{origin} + {len}");
                check_plain(origin, &path);
            }
        }
    }

    #[test]
    fn a_clone_shares_the_text_and_keeps_its_parsed_url() {
        let original = target("http://api.test", "/a?b=1").expect("plain");
        let parsed = original.url().clone();
        let copy = original.clone();
        assert!(std::ptr::eq(original.as_str(), copy.as_str()));
        assert_eq!(copy.url(), &parsed);
        assert_eq!(copy.into_url(), parsed);
    }

    #[test]
    fn every_ascii_byte_is_either_kept_by_the_parser_or_refused() {
        for origin in ORIGINS {
            for byte in 0u8..=0x7f {
                let c = byte as char;
                for path in [
                    format!("/a{c}b"),
                    format!("/{c}"),
                    format!("/a?q={c}"),
                    format!("/a/{c}{c}/b"),
                    format!("/{c}?"),
                ] {
                    check_plain(origin, &path);
                }
            }
        }
    }

    #[test]
    fn dot_segments_percent_dots_and_hosts_in_paths_are_refused() {
        for path in [
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/a/.?q",
            "/a/..?q",
            "/%2e/b",
            "/a/%2E%2E/b",
            "/a/.%2e",
            "//evil.test/x",
            "/a\\b",
            "/a#frag",
            "/café",
            "/a b",
            "/a?q='",
            "/%",
            "/%4",
            "/%zz",
            "",
            "a",
            "?q",
        ] {
            assert!(target("http://api.test", path).is_none(), "{path:?}");
        }
        for path in [
            "/",
            "/a/.b/c",
            "/a/b.",
            "/...",
            "/a?q=/../x",
            "/a?q=%2e",
            "/%41",
            "/a'b",
            "/a?",
        ] {
            assert!(target("http://api.test", path).is_some(), "{path:?}");
            check_plain("http://api.test", path);
        }
    }

    #[test]
    fn a_target_is_smaller_than_a_url() {
        assert!(std::mem::size_of::<Target>() <= std::mem::size_of::<Url>() / 2 + 8);
    }

    #[test]
    fn a_password_in_the_origin_is_known_without_parsing() {
        let target = target("https://user:secret@api.test", "/a").expect("plain");
        assert!(target.has_password());
        assert!(
            !super::tests::target("https://api.test", "/a")
                .unwrap()
                .has_password()
        );
    }

    #[test]
    fn url_mut_turns_the_target_into_the_parsed_url() {
        let mut target = target("http://api.test", "/a?b=1").expect("plain");
        target.url_mut().set_path("/c");
        assert_eq!(target.as_str(), "http://api.test/c?b=1");
        assert_eq!(target.path(), "/c");
        assert_eq!(target.clone().into_url().as_str(), "http://api.test/c?b=1");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Any path the check lets through gives the text a whole parse gives.
        #[test]
        fn plain_paths_are_what_the_parser_writes(
            path in r"/[a-zA-Z0-9./%?'#\\:@!$&()*+,;=~_\-2eE ]{0,12}",
            origin in 0..ORIGINS.len(),
        ) {
            check_plain(ORIGINS[origin], &path);
        }
    }
}
