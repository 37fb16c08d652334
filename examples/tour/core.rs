//! Scene: the client core. A small API runs in-process on 127.0.0.1; the
//! client calls it through the real engine (HTTP and a WebSocket), then makes
//! the same calls against a MockEngine, with no socket at all.

use serde::{Deserialize, Serialize};
use wiretape::mock::{MockEngine, respond_error, respond_json, respond_json_with};
use wiretape::ws::Frame;
use wiretape::{Client, Method, Request, Response, Result, StatusCode, server};

#[derive(Debug, Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
}

/// The embedded API: `GET /users/{id}`, `POST /users`, and a WebSocket echo
/// at `/chat`, answered by a handler rather than a framework.
fn embedded_api() -> MockEngine {
    MockEngine::new(|request: Request| async move {
        let path = request.url().path().to_owned();
        Ok(
            match (request.method().clone(), path.strip_prefix("/users")) {
                (Method::GET, Some(rest)) => match rest.trim_start_matches('/').parse::<u32>() {
                    Ok(id) => respond_json(&User {
                        id,
                        name: format!("user {id}"),
                    }),
                    Err(_) => respond_error(StatusCode::NOT_FOUND),
                },
                (Method::POST, Some("")) => {
                    let body = request.body().as_bytes().cloned().unwrap_or_default();
                    match serde_json::from_slice::<serde_json::Value>(&body) {
                        Ok(mut user) => {
                            user["id"] = 7.into();
                            respond_json_with(StatusCode::CREATED, &user)
                        }
                        Err(_) => respond_error(StatusCode::BAD_REQUEST),
                    }
                }
                _ => Response::new(StatusCode::NOT_FOUND),
            },
        )
    })
    .with_websocket(|_, mut peer| async move {
        while let Some(frame) = peer.recv().await {
            match frame {
                Frame::Text(text) => {
                    let _ = peer.send_text(format!("echo: {text}")).await;
                }
                Frame::Close(close) => {
                    let _ = peer.close(close.code, "goodbye").await;
                    return;
                }
                _ => {}
            }
        }
    })
}

/// The calls the scene makes, the same whatever the engine.
async fn calls(client: &Client) -> Result<()> {
    let response = client.get("/users/42").send().await?;
    println!(
        "  GET /users/42      -> {} {:?}",
        response.status(),
        response.version()
    );
    let user: User = response.json().await?;
    println!("                        {user:?}");

    let response = client
        .post("/users")
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await?;
    println!(
        "  POST /users        -> {} {}",
        response.status(),
        response.text().await?
    );

    let response = client.get("/users/nobody").send().await?;
    match response.error_for_status().await {
        Ok(_) => println!("  GET /users/nobody  -> unexpectedly fine"),
        Err(err) => println!("  GET /users/nobody  -> error: {err}"),
    }

    let mut chat = client.websocket("/chat").await?;
    chat.send_text("hello").await?;
    println!(
        "  WS /chat           -> {:?}",
        chat.recv_text().await?.unwrap_or_default()
    );
    let close = chat.close(1000, "done").await?;
    println!(
        "                        closed: {}",
        close.map(|c| c.to_string()).unwrap_or_default()
    );
    Ok(())
}

pub async fn run() -> Result<()> {
    let api = server::serve(embedded_api(), "127.0.0.1:0").await?;
    println!(
        "An API is listening on {}; calling it through the real engine:",
        api.url("/")
    );
    let real = Client::builder().base_url(api.url("/")).build()?;
    calls(&real).await?;
    println!(
        "  ({} connection(s) opened for the HTTP calls and the WebSocket)",
        api.connections_accepted()
    );
    api.shutdown().await;

    println!("\nThe same calls against a MockEngine, in-process:");
    let engine = embedded_api();
    let mocked = Client::builder()
        .engine(engine.clone())
        .base_url("http://api.test/")
        .build()?;
    calls(&mocked).await?;
    let history: Vec<String> = engine
        .request_history()
        .iter()
        .map(|r| r.to_string())
        .collect();
    println!("  the mock saw: {}", history.join(", "));
    Ok(())
}
