//! Cache: freshness in virtual time, revalidation, no-store, Vary.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wiretape::mock::{MockEngine, respond, respond_ok};
use wiretape::plugins::{Cache, CacheStatus};
use wiretape::{Client, HeaderMap, Request, Response, StatusCode};

/// Serves version `n` of a document (n counts the full responses) with the
/// given `cache-control`, an ETag, and 304 for a matching `If-None-Match`.
fn versioned(cache_control: &'static str) -> MockEngine {
    let served = Arc::new(AtomicUsize::new(0));
    MockEngine::new(move |request: Request| {
        let served = served.clone();
        async move {
            let current = format!("\"v{}\"", served.load(Ordering::SeqCst));
            if request.header_str("if-none-match") == Some(current.as_str()) {
                return Ok(respond("", StatusCode::NOT_MODIFIED, HeaderMap::new())
                    .with_header("x-checked", "yes")
                    .with_header("content-length", "0"));
            }
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!("version {n}");
            Ok(respond_ok(body.clone())
                .with_header("content-length", body.len().to_string())
                .with_header("cache-control", cache_control)
                .with_header("etag", format!("\"v{n}\"")))
        }
    })
}

fn caching(engine: &MockEngine) -> Client {
    Client::builder()
        .engine(engine.clone())
        .cache(Cache::new())
        .build()
        .unwrap()
}

async fn get(client: &Client, url: &str) -> (Option<CacheStatus>, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.extensions().get::<CacheStatus>().copied();
    (status, response.text().await.unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_fresh_response_is_served_until_max_age_then_revalidated() {
    let engine = versioned("max-age=30");
    let client = caching(&engine);

    assert_eq!(
        get(&client, "http://doc.test/a").await,
        (Some(CacheStatus::Miss), "version 1".into())
    );
    tokio::time::advance(Duration::from_secs(29)).await;
    assert_eq!(
        get(&client, "http://doc.test/a").await,
        (Some(CacheStatus::Hit), "version 1".into())
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    let response = client.get("http://doc.test/a").send().await.unwrap();
    assert_eq!(
        response.extensions().get::<CacheStatus>(),
        Some(&CacheStatus::Revalidated)
    );
    assert_eq!(response.headers()["x-checked"], "yes");
    assert_eq!(response.headers()["content-length"], "9");
    assert_eq!(response.text().await.unwrap(), "version 1");

    let history = engine.request_history();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].headers()["if-none-match"], "\"v1\"");
}

#[tokio::test(start_paused = true)]
async fn no_cache_always_revalidates_and_no_store_never_stores() {
    let engine = versioned("no-cache");
    let client = caching(&engine);
    get(&client, "http://doc.test/").await;
    assert_eq!(
        get(&client, "http://doc.test/").await.0,
        Some(CacheStatus::Revalidated)
    );
    assert_eq!(engine.request_history().len(), 2);

    let engine = versioned("no-store, max-age=60");
    let client = caching(&engine);
    get(&client, "http://doc.test/").await;
    assert_eq!(
        get(&client, "http://doc.test/").await,
        (Some(CacheStatus::Miss), "version 2".into())
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_can_ask_for_a_fresh_copy() {
    let engine = versioned("max-age=60");
    let client = caching(&engine);
    get(&client, "http://doc.test/").await;

    let response = client
        .get("http://doc.test/")
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();

    assert_eq!(
        response.extensions().get::<CacheStatus>(),
        Some(&CacheStatus::Revalidated)
    );
    assert_eq!(engine.request_history().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn last_modified_is_used_when_there_is_no_etag() {
    let engine = MockEngine::new(|request: Request| async move {
        if request.header_str("if-modified-since") == Some("Wed, 21 Oct 2015 07:28:00 GMT") {
            return Ok(Response::new(StatusCode::NOT_MODIFIED));
        }
        Ok(respond_ok("report").with_header("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"))
    });
    let client = caching(&engine);
    get(&client, "http://doc.test/report").await;
    assert_eq!(
        get(&client, "http://doc.test/report").await,
        (Some(CacheStatus::Revalidated), "report".into())
    );
}

#[tokio::test(start_paused = true)]
async fn vary_keeps_variants_apart_and_unsafe_methods_invalidate() {
    let engine = MockEngine::new(|request: Request| async move {
        let lang = request
            .header_str("accept-language")
            .unwrap_or("en")
            .to_owned();
        Ok(respond_ok(format!("hello in {lang}"))
            .with_header("cache-control", "max-age=60")
            .with_header("vary", "accept-language"))
    });
    let client = caching(&engine);
    let fetch = |lang: &'static str| {
        let client = client.clone();
        async move {
            let response = client
                .get("http://doc.test/")
                .header("accept-language", lang)
                .send()
                .await
                .unwrap();
            let status = response.extensions().get::<CacheStatus>().copied();
            (status, response.text().await.unwrap())
        }
    };
    assert_eq!(
        fetch("en").await,
        (Some(CacheStatus::Miss), "hello in en".into())
    );
    assert_eq!(fetch("en").await.0, Some(CacheStatus::Hit));
    assert_eq!(
        fetch("fr").await,
        (Some(CacheStatus::Miss), "hello in fr".into())
    );

    client.post("http://doc.test/").send().await.unwrap();
    assert_eq!(fetch("fr").await.0, Some(CacheStatus::Miss));
}

#[tokio::test(start_paused = true)]
async fn a_hit_after_a_redirect_keeps_the_final_url() {
    let engine = MockEngine::new(|request: Request| async move {
        Ok(match request.url().path() {
            "/latest" => wiretape::mock::respond_redirect("/v3"),
            _ => respond_ok("v3").with_header("cache-control", "max-age=60"),
        })
    });
    let client = caching(&engine);
    client
        .get("http://doc.test/latest")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    let hit = client.get("http://doc.test/latest").send().await.unwrap();

    assert_eq!(
        hit.extensions().get::<CacheStatus>(),
        Some(&CacheStatus::Hit)
    );
    assert_eq!(hit.url().as_str(), "http://doc.test/v3");
    assert_eq!(engine.request_history().len(), 2);
}

/// Serves an ETag'd document with `first` as its cache-control, and answers
/// revalidations with a 304 carrying the `renewed` cache-control lines.
fn renewed_by_304(first: &'static str, renewed: &'static [&'static str]) -> MockEngine {
    MockEngine::new(move |request: Request| async move {
        if request.header_str("if-none-match") == Some("\"v1\"") {
            let mut response = respond("", StatusCode::NOT_MODIFIED, HeaderMap::new());
            for line in renewed {
                response = response.with_header("cache-control", *line);
            }
            return Ok(response);
        }
        Ok(respond_ok("document")
            .with_header("cache-control", first)
            .with_header("etag", "\"v1\""))
    })
}

#[tokio::test(start_paused = true)]
async fn a_304_renews_freshness_from_all_its_cache_control_lines() {
    for (first, renewed) in [
        ("max-age=0", &["max-age=60", "private"][..]),
        ("no-cache", &["max-age=60"][..]),
    ] {
        let engine = renewed_by_304(first, renewed);
        let client = caching(&engine);
        let url = "http://api.test/doc";
        assert_eq!(get(&client, url).await.0, Some(CacheStatus::Miss));
        assert_eq!(
            get(&client, url).await,
            (Some(CacheStatus::Revalidated), "document".to_string())
        );
        // The 304 said: fresh for 60 s.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(
            get(&client, url).await,
            (Some(CacheStatus::Hit), "document".to_string()),
            "{first} renewed by {renewed:?}"
        );
        assert_eq!(engine.request_history().len(), 2, "{first}");
    }
}

#[tokio::test(start_paused = true)]
async fn one_users_cached_response_is_never_served_to_another() {
    // A per-user answer that the server marks cacheable and does not `Vary`:
    // a client shared by two users must still keep their answers apart.
    let engine = MockEngine::new(|request: Request| async move {
        let who = request
            .header_str("authorization")
            .unwrap_or("anonymous")
            .to_owned();
        Ok(respond_ok(format!("account of {who}")).with_header("cache-control", "max-age=60"))
    });
    let client = caching(&engine);
    let read = |token: Option<&'static str>| {
        let client = client.clone();
        async move {
            let request = client.get("http://bank.test/account");
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            request.send().await.unwrap().text().await.unwrap()
        }
    };
    assert_eq!(read(Some("ada")).await, "account of Bearer ada");
    assert_eq!(read(Some("grace")).await, "account of Bearer grace");
    assert_eq!(read(None).await, "account of anonymous");
    assert_eq!(read(Some("ada")).await, "account of Bearer ada");
    // Ada's second read came from the cache; nobody got someone else's.
    assert_eq!(engine.request_history().len(), 3);

    // A change by one user makes every user's stored copy stale.
    client
        .post("http://bank.test/account")
        .bearer_auth("grace")
        .send()
        .await
        .unwrap();
    assert_eq!(read(Some("ada")).await, "account of Bearer ada");
    assert_eq!(
        engine.request_history().len(),
        5,
        "Ada's copy was dropped by Grace's POST"
    );
}
