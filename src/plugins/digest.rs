//! HTTP Digest authentication (RFC 7616): challenge parsing and responses,
//! for [`Auth::digest`](super::Auth::digest).

use std::sync::Mutex;

use http::{HeaderMap, HeaderValue, Method, header};
use md5::Md5;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest as _, Sha256};

/// The hash a challenge asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Algorithm> {
        match name.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn hash(self, data: &str) -> String {
        let bytes = match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data.as_bytes()).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data.as_bytes()).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn is_session(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

/// A server's `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Challenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// The server offers `qop=auth` (the only protection we use: `auth-int`
    /// would need the body hashed before it is sent).
    qop_auth: bool,
    /// The nonce expired but the credentials were right.
    pub(super) stale: bool,
}

/// The `Digest` challenge of a `401`, preferring SHA-256 when the server
/// offers several; `None` when there is none this client can answer.
pub(super) fn challenge(headers: &HeaderMap) -> Option<Challenge> {
    let mut found: Vec<Challenge> = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(challenges)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("digest"))
        .filter_map(|(_, params)| {
            let get = |name: &str| {
                params
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value.clone())
            };
            let algorithm = match get("algorithm") {
                Some(name) => Algorithm::parse(&name)?,
                None => Algorithm::Md5,
            };
            let qop = get("qop");
            if qop
                .as_deref()
                .is_some_and(|qop| !qop.split(',').any(|q| q.trim() == "auth"))
            {
                return None; // auth-int only
            }
            Some(Challenge {
                realm: get("realm").unwrap_or_default(),
                nonce: get("nonce")?,
                opaque: get("opaque"),
                algorithm,
                qop_auth: qop.is_some(),
                stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            })
        })
        .collect();
    found.sort_by_key(|c| !matches!(c.algorithm, Algorithm::Sha256 | Algorithm::Sha256Sess));
    found.into_iter().next()
}

/// Splits a `WWW-Authenticate` value into its challenges: each a scheme
/// and its `name=value` parameters (quoted strings unquoted).
fn challenges(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let end = rest.find([' ', '\t', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..end];
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if let Some(value_start) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let value_start = value_start.trim_start();
            let (parsed, remaining) = parameter_value(value_start);
            if let Some((_, params)) = out.last_mut() {
                params.push((token.to_owned(), parsed));
            }
            rest = remaining;
        } else if !token.is_empty() {
            out.push((token.to_owned(), Vec::new()));
            rest = after;
        } else {
            break;
        }
    }
    out
}

/// A token or quoted string at the start of `text`, and what follows it.
fn parameter_value(text: &str) -> (String, &str) {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[index + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = text.find([',', ' ', '\t']).unwrap_or(text.len());
        (text[..end].to_owned(), &text[end..])
    }
}

/// The `Authorization` value answering `challenge` for `method` and `uri`
/// (the request target: path and query), as request number `nc` under this
/// nonce, with client nonce `cnonce`.
pub(super) fn answer(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &Method,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let algorithm = challenge.algorithm;
    let mut ha1 = algorithm.hash(&format!("{username}:{}:{password}", challenge.realm));
    if algorithm.is_session() {
        ha1 = algorithm.hash(&format!("{ha1}:{}:{cnonce}", challenge.nonce));
    }
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let response = if challenge.qop_auth {
        algorithm.hash(&format!(
            "{ha1}:{}:{nc}:{cnonce}:auth:{ha2}",
            challenge.nonce
        ))
    } else {
        algorithm.hash(&format!("{ha1}:{}:{ha2}", challenge.nonce))
    };
    let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let mut value = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}, response=\"{response}\"",
        quote(username),
        quote(&challenge.realm),
        quote(&challenge.nonce),
        quote(uri),
        algorithm.name(),
    );
    if challenge.qop_auth {
        value.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
    }
    if let Some(opaque) = &challenge.opaque {
        value.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
    }
    value
}

/// Digest credentials and the last challenge, shared by a client's calls.
pub(super) struct DigestState {
    username: String,
    password: String,
    /// The challenge in use and how many requests have answered it.
    current: Mutex<Option<(Challenge, u32)>>,
    rng: Mutex<StdRng>,
}

impl DigestState {
    pub(super) fn new(username: String, password: String) -> DigestState {
        DigestState {
            username,
            password,
            current: Mutex::new(None),
            rng: Mutex::new(StdRng::from_os_rng()),
        }
    }

    /// Credentials for a request, once a challenge has been seen.
    pub(super) fn authorization(&self, method: &Method, uri: &str) -> Option<HeaderValue> {
        let (challenge, nc) = {
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            let (challenge, count) = current.as_mut()?;
            *count += 1;
            (challenge.clone(), *count)
        };
        let cnonce = format!(
            "{:016x}",
            self.rng
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .random::<u64>()
        );
        let value = answer(
            &challenge,
            &self.username,
            &self.password,
            method,
            uri,
            nc,
            &cnonce,
        );
        let mut value = HeaderValue::from_str(&value).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// Answers from now on with `challenge`.
    pub(super) fn accept(&self, challenge: Challenge) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some((challenge, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> Challenge {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(value).unwrap(),
        );
        challenge(&headers).unwrap()
    }

    #[test]
    fn rfc_2617_md5_example() {
        let challenge = parsed(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        );
        let value = answer(
            &challenge,
            "Mufasa",
            "Circle Of Life",
            &Method::GET,
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert!(
            value.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{value}"
        );
        assert!(
            value.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""),
            "{value}"
        );
        assert!(
            value.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#),
            "{value}"
        );
    }

    #[test]
    fn rfc_7616_prefers_sha_256_and_matches_both_examples() {
        let header = concat!(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", "#,
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        );
        let sha = parsed(header);
        assert_eq!(sha.algorithm, Algorithm::Sha256);
        let mufasa = |challenge: &Challenge| {
            let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
            let uri = "/dir/index.html";
            answer(
                challenge,
                "Mufasa",
                "Circle of Life",
                &Method::GET,
                uri,
                1,
                cnonce,
            )
        };
        let sha256 = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
        assert!(mufasa(&sha).contains(&format!("response=\"{sha256}\"")));
        let md5 = Challenge {
            algorithm: Algorithm::Md5,
            ..sha
        };
        assert!(mufasa(&md5).contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""));
    }

    #[test]
    fn other_schemes_and_unknown_algorithms_are_skipped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Basic realm="x", Digest realm="y", nonce="n", algorithm=SHA-512-256"#,
            ),
        );
        assert_eq!(challenge(&headers), None);
        let parsed = parsed(r#"Basic realm="a, b", Digest realm="y", nonce="n", stale=TRUE"#);
        assert_eq!(
            (parsed.realm.as_str(), parsed.stale, parsed.qop_auth),
            ("y", true, false)
        );
    }
}
