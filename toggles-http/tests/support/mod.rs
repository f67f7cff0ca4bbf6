//! Signing in to the admin pages as a browser does: a token posted to the login form, and the
//! session cookie it sets.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

/// The `Cookie` header of a session signed in with `token` on `app` (signed in once per token:
/// a session's forms carry its own anti-forgery token, so every request of a test shares it).
/// The routers a test file builds must share one key ([`toggles_http::Config::key`]).
pub(crate) async fn session_cookie(app: &axum::Router, token: &str) -> String {
    static SESSIONS: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    if let Some(cookie) = SESSIONS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .get(token)
    {
        return cookie.clone();
    }
    let request = Request::builder()
        .method("POST")
        .uri("/admin/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{token} signs in");
    let set = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    SESSIONS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(token.to_owned(), cookie.clone());
    cookie
}
