//! Near-miss reports: for a request no route answered, the closest routes,
//! each check passed or failed, and a diff of what each failure expected.
//!
//! A miss must cost about what the request and routes weigh, not their
//! square: routes are ranked on pass/fail alone and only the few listed get
//! diffs, and a diff compares at most [`DIFF_LINES`] differing lines of each
//! side (after the lines both share at the start and end), so a miss against
//! a route expecting a 200 KB JSON body (or a YAML alias bomb) stays cheap.

use std::collections::HashMap;
use std::sync::Arc;

use similar::{Algorithm, ChangeTag, DiffOp};

use super::matchers::Mismatch;
use super::route::{Entry, STARTED};
use crate::Request;
use crate::error::{MatchCheck, NearMiss, NoRoute};

/// How many routes a report lists.
const SHOWN: usize = 3;

/// How many differing lines of each side a diff compares.
const DIFF_LINES: usize = 400;

/// How many lines of diff a report shows for one check.
const SHOWN_DIFF_LINES: usize = 200;

/// The lines of context around each change.
const CONTEXT: usize = 3;

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
            // Pass or fail only: diffs are made for the listed routes below.
            let checks = checks(route, request, scenarios, false);
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
        .map(|(position, _, _)| {
            let route = &routes[position];
            NearMiss::new(
                route.label.to_string(),
                checks(route, request, scenarios, true),
            )
        })
        .collect();
    NoRoute::new(request.to_string(), explanation)
        .with_near_misses(near_misses)
        .with_omitted(omitted)
}

/// Every check of `route` against `request`: its matchers, then its call
/// limit and scenario state; with `detailed`, a diff for each failure.
fn checks(
    route: &Entry,
    request: &Request,
    scenarios: &HashMap<String, String>,
    detailed: bool,
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
            } else if !detailed {
                MatchCheck::failed(description, String::new())
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
    if let Some(scenario) = &route.scenario
        && let Some(wanted) = &scenario.when
    {
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
    checks
}

/// Expected against actual: `- expected` / `+ actual` for one-line values,
/// a unified diff (`similar`) for longer ones such as JSON bodies.
pub(crate) fn diff(mismatch: &Mismatch) -> String {
    let (expected, actual) = (mismatch.expected.as_str(), mismatch.actual.as_str());
    if !expected.contains('\n') && !actual.contains('\n') {
        return format!("- {expected}\n+ {actual}");
    }
    unified(
        &expected.lines().collect::<Vec<_>>(),
        &actual.lines().collect::<Vec<_>>(),
    )
}

/// A unified diff of two texts' lines (`--- expected`, `+++ actual`, hunks
/// with 3 lines of context), comparing at most [`DIFF_LINES`] differing
/// lines of each side and showing at most [`SHOWN_DIFF_LINES`].
fn unified(old: &[&str], new: &[&str]) -> String {
    let prefix = old.iter().zip(new).take_while(|(o, n)| o == n).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(o, n)| o == n)
        .count();
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    let cut = old_end - prefix > DIFF_LINES || new_end - prefix > DIFF_LINES;
    let (old_stop, new_stop) = if cut {
        (
            old_end.min(prefix + DIFF_LINES),
            new_end.min(prefix + DIFF_LINES),
        )
    } else {
        (old_end, new_end)
    };
    let mut ops = vec![DiffOp::Equal {
        old_index: 0,
        new_index: 0,
        len: prefix,
    }];
    ops.extend(similar::capture_diff(
        Algorithm::Myers,
        old,
        prefix..old_stop,
        new,
        prefix..new_stop,
    ));
    if !cut {
        ops.push(DiffOp::Equal {
            old_index: old_end,
            new_index: new_end,
            len: suffix,
        });
    }
    ops.retain(|op| !matches!(op, DiffOp::Equal { len: 0, .. }));

    let mut lines = vec!["--- expected".to_owned(), "+++ actual".to_owned()];
    for hunk in similar::group_diff_ops(ops, CONTEXT) {
        let (Some(first), Some(last)) = (hunk.first(), hunk.last()) else {
            continue;
        };
        let range = |start: usize, end: usize| match end - start {
            1 => format!("{}", start + 1),
            0 => format!("{start},0"),
            len => format!("{},{len}", start + 1),
        };
        lines.push(format!(
            "@@ -{} +{} @@",
            range(first.old_range().start, last.old_range().end),
            range(first.new_range().start, last.new_range().end),
        ));
        for op in &hunk {
            for change in op.iter_changes(old, new) {
                let sign = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                };
                lines.push(format!("{sign}{}", change.value()));
            }
        }
    }
    let shown = lines.len().min(SHOWN_DIFF_LINES + 2);
    let hidden = lines.len() - shown;
    lines.truncate(shown);
    if hidden > 0 {
        lines.push(format!("… {hidden} more diff line(s) not shown"));
    }
    if cut {
        lines.push(format!(
            "… the bodies differ further: only the first {DIFF_LINES} differing lines \
             of each side were compared"
        ));
    }
    lines.join("\n").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `similar` prints for the whole texts, the format `unified` keeps.
    fn similar_diff(expected: &str, actual: &str) -> String {
        let (expected, actual) = (format!("{expected}\n"), format!("{actual}\n"));
        similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .context_radius(3)
            .header("expected", "actual")
            .to_string()
            .trim_end()
            .to_owned()
    }

    fn ours(expected: &str, actual: &str) -> String {
        diff(&Mismatch {
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        })
    }

    #[test]
    fn small_diffs_read_exactly_as_similar_prints_them() {
        let lines: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        let base = lines.join("\n");
        let cases = [
            (base.clone(), base.replace("line 3\n", "line three\n")),
            (base.clone(), base.replace("line 29", "last")),
            (base.clone(), base.replace("line 0\n", "")),
            (base.clone(), format!("{base}\nline 30")),
            (
                base.clone(),
                base.replace("line 5\n", "").replace("line 20", "twenty"),
            ),
            ("a\nb".to_owned(), "x\ny\nz".to_owned()),
        ];
        for (expected, actual) in cases {
            assert_eq!(
                ours(&expected, &actual),
                similar_diff(&expected, &actual),
                "{actual}"
            );
        }
    }

    #[test]
    fn a_large_diff_compares_a_bounded_part_and_says_so() {
        let expected: Vec<String> = (0..20_000).map(|i| format!("expected {i}")).collect();
        let actual: Vec<String> = (0..20_000).map(|i| format!("actual {i}")).collect();
        let report = ours(&expected.join("\n"), &actual.join("\n"));
        assert!(report.lines().count() < SHOWN_DIFF_LINES + 10, "{report}");
        assert!(report.contains("-expected 0\n"), "{report}");
        assert!(report.contains("more diff line(s) not shown"));
        assert!(report.contains("only the first 400 differing lines"));
    }

    #[test]
    fn a_change_deep_inside_a_large_text_is_found_after_the_shared_start() {
        let lines: Vec<String> = (0..50_000).map(|i| format!("line {i}")).collect();
        let expected = lines.join("\n");
        let actual = expected.replace("line 43210\n", "line changed\n");
        let report = ours(&expected, &actual);
        assert!(
            report.contains("-line 43210\n+line changed"),
            "the one real change is shown: {report}"
        );
        assert!(report.contains("@@ -43208,7 +43208,7 @@"), "{report}");
    }
}
