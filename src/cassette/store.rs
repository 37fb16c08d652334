//! Reading and writing cassette files: parse errors with file, line and
//! column; atomic writes (a temporary file in the same folder, then a
//! rename); a lock so two recorders never interleave on one file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::Tape;
use crate::{Error, Result};

/// An error about the cassette at `path`.
pub(crate) fn file_error(path: &Path, message: impl Into<String>) -> Error {
    located_error(path, None, None, message)
}

/// An error about the cassette at `path`, at a line and column.
pub(crate) fn located_error(
    path: &Path,
    line: Option<usize>,
    column: Option<usize>,
    message: impl Into<String>,
) -> Error {
    Error::CassetteFile {
        path: path.to_path_buf(),
        line,
        column,
        message: message.into(),
    }
}

/// Parses YAML text read from `path` into `T`.
fn parse_as<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    crate::yaml::parse::<T>(text)
        .map_err(|err| located_error(path, err.line, err.column, err.message))
}

/// Parses cassette text read from `path`.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Tape> {
    parse_as(text, path)
}

/// Parses any YAML read from `path` (another tool's cassette).
pub(crate) fn parse_value(text: &str, path: &Path) -> Result<crate::yaml::Value> {
    parse_as(text, path)
}

/// Reads the cassette at `path`; `None` when there is no such file.
pub(crate) fn load(path: &Path) -> Result<Option<Tape>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(file_error(path, format!("cannot read: {err}"))),
    };
    parse(&text, path).map(Some)
}

/// Writes `tape` to `path` atomically: readers see the old file or the new
/// one, never a part; a failure leaves the old file in place.
pub(crate) fn save(path: &Path, tape: &Tape) -> Result<()> {
    let text = crate::yaml::to_string(tape).map_err(|err| file_error(path, err.message()))?;
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` atomically, as [`save`] does: for the command
/// line's other formats (`convert` to HAR, `lint --fix`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir)
        .map_err(|err| file_error(path, format!("cannot create {}: {err}", dir.display())))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".wiretape-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|err| file_error(path, format!("cannot create a temporary file: {err}")))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|err| file_error(path, format!("cannot write: {err}")))?;
    // Dropping `temp` on any error above removes it.
    temp.persist(path)
        .map_err(|err| file_error(path, format!("cannot replace the file: {}", err.error)))?;
    Ok(())
}

impl Tape {
    /// Reads the cassette file at `path`; errors name the file, line and
    /// column.
    pub fn load(path: impl AsRef<Path>) -> Result<Tape> {
        let path = path.as_ref();
        load(path)?.ok_or_else(|| file_error(path, "no such file"))
    }

    /// Writes the cassette to `path` atomically (a temporary file beside it,
    /// then a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save(path.as_ref(), self)
    }

    /// Parses cassette YAML; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: impl AsRef<Path>) -> Result<Tape> {
        parse(text, origin.as_ref())
    }

    /// The cassette as YAML text.
    pub fn to_yaml(&self) -> Result<String> {
        crate::yaml::to_string(self)
    }
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An exclusive lock on a cassette, held while a recorder may write it: a
/// `<file>.lock` file beside it, locked, and removed when released.
#[derive(Debug)]
pub(crate) struct CassetteLock {
    path: PathBuf,
    _file: File,
}

impl CassetteLock {
    /// Takes the lock, or says who holds it.
    pub(crate) fn acquire(cassette: &Path) -> Result<CassetteLock> {
        let mut name = cassette.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let dir = parent(&path);
        std::fs::create_dir_all(&dir).map_err(|err| {
            file_error(cassette, format!("cannot create {}: {err}", dir.display()))
        })?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| {
                file_error(cassette, format!("cannot open {}: {err}", path.display()))
            })?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(CassetteLock { path, _file: file }),
            Err(fs4::TryLockError::WouldBlock) => Err(file_error(
                cassette,
                format!(
                    "another recorder is writing this cassette (it holds {}); \
                     give each test its own cassette, or run them one at a time",
                    path.display()
                ),
            )),
            Err(fs4::TryLockError::Error(err)) => Err(file_error(
                cassette,
                format!("cannot lock {}: {err}", path.display()),
            )),
        }
    }
}

impl Drop for CassetteLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_recorder_on_one_file_is_refused_until_the_first_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("t.yaml");
        let first = CassetteLock::acquire(&cassette).unwrap();
        let err = CassetteLock::acquire(&cassette).unwrap_err();
        assert!(err.to_string().contains("another recorder"), "{err}");
        drop(first);
        assert!(!dir.path().join("t.yaml.lock").exists());
        CassetteLock::acquire(&cassette).unwrap();
    }

    #[test]
    fn parse_errors_name_file_line_and_column() {
        let err = parse(
            "version: 1\ninteractions:\n  - request: [",
            Path::new("c.yaml"),
        )
        .unwrap_err();
        let Error::CassetteFile { line, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(line.is_some(), "{err}");
        assert!(err.to_string().starts_with("cassette c.yaml:"), "{err}");
        let err = parse("version: 2\ninteractions: []\n", Path::new("c.yaml")).unwrap_err();
        assert!(
            err.to_string().contains("unsupported cassette version 2"),
            "{err}"
        );
        assert!(err.to_string().contains("c.yaml:1:"), "{err}");
    }
}
