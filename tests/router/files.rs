//! YAML route files: loaded, served on a loopback socket, called for real.

use std::path::Path;

use serde_json::json;
use wiretape::mock::Router;
use wiretape::{Client, ErrorKind, StatusCode, server};

const ROUTES: &str = "fixtures/routes/users-api.yaml";

#[tokio::test]
async fn a_route_file_served_on_loopback_answers_the_real_engine() {
    let router = Router::from_yaml_file(ROUTES).unwrap();
    assert_eq!(router.len(), 6);
    let server = server::serve(router.clone(), "127.0.0.1:0").await.unwrap();
    let client = Client::new();

    let users: serde_json::Value = client
        .get(server.url("/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        users[1]["name"], "Grace Hopper",
        "the body file is found next to the route file"
    );

    let user = client
        .get(server.url("/users/1"))
        .bearer_auth("token")
        .send()
        .await
        .unwrap();
    assert_eq!(user.headers()["x-served-by"], "wiretape");
    assert_eq!(
        user.json::<serde_json::Value>().await.unwrap(),
        json!({"id": 1, "name": "Ada Lovelace"})
    );

    let created = client
        .post(server.url("/users"))
        .json(&json!({"name": "Grace Hopper", "team": "navy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], "/users/2");

    let search = client
        .get(server.url("/search?page=2&q=rust"))
        .send()
        .await
        .unwrap();
    assert_eq!(search.text().await.unwrap(), "2 results");

    let mut health = Vec::new();
    for _ in 0..4 {
        health.push(
            client
                .get(server.url("/health"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(health, [503, 503, 200, 200]);

    let reset = client
        .get(server.url("/legacy/report"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            reset.kind(),
            ErrorKind::ConnectionReset | ErrorKind::Protocol | ErrorKind::Io
        ),
        "the server drops the connection: {reset}"
    );

    // A miss comes back over the wire as a 404 carrying the near-miss report.
    let miss = client.get(server.url("/users/1")).send().await.unwrap();
    assert_eq!(miss.status(), StatusCode::NOT_FOUND);
    let report = miss.text().await.unwrap();
    assert!(
        report.contains("route \"get user\": 2 of 3 checks passed"),
        "{report}"
    );
    assert!(
        report.contains("✗ header authorization is present"),
        "{report}"
    );

    server.shutdown().await;
    assert!(router.verify().is_ok(), "{}", router.verify());
}

fn load_error(text: &str) -> String {
    let router = Router::new();
    let err = router
        .load_yaml_str(text, Path::new("routes/bad.yaml"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(router.is_empty(), "a bad file adds no route");
    err.to_string()
}

#[test]
fn bad_values_are_reported_at_their_line_and_column() {
    let bad_method = load_error("routes:\n  - request:\n      method: \"GE T\"\n");
    assert!(
        bad_method.starts_with("invalid input: routes/bad.yaml:3:15: "),
        "{bad_method}"
    );
    assert!(
        bad_method.contains("\"GE T\" is not a valid HTTP method"),
        "{bad_method}"
    );

    let bad_regex = load_error("routes:\n  - request:\n      path: /a\n      path_regex: \"([\"\n");
    assert!(bad_regex.contains("routes/bad.yaml:4:19: "), "{bad_regex}");
    assert!(bad_regex.contains("invalid regex"), "{bad_regex}");

    let bad_template = load_error("routes:\n  - request: {path: \"/a/{*rest}/b\"}\n");
    assert!(
        bad_template.contains("routes/bad.yaml:2:21: "),
        "{bad_template}"
    );
    assert!(
        bad_template.contains("must be the last segment"),
        "{bad_template}"
    );

    let bad_status = load_error("routes:\n  - response:\n      status: 1000\n");
    assert!(
        bad_status.contains("routes/bad.yaml:3:15: "),
        "{bad_status}"
    );
    assert!(
        bad_status.contains("\"1000\" is not an HTTP status"),
        "{bad_status}"
    );

    let bad_header = load_error("routes:\n  - request:\n      headers: {\"x bad\": 1}\n");
    assert!(
        bad_header.contains("routes/bad.yaml:3:17: "),
        "{bad_header}"
    );

    let unknown_field = load_error("routes:\n  - request:\n      methd: GET\n");
    assert!(
        unknown_field.contains("routes/bad.yaml:3:7: routes[0].request: unknown field `methd`"),
        "{unknown_field}"
    );

    let not_yaml = load_error("routes: [\n");
    assert!(not_yaml.contains("routes/bad.yaml:"), "{not_yaml}");
}

#[test]
fn route_level_mistakes_name_the_file_and_route() {
    let two_kinds = load_error("routes:\n  - response: {error: reset, body: {text: x}}\n");
    assert!(
        two_kinds.contains("routes/bad.yaml: route 1: a response has one of body"),
        "{two_kinds}"
    );

    let missing_file = load_error("routes:\n  - {}\n  - response: {body: {file: nope.json}}\n");
    assert!(
        missing_file.contains("routes/bad.yaml: route 2: body file \"nope.json\" not found"),
        "{missing_file}"
    );

    let counts = load_error("routes:\n  - {times: 1, at_least: 2}\n");
    assert!(
        counts.contains("route 1: use either times, or at_least and/or at_most"),
        "{counts}"
    );

    let err = Router::from_yaml_file("fixtures/routes/absent.yaml").unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read route file fixtures/routes/absent.yaml"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_file_vocabulary_covers_scenarios_streams_delays_and_auth() {
    let yaml = r#"
routes:
  - request: {method: POST, path: /login, body: {form: {user: ada}}, basic: {user: ada, password: pw}}
    response: {body: {text: welcome}, delay_ms: 1500}
  - request: {path: /feed, query_regex: {since: '^\d+$'}, header_regex: {accept: event-stream}}
    response: {sse: [one, two], chunk_delay_ms: 100}
  - name: first
    up_to: 1
    scenario: {name: wizard, when: Started, set: done}
    request: {path: /step}
    response: {body: {base64: aGk=}}
  - request: {path: /step}
    scenario: {name: wizard, when: done}
    response: {status: 204}
"#;
    let router = Router::new();
    router
        .load_yaml_str(yaml, Path::new("inline.yaml"))
        .unwrap();
    let client = wiretape::Client::builder()
        .engine(router.clone())
        .base_url("http://api.test")
        .build()
        .unwrap();

    let start = tokio::time::Instant::now();
    let login = client
        .post("/login")
        .basic_auth("ada", Some("pw"))
        .form(&[("user", "ada")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.text().await.unwrap(), "welcome");
    assert_eq!(start.elapsed(), std::time::Duration::from_millis(1500));

    let feed = client
        .get("/feed?since=42")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(feed.text().await.unwrap(), "data: one\n\ndata: two\n\n");

    let first = client.get("/step").send().await.unwrap();
    assert_eq!(first.bytes().await.unwrap(), "hi");
    assert_eq!(
        client.get("/step").send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(router.scenario_state("wizard"), "done");
}

#[tokio::test]
async fn scalar_values_mean_what_is_written_not_what_yaml_makes_of_them() {
    // A version `1.10`, a zero-padded id `007`, `2.0`: YAML reads them as
    // numbers, but a query or header value is the text as written.
    let yaml = r#"
routes:
  - request:
      path: /items
      query: {v: 1.10, id: 007, on: yes}
      headers: {x-api-version: 2.0}
      body: {form: {code: 0x1F}}
    response:
      headers: {x-build: 1.50}
      body: {text: found}
"#;
    let router = Router::new();
    router
        .load_yaml_str(yaml, Path::new("inline.yaml"))
        .unwrap();
    let found = crate::client(&router)
        .post("/items?v=1.10&id=007&on=yes")
        .header("x-api-version", "2.0")
        .form(&[("code", "0x1F")])
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(found.headers()["x-build"], "1.50");
    assert_eq!(found.text().await.unwrap(), "found");
}

#[test]
fn body_files_must_stay_in_the_route_files_directory_unless_allowed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.json"), "[1]").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/deeper.txt"), "deeper").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    let secret = outside.path().join("secret.txt");
    let escapes = [
        "/etc/passwd".to_owned(),
        secret.display().to_string(),
        format!(
            "../{}/secret.txt",
            outside.path().file_name().unwrap().to_string_lossy()
        ),
        "link.txt".to_owned(),
    ];
    let routes = dir.path().join("routes.yaml");
    for escape in &escapes {
        if escape == "link.txt" && !cfg!(unix) {
            continue;
        }
        let yaml = format!("routes:\n  - {{}}\n  - response: {{body: {{file: {escape:?}}}}}\n");
        std::fs::write(&routes, yaml).unwrap();
        let err = Router::new()
            .without_drop_verification()
            .load_yaml_file(&routes)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("route 2: body file")
                && err.contains("is outside the route file's directory"),
            "{escape}: {err}"
        );
        assert!(
            err.contains("allow_body_files_from"),
            "says how to allow it: {err}"
        );
    }

    // Next to the file and below it is fine.
    let yaml = "routes:\n  - request: {path: /a}\n    response: {body: {file: ok.json}}\n  \
                - request: {path: /b}\n    response: {body: {file: sub/../sub/deeper.txt}}\n";
    std::fs::write(&routes, yaml).unwrap();
    let router = Router::new().without_drop_verification();
    assert_eq!(router.load_yaml_file(&routes).unwrap().len(), 2);

    // And an allowed directory is fine too.
    let yaml = format!(
        "routes:\n  - response: {{body: {{file: {:?}}}}}\n",
        secret.display().to_string()
    );
    std::fs::write(&routes, yaml).unwrap();
    let router = Router::new()
        .without_drop_verification()
        .allow_body_files_from(outside.path());
    assert_eq!(router.load_yaml_file(&routes).unwrap().len(), 1);
}

#[tokio::test]
async fn a_large_route_file_loads_in_one_change_and_keeps_priority_order() {
    let mut yaml = String::from("routes:\n");
    for i in 0..3_000 {
        // Every 7th route a lower priority number: these sort first.
        let priority = if i % 7 == 0 { 1 } else { 5 };
        yaml.push_str(&format!(
            "  - {{priority: {priority}, request: {{method: GET, path: \"/things/{{id}}\"}}, \
             response: {{body: {{text: \"route {i}\"}}}}}}\n  \
             - {{request: {{method: GET, path: /items{i}}}, response: {{body: {{text: \"item {i}\"}}}}}}\n"
        ));
    }
    let router = Router::new().without_drop_verification();
    let ids = router.load_yaml_str(&yaml, Path::new("many.yaml")).unwrap();
    assert_eq!((ids.len(), router.len()), (6_000, 6_000));
    let client = crate::client(&router);
    assert_eq!(
        crate::get_text(&client, "/things/1").await,
        "route 0",
        "the first of the priority-1 routes wins"
    );
    assert_eq!(crate::get_text(&client, "/items2999").await, "item 2999");
    assert_eq!(crate::get_text(&client, "/items0").await, "item 0");
    // Routes added one by one afterwards still sort by priority.
    router.mock(
        wiretape::mock::Route::given(wiretape::mock::matchers::path("/things/{id}"))
            .priority(0)
            .respond_with(wiretape::mock::responders::text("newest, priority 0")),
    );
    assert_eq!(
        crate::get_text(&client, "/things/1").await,
        "newest, priority 0"
    );
}
