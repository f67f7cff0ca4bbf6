//! The relay's `sync/v1` endpoints through tower's `oneshot`: the ETag'd snapshot, the stream's
//! resume, and what a follower may forward with which credential.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag};
use toggles_http::{router, BearerTokens, Config};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

const TOKENS: &str = r#"{
    "follower-token": {"id": "relay-follower", "admin": true},
    "writer-token": {"id": "ana", "admin": true, "scopes": ["read", "write"]}
}"#;

/// One installed store per process: the tests take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn app() -> axum::Router {
    router(
        Config::new(BearerTokens::from_json(TOKENS).unwrap()).sync_max_age(Duration::from_secs(1)),
    )
}

async fn call(request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(uri: &str, token: &str, body: &Value) -> Request<Body> {
    Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The data of the stream's first event, or `None` if it sends none within `within`.
async fn first_event(last_event_id: Option<&str>, within: Duration) -> Option<String> {
    let mut request = Request::get("/sync/v1/stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let read = async {
        let mut text = String::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
                if text.contains("\n\n") && text.contains("data:") {
                    return Some(text);
                }
            }
        }
        None
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

#[allow(clippy::too_many_lines)]
#[tokio::test]
async fn followers_get_the_contents_once_per_version_and_forward_writes_with_an_admin_credential() {
    let _ = &NEW_GRADER;
    let _serial = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    toggles::write(
        Change::flag(
            "grading.new_grader",
            toggles::rules::FlagRule::new().percent(10.0),
        )
        .by("ops")
        .because("start"),
    )
    .unwrap();

    // The snapshot, and a 304 for a poller that has it.
    let (status, headers, body) = call(
        Request::get("/sync/v1/snapshot")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let version = body["version"].as_str().unwrap().to_owned();
    assert_eq!(headers["etag"], format!("\"{version}\""));
    assert_eq!(
        body["snapshot"]["flags"]["grading.new_grader"]["percent"],
        json!(10.0)
    );
    let unchanged = Request::get("/sync/v1/snapshot")
        .header("if-none-match", format!("\"{version}\""))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(unchanged).await.0, StatusCode::NOT_MODIFIED);

    // The stream sends the contents at once, unless the follower has them already; it ends
    // at its maximum age (a second here).
    let event = first_event(None, Duration::from_secs(5))
        .await
        .expect("a first event");
    assert!(
        event.contains("event: snapshot") && event.contains(&format!("id: {version}")),
        "{event}"
    );
    assert_eq!(
        first_event(Some(&version), Duration::from_secs(3)).await,
        None,
        "nothing new for a follower that has it"
    );

    // A follower's write needs `admin`, and is compare-and-set on the entry's revision.
    let revision = toggles::Revision::of(
        toggles::snapshot_in_force()
            .unwrap()
            .1
            .entry("grading.new_grader"),
    );
    let forwarded = |revision: &toggles::Revision, percent: f64| {
        json!({
            "toggle": "grading.new_grader", "section": "flags", "after": {"percent": percent},
            "actor": "ana", "reason": "wider", "revision": revision,
        })
    };
    let (status, _, refused) = call(post(
        "/sync/v1/write",
        "writer-token",
        &forwarded(&revision, 50.0),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, _, entry) = call(post(
        "/sync/v1/write",
        "follower-token",
        &forwarded(&revision, 50.0),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(
        (
            entry["entry"]["actor"].clone(),
            entry["entry"]["after"]["percent"].clone()
        ),
        (json!("ana"), json!(50.0))
    );
    let (status, _, conflict) = call(post(
        "/sync/v1/write",
        "follower-token",
        &forwarded(&revision, 70.0),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "decided on the revision before the last write: {conflict}"
    );
    let (status, _, invalid) = call(post("/sync/v1/write", "follower-token", &json!({
        "toggle": "grading.new_grader", "section": "flags", "after": {"percent": 150},
        "actor": "ana", "reason": "too wide", "revision": toggles::Revision::of(toggles::snapshot_in_force().unwrap().1.entry("grading.new_grader")),
    }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{invalid}");

    // The stream's version moved with the write.
    let event = first_event(Some(&version), Duration::from_secs(5))
        .await
        .expect("the newer contents");
    assert!(!event.contains(&format!("id: {version}")), "{event}");

    // Audit reads, and heartbeats need `write`.
    let (status, _, audit) = call(
        Request::get("/sync/v1/audit?toggle=grading.new_grader&limit=5")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit["entries"][0]["reason"], json!("wider"));
    let anonymous = Request::post("/sync/v1/seen")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"instance": "x", "at": "2026-12-07T00:00:00Z"}"#,
        ))
        .unwrap();
    assert_eq!(call(anonymous).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, seen) = call(post(
        "/sync/v1/seen",
        "writer-token",
        &json!({"instance": "x", "at": "2026-12-07T00:00:00Z"}),
    ))
    .await;
    assert_eq!(
        (status, seen["known"].clone()),
        (StatusCode::OK, json!(false))
    );
}

#[tokio::test]
async fn a_followers_store_calls_reach_the_relays_store_with_the_scope_they_need() {
    let _serial = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let feedback = json!({"call": "record_feedback", "feedback": {
        "toggle": "grading.new_grader", "arm": "on", "unit": "42", "text": "faster", "at": "2026-12-07T10:00:00Z",
    }});
    let anonymous = Request::post("/sync/v1/store")
        .header("content-type", "application/json")
        .body(Body::from(feedback.to_string()))
        .unwrap();
    assert_eq!(
        call(anonymous).await.0,
        StatusCode::UNAUTHORIZED,
        "recording needs a credential"
    );
    let (status, _, kept) = call(post("/sync/v1/store", "writer-token", &feedback)).await;
    assert_eq!(
        (status, kept["result"].clone()),
        (StatusCode::OK, json!(true)),
        "{kept}"
    );
    let read = json!({"call": "feedback", "toggle": "grading.new_grader", "limit": 5});
    let (status, _, log) = call(post("/sync/v1/store", "writer-token", &read)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log["result"]["entries"][0]["text"],
        json!("faster"),
        "{log}"
    );
    // A store that keeps no outcome counts says so, and the follower's guards judge alone.
    let outcomes = json!({"call": "record_outcomes", "instance": "web-1", "at": "2026-12-07T10:00:00Z",
        "counts": [["grading.new_grader", {"on_ok": 1, "on_err": 0, "off_ok": 1, "off_err": 0}]]});
    let (status, _, kept) = call(post("/sync/v1/store", "writer-token", &outcomes)).await;
    assert_eq!(
        (status, kept["result"].clone()),
        (StatusCode::OK, json!(false)),
        "{kept}"
    );
    let unknown = json!({"call": "drop_everything"});
    assert_eq!(
        call(post("/sync/v1/store", "writer-token", &unknown))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
