//! Rate limits per client on OFREP and feedback: 429 with Retry-After past the allowance, each
//! client counted apart, the rest of the router untouched.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use toggles::{toggle, Flag};
use toggles_http::{router, BearerTokens, Config, RateLimit};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

fn app(limit: RateLimit) -> axum::Router {
    let tokens = BearerTokens::from_json(r#"{"ana-token": {"id": "ana"}}"#).unwrap();
    router(
        Config::new(tokens)
            .rate_limit(limit)
            .allow_origins(["https://app.example.com"])
            .unwrap(),
    )
}

/// An OFREP evaluation from `peer`, with `headers`: its status and `Retry-After`.
async fn evaluate(
    app: &axum::Router,
    peer: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, Option<String>) {
    let mut request = Request::post("/ofrep/v1/evaluate/flags/grading.new_grader")
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request
        .body(Body::from(r#"{"context": {"targetingKey": "42"}}"#))
        .unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        response.status(),
        header("retry-after"),
        header("access-control-allow-origin"),
    )
}

#[tokio::test]
async fn a_client_past_its_burst_is_answered_429_with_retry_after_and_others_are_not() {
    let _ = &NEW_GRADER;
    let app = app(RateLimit::per_second(1).burst(3));
    for _ in 0..3 {
        assert_eq!(evaluate(&app, "10.0.0.1:5000", &[]).await.0, StatusCode::OK);
    }
    let (status, retry, _) = evaluate(&app, "10.0.0.1:5001", &[]).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the same address from another port"
    );
    assert_eq!(
        retry.as_deref(),
        Some("1"),
        "one request a second: back within a second"
    );

    // Another address, and a signed-in principal, each have an allowance of their own.
    assert_eq!(evaluate(&app, "10.0.0.2:5000", &[]).await.0, StatusCode::OK);
    let ana = [("authorization", "Bearer ana-token")];
    for _ in 0..3 {
        assert_eq!(
            evaluate(&app, "10.0.0.1:5000", &ana).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        evaluate(&app, "10.0.0.1:5000", &ana).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A page on an allowed origin can read the refusal and its Retry-After.
    let from_page = [("origin", "https://app.example.com")];
    let (status, retry, allowed) = evaluate(&app, "10.0.0.1:5000", &from_page).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    assert_eq!(allowed.as_deref(), Some("https://app.example.com"));

    // The allowance comes back with time.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(evaluate(&app, "10.0.0.1:5000", &[]).await.0, StatusCode::OK);

    // The JSON API and the admin pages are not limited.
    for _ in 0..5 {
        let report = app
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(report.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_address_is_the_client() {
    let app = app(RateLimit::per_second(1).burst(1).behind_proxy());
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    // Every request comes through the proxy at 10.0.0.9.
    assert_eq!(
        evaluate(&app, "10.0.0.9:1", &from("203.0.113.5, 10.0.0.9"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        evaluate(&app, "10.0.0.9:2", &from("203.0.113.6")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        evaluate(&app, "10.0.0.9:3", &from("203.0.113.5")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Not behind a proxy, the header is the client's to write and counts for nothing.
    let direct = self::app(RateLimit::per_second(1).burst(1));
    assert_eq!(
        evaluate(&direct, "10.0.0.9:1", &from("203.0.113.5"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        evaluate(&direct, "10.0.0.9:2", &from("203.0.113.6"))
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
}
