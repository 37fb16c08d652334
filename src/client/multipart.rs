//! `multipart/form-data` bodies.

use std::fmt::Write as _;
use std::path::Path;

use bytes::Bytes;
use rand::Rng;

use crate::{Error, Result};

/// A `multipart/form-data` form: text fields and file parts, sent with
/// [`RequestBuilder::multipart`](crate::RequestBuilder::multipart).
///
/// ```
/// use wiretape::{Form, Part};
///
/// let form = Form::new()
///     .text("title", "holiday")
///     .part("photo", Part::bytes(vec![0xff, 0xd8]).file_name("beach.jpg").mime("image/jpeg"));
/// assert!(form.content_type().starts_with("multipart/form-data; boundary="));
/// ```
#[derive(Debug, Clone)]
pub struct Form {
    boundary: String,
    parts: Vec<(String, Part)>,
}

/// One part of a [`Form`].
#[derive(Debug, Clone)]
pub struct Part {
    data: Bytes,
    file_name: Option<String>,
    mime: Option<String>,
}

impl Part {
    /// A part holding `text`.
    pub fn text(text: impl Into<String>) -> Part {
        Part {
            data: Bytes::from(text.into()),
            file_name: None,
            mime: None,
        }
    }

    /// A part holding raw bytes (`application/octet-stream` unless a type is set).
    pub fn bytes(data: impl Into<Bytes>) -> Part {
        Part {
            data: data.into(),
            file_name: None,
            mime: None,
        }
    }

    /// Reads a file into a part named after the file, with a content type
    /// guessed from nothing: set one with [`mime`](Part::mime).
    pub async fn file(path: impl AsRef<Path>) -> Result<Part> {
        let path = path.as_ref();
        let data = tokio::fs::read(path).await.map_err(|err| {
            Error::invalid(format!(
                "cannot read multipart file {}: {err}",
                path.display()
            ))
        })?;
        let mut part = Part::bytes(data);
        part.file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        Ok(part)
    }

    /// The file name sent in `Content-Disposition`.
    pub fn file_name(mut self, name: impl Into<String>) -> Part {
        self.file_name = Some(name.into());
        self
    }

    /// The part's `Content-Type`.
    pub fn mime(mut self, mime: impl Into<String>) -> Part {
        self.mime = Some(mime.into());
        self
    }
}

impl Default for Form {
    fn default() -> Self {
        Form::new()
    }
}

impl Form {
    /// An empty form with a random boundary.
    pub fn new() -> Form {
        let token: u128 = rand::rng().random();
        Form {
            boundary: format!("wiretape-{token:032x}"),
            parts: Vec::new(),
        }
    }

    /// Adds a text field.
    pub fn text(self, name: impl Into<String>, value: impl Into<String>) -> Form {
        self.part(name, Part::text(value))
    }

    /// Adds a part.
    pub fn part(mut self, name: impl Into<String>, part: Part) -> Form {
        self.parts.push((name.into(), part));
        self
    }

    /// The boundary between parts.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The `Content-Type` header value for this form.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The encoded body.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let size: usize = self
            .parts
            .iter()
            .map(|(n, p)| n.len() + p.data.len() + 200)
            .sum();
        let mut out = Vec::with_capacity(size + self.boundary.len() + 8);
        for (name, part) in &self.parts {
            let mut head = String::new();
            let _ = write!(
                head,
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
                self.boundary,
                escape(name)
            );
            if let Some(file) = &part.file_name {
                let _ = write!(head, "; filename=\"{}\"", escape(file));
            }
            head.push_str("\r\n");
            let mime = match (&part.mime, &part.file_name) {
                (Some(mime), _) => Some(mime.as_str()),
                (None, Some(_)) => Some("application/octet-stream"),
                (None, None) => None,
            };
            if let Some(mime) = mime {
                if mime.contains(['\r', '\n']) {
                    return Err(Error::invalid(format!(
                        "content type of multipart part {name:?} contains a line break"
                    )));
                }
                let _ = write!(head, "Content-Type: {mime}\r\n");
            }
            head.push_str("\r\n");
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(&part.data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        Ok(out)
    }
}

/// Escapes a field or file name as the HTML standard's form encoder does.
fn escape(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}
