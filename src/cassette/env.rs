//! Where a cassette lives and which mode it runs in: the modes, the
//! `WIRETAPE_RECORD` and `CI` overrides, and `cassettes/<test>.yaml` paths.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The environment variable that overrides every cassette's mode for a run:
/// `once`, `new_episodes`, `none` (replay only), `all` (re-record) or
/// `passthrough`.
pub const RECORD_ENV: &str = "WIRETAPE_RECORD";

/// What a cassette does with requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Replay if the file exists (a miss is an error), else record it. The
    /// default. When `CI` is set, a missing file is an error instead.
    #[default]
    Once,
    /// Replay what matches; record the rest and append it to the file.
    NewEpisodes,
    /// Never touch the inner engine; a miss is an error.
    Replay,
    /// Record everything anew and replace the file.
    Record,
    /// Neither replay nor record: the inner engine answers everything.
    Passthrough,
}

impl Mode {
    /// The name `WIRETAPE_RECORD` uses for this mode.
    pub fn env_name(self) -> &'static str {
        match self {
            Mode::Once => "once",
            Mode::NewEpisodes => "new_episodes",
            Mode::Replay => "none",
            Mode::Record => "all",
            Mode::Passthrough => "passthrough",
        }
    }

    fn from_env_name(value: &str) -> Result<Mode> {
        match value.trim().to_ascii_lowercase().as_str() {
            "once" => Ok(Mode::Once),
            "new_episodes" => Ok(Mode::NewEpisodes),
            "none" | "replay" => Ok(Mode::Replay),
            "all" | "record" => Ok(Mode::Record),
            "passthrough" => Ok(Mode::Passthrough),
            other => Err(Error::invalid(format!(
                "{RECORD_ENV}={other:?} is not a mode; use once, new_episodes, none, all or passthrough"
            ))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Once => "once",
            Mode::NewEpisodes => "new_episodes",
            Mode::Replay => "replay",
            Mode::Record => "record",
            Mode::Passthrough => "passthrough",
        })
    }
}

/// The environment a cassette reads its overrides from: `WIRETAPE_RECORD`
/// and `CI`. Read from the process once by [`Environment::from_process`]
/// (the default); tests set their own so they never race on process
/// variables.
///
/// ```
/// use wiretape::cassette::Environment;
///
/// let on_ci = Environment::clean().ci(true);
/// let rerecord = Environment::clean().record("all");
/// # let _ = (on_ci, rerecord);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    record: Option<String>,
    ci: bool,
}

impl Environment {
    /// What the process environment says.
    pub fn from_process() -> Environment {
        let record = std::env::var(RECORD_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let ci = std::env::var("CI")
            .map(|v| !matches!(v.trim(), "" | "0" | "false"))
            .unwrap_or(false);
        Environment { record, ci }
    }

    /// No override and not on CI.
    pub fn clean() -> Environment {
        Environment::default()
    }

    /// Overrides the mode as `WIRETAPE_RECORD=value` would.
    pub fn record(mut self, value: impl Into<String>) -> Environment {
        self.record = Some(value.into());
        self
    }

    /// Whether this is a CI run.
    pub fn ci(mut self, ci: bool) -> Environment {
        self.ci = ci;
        self
    }

    /// The mode in force: `configured`, unless `WIRETAPE_RECORD` overrides
    /// it; an unknown override is an error.
    pub(crate) fn mode(&self, configured: Mode) -> Result<Mode> {
        match &self.record {
            Some(value) => Mode::from_env_name(value),
            None => Ok(configured),
        }
    }

    /// Whether `CI` is set.
    pub(crate) fn on_ci(&self) -> bool {
        self.ci
    }
}

/// `cassettes/<name>.yaml` under the calling crate's `CARGO_MANIFEST_DIR`;
/// without a name, the current test's name (its thread's name, `::` becoming
/// folders).
///
/// ```
/// let path = wiretape::cassette_path!("users_api");
/// assert!(path.ends_with("cassettes/users_api.yaml"));
/// ```
#[macro_export]
macro_rules! cassette_path {
    () => {
        $crate::cassette::path_in(
            env!("CARGO_MANIFEST_DIR"),
            &$crate::cassette::current_test_name(),
        )
    };
    ($name:expr) => {
        $crate::cassette::path_in(env!("CARGO_MANIFEST_DIR"), $name)
    };
}

/// `dir/cassettes/<name>.yaml`, with `::` in `name` becoming folders: what
/// [`cassette_path!`](crate::cassette_path) expands to. A dot in the name is
/// kept (`api.v2` is `api.v2.yaml`); a name already ending in `.yaml` gets
/// no second one.
pub fn path_in(dir: impl AsRef<Path>, name: &str) -> PathBuf {
    let mut path = dir.as_ref().join("cassettes");
    let name = name.strip_suffix(".yaml").unwrap_or(name);
    for part in name.split("::") {
        path.push(part);
    }
    let mut file = path.into_os_string();
    file.push(".yaml");
    PathBuf::from(file)
}

/// The running test's name: the current thread's name, which the test
/// harness sets to the test's path.
pub fn current_test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}
