//! Path templates: `/users/{id}`, `/files/{*rest}`, and their captures.

use std::fmt;
use std::sync::Arc;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Must equal this text (compared with the request's percent-encoded path).
    Literal(Box<str>),
    /// Captures one whole segment under this name.
    Param(Arc<str>),
    /// Captures the rest of the path (zero or more segments), last only.
    CatchAll(Arc<str>),
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    source: Box<str>,
    segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses `template`; the error says what is wrong and where.
    pub(crate) fn parse(template: &str) -> Result<PathTemplate, String> {
        let Some(rest) = template.strip_prefix('/') else {
            return Err(format!("path template {template:?} must start with '/'"));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(inner) => {
                    let (catch_all, name) = match inner.strip_prefix('*') {
                        Some(name) => (true, name),
                        None => (false, inner),
                    };
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                    {
                        return Err(format!(
                            "path template {template:?}: parameter {part:?} needs a name of letters, digits, '_' or '-'"
                        ));
                    }
                    if catch_all && i + 1 != parts.len() {
                        return Err(format!(
                            "path template {template:?}: the catch-all {part:?} must be the last segment"
                        ));
                    }
                    if catch_all {
                        Segment::CatchAll(name.into())
                    } else {
                        Segment::Param(name.into())
                    }
                }
                None if part.contains('{') || part.contains('}') => {
                    return Err(format!(
                        "path template {template:?}: segment {part:?} mixes text and a parameter; a parameter must be a whole segment like {{id}}"
                    ));
                }
                None => Segment::Literal(encode_segment(part).into()),
            };
            segments.push(segment);
        }
        Ok(PathTemplate {
            source: template.into(),
            segments,
        })
    }

    /// The template as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// The segments, for the index.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether `path` (percent-encoded, starting with '/') fits the template.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.walk(path, |_, _| {})
    }

    /// The captures of `path`, percent-decoded, or `None` if it does not fit.
    pub(crate) fn captures(&self, path: &str) -> Option<Vec<(Arc<str>, String)>> {
        let mut captures = Vec::new();
        self.walk(path, |name, value| {
            captures.push((name.clone(), percent_decode(value)))
        })
        .then_some(captures)
    }

    fn walk(&self, path: &str, mut capture: impl FnMut(&Arc<str>, &str)) -> bool {
        // `None` once the path has no segment left.
        let mut remaining = path.strip_prefix('/');
        if remaining.is_none() {
            return false;
        }
        for segment in &self.segments {
            if let Segment::CatchAll(name) = segment {
                // A catch-all may capture nothing: `/files/{*rest}` fits `/files`.
                capture(name, remaining.unwrap_or(""));
                return true;
            }
            let Some(current) = remaining else {
                return false;
            };
            let (part, tail) = match split_once_byte(current, b'/') {
                Some((part, tail)) => (part, Some(tail)),
                None => (current, None),
            };
            match segment {
                Segment::Literal(text) if **text != *part => return false,
                Segment::Param(_) if part.is_empty() => return false,
                Segment::Param(name) => capture(name, part),
                _ => {}
            }
            remaining = tail;
        }
        remaining.is_none()
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `segment` as a client sends it: what may not travel raw in a path
/// (spaces, controls, non-ASCII, `"`, `#`, `<`, `>`, `?`, `` ` ``) is
/// percent-encoded as the `url` crate does; `%XX` escapes already written
/// are kept.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte <= b' ' || byte >= 0x7f || b"\"#<>?`".contains(&byte) {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they
/// are (lossily), never an error.
pub(crate) fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` split around the first `byte`, an ASCII delimiter such as `/` or
/// `?`. The same as `str::split_once` with a `char`, at a fraction of its
/// cost on the short texts of paths and segments, which it searches on
/// every routed request.
pub(super) fn split_once_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let at = text.bytes().position(|b| b == byte)?;
    Some((&text[..at], &text[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template)
            .unwrap()
            .captures(path)
            .map(|c| c.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    #[test]
    fn split_once_byte_is_split_once() {
        for text in ["", "/", "a/b", "/a/b/", "ab", "é/ü/", "//"] {
            assert_eq!(
                split_once_byte(text, b'/'),
                text.split_once('/'),
                "{text:?}"
            );
        }
    }

    #[test]
    fn params_capture_whole_segments() {
        assert_eq!(
            caps("/users/{id}/posts/{post}", "/users/7/posts/a%20b"),
            Some(vec![
                ("id".into(), "7".into()),
                ("post".into(), "a b".into())
            ])
        );
        assert_eq!(caps("/users/{id}", "/users/"), None);
        assert_eq!(caps("/users/{id}", "/users/7/extra"), None);
        assert_eq!(caps("/users/{id}", "/users"), None);
        assert_eq!(caps("/users", "/users/"), None);
        assert_eq!(caps("/", "/"), Some(vec![]));
    }

    #[test]
    fn catch_all_takes_the_rest_even_nothing() {
        assert_eq!(
            caps("/files/{*rest}", "/files/a/b.txt"),
            Some(vec![("rest".into(), "a/b.txt".into())])
        );
        assert_eq!(
            caps("/files/{*rest}", "/files"),
            Some(vec![("rest".into(), "".into())])
        );
        assert_eq!(caps("/files/{*rest}", "/other/a"), None);
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert!(
            PathTemplate::parse("users")
                .unwrap_err()
                .contains("start with '/'")
        );
        assert!(
            PathTemplate::parse("/a/{*x}/b")
                .unwrap_err()
                .contains("last segment")
        );
        assert!(
            PathTemplate::parse("/a/{}")
                .unwrap_err()
                .contains("needs a name")
        );
        assert!(
            PathTemplate::parse("/a/x{id}")
                .unwrap_err()
                .contains("whole segment")
        );
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
