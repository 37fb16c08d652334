//! Hostile and odd input: every file wiretape opens (cassettes, route
//! files, Ruby VCR, vcrpy, HAR) is refused quickly with a place when it is
//! pathological, accepted with a byte-order mark, and never imported into a
//! cassette that would not open.

use std::path::Path;

use wiretape::Error;
use wiretape::cassette::{Tape, import};
use wiretape::mock::Router;

fn place(err: &Error) -> (Option<usize>, Option<usize>) {
    match err {
        Error::CassetteFile { line, column, .. } => (*line, *column),
        other => panic!("not a cassette file error: {other:?}"),
    }
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn deep_nesting_is_refused_with_its_place_in_every_yaml_reader() {
    let dir = tempfile::tempdir().unwrap();
    // 100 KB of `[` took 12.6 s in a release build before the pre-scan.
    let deep = "[".repeat(100_000);
    let cassette = write(
        dir.path(),
        "deep.yaml",
        format!("version: 1\ninteractions: {deep}"),
    );
    let err = Tape::load(&cassette).unwrap_err();
    assert!(err.to_string().contains("nesting deeper than"), "{err}");
    assert_eq!(place(&err).0, Some(2), "{err}");

    let vcr = write(dir.path(), "deep.yml", format!("http_interactions: {deep}"));
    let err = import::import_file(&vcr).unwrap_err();
    assert!(err.to_string().contains("nesting deeper than"), "{err}");
    assert_eq!(place(&err).0, Some(1), "{err}");
    let err = import::from_vcrpy(&format!("interactions:\n- {deep}"), "v.yaml").unwrap_err();
    assert!(err.to_string().contains("v.yaml:2:"), "{err}");

    let err = Router::new()
        .load_yaml_str(&format!("routes: {deep}"), Path::new("routes.yaml"))
        .unwrap_err();
    assert!(err.to_string().contains("routes.yaml:1:"), "{err}");
    assert!(err.to_string().contains("nesting deeper than"), "{err}");

    // Block nesting written compactly, and deep JSON in a HAR file.
    let compact = format!("version: 1\ninteractions:\n{}x\n", "- ".repeat(50_000));
    let err = Tape::from_yaml(&compact, "c.yaml").unwrap_err();
    assert!(err.to_string().contains("c.yaml:3:"), "{err}");
    let har = write(dir.path(), "deep.har", format!("{{\"log\": {deep}"));
    let err = import::import_file(&har).unwrap_err();
    assert!(place(&err).0.is_some(), "{err}");
}

#[test]
fn a_byte_order_mark_is_accepted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = write(
        dir.path(),
        "bom.yaml",
        "\u{feff}version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x.test/'}\n  response: {status: 204}\n",
    );
    assert_eq!(Tape::load(&cassette).unwrap().interactions.len(), 1);
    assert_eq!(
        import::import_file(&cassette).unwrap().interactions.len(),
        1
    );

    // Chrome writes HAR files with a BOM.
    let har = write(
        dir.path(),
        "chrome.har",
        "\u{feff}{\"log\": {\"version\": \"1.2\", \"entries\": [{\"request\": {\"method\": \"GET\", \"url\": \"http://x.test/\", \"headers\": []}, \"response\": {\"status\": 200, \"headers\": [], \"content\": {\"text\": \"hi\"}}}]}}",
    );
    assert_eq!(
        import::detect(&std::fs::read_to_string(&har).unwrap()),
        Some(import::Format::Har)
    );
    assert_eq!(import::import_file(&har).unwrap().interactions.len(), 1);

    let vcr = write(
        dir.path(),
        "vcr.yml",
        "\u{feff}http_interactions:\n- request: {method: get, uri: 'http://x.test/', headers: {}}\n  response: {status: {code: 200}, headers: {}, body: {string: hi}}\n",
    );
    assert_eq!(import::import_file(&vcr).unwrap().interactions.len(), 1);
    let routes =
        "\u{feff}routes:\n  - request: {method: GET, path: /hi}\n    response: {status: 200}\n";
    Router::new()
        .load_yaml_str(routes, Path::new("r.yaml"))
        .unwrap();
}

#[test]
fn errors_keep_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let head = "version: 1\ninteractions:\n";
    let cases: [(&str, String, &str, usize); 5] = [
        (
            "status",
            format!(
                "{head}- request:\n    method: GET\n    uri: http://x.test/\n  response:\n    status: 2\n"
            ),
            "invalid status 2",
            7,
        ),
        (
            "uri",
            format!(
                "{head}- request:\n    method: GET\n    uri: http://x.test/\n  response:\n    status: 200\n- request:\n    method: GET\n    uri: 'not a uri'\n  response:\n    status: 200\n"
            ),
            "invalid request uri",
            10,
        ),
        (
            "base64",
            format!(
                "{head}- request:\n    method: GET\n    uri: http://x.test/\n  response:\n    status: 200\n    body:\n      base64: '%%%'\n"
            ),
            "invalid base64",
            8,
        ),
        (
            "control",
            format!(
                "{head}- request:\n    method: GET\n    uri: http://x.test/\n  response:\n    status: 200\n    body:\n      text: \"a\u{1}b\"\n"
            ),
            "control character U+0001",
            9,
        ),
        (
            "version",
            "# a comment first\nversion: 7\ninteractions: []\n".to_string(),
            "unsupported cassette version 7",
            2,
        ),
    ];
    for (name, text, expected, line) in cases {
        let path = write(dir.path(), &format!("{name}.yaml"), &text);
        let err = Tape::load(&path).unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
        let (at, column) = place(&err);
        assert_eq!(at, Some(line), "{name}: {err}");
        assert!(column.is_some(), "{name}: {err}");
        let shown = format!("{name}.yaml:{line}:");
        assert!(err.to_string().contains(&shown), "{name}: {err}");
    }
    // The version's column is its value's, not 1.
    let err = Tape::from_yaml("version: 7\n", "v.yaml").unwrap_err();
    assert_eq!(place(&err), (Some(1), Some(10)), "{err}");

    // Bytes that are not UTF-8: where the first one is.
    let path = write(
        dir.path(),
        "latin1.yaml",
        b"version: 1\ninteractions: []\n# caf\xe9\n",
    );
    let err = Tape::load(&path).unwrap_err();
    assert_eq!(place(&err), (Some(3), Some(6)), "{err}");
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

#[test]
fn an_import_opens_as_a_cassette_or_fails_naming_the_source_entry() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |status: &str, header: &str, url: &str| {
        format!(
            "{{\"request\": {{\"method\": \"GET\", \"url\": \"{url}\", \"headers\": []}}, \"response\": {{\"status\": {status}, \"headers\": [{{\"name\": \"{header}\", \"value\": \"1\"}}], \"content\": {{\"text\": \"hi\"}}}}}}"
        )
    };
    let har = |entries: &[String]| {
        format!(
            "{{\"log\": {{\"version\": \"1.2\", \"entries\": [{}]}}}}",
            entries.join(",")
        )
    };
    let good = entry("200", "x-ok", "http://x.test/");
    for (bad, expected) in [
        (entry("2", "x-ok", "http://x.test/"), "invalid status 2"),
        (
            entry("200", "bad header", "http://x.test/"),
            "invalid header name",
        ),
        (entry("200", "x-ok", "::not a uri"), "invalid request uri"),
    ] {
        let err = import::from_har(&har(&[good.clone(), bad]), "in.har").unwrap_err();
        assert!(err.to_string().contains("log.entries[1]"), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    let err = import::from_ruby_vcr(
        "http_interactions:\n- request: {method: get, uri: 'http://x.test/', headers: {}}\n  response: {status: {code: 2}, headers: {}, body: {string: hi}}\n",
        "v.yml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("http_interactions[0]"), "{err}");
    assert!(err.to_string().contains("invalid status 2"), "{err}");

    let tape = import::from_har(&har(&[good]), "in.har").unwrap();
    let path = dir.path().join("imported.yaml");
    tape.save(&path).unwrap();
    assert_eq!(Tape::load(&path).unwrap(), tape);
}
