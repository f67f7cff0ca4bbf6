//! What a credential may be used for: a token limited to some scopes is refused the others
//! with the reason, and a router whose reads need credentials answers nobody without one.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use toggles::store::MemoryStore;
use toggles::{toggle, Flag};
use toggles_http::{router, BearerTokens, Config};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2030-01-01",
    owner = "grading-team"
)]
static NEW_GRADER: Flag;

const TOKENS: &str = r#"{
    "ana-token": {"id": "ana", "teams": ["grading-team"]},
    "app-token": {"id": "web-app", "scopes": ["evaluate"]},
    "reader-token": {"id": "dashboard", "scopes": ["read"]}
}"#;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config() -> Config {
    Config::new(BearerTokens::from_json(TOKENS).unwrap())
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some((content_type, body)) => {
            request = request.header("content-type", content_type);
            Body::from(body)
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn write_body() -> (&'static str, String) {
    let body = json!({"change": {"flag": {"percent": 50}}, "reason": "wider"});
    ("application/json", body.to_string())
}

#[tokio::test]
async fn a_token_is_refused_what_its_scopes_leave_out() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let _ = &NEW_GRADER;
    let app = router(config());
    let (status, refused) = call(
        &app,
        "POST",
        "/grading.new_grader",
        Some("app-token"),
        Some(write_body()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused["message"],
        "the credential of `web-app` allows evaluate; this needs `write`"
    );
    let (status, _) = call(
        &app,
        "POST",
        "/grading.new_grader",
        Some("ana-token"),
        Some(write_body()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a token with no `scopes` may do everything"
    );

    // The admin pages' sign-in needs `admin`.
    let login = Request::builder()
        .method("POST")
        .uri("/admin/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("token=reader-token"))
        .unwrap();
    let response = app.clone().oneshot(login).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
    let page = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&page)
        .contains("may not sign in to the admin pages: the credential of `dashboard` allows read; this needs `admin`"));

    // Feedback's list needs `read`.
    let (status, _) = call(
        &app,
        "GET",
        "/grading.new_grader/feedback",
        Some("app-token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &app,
        "GET",
        "/grading.new_grader/feedback",
        Some("reader-token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let bad =
        BearerTokens::from_json(r#"{"t": {"id": "x", "scopes": ["everything"]}}"#).unwrap_err();
    assert!(
        bad.to_string().contains("unknown variant `everything`"),
        "{bad}"
    );
}

#[tokio::test]
async fn reads_can_require_a_credential() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let open = router(config());
    assert_eq!(
        call(&open, "GET", "/", None, None).await.0,
        StatusCode::OK,
        "open by default"
    );

    let closed = router(config().require_credentials());
    let context = || {
        Some((
            "application/json",
            json!({"context": {"targetingKey": "42"}}).to_string(),
        ))
    };
    for (method, uri, body) in [
        ("GET", "/", None),
        ("GET", "/grading.new_grader", None),
        ("POST", "/ofrep/v1/evaluate/flags", context()),
        (
            "POST",
            "/ofrep/v1/evaluate/flags/grading.new_grader",
            context(),
        ),
    ] {
        let (status, _) = call(&closed, method, uri, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    assert_eq!(
        call(&closed, "GET", "/", Some("reader-token"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&closed, "GET", "/", Some("app-token"), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, flags) = call(
        &closed,
        "POST",
        "/ofrep/v1/evaluate/flags",
        Some("app-token"),
        context(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        flags["flags"][0]["metadata"],
        json!({"kind": "flag"}),
        "`evaluate` alone sees the public metadata"
    );

    // The admin pages send a visitor without a session to sign in.
    let request = Request::builder()
        .uri("/admin/")
        .body(Body::empty())
        .unwrap();
    let response = closed.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "login");
}
