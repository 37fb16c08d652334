//! `wiretape lint PATH…`: a secret scanner for cassettes and route files,
//! for CI, in the spirit of gitleaks but knowing what a cassette is.
//!
//! Two kinds of rules, one table ([`RULES`]):
//! - **patterns** find well-known credential shapes anywhere in the text
//!   (JWTs, bearer and basic credentials, AWS, GitHub, Slack, Stripe and
//!   Google keys, private key blocks, passwords in URLs);
//! - **names** walk the file's tree and flag a value by what it is called:
//!   a credential header ([`DEFAULT_REDACTED_HEADERS`](crate::cassette::DEFAULT_REDACTED_HEADERS), the names a
//!   recording redacts), a query parameter or JSON key such as
//!   `access_token` or `api_key`, and a high-entropy value under a name
//!   that suggests a secret.
//!
//! Placeholders (`<REDACTED>`, `<TOKEN>`…) never count. An allowlist of
//! regexes (flag or file) silences known-harmless values. `--fix` replaces
//! each finding with a placeholder, written atomically.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::LazyLock;

use clap::{Args, ValueEnum};
use regex::Regex;
use serde_json::{Value, json};

use super::{FINDINGS, fail};
use crate::cassette::{REDACTED, write_atomic};
use crate::{Error, Result};

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `file:line:column: rule: message`, one per line.
    Text,
    /// One JSON array of findings.
    Json,
    /// GitHub Actions annotations (`::error file=…,line=…`).
    Github,
}

/// The arguments of `wiretape lint`.
#[derive(Args, Debug, Clone)]
pub struct LintArgs {
    /// Cassettes and route files to scan; a folder is scanned for .yaml,
    /// .yml, .json and .har files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print findings.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Replace each finding with a placeholder, rewriting files atomically.
    #[arg(long)]
    pub fix: bool,
    /// A regex for values known to be harmless; may be given several times.
    #[arg(long = "allow", value_name = "REGEX")]
    pub allow: Vec<String>,
    /// A file of such regexes, one a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub allowlist: Option<PathBuf>,
}

/// One rule of the scanner.
#[derive(Debug)]
pub struct Rule {
    /// Its name, as findings print it.
    pub id: &'static str,
    /// What it finds.
    pub description: &'static str,
}

/// Every rule, in the order findings on the same text are preferred (the
/// more specific first).
pub const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "a private key block",
    },
    Rule {
        id: "aws-access-key-id",
        description: "an AWS access key id",
    },
    Rule {
        id: "github-token",
        description: "a GitHub token",
    },
    Rule {
        id: "slack-token",
        description: "a Slack token or webhook",
    },
    Rule {
        id: "stripe-key",
        description: "a Stripe secret or restricted key",
    },
    Rule {
        id: "google-api-key",
        description: "a Google API key",
    },
    Rule {
        id: "jwt",
        description: "a JSON Web Token",
    },
    Rule {
        id: "bearer-credential",
        description: "a bearer credential",
    },
    Rule {
        id: "basic-credential",
        description: "a basic-auth credential",
    },
    Rule {
        id: "url-password",
        description: "a password in a URL",
    },
    Rule {
        id: "credential-header",
        description: "an unredacted credential header",
    },
    Rule {
        id: "secret-query-param",
        description: "a secret query parameter",
    },
    Rule {
        id: "secret-json-key",
        description: "a value under a secret key name",
    },
    Rule {
        id: "high-entropy-secret",
        description: "a high-entropy value under a name that suggests a secret",
    },
];

/// A regex-found credential: the rule, the pattern, the capture group that
/// is the secret itself (kept out of the fix: `Bearer ` stays).
struct Pattern {
    rule: &'static str,
    regex: Regex,
    group: usize,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |rule, regex: &str, group| Pattern {
        rule,
        regex: Regex::new(regex).expect("a valid rule regex"),
        group,
    };
    vec![
        p(
            "private-key",
            r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
            0,
        ),
        p(
            "aws-access-key-id",
            r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b",
            1,
        ),
        p(
            "github-token",
            r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b",
            1,
        ),
        p(
            "slack-token",
            r"\b(xox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)",
            1,
        ),
        p(
            "stripe-key",
            r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})\b",
            1,
        ),
        p("google-api-key", r"\b(AIza[0-9A-Za-z_-]{35})", 1),
        p(
            "jwt",
            r"\b(eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)",
            1,
        ),
        p(
            "bearer-credential",
            r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)",
            1,
        ),
        p(
            "basic-credential",
            r"(?i)\bbasic\s+([A-Za-z0-9+/]{8,}={0,2})",
            1,
        ),
        p(
            "url-password",
            r"\b[a-z][a-z0-9+.-]*://[^\s/:@<>]+:([^\s/@<>]+)@",
            1,
        ),
    ]
});

/// Query parameter and JSON key names that hold a secret whatever it
/// looks like (compared lower case, `-` as `_`).
const SECRET_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "session_token",
    "api_key",
    "apikey",
    "api_secret",
    "client_secret",
    "secret_key",
    "private_key",
    "password",
    "passwd",
    "token",
    "secret",
    "bearer",
    "x_api_key",
    "signature",
    "sig",
];

/// Words that make a name suggest a secret, for the entropy rule.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "token",
    "key",
    "password",
    "passwd",
    "pwd",
    "credential",
    "auth",
    "session",
    "signature",
];

fn normalised(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.contains(&normalised(name).as_str()) || crate::cassette::is_credential_key(name)
}

fn suggests_secret(name: &str) -> bool {
    let name = normalised(name);
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// The recorder's own classification, so lint and recording agree.
fn is_credential_header(name: &str) -> bool {
    crate::cassette::is_credential_header(name)
}

/// A placeholder, not a secret: `<REDACTED>`, `<TOKEN>`, `Bearer <TOKEN>`,
/// `***`, `FILTERED`, or nothing.
fn is_placeholder(value: &str) -> bool {
    static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:[a-z]+\s+)?(?:<[^<>]*>|\*+|x+|redacted|filtered|dummy|example|changeme|null|none)?$")
            .expect("a valid literal regex")
    });
    PLACEHOLDER.is_match(value.trim())
}

/// Shannon entropy in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let len = value.chars().count() as f64;
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether a credential header's value is long enough to be one: a cookie
/// like `a=1` is not. A `Cookie` counts by its pairs' values, a
/// `Set-Cookie` by its cookie's value (not its attributes).
fn substantial(name: &str, value: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let pairs: Vec<&str> = match name.as_str() {
        "cookie" => value.split(';').collect(),
        "set-cookie" => value.split(';').take(1).collect(),
        _ => return value.trim().len() >= 8,
    };
    pairs
        .iter()
        .map(|pair| pair.split_once('=').map(|(_, v)| v).unwrap_or(pair))
        .any(|v| v.trim().len() >= 8)
}

/// A high-entropy value: long enough, mixed enough.
fn looks_random(value: &str) -> bool {
    value.len() >= 16 && !value.contains(' ') && entropy(value) >= 3.5
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The rule that fired.
    pub rule: &'static str,
    /// What was found, with the secret masked.
    pub message: String,
    /// The secret's byte range in the file.
    span: (usize, usize),
}

/// What one file holds that looks like a secret, allowlisted values aside.
pub fn scan(path: &Path, text: &str, allow: &[Regex]) -> Vec<Finding> {
    let mut raw: Vec<(usize, usize, &'static str, String)> = Vec::new();
    for pattern in PATTERNS.iter() {
        for captures in pattern.regex.captures_iter(text) {
            let Some(m) = captures.get(pattern.group) else {
                continue;
            };
            raw.push((m.start(), m.end(), pattern.rule, String::new()));
        }
    }
    for (rule, value, context) in named_findings(text) {
        // The value where it sits in the text: the first occurrence not yet
        // claimed by a finding of the same value.
        let mut from = 0;
        while let Some(at) = text[from..].find(&value) {
            let start = from + at;
            let end = start + value.len();
            if !raw
                .iter()
                .any(|(s, e, r, _)| *s == start && *e == end && *r == rule)
            {
                raw.push((start, end, rule, context.clone()));
                break;
            }
            from = end;
        }
    }
    // Overlapping findings: the most specific rule speaks for the text.
    let rank = |rule: &str| {
        RULES
            .iter()
            .position(|r| r.id == rule)
            .unwrap_or(usize::MAX)
    };
    raw.sort_by_key(|(start, end, rule, _)| (rank(rule), *start, *end));
    let mut kept: Vec<(usize, usize, &'static str, String)> = Vec::new();
    for finding in raw {
        let overlaps = kept
            .iter()
            .any(|(s, e, _, _)| finding.0 < *e && *s < finding.1);
        let value = &text[finding.0..finding.1];
        if overlaps || is_placeholder(value) || allow.iter().any(|a| a.is_match(value)) {
            continue;
        }
        kept.push(finding);
    }
    kept.sort_by_key(|(start, ..)| *start);
    kept.into_iter()
        .map(|(start, end, rule, context)| {
            let (line, column) = position(text, start);
            let description = RULES
                .iter()
                .find(|r| r.id == rule)
                .map(|r| r.description)
                .unwrap_or(rule);
            let context = if context.is_empty() {
                String::new()
            } else {
                format!(" ({context})")
            };
            Finding {
                path: path.to_path_buf(),
                line,
                column,
                rule,
                message: format!("{description}{context}: {}", mask(&text[start..end])),
                span: (start, end),
            }
        })
        .collect()
}

/// The 1-based line and column of byte `offset`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, text[line_start..offset].chars().count() + 1)
}

/// The first few characters of a secret, the rest hidden.
fn mask(value: &str) -> String {
    let first_line = value.lines().next().unwrap_or_default();
    let shown: String = first_line.chars().take(4).collect();
    format!("{shown}… ({} characters)", value.chars().count())
}

/// The findings that come from names: (rule, the value, where it was).
fn named_findings(text: &str) -> Vec<(&'static str, String, String)> {
    let tree: Option<Value> = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).ok()
    } else {
        crate::yaml::parse::<crate::yaml::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_value(v).ok())
    };
    let mut out = Vec::new();
    if let Some(tree) = tree {
        walk(&tree, None, false, 0, &mut out);
    }
    out
}

/// How deep [`walk`] goes, bodies inside bodies included.
const MAX_DEPTH: usize = 64;

/// Walks a tree: `key` is the name the value sits under, `in_headers`
/// whether that name is a header's.
fn walk(
    value: &Value,
    key: Option<&str>,
    in_headers: bool,
    depth: usize,
    out: &mut Vec<(&'static str, String, String)>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    // What sits under `headers:` names headers.
    let inside = in_headers || key.is_some_and(|k| k.eq_ignore_ascii_case("headers"));
    match value {
        Value::Object(map) => {
            // HAR's {"name": …, "value": …} pairs are named values.
            if let (Some(Value::String(name)), Some(inner)) = (map.get("name"), map.get("value")) {
                walk(inner, Some(name), inside, depth + 1, out);
                return;
            }
            for (name, inner) in map {
                walk(inner, Some(name), inside, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, key, inside, depth + 1, out);
            }
        }
        Value::String(text) => classify(text, key, in_headers, depth, out),
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

fn classify(
    text: &str,
    key: Option<&str>,
    in_headers: bool,
    depth: usize,
    out: &mut Vec<(&'static str, String, String)>,
) {
    if let Some(name) = key {
        if in_headers && is_credential_header(name) && substantial(name, text) {
            out.push((
                "credential-header",
                text.to_owned(),
                format!("header {name}"),
            ));
            return;
        }
        if is_secret_name(name) {
            out.push(("secret-json-key", text.to_owned(), format!("key {name}")));
            return;
        }
        if suggests_secret(name) && looks_random(text) {
            out.push((
                "high-entropy-secret",
                text.to_owned(),
                format!("key {name}"),
            ));
            return;
        }
    }
    // A URL: its query parameters by name.
    if text.contains("://")
        && text.contains('?')
        && let Ok(url) = url::Url::parse(text.trim())
    {
        for (name, value) in url.query_pairs() {
            if value.is_empty() {
                continue;
            }
            if is_secret_name(&name) || (suggests_secret(&name) && looks_random(&value)) {
                // The value as written in the URL (percent-encoded).
                let written = url
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| {
                        url::form_urlencoded::parse(k.as_bytes())
                            .next()
                            .map(|(k, _)| k == name)
                            .unwrap_or(false)
                    })
                    .map(|(_, v)| v.to_owned())
                    .unwrap_or_else(|| value.to_string());
                out.push(("secret-query-param", written, format!("query {name}")));
            }
        }
    }
    // A JSON body stored as a string (VCR, HAR): its keys too.
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(inner) = serde_json::from_str::<Value>(text)
    {
        walk(&inner, None, false, depth + 1, out);
    }
}

/// Replaces every finding's text with a placeholder.
pub fn fixed(text: &str, findings: &[Finding]) -> String {
    let mut spans: Vec<(usize, usize)> = findings.iter().map(|f| f.span).collect();
    spans.sort();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// The files under `paths` to scan.
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path)
            .map_err(|err| Error::invalid(format!("cannot read {}: {err}", path.display())))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|err| Error::invalid(format!("cannot list {}: {err}", path.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        || matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yaml" | "yml" | "json" | "har")
                        )
                })
                .collect();
            entries.sort();
            stack.extend(entries.into_iter().rev());
        } else if seen.insert(path.clone()) {
            out.push(path);
        }
    }
    Ok(out)
}

fn allowlist(args: &LintArgs) -> Result<Vec<Regex>> {
    let mut patterns: Vec<(String, String)> = args
        .allow
        .iter()
        .map(|p| (p.clone(), "--allow".to_owned()))
        .collect();
    if let Some(file) = &args.allowlist {
        let text = std::fs::read_to_string(file).map_err(|err| {
            Error::invalid(format!("cannot read allowlist {}: {err}", file.display()))
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                patterns.push((line.to_owned(), format!("{}:{}", file.display(), n + 1)));
            }
        }
    }
    patterns
        .into_iter()
        .map(|(pattern, place)| {
            Regex::new(&pattern)
                .map_err(|err| Error::invalid(format!("{place}: invalid regex {pattern:?}: {err}")))
        })
        .collect()
}

/// Runs `wiretape lint`: exit 0 when clean, 1 with findings (after
/// `--fix`: when a file could not be fixed).
pub async fn run(args: LintArgs) -> ExitCode {
    match lint(&args) {
        Ok(findings) => {
            print(&findings, args.format, args.fix);
            if findings.is_empty() || args.fix {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(FINDINGS)
            }
        }
        Err(err) => fail(&err),
    }
}

fn lint(args: &LintArgs) -> Result<Vec<Finding>> {
    let allow = allowlist(args)?;
    let mut all = Vec::new();
    for path in files(&args.paths)? {
        let text = std::fs::read_to_string(&path)
            .map_err(|err| Error::invalid(format!("cannot read {}: {err}", path.display())))?;
        let findings = scan(&path, &text, &allow);
        if args.fix && !findings.is_empty() {
            write_atomic(&path, fixed(&text, &findings).as_bytes())?;
        }
        all.extend(findings);
    }
    Ok(all)
}

fn print(findings: &[Finding], format: OutputFormat, fixed: bool) {
    match format {
        OutputFormat::Json => {
            let list: Vec<Value> = findings
                .iter()
                .map(|f| {
                    json!({
                        "path": f.path.display().to_string(),
                        "line": f.line,
                        "column": f.column,
                        "rule": f.rule,
                        "message": f.message,
                        "fixed": fixed,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        OutputFormat::Github => {
            let level = if fixed { "warning" } else { "error" };
            for f in findings {
                println!(
                    "::{level} file={},line={},col={},title=wiretape lint {}::{}",
                    f.path.display(),
                    f.line,
                    f.column,
                    f.rule,
                    f.message.replace('%', "%25").replace('\n', "%0A")
                );
            }
        }
        OutputFormat::Text => {
            let style = anstyle::Style::new().bold();
            for f in findings {
                anstream::println!(
                    "{style}{}:{}:{}{style:#}: {}: {}{}",
                    f.path.display(),
                    f.line,
                    f.column,
                    f.rule,
                    f.message,
                    if fixed { " (fixed)" } else { "" }
                );
            }
            if findings.is_empty() {
                eprintln!("wiretape: no secrets found");
            } else if fixed {
                eprintln!(
                    "wiretape: replaced {} secret(s) with {REDACTED}",
                    findings.len()
                );
            } else {
                eprintln!(
                    "wiretape: {} secret(s) found; `wiretape lint --fix` replaces them with {REDACTED}",
                    findings.len()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_cookie_is_not_a_credential_but_a_long_one_is() {
        assert!(!substantial(
            "Set-Cookie",
            "a=1; Path=/; Domain=example.test"
        ));
        assert!(substantial("cookie", "a=1; sid=9f8e7d6c5b4a"));
        assert!(substantial("x-api-key", "plain-api-key"));
    }

    #[test]
    fn placeholders_and_low_entropy_values_are_not_secrets() {
        for value in ["<REDACTED>", "Bearer <TOKEN>", "***", "FILTERED", ""] {
            assert!(is_placeholder(value), "{value}");
        }
        assert!(!is_placeholder("Bearer abc123def456"));
        assert!(!looks_random("aaaaaaaaaaaaaaaaaaaa"));
        assert!(looks_random("Zx8kQ2pL9vR4tY7wB1nM5cJ6"));
    }

    #[test]
    fn a_finding_sits_where_the_value_is_and_fix_replaces_only_it() {
        let text = "a: 1\nheaders:\n  x-api-key: [plain-api-key-value]\n";
        let findings = scan(Path::new("t.yaml"), text, &[]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!((findings[0].line, findings[0].column), (3, 15));
        assert_eq!(
            fixed(text, &findings),
            "a: 1\nheaders:\n  x-api-key: [<REDACTED>]\n"
        );
    }

    #[test]
    fn har_name_value_pairs_are_headers_and_query_params() {
        let text = r#"{"log": {"entries": [{"request": {
  "url": "https://api.test/x?api_key=k3y-f0r-the-api",
  "headers": [{"name": "X-Api-Key", "value": "plain-api-key-value"}],
  "queryString": [{"name": "page", "value": "2"}]}}]}}"#;
        let findings = scan(Path::new("t.har"), text, &[]);
        let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(
            rules,
            ["secret-query-param", "credential-header"],
            "{findings:?}"
        );
        assert_eq!(findings[1].line, 3);
    }

    #[test]
    fn a_deeply_nested_file_is_walked_only_so_far() {
        let text = format!("{}1{}", "[".repeat(500), "]".repeat(500));
        assert!(scan(Path::new("deep.json"), &text, &[]).is_empty());
    }
}
