//! Scene: record real traffic to a cassette, shut the API down, replay it.

use wiretape::cassette::{Cassette, Environment, Mode};
use wiretape::engine::HyperEngine;
use wiretape::mock::{MockEngine, respond_json};
use wiretape::{Client, Error, server};

/// Records a call to an embedded API through the real engine, stops the
/// API, replays the call offline from the YAML file, and shows a miss.
pub async fn run() -> wiretape::Result<()> {
    // An API to record: in real life, a staging server.
    let api = MockEngine::new(|request| async move {
        let id: u32 = request
            .url()
            .path()
            .trim_start_matches("/users/")
            .parse()
            .unwrap_or(0);
        Ok(respond_json(
            &serde_json::json!({"id": id, "name": "Ada Lovelace"}),
        ))
    });
    let server = server::serve(api, "127.0.0.1:0").await?;
    let user_url = server.url("/users/7");
    let unknown_url = server.url("/users/8");

    let dir = tempfile::tempdir()
        .map_err(|err| Error::invalid(format!("cannot create a temporary folder: {err}")))?;
    let path = dir.path().join("users.yaml");

    // The tour picks its modes itself; a test would use the default
    // `Mode::Once` and let WIRETAPE_RECORD and CI decide.
    let recorder = Cassette::builder(&path)
        .mode(Mode::Record)
        .environment(Environment::clean())
        .build(HyperEngine::default())?;
    let client = Client::builder().engine(recorder.clone()).build()?;
    let live = fetch_user(&client, &user_url).await?;
    println!("recorded  GET {user_url} -> {live}");
    let report = recorder.finish()?;
    server.shutdown().await;
    println!(
        "wrote {} interaction to {}, and stopped the API",
        report.recorded,
        path.display()
    );

    let yaml = std::fs::read_to_string(&path)
        .map_err(|err| Error::invalid(format!("cannot read {}: {err}", path.display())))?;
    println!("the cassette (the token never reached disk):");
    for line in yaml.lines().take(24) {
        println!("    {line}");
    }

    let player = Cassette::builder(&path)
        .mode(Mode::Replay)
        .environment(Environment::clean())
        .build(HyperEngine::default())?;
    let client = Client::builder().engine(player).build()?;
    let replayed = fetch_user(&client, &user_url).await?;
    println!(
        "replayed  GET {user_url} -> {replayed} (identical: {})",
        replayed == live
    );

    match client.get(&unknown_url).send().await {
        Err(miss) => {
            println!("a request the tape never saw fails and says why:");
            for line in miss.to_string().lines() {
                println!("    {line}");
            }
        }
        Ok(response) => println!("unexpected answer: {}", response.status()),
    }
    Ok(())
}

/// The call the scene records and replays, with a credential that must not
/// reach the cassette.
async fn fetch_user(client: &Client, url: &str) -> wiretape::Result<String> {
    client
        .get(url)
        .header("authorization", "Bearer tour-secret-token")
        .send()
        .await?
        .text()
        .await
}
