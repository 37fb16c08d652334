//! Plan files: a [`FaultPlan`] as YAML, for `wiretape serve --faults` and
//! route files.
//!
//! ```yaml
//! seed: 42                      # optional; WIRETAPE_SEED overrides it
//! faults:                       # each rule sees every call; the first that fires wins
//!   - request: {path: /pay}     # optional: the route-file request matchers
//!     sequence: [reset, 503, ok]
//!   - every: 3
//!     fault: empty_reply
//!   - chance: 0.1
//!     fault: {latency: {log_normal: {median_ms: 80, sigma: 0.5}}}
//! ```

use std::path::Path;

use serde::Deserialize;

use super::plan::FaultPlan;
use super::vocab::FaultSpec;
use crate::mock::router::file::RequestSpec;
use crate::{Error, Result, yaml};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    seed: Option<u64>,
    faults: Vec<RuleSpec>,
}

/// One rule: a sequence, or a fault with `first`, `every` or `chance` (or
/// none of these: always), optionally only for matching requests.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    request: Option<RequestSpec>,
    sequence: Option<Vec<FaultSpec>>,
    fault: Option<FaultSpec>,
    first: Option<u64>,
    every: Option<u64>,
    chance: Option<f64>,
}

impl RuleSpec {
    pub(crate) fn into_plan(self) -> std::result::Result<FaultPlan, String> {
        let plan = match (self.sequence, self.fault) {
            (Some(steps), None) => {
                if self.first.is_some() || self.every.is_some() || self.chance.is_some() {
                    return Err("a sequence takes no first, every or chance".to_owned());
                }
                FaultPlan::sequence(steps.into_iter().map(|s| s.0))
            }
            (None, Some(FaultSpec(fault))) => match (self.first, self.every, self.chance) {
                (None, None, None) => FaultPlan::always(fault),
                (Some(n), None, None) => FaultPlan::first(n, fault),
                (None, Some(0), None) => return Err("every needs n >= 1".to_owned()),
                (None, Some(n), None) => FaultPlan::every(n, fault),
                (None, None, Some(p)) if (0.0..=1.0).contains(&p) => FaultPlan::chance(p, fault),
                (None, None, Some(p)) => {
                    return Err(format!("chance {p} is not a probability between 0 and 1"));
                }
                _ => return Err("a rule has at most one of first, every and chance".to_owned()),
            },
            _ => return Err("a rule has exactly one of sequence and fault".to_owned()),
        };
        let plan = match self.request {
            Some(request) => request.matchers().into_iter().fold(plan, FaultPlan::when),
            None => plan,
        };
        match plan.problem() {
            Some(problem) => Err(problem),
            None => Ok(plan),
        }
    }
}

/// Rules in order, composed with [`FaultPlan::or`].
pub(crate) fn compose(rules: Vec<RuleSpec>, seed: Option<u64>, origin: &Path) -> Result<FaultPlan> {
    let mut plan = FaultPlan::none();
    for (at, rule) in rules.into_iter().enumerate() {
        let rule = rule.into_plan().map_err(|problem| {
            Error::invalid(format!(
                "{}: fault rule {}: {problem}",
                origin.display(),
                at + 1
            ))
        })?;
        plan = plan.or(rule);
    }
    Ok(match seed {
        Some(seed) => plan.with_seed(seed),
        None => plan,
    })
}

impl FaultPlan {
    /// Reads a plan file (see the format above); errors name the file,
    /// line and column, or the rule.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<FaultPlan> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::invalid(format!("cannot read fault plan {}: {err}", path.display()))
        })?;
        FaultPlan::from_yaml_str(&text, path)
    }

    /// Reads a plan from YAML text; `origin` names it in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use wiretape::fault::FaultPlan;
    ///
    /// let plan = FaultPlan::from_yaml_str("seed: 7\nfaults:\n  - sequence: [reset, 503, ok]\n", Path::new("plan.yaml"))?;
    /// let bad = FaultPlan::from_yaml_str("faults:\n  - fault: teapot\n", Path::new("plan.yaml"));
    /// assert!(bad.unwrap_err().to_string().contains("plan.yaml:2"));
    /// # let _ = plan;
    /// # Ok::<(), wiretape::Error>(())
    /// ```
    pub fn from_yaml_str(text: &str, origin: &Path) -> Result<FaultPlan> {
        let file: PlanFile = yaml::from_str(text, origin)?;
        compose(file.faults, file.seed, origin)
    }
}
