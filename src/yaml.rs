//! The one place that names the YAML crate, so it can be swapped.
//!
//! `yaml_serde` is the YAML organisation's maintained continuation of the
//! deprecated `serde_yaml`, with the same API. Every text goes through
//! [`prescan`] first (size, nesting depth, characters, in linear time) and
//! loses a leading byte-order mark, so no input is slow or refused for it.

mod prescan;

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// A YAML value tree.
pub(crate) type Value = yaml_serde::Value;

/// Why YAML text could not be read, and where (1-based line and column).
#[derive(Debug, Clone)]
pub(crate) struct ParseError {
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
    pub(crate) message: String,
}

/// Parses YAML text into `T`, keeping the position of a failure apart from
/// its message, for callers that build their own error (cassettes).
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> std::result::Result<T, ParseError> {
    let text = strip_bom(text);
    prescan::check(text).map_err(|refused| ParseError {
        line: Some(refused.line),
        column: Some(refused.column),
        message: refused.message,
    })?;
    yaml_serde::from_str(text).map_err(|err| {
        let location = err.location();
        let message = err.to_string();
        // The crate appends " at line L column C" to its messages; the
        // position is reported separately.
        let message = match message.find(" at line ") {
            Some(cut) if location.is_some() => message[..cut].to_string(),
            _ => message,
        };
        ParseError {
            line: location.as_ref().map(|loc| loc.line()),
            column: location.as_ref().map(|loc| loc.column()),
            message,
        }
    })
}

/// `text` without a leading UTF-8 byte-order mark (editors on Windows and
/// browsers' exports write one).
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The bytes of a file as text; the error says where the first byte that
/// is not UTF-8 is.
pub(crate) fn utf8(bytes: Vec<u8>) -> std::result::Result<String, ParseError> {
    String::from_utf8(bytes).map_err(|err| {
        let bytes = err.as_bytes();
        let at = err.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |cut| cut + 1);
        let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
        ParseError {
            line: Some(line),
            column: Some(column),
            message: format!(
                "byte 0x{:02x} is not UTF-8; the file must be UTF-8 text",
                bytes[at]
            ),
        }
    })
}

/// Parses YAML text from `origin` (a file path, for messages) into `T`; the
/// error names the origin, line and column.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T> {
    parse(text).map_err(|err| {
        let place = match (err.line, err.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", origin.display()),
            _ => origin.display().to_string(),
        };
        Error::invalid(format!("{place}: {}", err.message))
    })
}

/// Writes `value` as YAML text.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    yaml_serde::to_string(value).map_err(|err| Error::invalid(format!("cannot write YAML: {err}")))
}
