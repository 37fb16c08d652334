//! Reading and writing cassette files: parse errors with file, line and
//! column; atomic writes (a temporary file in the same folder, then a
//! rename); a lock that covers reading, merging and writing, so that
//! recorders in several processes never lose each other's saves.
//!
//! Why the lock is a separate file that is never deleted: a lock on the
//! cassette itself would be lost by the rename, and deleting a lock file
//! while it is held lets one process lock the old inode and another a new
//! one. `.<name>.lock` stays beside the cassette (empty, hidden).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::format::Tape;
use super::replay::Answer;
use crate::{Error, Result};

/// How long a save waits for another process's save to finish before it
/// gives up with an error naming the lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The prefix and suffix of the temporary file a save writes before the
/// rename: `.wiretape-<cassette file name>.XXXXXX.tmp`.
const TEMP_PREFIX: &str = ".wiretape-";
const TEMP_SUFFIX: &str = ".tmp";
const TEMP_RANDOM: usize = 6;

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

/// Parses cassette text read from `path`, and checks every interaction as
/// replay needs it; errors name the line and column where they can.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Tape> {
    parse_for_replay(text, path).map(|(tape, _)| tape)
}

/// [`parse`], and each interaction's response as replay hands it out,
/// which the check builds.
fn parse_for_replay(text: &str, path: &Path) -> Result<(Tape, Vec<Option<Answer>>)> {
    let tape: Tape = crate::yaml::parse(text).map_err(|err| {
        // The version check runs on the value, and the reader reports the
        // document's start: point at the value.
        let (line, column) = match err.message.contains("unsupported cassette version") {
            true => locate_key(text, 0..usize::MAX, "version")
                .map_or((err.line, err.column), |(l, c)| (Some(l), Some(c))),
            false => (err.line, err.column),
        };
        located_error(path, line, column, err.message)
    })?;
    let mut answers = Vec::with_capacity(tape.interactions.len());
    for (i, interaction) in tape.interactions.iter().enumerate() {
        match super::replay::validate(i, interaction) {
            Ok(answer) => answers.push(answer),
            Err(invalid) => {
                let (line, column) = locate_field(text, i, invalid.field).unzip();
                return Err(located_error(path, line, column, invalid.message));
            }
        }
    }
    Ok((tape, answers))
}

/// Parses any YAML read from `path` (another tool's cassette).
pub(crate) fn parse_value(text: &str, path: &Path) -> Result<crate::yaml::Value> {
    crate::yaml::parse(text).map_err(|err| located_error(path, err.line, err.column, err.message))
}

/// The line and column of the value of `key` (a block mapping key) in the
/// first of `lines` that has it.
fn locate_key(text: &str, lines: std::ops::Range<usize>, key: &str) -> Option<(usize, usize)> {
    for (n, line) in text.lines().enumerate().skip(lines.start).take(lines.len()) {
        let trimmed = line.trim_start_matches([' ', '-', '{']);
        if let Some(rest) = trimmed.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let value = rest.trim_start();
            let column = line.len() - value.len() + 1;
            return Some((n + 1, column));
        }
        if let Some(at) = line
            .find(&format!(" {key}:"))
            .or_else(|| line.find(&format!("{{{key}:")))
        {
            return Some((n + 1, at + 2));
        }
    }
    None
}

/// Where interaction `i`'s `field` (keys from the interaction down) is
/// written, in a block-style cassette; `None` when it cannot be told.
fn locate_field(text: &str, i: usize, field: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let list = lines.iter().position(|l| l.starts_with("interactions:"))?;
    let mut starts = Vec::new();
    let mut item_indent = None;
    for (n, line) in lines.iter().enumerate().skip(list + 1) {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent == 0 && !trimmed.starts_with('-') {
            break;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match item_indent {
                None => {
                    item_indent = Some(indent);
                    starts.push(n);
                }
                Some(at) if at == indent => starts.push(n),
                _ => {}
            }
        }
    }
    let start = *starts.get(i)?;
    let end = starts.get(i + 1).copied().unwrap_or(lines.len());
    let mut from = start;
    let mut found = (start + 1, item_indent? + 1);
    for key in field {
        match locate_key(text, from..end, key) {
            Some(at) => {
                found = at;
                from = at.0 - 1;
            }
            None => break,
        }
    }
    Some(found)
}

/// Reads the file at `path` as text; `None` when there is no such file.
/// Bytes that are not UTF-8 are an error naming their line and column.
pub(crate) fn read_text(path: &Path) -> Result<Option<String>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(file_error(path, format!("cannot read: {err}"))),
    };
    crate::yaml::utf8(bytes)
        .map(Some)
        .map_err(|err| located_error(path, err.line, err.column, err.message))
}

/// Reads the cassette at `path`; `None` when there is no such file.
pub(crate) fn load(path: &Path) -> Result<Option<Tape>> {
    Ok(load_for_replay(path)?.map(|(tape, _)| tape))
}

/// [`load`], and each interaction's response as replay hands it out.
pub(crate) fn load_for_replay(path: &Path) -> Result<Option<(Tape, Vec<Option<Answer>>)>> {
    match read_text(path)? {
        Some(text) => parse_for_replay(&text, path).map(Some),
        None => Ok(None),
    }
}

/// Writes `tape` to `path` atomically: readers see the old file or the new
/// one, never a part; a failure leaves the old file in place.
pub(crate) fn save(path: &Path, tape: &Tape) -> Result<()> {
    update(path, |_| Ok(tape.clone()))
}

/// Under the cassette's lock: reads what is on disk now (`None` when there
/// is no file), lets `merge` make the new tape from it, and writes that
/// atomically. Temporary files that earlier saves of this cassette left
/// behind (a process killed mid-save) are removed first; the file keeps the
/// permissions it had (a new one gets the umask's).
pub(crate) fn update(path: &Path, merge: impl FnOnce(Option<Tape>) -> Result<Tape>) -> Result<()> {
    let dir = locked_dir(path)?;
    let _lock = CassetteLock::acquire(path, LOCK_WAIT)?;
    sweep_temp_files(path, &dir);
    let tape = merge(load(path)?)?;
    let text = crate::yaml::to_string(&tape).map_err(|err| file_error(path, err.message()))?;
    replace(path, &dir, text.as_bytes())
}

/// Writes `bytes` to `path` atomically, under the same lock and with the
/// same care as [`save`]: for the command line's other formats (`convert`
/// to HAR, `lint --fix`).
#[cfg(feature = "cli")]
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = locked_dir(path)?;
    let _lock = CassetteLock::acquire(path, LOCK_WAIT)?;
    sweep_temp_files(path, &dir);
    replace(path, &dir, bytes)
}

/// The folder of `path`, created if missing.
fn locked_dir(path: &Path) -> Result<PathBuf> {
    let dir = parent(path);
    std::fs::create_dir_all(&dir)
        .map_err(|err| file_error(path, format!("cannot create {}: {err}", dir.display())))?;
    Ok(dir)
}

/// Replaces `path` (in `dir`) by `bytes`: a temporary file beside it,
/// synced, with the old file's permissions, then renamed. The caller holds
/// the lock.
fn replace(path: &Path, dir: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = TempFile::create(path, dir)
        .map_err(|err| file_error(path, format!("cannot create a temporary file: {err}")))?;
    if let Ok(existing) = std::fs::metadata(path) {
        // Re-recording keeps the mode the user gave the file.
        std::fs::set_permissions(&temp.path, existing.permissions()).map_err(|err| {
            file_error(path, format!("cannot copy the file's permissions: {err}"))
        })?;
    }
    temp.file
        .write_all(bytes)
        .and_then(|()| temp.file.sync_all())
        .map_err(|err| file_error(path, format!("cannot write: {err}")))?;
    // Dropping `temp` on any error above removes it.
    temp.persist(path)
        .map_err(|err| file_error(path, format!("cannot replace the file: {err}")))
}

/// The temporary file a save writes before the rename:
/// `.wiretape-<cassette file name>.XXXXXX.tmp` in the cassette's folder (so
/// the rename never crosses file systems), removed when dropped unless
/// [`persist`](Self::persist) has renamed it over the cassette.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates a new temporary file for the cassette at `cassette`, in
    /// `dir`; never opens a file that already exists.
    fn create(cassette: &Path, dir: &Path) -> std::io::Result<TempFile> {
        use rand::Rng;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Subject to the umask, as a file written with `std::fs::write` is.
            options.mode(0o666);
        }
        let prefix = format!("{TEMP_PREFIX}{}.", file_name(cassette));
        let mut attempts = 0;
        loop {
            let random: String = rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(TEMP_RANDOM)
                .map(char::from)
                .collect();
            let path = dir.join(format!("{prefix}{random}{TEMP_SUFFIX}"));
            match options.open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        persisted: false,
                    });
                }
                // Only a stale file of a killed save can be there (the lock
                // holder sweeps them), and 62^6 names make a clash rare.
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && attempts < 16 => {
                    attempts += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Renames the file over `target`, replacing it in one step.
    fn persist(mut self, target: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, target)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `name` is a temporary file that a save of the cassette named
/// `cassette` writes (and a killed one leaves behind).
fn is_temp_file_of(name: &str, cassette: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_prefix(cassette))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|random| {
            random.len() == TEMP_RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Removes the temporary files of earlier saves of `path`. Only a lock
/// holder writes them, so while the lock is held every one is stale.
fn sweep_temp_files(path: &Path, dir: &Path) {
    let cassette = file_name(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if is_temp_file_of(&name.to_string_lossy(), &cassette) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Tape {
    /// Reads the cassette file at `path`; errors name the file, line and
    /// column.
    pub fn load(path: impl AsRef<Path>) -> Result<Tape> {
        let path = path.as_ref();
        load(path)?.ok_or_else(|| file_error(path, "no such file"))
    }

    /// Writes the cassette to `path` atomically (a temporary file beside it,
    /// then a rename), with the default secret filters a recording applies
    /// (credential headers, keys, userinfo, JWTs and their echoes; see
    /// [`CassetteBuilder`](super::CassetteBuilder)): a tape built or edited
    /// by hand never writes a credential either.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save(path.as_ref(), &self.redacted())
    }

    /// Writes the cassette to `path` exactly as it is, secrets and all: the
    /// explicit opt-out of [`save`](Self::save)'s filters.
    pub fn save_unredacted(&self, path: impl AsRef<Path>) -> Result<()> {
        save(path.as_ref(), self)
    }

    /// The tape with the default secret filters applied to every
    /// interaction. Applying them again changes nothing.
    pub fn redacted(&self) -> Tape {
        let filters = super::filter::Filters::default();
        let mut tape = self.clone();
        tape.interactions
            .iter_mut()
            .for_each(|interaction| filters.scrub(interaction));
        tape
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

/// An exclusive lock on a cassette, held while a save reads, merges and
/// writes it: `.<name>.lock` beside it, locked with the operating system's
/// advisory lock (released by the kernel when a holder dies) and never
/// deleted, so that every process locks the same file.
#[derive(Debug)]
pub(crate) struct CassetteLock {
    _file: File,
}

impl CassetteLock {
    /// Takes the lock, waiting up to `wait` for another holder; the error
    /// names the lock file.
    pub(crate) fn acquire(cassette: &Path, wait: Duration) -> Result<CassetteLock> {
        let path = parent(cassette).join(format!(".{}.lock", file_name(cassette)));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| {
                file_error(cassette, format!("cannot open {}: {err}", path.display()))
            })?;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(CassetteLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(file_error(
                        cassette,
                        format!(
                            "another process has been saving this cassette for {wait:?} \
                             (it holds {}); is a recorder stuck?",
                            path.display()
                        ),
                    ));
                }
                Err(TryLockError::Error(err)) => {
                    return Err(file_error(
                        cassette,
                        format!("cannot lock {}: {err}", path.display()),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a child process of [`the_lock_is_never_held_twice_across_processes`]:
    /// takes and releases the lock `ROUNDS` times, checking inside each hold
    /// that nobody else is inside, and prints how many holds overlapped.
    fn lock_child(cassette: &Path, inside: &Path) {
        let mut overlaps = 0;
        for _ in 0..ROUNDS {
            let lock = CassetteLock::acquire(cassette, Duration::from_secs(30)).unwrap();
            // `create_new` fails when another holder is inside.
            match OpenOptions::new().write(true).create_new(true).open(inside) {
                Ok(_) => {
                    std::thread::yield_now();
                    std::fs::remove_file(inside).unwrap();
                }
                Err(_) => overlaps += 1,
            }
            drop(lock);
        }
        println!("overlaps {overlaps}");
    }

    const ROUNDS: usize = 150;

    #[test]
    fn the_lock_is_never_held_twice_across_processes() {
        const ROLE: &str = "WIRETAPE_LOCK_CHILD";
        let test = "cassette::store::tests::the_lock_is_never_held_twice_across_processes";
        if let Some(dir) = std::env::var_os(ROLE) {
            let dir = PathBuf::from(dir);
            return lock_child(&dir.join("t.yaml"), &dir.join("inside"));
        }
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..4)
            .map(|_| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args([test, "--exact", "--nocapture", "--test-threads=1"])
                    .env(ROLE, dir.path())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut overlaps = 0;
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success());
            let text = String::from_utf8_lossy(&output.stdout);
            let count = text
                .lines()
                .find_map(|line| line.split_once("overlaps ").map(|(_, n)| n))
                .unwrap_or_else(|| panic!("a child reported nothing: {text}"));
            overlaps += count.parse::<usize>().unwrap();
        }
        assert_eq!(overlaps, 0, "holds that overlapped another's");
        // The lock file stays, so that every process locks the same inode.
        assert!(dir.path().join(".t.yaml.lock").exists());
    }

    #[test]
    fn a_held_lock_makes_a_save_wait_then_fail_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("t.yaml");
        let held = CassetteLock::acquire(&cassette, Duration::ZERO).unwrap();
        let err = CassetteLock::acquire(&cassette, Duration::from_millis(30)).unwrap_err();
        assert!(err.to_string().contains(".t.yaml.lock"), "{err}");
        drop(held);
        CassetteLock::acquire(&cassette, Duration::ZERO).unwrap();
    }

    #[test]
    fn a_save_sweeps_only_its_own_cassettes_stale_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("a.yaml");
        for name in [
            ".wiretape-a.yaml.Ab12Cd.tmp",
            ".wiretape-a.yaml.b.yaml.Zz99zz.tmp",
            ".wiretape-b.yaml.Ab12Cd.tmp",
            "notes.tmp",
        ] {
            std::fs::write(dir.path().join(name), "partial").unwrap();
        }
        save(&cassette, &Tape::default()).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".a.yaml.lock",
                ".wiretape-a.yaml.b.yaml.Zz99zz.tmp",
                ".wiretape-b.yaml.Ab12Cd.tmp",
                "a.yaml",
                "notes.tmp"
            ]
        );
    }

    #[test]
    fn a_temporary_file_is_one_the_sweep_knows_and_is_removed_unless_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("a.yaml");
        let temp = TempFile::create(&cassette, dir.path()).unwrap();
        let name = temp
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // What a killed save leaves behind, the next save sweeps.
        assert!(is_temp_file_of(&name, "a.yaml"), "{name}");
        let path = temp.path.clone();
        drop(temp);
        assert!(!path.exists());
    }

    #[test]
    fn a_save_that_cannot_replace_the_file_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder (not empty) where the cassette should be: the rename fails.
        let cassette = dir.path().join("t.yaml");
        std::fs::create_dir(&cassette).unwrap();
        std::fs::write(cassette.join("inside"), "").unwrap();
        let err = replace(&cassette, dir.path(), b"version: 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.yaml") && err.contains("cannot replace the file"),
            "{err}"
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["t.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn re_recording_keeps_the_files_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cassette = dir.path().join("t.yaml");
        save(&cassette, &Tape::default()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // A new file gets what `std::fs::write` would give it (the umask's).
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(mode(&cassette), mode(&plain));
        for wanted in [0o644, 0o640, 0o600] {
            std::fs::set_permissions(&cassette, std::fs::Permissions::from_mode(wanted)).unwrap();
            save(&cassette, &Tape::default()).unwrap();
            assert_eq!(mode(&cassette), wanted);
        }
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
