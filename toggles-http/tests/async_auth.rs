//! A host's own sign-on, asked asynchronously once per request: the router awaits it before any
//! handler, and every check of a credential in the request reads what it found.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use toggles::policy::Principal;
use toggles::store::MemoryStore;
use toggles::{toggle, Flag};
use toggles_http::{router, Authenticate, Authenticated, Config, Scope};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2030-01-01",
    owner = "grading-team"
)]
static NEW_GRADER: Flag;

/// Sessions of a sign-on server, checked with it (a sleep stands in for its answer).
struct SignOn {
    asked: Arc<AtomicUsize>,
}

impl Authenticate for SignOn {
    fn principal(&self, _headers: &HeaderMap) -> Option<Principal> {
        panic!("the router asks authenticate_request, awaited")
    }

    fn authenticate_request<'a>(
        &'a self,
        request: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Option<Authenticated>> + Send + 'a>> {
        Box::pin(async move {
            self.asked.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            let session = request.headers.get("x-sso-session")?.to_str().ok()?;
            let user = session.strip_prefix("valid:")?;
            let principal = Principal::new(user).team("grading-team");
            Some(Authenticated::new(
                principal,
                &[Scope::Read, Scope::Evaluate, Scope::Write],
            ))
        })
    }
}

async fn call(
    app: &axum::Router,
    uri: &str,
    session: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = Request::post(uri).header("content-type", "application/json");
    if let Some(session) = session {
        request = request.header("x-sso-session", session);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_hosts_sign_on_is_awaited_once_per_request_and_decides_every_check() {
    let _ = &NEW_GRADER;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let app: axum::Router = router(Config::new(SignOn {
        asked: Arc::clone(&asked),
    }));
    let change = json!({"change": {"flag": {"percent": 25}}, "reason": "start"});

    let (status, _) = call(&app, "/grading.new_grader", None, &change).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, "/grading.new_grader", Some("forged"), &change).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, entry) = call(&app, "/grading.new_grader", Some("valid:ana"), &change).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["entry"]["actor"], json!("ana"));

    // OFREP: a signed-in principal sees the full metadata; anonymous clients do not.
    let flag = "/ofrep/v1/evaluate/flags/grading.new_grader";
    let context = json!({"context": {"targetingKey": "42"}});
    let (_, anonymous) = call(&app, flag, None, &context).await;
    assert!(anonymous["metadata"].get("owner").is_none(), "{anonymous}");
    asked.store(0, Ordering::SeqCst);
    let (_, signed_in) = call(&app, flag, Some("valid:ana"), &context).await;
    assert_eq!(
        signed_in["metadata"]["owner"],
        json!("grading-team"),
        "{signed_in}"
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "asked once for the request"
    );

    // What the sign-on allows is what the router allows: no `admin`, no follower's write.
    let forwarded = json!({"toggle": "grading.new_grader", "section": null, "after": null,
        "actor": "ana", "reason": "r", "revision": "0000000000000000"});
    let (status, refused) = call(&app, "/sync/v1/write", Some("valid:ana"), &forwarded).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("this needs `admin`"),
        "{refused}"
    );
}
