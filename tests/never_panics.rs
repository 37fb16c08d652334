//! "Never panics, never hangs": every reader of outside files (cassettes,
//! route files, Ruby VCR, vcrpy, HAR, format detection) gets mutated real
//! files and the known pathological inputs, each under a time limit, and
//! must answer with a value or an error. An import that succeeds must give a
//! cassette that opens.
//!
//! The number of generated cases is small by default, so the suite stays
//! fast; `WIRETAPE_FUZZ_CASES=20000 cargo test --release --test
//! never_panics` runs more. A failing case is printed with proptest's
//! seed and kept in `never_panics.proptest-regressions`.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use wiretape::cassette::{Tape, import};
use wiretape::mock::Router;

/// How long one input may take (a debug build on a busy machine).
const LIMIT: Duration = Duration::from_secs(20);

fn fixture(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Every reader, on `text`. Panics (with the reader's name) if one panics,
/// or if an import succeeds with a cassette that does not reopen.
fn read_everything(text: &str) {
    let origin = Path::new("fuzz.yaml");
    let _ = import::detect(text);
    if let Ok(tape) = Tape::from_yaml(text, origin) {
        let yaml = tape.to_yaml().expect("a tape that opened writes");
        Tape::from_yaml(&yaml, origin).expect("a tape that opened reopens once written");
    }
    let _ = Router::new().load_yaml_str(text, origin);
    let imports = [
        ("Ruby VCR", import::from_ruby_vcr(text, origin)),
        ("vcrpy", import::from_vcrpy(text, origin)),
        ("HAR", import::from_har(text, origin)),
    ];
    for (name, imported) in imports {
        if let Ok(tape) = imported {
            let yaml = tape.to_yaml().expect("an import writes");
            if let Err(err) = Tape::from_yaml(&yaml, origin) {
                panic!("a {name} import does not open: {err}\n{yaml}");
            }
        }
    }
}

/// Runs [`read_everything`] on another thread; fails if it panics or takes
/// longer than [`LIMIT`].
fn within_limit(text: String) -> Result<(), String> {
    let (done, finished) = mpsc::channel();
    let shown: String = text.chars().take(300).collect();
    let worker = std::thread::spawn(move || {
        read_everything(&text);
        let _ = done.send(());
    });
    match finished.recv_timeout(LIMIT) {
        Ok(()) => {
            worker
                .join()
                .map_err(|_| format!("panicked on {shown:?}"))?;
            Ok(())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked ({why}) on {shown:?}"))
            }
            Ok(()) => Ok(()),
        },
        // The thread is left behind; the test fails.
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("took longer than {LIMIT:?} on {shown:?}"))
        }
    }
}

/// The pathological inputs found so far, by name.
fn regressions() -> Vec<(&'static str, String)> {
    let laughs = {
        // A billion laughs: nine levels of nine aliases.
        let mut text = String::from("a0: &a0 [lol]\n");
        for level in 1..10 {
            let refs = vec![format!("*a{}", level - 1); 9].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        text
    };
    let bom = "\u{feff}";
    vec![
        ("100 KB of [", "[".repeat(100_000)),
        ("200 KB of [", "[".repeat(200_000)),
        ("nested { in a cassette", format!("version: 1\ninteractions: {}", "{a: ".repeat(50_000))),
        ("[ after a key in a route file", format!("routes:\n  - request: {}", "[".repeat(100_000))),
        ("compact block nesting", "- ".repeat(100_000)),
        ("indented block nesting", (0..3000).map(|i| format!("{}a:\n", " ".repeat(i))).collect()),
        ("deep JSON in HAR", format!("{{\"log\": {{\"entries\": {}", "[".repeat(100_000))),
        ("billion laughs", laughs.clone()),
        ("billion laughs as interactions", format!("{laughs}interactions: *a9\nhttp_interactions: *a9\nroutes: *a9\n")),
        ("merge-key bomb", "a: &a {x: 1}\nb: &b {<<: [*a, *a, *a]}\nc: {<<: [*b, *b, *b]}\n".into()),
        ("BOM before a cassette", format!("{bom}{}", fixture("cassettes/httpbin.yaml"))),
        ("BOM before a HAR", format!("{bom}{}", fixture("fixtures/cassettes/devtools.har"))),
        ("BOM before Ruby VCR", format!("{bom}{}", fixture("fixtures/cassettes/ruby_vcr.yml"))),
        ("BOM before routes", format!("{bom}{}", fixture("fixtures/routes/users-api.yaml"))),
        ("two BOMs", format!("{bom}{bom}version: 1\n")),
        ("control characters", "version: 1\ninteractions:\n- request: \"\u{0}\u{1}\u{7f}\"\n".into()),
        ("unclosed quote", format!("version: 1\ninteractions: \"{}", "x".repeat(100_000))),
        ("a long line", format!("version: 1\nx: {}\n", "y".repeat(1_000_000))),
        ("status 2", "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x/'}\n  response: {status: 2}\n".into()),
        ("vcr status 2", "http_interactions:\n- request: {method: get, uri: 'http://x/', headers: {}}\n  response: {status: {code: 2}, headers: {}, body: {string: hi}}\n".into()),
        ("vcr bad header", "interactions:\n- request: {method: GET, uri: 'http://x/', headers: {}, body: null}\n  response: {status: {code: 200}, headers: {'bad name': [x]}, body: {string: hi}}\n".into()),
        ("har bad uri", "{\"log\": {\"entries\": [{\"request\": {\"method\": \"GET\", \"url\": \"::\", \"headers\": []}, \"response\": {\"status\": 200, \"headers\": [], \"content\": {}}}]}}".into()),
        ("vcr !!binary junk", "http_interactions:\n- request: {method: get, uri: 'http://x/', body: {string: !!binary '%%%'}}\n".into()),
        ("huge status", "version: 1\ninteractions:\n- request: {method: GET, uri: 'http://x/'}\n  response: {status: 99999999999999999999}\n".into()),
        ("method with a space", "version: 1\ninteractions:\n- request: {method: 'G T', uri: 'http://x/'}\n  response: {status: 200}\n".into()),
    ]
}

#[test]
fn known_pathological_inputs_are_answered_quickly() {
    let mut failures = Vec::new();
    for (name, text) in regressions() {
        if let Err(why) = within_limit(text) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// One edit of a text: where (a fraction of its length), and what.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, String),
    Delete(f64, usize),
    Duplicate(f64, usize),
    Truncate(f64),
}

/// Characters that mean something to YAML, JSON or wiretape.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "[",
            "]",
            "{",
            "}",
            ":",
            ": ",
            "- ",
            ",",
            "&a ",
            "*a",
            "!!binary ",
            "!binary ",
            "|",
            ">",
            "'",
            "\"",
            "#",
            "\n",
            "\n  ",
            "\t",
            "%",
            "@",
            "`",
            "\u{feff}",
            "\u{0}",
            "\\",
            "~",
            "null",
            "2",
            "-1",
            "1e999",
            "0x",
            "status: ",
            "uri: ",
            "base64: ",
            "json: ",
            "chunks: ",
            "<<: ",
            "?",
            "version: ",
            "\"\\u0000\"",
            "{\"a\":",
            "99999999999999999999",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,8}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0.0..1.0f64, fragment()).prop_map(|(at, text)| Edit::Insert(at, text)),
        2 => (0.0..1.0f64, 1..40usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => (0.0..1.0f64, 1..200usize).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        1 => (0.0..1.0f64).prop_map(Edit::Truncate),
    ]
}

/// `text` with `edits` applied, cutting only at character boundaries.
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    let at = |text: &str, fraction: f64| {
        let mut i = ((text.len() as f64) * fraction) as usize;
        while i < text.len() && !text.is_char_boundary(i) {
            i += 1;
        }
        i.min(text.len())
    };
    let end = |text: &str, from: usize, n: usize| {
        let mut i = (from + n).min(text.len());
        while i < text.len() && !text.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    for edit in edits {
        match edit {
            Edit::Insert(f, s) => {
                let i = at(&text, *f);
                text.insert_str(i, s);
            }
            Edit::Delete(f, n) => {
                let i = at(&text, *f);
                let j = end(&text, i, *n);
                text.replace_range(i..j, "");
            }
            Edit::Duplicate(f, n) => {
                let i = at(&text, *f);
                let j = end(&text, i, *n);
                let copy = text[i..j].to_string();
                text.insert_str(j, &copy);
            }
            Edit::Truncate(f) => {
                let i = at(&text, *f);
                text.truncate(i);
            }
        }
    }
    text
}

fn seeds() -> Vec<String> {
    vec![
        fixture("cassettes/httpbin.yaml"),
        fixture("fixtures/cassettes/ruby_vcr.yml"),
        fixture("fixtures/cassettes/devtools.har"),
        fixture("fixtures/routes/users-api.yaml"),
        "interactions:\n- request:\n    body: null\n    headers: {}\n    method: GET\n    uri: http://x.test/\n  response:\n    body: {string: hi}\n    headers: {}\n    status: {code: 200, message: OK}\nversion: 1\n".to_string(),
    ]
}

fn cases() -> u32 {
    std::env::var("WIRETAPE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_inputs_never_panic_or_hang(
        seed in 0..5usize,
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let text = mutate(&seeds()[seed], &edits);
        if let Err(why) = within_limit(text) {
            prop_assert!(false, "{}", why);
        }
    }
}
