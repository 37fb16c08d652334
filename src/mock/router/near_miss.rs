//! Near-miss reports: for a request no route answered, the closest routes,
//! each check passed or failed, and a diff of what each failure expected.

use std::collections::HashMap;
use std::sync::Arc;

use similar::TextDiff;

use super::matchers::Mismatch;
use super::route::{Entry, STARTED};
use crate::Request;
use crate::error::{MatchCheck, NearMiss, NoRoute};

/// How many routes a report lists.
const SHOWN: usize = 3;

/// The report for `request`, which none of `routes` answered.
pub(crate) fn report(
    routes: &[Arc<Entry>],
    request: &Request,
    scenarios: &HashMap<String, String>,
) -> NoRoute {
    let explanation = match routes.len() {
        0 => "the router has no routes; add one with Router::mock".to_owned(),
        1 => "its only route did not match".to_owned(),
        n => format!("none of its {n} routes matched"),
    };
    let mut ranked: Vec<(usize, usize, NearMiss)> = routes
        .iter()
        .enumerate()
        .map(|(position, route)| {
            let checks = checks(route, request, scenarios);
            // What the route has in common with the request: its passing
            // matchers (a passing scenario or call limit says nothing about
            // the request). A route without matchers is about every request.
            let shared = match route.matchers.len() {
                0 => 1,
                n => checks[..n].iter().filter(|c| c.passed).count(),
            };
            let near_miss = NearMiss::new(route.label.to_string(), checks);
            (position, shared, near_miss)
        })
        .collect();
    // Most in common first, then most checks passed, then fewest failed,
    // then table order.
    ranked.sort_by(|(a_at, a_shared, a), (b_at, b_shared, b)| {
        b_shared
            .cmp(a_shared)
            .then(b.passed().cmp(&a.passed()))
            .then(a.failed().count().cmp(&b.failed().count()))
            .then(a_at.cmp(b_at))
    });
    // Routes that share nothing with the request are noise, unless no route
    // shares anything (then they show what the router does answer).
    let related = ranked.iter().filter(|(_, shared, _)| *shared > 0).count();
    let (listed, omitted) = match related {
        0 => (ranked.len().min(SHOWN), 0),
        related => (related.min(SHOWN), ranked.len() - related.min(SHOWN)),
    };
    let near_misses = ranked
        .into_iter()
        .take(listed)
        .map(|(_, _, near_miss)| near_miss)
        .collect();
    NoRoute::new(request.to_string(), explanation)
        .with_near_misses(near_misses)
        .with_omitted(omitted)
}

/// Every check of `route` against `request`: its matchers, then its call
/// limit and scenario state.
fn checks(
    route: &Entry,
    request: &Request,
    scenarios: &HashMap<String, String>,
) -> Vec<MatchCheck> {
    let mut checks: Vec<MatchCheck> = route
        .matchers
        .iter()
        .map(|matcher| {
            let description = matcher.describe();
            if let Some(problem) = matcher.problem() {
                MatchCheck::failed(description, format!("cannot be checked: {problem}"))
            } else if matcher.matches(request) {
                MatchCheck::passed(description)
            } else {
                let detail = matcher
                    .mismatch(request)
                    .map(|m| diff(&m))
                    .unwrap_or_default();
                MatchCheck::failed(description, detail)
            }
        })
        .collect();
    if let Some(limit) = route.limit {
        let description = format!("answers up to {limit} time(s)");
        if route.has_capacity() {
            checks.push(MatchCheck::passed(description));
        } else {
            checks.push(MatchCheck::failed(
                description,
                format!("used up: it already answered {} time(s)", route.hits()),
            ));
        }
    }
    if let Some(scenario) = &route.scenario {
        if let Some(wanted) = &scenario.when {
            let state = scenarios
                .get(&scenario.name)
                .map_or(STARTED, String::as_str);
            let description = format!("scenario {:?} is in state {wanted:?}", scenario.name);
            if state == wanted {
                checks.push(MatchCheck::passed(description));
            } else {
                checks.push(MatchCheck::failed(
                    description,
                    diff(&Mismatch {
                        expected: wanted.clone(),
                        actual: state.to_owned(),
                    }),
                ));
            }
        }
    }
    checks
}

/// Expected against actual: `- expected` / `+ actual` for one-line values,
/// a unified diff (`similar`) for longer ones such as JSON bodies.
pub(crate) fn diff(mismatch: &Mismatch) -> String {
    let (expected, actual) = (mismatch.expected.as_str(), mismatch.actual.as_str());
    if !expected.contains('\n') && !actual.contains('\n') {
        return format!("- {expected}\n+ {actual}");
    }
    let expected_text = with_final_newline(expected);
    let actual_text = with_final_newline(actual);
    let diff = TextDiff::from_lines(&expected_text, &actual_text);
    diff.unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
        .trim_end()
        .to_owned()
}

fn with_final_newline(text: &str) -> String {
    let mut text = text.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
