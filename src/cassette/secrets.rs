//! Secrets found without being asked: which names carry credentials, and
//! the values an interaction's request carries in them.
//!
//! Why a module of its own: users record against staging APIs with real
//! credentials and commit the cassettes. A secret reaches a file in more
//! places than any list of filters a user writes: a query parameter, a JSON
//! or form field, URL userinfo, a JWT in a body, and an API that echoes a
//! token back. So recording finds the credentials of each request by name
//! ([`is_credential_header`], [`is_credential_key`]) and shape ([`is_jwt`]),
//! gives each value a placeholder named after where it was found
//! (`<ACCESS_TOKEN>`, `<AUTHORIZATION>`), and hides that value wherever
//! else it appears in the same interaction. Replay runs the same search on
//! the live request, so a placeholder of a value the request carried is
//! restored with the value the replaying request carries: nobody repeats a
//! filter on the replaying side. A placeholder of a value the request did
//! not carry (a new token in a login response) stays a placeholder.
//!
//! `wiretape lint` uses the same functions to look for secrets in files.

use base64::Engine as _;
use regex::Regex;

use super::filter::DEFAULT_REDACTED_HEADERS;

/// Values shorter than this are hidden where they were found but not
/// searched for elsewhere: a 3-character password would turn every `abc`
/// in a body into a placeholder.
pub(crate) const MIN_ECHO_LEN: usize = 6;

/// Whether a header called `name` carries a credential, by name (the
/// [`DEFAULT_REDACTED_HEADERS`]) or by pattern (`authentication`,
/// `*-token`, `*-api-key`, `*-apikey`, `*-secret`, `*-password`,
/// `*-session-id`): what recording redacts by default and
/// what `wiretape lint` looks for. Case-insensitive.
///
/// ```
/// use wiretape::cassette::is_credential_header;
/// assert!(is_credential_header("Authorization"));
/// assert!(is_credential_header("X-Api-Token"));
/// assert!(is_credential_header("x-vendor-api-key"));
/// assert!(!is_credential_header("content-type"));
/// assert!(!is_credential_header("x-token-expires"));
/// // CORS says whether credentials may be sent; it carries none.
/// assert!(!is_credential_header("access-control-allow-credentials"));
/// ```
pub fn is_credential_header(name: &str) -> bool {
    let name = name.trim();
    // Names from `http` are lower case already: no copy for them.
    let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    };
    DEFAULT_REDACTED_HEADERS.contains(&name.as_ref())
        || matches!(
            name.as_ref(),
            "authentication" | "x-authentication" | "token" | "apikey" | "x-apikey" | "x-auth"
        )
        || [
            "-token",
            "-api-key",
            "-apikey",
            "-secret",
            "-password",
            "-session-id",
            "-sessionid",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Whether a query parameter, form field or JSON key called `name` holds a
/// credential: `access_token`, `refresh_token`, `id_token`, `token`,
/// `client_secret`, `password`, `passwd`, `api_key`, `apikey`, `secret`,
/// `private_key`, `session_id`, `signature` and their spellings
/// (`accessToken`, `api-key`, `X-Amz-Security-Token`: case, `-`, `.` and
/// `_` do not matter). What recording redacts by default and what
/// `wiretape lint` looks for.
///
/// ```
/// use wiretape::cassette::is_credential_key;
/// assert!(is_credential_key("access_token"));
/// assert!(is_credential_key("refreshToken"));
/// assert!(is_credential_key("client_secret"));
/// assert!(is_credential_key("X-Amz-Security-Token"));
/// assert!(!is_credential_key("token_type"));
/// assert!(!is_credential_key("max_tokens"));
/// assert!(!is_credential_key("page"));
/// ```
pub fn is_credential_key(name: &str) -> bool {
    const NAMES: [&str; 16] = [
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "apikey",
        "apisecret",
        "token",
        "privatekey",
        "sessionid",
        "clientassertion",
        "assertion",
        "xamzsignature",
        "xamzcredential",
        "sig",
        "signature",
    ];
    const SUFFIXES: [&str; 5] = ["token", "secret", "password", "apikey", "passphrase"];
    // The key lower-cased without `_`, `-` and `.`; only its last 16 bytes
    // can matter (no name above is longer), so they are gathered from the
    // end on the stack: every query parameter and JSON key of every
    // recorded or replayed request is asked about, and none allocates.
    let mut buffer = [0u8; 16];
    let (mut kept, mut length) = (0, 0);
    for byte in name
        .bytes()
        .rev()
        .filter(|b| !matches!(b, b'_' | b'-' | b'.'))
    {
        if kept < buffer.len() {
            buffer[buffer.len() - 1 - kept] = byte.to_ascii_lowercase();
            kept += 1;
        }
        length += 1;
    }
    let tail = &buffer[buffer.len() - kept..];
    (length == kept && NAMES.iter().any(|known| known.as_bytes() == tail))
        || SUFFIXES
            .iter()
            .any(|suffix| tail.ends_with(suffix.as_bytes()))
}

/// Whether `text` is shaped like a JSON Web Token (three base64url parts,
/// the first two starting with `eyJ`, i.e. `{"`).
///
/// ```
/// use wiretape::cassette::is_jwt;
/// assert!(is_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"));
/// assert!(!is_jwt("hello.world.again"));
/// ```
pub fn is_jwt(text: &str) -> bool {
    jwt_regex().find(text).is_some_and(|m| m.as_str() == text)
}

/// JSON Web Tokens inside any text.
pub(crate) fn jwt_regex() -> &'static Regex {
    static JWT: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    JWT.get_or_init(|| {
        Regex::new(r"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
            .expect("the JWT pattern compiles")
    })
}

/// Whether `text` may hold a JSON Web Token: every one starts `eyJ`. Most
/// texts a cassette filters (every header and URL of every request) hold
/// none, so this runs several times per request: it looks for the rare `J`
/// (a one-byte `memchr`) and then at the two bytes before it, which costs a
/// fraction of `contains("eyJ")`, whose substring searcher's set-up alone
/// outweighs a short header value (as does `match_indices('J')`'s).
pub(crate) fn may_hold_jwt(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'J', bytes).any(|at| at >= 2 && &bytes[at - 2..at] == b"ey")
}

/// `name=value` pairs in free text (an error message quoting a URL).
pub(crate) fn pair_regex() -> &'static Regex {
    static PAIR: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        Regex::new(r#"([A-Za-z0-9_.\-]+)=([^&\s"'<>;,]+)"#).expect("the pair pattern compiles")
    })
}

/// Whether `value` is already a placeholder (`<REDACTED>`, `<ACCESS_TOKEN>`,
/// `%3CPASSWORD%3E`): scrubbing a scrubbed file changes nothing.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let inner = value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .or_else(|| {
            value
                .strip_prefix("%3C")
                .and_then(|v| v.strip_suffix("%3E"))
        });
    inner.is_some_and(|inner| {
        !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'))
    })
}

/// The placeholder for a value found under `name`: `<ACCESS_TOKEN>`.
pub(crate) fn placeholder_for(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("<{}>", name.trim_matches('_'))
}

/// The secret values found in one interaction, each with its placeholder,
/// in the order they were found. Two different values found under one name
/// get `<NAME>` and `<NAME_2>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    pairs: Vec<(String, String)>,
}

impl Seen {
    /// Notes `value` found under `name`; its placeholder. Empty values and
    /// placeholders are not secrets and get `None`.
    pub(crate) fn add(&mut self, name: &str, value: &str) -> Option<String> {
        if value.is_empty() || is_placeholder(value) {
            return None;
        }
        if let Some(placeholder) = self.placeholder_of(value) {
            return Some(placeholder.to_string());
        }
        let base = placeholder_for(name);
        let mut placeholder = base.clone();
        let mut n = 2;
        while self.pairs.iter().any(|(_, p)| *p == placeholder) {
            placeholder = format!("{}_{n}>", &base[..base.len() - 1]);
            n += 1;
        }
        self.pairs.push((value.to_string(), placeholder.clone()));
        Some(placeholder)
    }

    /// The placeholder already given to `value`.
    pub(crate) fn placeholder_of(&self, value: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, p)| p.as_str())
    }

    /// The values and their placeholders.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Notes the credentials in a credential header's `value`: the whole
    /// value, the token after an auth scheme (`Bearer abc`), a Basic
    /// password, each cookie's value.
    pub(crate) fn add_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if name == "cookie" || name == "set-cookie" {
            let pairs: Vec<&str> = if name == "cookie" {
                value.split(';').collect()
            } else {
                value.split(';').take(1).collect()
            };
            for pair in pairs {
                if let Some((_, v)) = pair.split_once('=') {
                    // The whole `name=value` too, so that an echo of the
                    // cookie becomes one placeholder.
                    self.add(&name, pair.trim());
                    self.add(&name, v.trim().trim_matches('"'));
                }
            }
            return;
        }
        self.add(&name, value.trim());
        if let Some((scheme, rest)) = value.trim().split_once(' ') {
            let rest = rest.trim();
            if scheme.chars().all(|c| c.is_ascii_alphabetic()) && !rest.is_empty() {
                self.add(&name, rest);
                if scheme.eq_ignore_ascii_case("basic") {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(rest)
                        .ok()
                        .and_then(|d| String::from_utf8(d).ok());
                    if let Some((_, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
                    {
                        self.add(&name, password);
                    }
                }
            }
        }
    }

    /// Notes the JWTs in `text`.
    pub(crate) fn add_jwts(&mut self, text: &str) {
        if !may_hold_jwt(text) {
            return;
        }
        for found in jwt_regex().find_iter(text) {
            self.add("jwt", found.as_str());
        }
    }
}

/// Whether the text looks like a form body (`a=1&b=2`, nothing else).
pub(crate) fn looks_like_form(text: &str) -> bool {
    !text.is_empty()
        && text.contains('=')
        && !text
            .bytes()
            .any(|b| b.is_ascii_whitespace() || matches!(b, b'{' | b'[' | b'"' | b'<'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys_are_found_whatever_their_length_case_and_separators() {
        for key in [
            "password",
            "PASS_WD",
            "client.assertion",
            "X-Amz-Signature",
            "a_rather_long_prefix_then_access_token",
            "ThisIsAVeryLongPassphrase",
            "sig",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "page",
            "passes",
            "not_a_client_assertion",
            "signatures",
            "tokens",
            "",
            "ключ_token_x",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
        assert!(is_credential_key("ключ_token"));
    }

    #[test]
    fn two_values_under_one_name_get_numbered_placeholders() {
        let mut seen = Seen::default();
        assert_eq!(seen.add("access_token", "a1").unwrap(), "<ACCESS_TOKEN>");
        assert_eq!(seen.add("access_token", "b2").unwrap(), "<ACCESS_TOKEN_2>");
        assert_eq!(seen.add("token", "a1").unwrap(), "<ACCESS_TOKEN>");
        assert_eq!(seen.add("password", "<REDACTED>"), None);
        assert_eq!(seen.add("password", ""), None);
    }

    #[test]
    fn credential_headers_give_their_whole_value_token_and_basic_password() {
        let mut seen = Seen::default();
        seen.add_header("Authorization", "Basic YWRhOmh1bnRlcjI=");
        seen.add_header("cookie", "session=s3ss10n; theme=dark");
        let values: Vec<&str> = seen.pairs().iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                "Basic YWRhOmh1bnRlcjI=",
                "YWRhOmh1bnRlcjI=",
                "hunter2",
                "session=s3ss10n",
                "s3ss10n",
                "theme=dark",
                "dark"
            ]
        );
    }

    #[test]
    fn may_hold_jwt_says_what_a_substring_search_for_ey_j_says() {
        let samples = [
            "",
            "J",
            "eyJ",
            "ey",
            "eJ",
            "yJ",
            "eeyJ",
            "eyeyJ",
            "EYJ",
            "eYJ",
            "JJJ",
            "ey J",
            "xeyJx",
            "JeyJ",
            "gzip, deflate, br",
            "wiretape/0.1",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            "http://api.test/v1/users/7?page=0&sort=name",
            "ключ eyJ значение",
            "éyJ",
            "eyЈ", // a Cyrillic Ј, not a J
            "€J",
        ];
        for text in samples {
            assert_eq!(may_hold_jwt(text), text.contains("eyJ"), "{text:?}");
        }
    }

    #[test]
    fn placeholders_are_recognised_raw_and_percent_encoded() {
        assert!(is_placeholder("<REDACTED>"));
        assert!(is_placeholder("%3CACCESS_TOKEN_2%3E"));
        assert!(!is_placeholder("<b>bold</b>"));
        assert!(!is_placeholder("s3cr3t"));
    }
}
