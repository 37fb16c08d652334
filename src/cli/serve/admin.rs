//! The admin API of `wiretape serve`, under [`ADMIN_PREFIX`], so that a
//! test in any language can do over HTTP what a Rust test does with a
//! [`Router`]: read the journal, verify expectations, reset, and add or
//! remove routes at runtime (WireMock's admin API, in wiretape's words).
//!
//! | request | answer |
//! |---|---|
//! | `GET /__wiretape/requests` | `200`, the journal as JSON |
//! | `POST /__wiretape/verify` | `200` with the report, or `417` listing what was unmet |
//! | `POST /__wiretape/reset` | `200`: journal, counts and scenarios cleared, the fault plan rewound, runtime routes gone |
//! | `POST /__wiretape/routes` | `201`: routes added (route-file YAML or JSON, one route or `routes: [...]`) |
//! | `DELETE /__wiretape/routes/{name}` | `200`, or `404` when no route has that name |

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::engine::{BoxFuture, Capabilities, Engine};
use crate::mock::Router;
use crate::mock::router::Answer;
use crate::ws::WsConnection;
use crate::{Error, Request, Response, Result};

/// The path prefix the admin API answers under; nothing below it reaches
/// routes or cassettes.
pub const ADMIN_PREFIX: &str = "/__wiretape/";

/// The engine `serve` puts on the socket: admin requests answered here,
/// everything else by the router (and its cassette fallback).
#[derive(Clone)]
pub struct Admin {
    router: Router,
    route_files: Vec<PathBuf>,
}

impl Admin {
    /// Admin over `router`, whose routes came from `route_files` (a reset
    /// loads them again).
    pub fn new(router: Router, route_files: Vec<PathBuf>) -> Admin {
        Admin {
            router,
            route_files,
        }
    }

    /// The router requests go to.
    pub fn router(&self) -> &Router {
        &self.router
    }

    async fn answer(&self, mut request: Request) -> Result<Response> {
        let path = request.url().path().to_owned();
        let rest = path.strip_prefix(ADMIN_PREFIX).unwrap_or_default();
        let method = request.method().clone();
        Ok(match (&method, rest) {
            (&Method::GET, "requests") => json_response(StatusCode::OK, self.journal()),
            (&Method::POST, "verify") => self.verify(),
            (&Method::POST, "reset") => self.reset(),
            (&Method::POST, "routes") => {
                let body = request.take_body().collect().await?;
                self.add_routes(&body)
            }
            (&Method::DELETE, name) if name.starts_with("routes/") => {
                self.remove_route(&name["routes/".len()..])
            }
            _ => json_response(
                StatusCode::NOT_FOUND,
                json!({
                    "error": format!("no admin endpoint {method} {path}"),
                    "endpoints": [
                        "GET /__wiretape/requests",
                        "POST /__wiretape/verify",
                        "POST /__wiretape/reset",
                        "POST /__wiretape/routes",
                        "DELETE /__wiretape/routes/{name}",
                    ],
                }),
            ),
        })
    }

    fn journal(&self) -> Value {
        let requests: Vec<Value> = self
            .router
            .journal()
            .iter()
            .map(|entry| {
                let request = entry.request();
                let mut headers = serde_json::Map::new();
                for (name, value) in request.headers() {
                    let list = headers
                        .entry(name.as_str().to_owned())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = list {
                        list.push(Value::String(
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        ));
                    }
                }
                let body = request.body().as_bytes().cloned().unwrap_or_default();
                let (text, base64) = match std::str::from_utf8(&body) {
                    Ok(text) => (Value::String(text.to_owned()), Value::Null),
                    Err(_) => (
                        Value::Null,
                        Value::String(base64::engine::general_purpose::STANDARD.encode(&body)),
                    ),
                };
                let answered_by = match entry.answer() {
                    Answer::Route { label, .. } => label.to_string(),
                    Answer::Fallback => "cassette".to_owned(),
                    Answer::Unmatched => "nothing".to_owned(),
                };
                json!({
                    "method": request.method().as_str(),
                    "url": request.url().as_str(),
                    "path": request.url().path(),
                    "query": request.url().query(),
                    "headers": headers,
                    "body": text,
                    "body_base64": base64,
                    "answered_by": answered_by,
                })
            })
            .collect();
        json!({ "requests": requests })
    }

    fn verify(&self) -> Response {
        let verification = self.router.verify();
        let unmet: Vec<Value> = verification
            .unmet
            .iter()
            .map(|unmet| {
                json!({
                    "route": unmet.route,
                    "expected": unmet.expected.to_string(),
                    "calls": unmet.calls,
                    "requests": unmet.requests,
                })
            })
            .collect();
        let status = if verification.is_ok() {
            StatusCode::OK
        } else {
            StatusCode::EXPECTATION_FAILED
        };
        json_response(
            status,
            json!({
                "ok": verification.is_ok(),
                "report": verification.to_string(),
                "unmet": unmet,
                "broken": verification.broken,
                "unmatched": verification.unmatched,
            }),
        )
    }

    fn reset(&self) -> Response {
        self.router.reset();
        for file in &self.route_files {
            if let Err(err) = self.router.load_yaml_file(file) {
                return json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": format!("reset could not reload {}: {err}", file.display()) }),
                );
            }
        }
        json_response(
            StatusCode::OK,
            json!({ "reset": true, "routes": self.router.len() }),
        )
    }

    fn add_routes(&self, body: &[u8]) -> Response {
        let origin = Path::new("POST /__wiretape/routes");
        let added = std::str::from_utf8(body)
            .map_err(|_| Error::invalid("the route body is not UTF-8 text"))
            .and_then(|text| route_file_text(text, origin))
            .and_then(|text| self.router.load_yaml_str(&text, origin));
        match added {
            Ok(ids) => json_response(
                StatusCode::CREATED,
                json!({ "added": ids.len(), "routes": self.router.len() }),
            ),
            Err(err) => json_response(StatusCode::BAD_REQUEST, json!({ "error": err.to_string() })),
        }
    }

    fn remove_route(&self, encoded: &str) -> Response {
        let name: String = url::form_urlencoded::parse(format!("n={encoded}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .next()
            .unwrap_or_default();
        match self.router.remove_named(&name) {
            0 => json_response(
                StatusCode::NOT_FOUND,
                json!({ "error": format!("no route is named {name:?}") }),
            ),
            removed => json_response(
                StatusCode::OK,
                json!({ "removed": removed, "routes": self.router.len() }),
            ),
        }
    }
}

/// A route file's text for what was posted: a whole file (`routes: [...]`)
/// as it is, one route or a list of routes wrapped into one.
fn route_file_text(text: &str, origin: &Path) -> Result<String> {
    let value: crate::yaml::Value = crate::yaml::from_str(text, origin)?;
    if value.get("routes").is_some() {
        return Ok(text.to_owned());
    }
    let routes = match value {
        crate::yaml::Value::Sequence(list) => list,
        crate::yaml::Value::Mapping(_) => vec![value],
        _ => {
            return Err(Error::invalid(format!(
                "{}: expected a route (a mapping with request and response) or `routes: [...]`",
                origin.display()
            )));
        }
    };
    #[derive(serde::Serialize)]
    struct File {
        routes: Vec<crate::yaml::Value>,
    }
    crate::yaml::to_string(&File { routes })
}

fn json_response(status: StatusCode, value: Value) -> Response {
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    Response::new(status)
        .with_header("content-type", "application/json")
        .with_body(text)
}

/// A cassette miss in command-line words: the flags to use instead of the
/// library's methods and environment variables.
fn miss_response(miss: &crate::cassette::CassetteMiss) -> Response {
    let summary = miss
        .summary()
        .replace("allow_playback_repeats(true)", "serve --repeat");
    let mut text = format!("cassette miss: {summary}\n");
    text.push_str(&format!("  matching on: {}\n", miss.matchers().join(", ")));
    for near in miss.closest() {
        text.push_str(&format!(
            "  closest recorded request #{}{}: {}\n    passed: {}\n    failed: {}\n",
            near.index,
            if near.used { " (already replayed)" } else { "" },
            near.request,
            list_or_none(&near.passed),
            list_or_none(&near.failed),
        ));
    }
    if let Some(diff) = miss.diff() {
        text.push_str("  diff from the closest recorded request to this one:\n");
        for line in diff.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text.push_str(
        "  to record what is missing, serve with --upstream URL (or use wiretape record)\n",
    );
    Response::new(StatusCode::NOT_FOUND)
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_header("x-wiretape-error", "cassette_miss")
        .with_body(text)
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

impl Engine for Admin {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async move {
            if request.url().path().starts_with(ADMIN_PREFIX) {
                return self.answer(request).await;
            }
            match self.router.execute(request).await {
                Err(Error::CassetteMiss(miss)) => Ok(miss_response(&miss)),
                other => other,
            }
        })
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        self.router.websocket(request)
    }

    fn capabilities(&self) -> Capabilities {
        self.router.capabilities()
    }
}
