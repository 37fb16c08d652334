//! The one place that names the YAML crate, so it can be swapped.
//!
//! `yaml_serde` is the YAML organisation's maintained continuation of the
//! deprecated `serde_yaml`, with the same API.
#![allow(dead_code)] // used by the cassette and route-file modules

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// A YAML value tree.
pub(crate) type Value = yaml_serde::Value;

/// Parses YAML text from `origin` (a file path, for messages) into `T`; the
/// error names the origin, line and column.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T> {
    yaml_serde::from_str(text).map_err(|err| {
        let place = match err.location() {
            Some(loc) => format!("{}:{}:{}", origin.display(), loc.line(), loc.column()),
            None => origin.display().to_string(),
        };
        Error::invalid(format!("{place}: {err}"))
    })
}

/// Writes `value` as YAML text.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    yaml_serde::to_string(value).map_err(|err| Error::invalid(format!("cannot write YAML: {err}")))
}
