//! The file commands run as a user would: `lint` (one test per rule on
//! secrets planted in a cassette, silence on clean files, `--fix`, output
//! formats, allowlists), `convert`, `inspect`, completions and usage errors.

mod cli_support;
mod support;

use std::path::Path;

use cli_support::{run, start};
use wiretape::cassette::Tape;

/// A cassette with one planted secret per rule, each on a line of its own.
/// The secrets are assembled here so that no scanner mistakes this source
/// file for a leak.
fn planted() -> String {
    let github = format!("ghp_{}", "aB3d".repeat(9));
    let stripe = format!("sk_{}_{}", "live", "aB3dE5gH7jK9mN1pQ3sT5vX7");
    let google = format!("AIza{}", "SyaB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3");
    let aws = format!("AKIA{}", "QWERTYUIOP234567");
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiJ9.{}.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
        "eyJzdWIiOiIxMjM0In0"
    );
    let slack = format!("xoxb-{}-abcdefghijkl", "123456789012");
    let key = format!(
        "-----BEGIN RSA {}-----\\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\\n-----END RSA {}-----",
        "PRIVATE KEY", "PRIVATE KEY"
    );
    format!(
        r#"version: 1
interactions:
- request:
    method: GET
    uri: http://api.test/items?page=1&access_token=QUERYSECRETVALUE42
    headers:
      authorization:
      - Bearer BEARERTOKENVALUE42abc
      x-api-key:
      - plain-api-key-value
  response:
    status: 200
    headers:
      content-type:
      - application/json
    body:
      json:
        jwt: {jwt}
        aws: {aws}
        github: {github}
        slack: {slack}
        stripe: {stripe}
        google: {google}
        note: Basic dXNlcjpodW50ZXIy
        dsn: postgres://ada:hunter2pass@db.test/app
        client_secret: shh-not-telling
        session_blob: Zx8kQ2pL9vR4tY7wB1nM5cJ6
        pem: "{key}"
        harmless: hello world
"#
    )
}

/// Writes the planted cassette into a fresh folder.
fn planted_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planted.yaml");
    std::fs::write(&path, planted()).unwrap();
    (dir, path)
}

/// The 1-based line of the text holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not planted"))
        + 1
}

async fn lint_json(path: &Path) -> (i32, Vec<serde_json::Value>) {
    let (code, out, err) = run(&["lint", "--format", "json", path.to_str().unwrap()]).await;
    let findings: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, findings.as_array().unwrap().clone())
}

/// Asserts that `rule` fired on the line holding `needle`, and nothing else
/// fired there.
async fn assert_rule(rule: &str, needle: &str) {
    let (_dir, path) = planted_file();
    let (code, findings) = lint_json(&path).await;
    assert_eq!(code, 1, "findings exit 1");
    let line = line_of(&planted(), needle);
    let here: Vec<&serde_json::Value> = findings.iter().filter(|f| f["line"] == line).collect();
    assert_eq!(
        here.iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [rule],
        "line {line} ({needle}): {findings:#?}"
    );
    assert!(here[0]["column"].as_u64().unwrap() > 1);
    assert!(
        !here[0]["message"].as_str().unwrap().contains(needle) || needle.len() < 5,
        "the message masks the secret: {}",
        here[0]["message"]
    );
}

#[tokio::test]
async fn lint_rule_credential_header() {
    assert_rule("credential-header", "plain-api-key-value").await;
}

#[tokio::test]
async fn lint_rule_bearer_credential() {
    assert_rule("bearer-credential", "BEARERTOKENVALUE42abc").await;
}

#[tokio::test]
async fn lint_rule_basic_credential() {
    assert_rule("basic-credential", "dXNlcjpodW50ZXIy").await;
}

#[tokio::test]
async fn lint_rule_jwt() {
    assert_rule("jwt", "jwt: eyJ").await;
}

#[tokio::test]
async fn lint_rule_aws_access_key_id() {
    assert_rule("aws-access-key-id", "aws: AKIA").await;
}

#[tokio::test]
async fn lint_rule_github_token() {
    assert_rule("github-token", "github: ghp_").await;
}

#[tokio::test]
async fn lint_rule_slack_token() {
    assert_rule("slack-token", "slack: xoxb-").await;
}

#[tokio::test]
async fn lint_rule_stripe_key() {
    assert_rule("stripe-key", "stripe: sk_").await;
}

#[tokio::test]
async fn lint_rule_google_api_key() {
    assert_rule("google-api-key", "google: AIza").await;
}

#[tokio::test]
async fn lint_rule_private_key() {
    assert_rule("private-key", "pem: ").await;
}

#[tokio::test]
async fn lint_rule_url_password() {
    assert_rule("url-password", "hunter2pass").await;
}

#[tokio::test]
async fn lint_rule_secret_query_param() {
    assert_rule("secret-query-param", "QUERYSECRETVALUE42").await;
}

#[tokio::test]
async fn lint_rule_secret_json_key() {
    assert_rule("secret-json-key", "shh-not-telling").await;
}

#[tokio::test]
async fn lint_rule_high_entropy_secret() {
    assert_rule("high-entropy-secret", "Zx8kQ2pL9vR4tY7wB1nM5cJ6").await;
}

#[tokio::test]
async fn lint_is_silent_on_clean_files() {
    let (code, out, err) =
        run(&["lint", "cassettes", "fixtures/cassettes", "fixtures/routes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "");
    assert!(err.contains("no secrets found"), "{err}");
}

#[tokio::test]
async fn lint_prints_file_line_column_and_github_annotations() {
    let (_dir, path) = planted_file();
    let file = path.to_str().unwrap();
    let (code, out, _) = run(&["lint", file]).await;
    assert_eq!(code, 1);
    let line = line_of(&planted(), "aws: AKIA");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{file}:{line}:14: aws-access-key-id: "))),
        "{out}"
    );
    assert_eq!(out.lines().count(), 14, "one line per finding:\n{out}");

    let (code, out, _) = run(&["lint", "--format", "github", file]).await;
    assert_eq!(code, 1);
    assert!(
        out.lines().any(|l| l.starts_with(&format!(
            "::error file={file},line={line},col=14,title=wiretape lint aws-access-key-id::"
        ))),
        "{out}"
    );
}

#[tokio::test]
async fn lint_allowlists_harmless_values_by_flag_or_file() {
    let (dir, path) = planted_file();
    let file = path.to_str().unwrap();
    let (_, all) = lint_json(&path).await;
    let (_, out, _) = run(&["lint", "--format", "json", "--allow", "^AKIA", file]).await;
    let fewer: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(fewer.len(), all.len() - 1);
    assert!(fewer.iter().all(|f| f["rule"] != "aws-access-key-id"));

    let list = dir.path().join("allow.txt");
    std::fs::write(&list, "# known test values\n^AKIA\nhunter2pass\n").unwrap();
    let (_, out, _) = run(&[
        "lint",
        "--format",
        "json",
        "--allowlist",
        list.to_str().unwrap(),
        file,
    ])
    .await;
    let fewer: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(fewer.len(), all.len() - 2);

    std::fs::write(&list, "(unclosed\n").unwrap();
    let (code, _, err) = run(&["lint", "--allowlist", list.to_str().unwrap(), file]).await;
    assert_eq!(code, 1);
    assert!(err.contains("allow.txt:1: invalid regex"), "{err}");
}

#[tokio::test]
async fn lint_fix_leaves_a_file_that_lints_clean_and_still_replays() {
    let (_dir, path) = planted_file();
    let file = path.to_str().unwrap();
    let (code, _, err) = run(&["lint", "--fix", file]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("replaced 14 secret(s)"), "{err}");
    let (code, findings) = lint_json(&path).await;
    assert_eq!(code, 0, "{findings:#?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("hunter2pass") && !text.contains("AKIA"),
        "{text}"
    );
    assert!(text.contains("harmless: hello world"));
    Tape::load(&path).unwrap();

    let server = start(&["serve", "--cassette", file]).await;
    let response = wiretape::Client::new()
        .get(format!(
            "{}/items?page=1&access_token=%3CREDACTED%3E",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["harmless"], "hello world");
    assert_eq!(body["aws"], "<REDACTED>");
    server.stop().await;
}

/// The interactions of a tape, as what a replay depends on.
fn summary(tape: &Tape) -> Vec<(String, String, Option<u16>, Vec<u8>)> {
    tape.interactions
        .iter()
        .map(|i| {
            let response = i.response.as_ref();
            (
                i.request.method.clone(),
                i.request.uri.clone(),
                response.map(|r| r.status),
                response
                    .and_then(|r| r.body.as_ref())
                    .map(|b| b.to_bytes().unwrap().to_vec())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn convert_round_trips_the_fixtures_to_wiretape_and_back_to_har() {
    let dir = tempfile::tempdir().unwrap();
    for (fixture, count) in [
        ("fixtures/cassettes/ruby_vcr.yml", 3),
        ("fixtures/cassettes/vcrpy.yaml", 2),
        ("fixtures/cassettes/devtools.har", 4),
    ] {
        let original = wiretape::cassette::import::import_file(fixture).unwrap();
        let yaml = dir.path().join("converted.yaml");
        let har = dir.path().join("converted.har");
        let (code, out, err) = run(&["convert", fixture, yaml.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{fixture}: {err}");
        assert!(
            out.contains(&format!("wrote {count} interaction(s)")),
            "{out}"
        );
        let as_yaml = Tape::load(&yaml).unwrap();
        let (code, _, err) = run(&["convert", yaml.to_str().unwrap(), har.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{err}");
        let back = wiretape::cassette::import::import_file(&har).unwrap();
        assert_eq!(as_yaml.interactions.len(), count, "{fixture}");
        assert_eq!(
            summary(&back),
            summary(&original),
            "{fixture} via YAML and HAR"
        );
    }
}

#[tokio::test]
async fn convert_writes_ruby_vcr_and_vcrpy_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let original = Tape::load("cassettes/httpbin.yaml").unwrap();
    for to in ["ruby-vcr", "vcrpy"] {
        let out = dir.path().join(format!("{to}.yml"));
        let back = dir.path().join(format!("{to}.yaml"));
        let (code, _, err) = run(&[
            "convert",
            "cassettes/httpbin.yaml",
            out.to_str().unwrap(),
            "--to",
            to,
        ])
        .await;
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = run(&["convert", out.to_str().unwrap(), back.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            summary(&Tape::load(&back).unwrap()),
            summary(&original),
            "{to}"
        );
    }
}

#[tokio::test]
async fn convert_redacts_credentials_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("{}-{}", "vcr", "9f8e7d6c5b4a39281706");
    let vcr = dir.path().join("leaky.yml");
    std::fs::write(
        &vcr,
        format!(
            "http_interactions:\n- request:\n    method: get\n    uri: http://api.test/me\n    body: {{encoding: UTF-8, string: ''}}\n    headers:\n      Authorization:\n      - Bearer {token}\n  response:\n    status: {{code: 200, message: OK}}\n    headers: {{}}\n    body: {{encoding: UTF-8, string: me}}\n  recorded_at: Tue, 01 Nov 2011 04:58:44 GMT\nrecorded_with: VCR 6.0.0\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("clean.yaml");
    let (code, _, err) = run(&["convert", vcr.to_str().unwrap(), out.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains(&token), "{text}");
    assert!(text.contains("<REDACTED>"), "{text}");

    let (code, _, err) = run(&[
        "convert",
        vcr.to_str().unwrap(),
        out.to_str().unwrap(),
        "--no-redact",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&out).unwrap().contains(&token));
}

#[tokio::test]
async fn inspect_prints_one_line_per_interaction_or_json() {
    let (code, out, err) = run(&["inspect", "fixtures/cassettes/devtools.har"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    support::assert_mentions(
        lines[0],
        &[
            "GET",
            "https://api.example.test/v1/items?page=2",
            "-> 200",
            "21 B",
            "42 ms",
        ],
    );
    support::assert_mentions(lines[2], &["-> 101", "3 frame(s)"]);
    support::assert_mentions(lines[3], &["error connection_refused"]);

    let (code, out, _) = run(&["inspect", "--json", "fixtures/cassettes/devtools.har"]).await;
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[1]["method"], "POST");
    assert_eq!(rows[2]["frames"], 3);
    assert_eq!(rows[0]["latency_ms"], 42);
}

#[tokio::test]
async fn completions_help_and_usage_errors_follow_the_conventions() {
    let (code, out, _) = run(&["completions", "bash"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("_wiretape()"), "{out}");

    let (code, out, _) = run(&["--help"]).await;
    assert_eq!(code, 0);
    support::assert_mentions(
        &out,
        &[
            "Examples:",
            "wiretape record --upstream",
            "Exit codes: 0 ok, 1",
            "2 usage",
        ],
    );

    let (code, _, err) = run(&["lint"]).await;
    assert_eq!(code, 2, "a usage error exits 2");
    assert!(err.contains("PATH"), "{err}");

    let (code, _, err) = run(&[
        "record",
        "--upstream",
        "ftp://x.test",
        "--cassette",
        "a.yaml",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("http:// or https://"), "{err}");

    let (code, _, err) = run(&["serve", "--upstream", "http://x.test"]).await;
    assert_eq!(code, 2, "--upstream needs --cassette: {err}");

    let (code, _, err) = run(&[
        "serve",
        "--cassette",
        "fixtures/cassettes/ruby_vcr.yml",
        "--upstream",
        "http://127.0.0.1:9",
    ])
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("is a Ruby VCR cassette; convert it first"),
        "{err}"
    );

    let (code, _, err) = run(&["serve", "--cassette", "cassettes/missing.yaml"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("wiretape record --upstream URL"), "{err}");
    assert!(!err.contains("WIRETAPE_RECORD"), "{err}");
    assert!(
        !err.contains("wiretape: wiretape"),
        "no doubled prefix: {err}"
    );
}
