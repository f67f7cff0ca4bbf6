//! OFREP as the OpenFeature web provider speaks it: the bulk answer's `ETag` and a `304` for a
//! poll that names it, a CORS preflight from a page on another origin, and what an anonymous
//! client is told of each toggle.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag};
use toggles_http::{router, BearerTokens, Config, OfrepMetadata};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2030-01-01",
    owner = "grading-team"
)]
static NEW_GRADER: Flag;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BULK: &str = "/ofrep/v1/evaluate/flags";
const APP: &str = "https://app.example.com";

fn config() -> Config {
    Config::new(BearerTokens::from_json(r#"{"ana-token": {"id": "ana"}}"#).unwrap())
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

/// The web provider's poll: the context, JSON with a charset, and the last `ETag` if it has one.
async fn poll(app: &axum::Router, etag: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut headers = vec![("content-type", "application/json; charset=utf-8")];
    if let Some(etag) = etag {
        headers.push(("if-none-match", etag));
    }
    let context = json!({ "context": { "targetingKey": "42" } });
    send(app, "POST", BULK, &headers, Some(context)).await
}

#[tokio::test]
async fn a_poll_naming_the_etag_is_answered_304_until_an_answer_changes() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let _ = &NEW_GRADER;
    let app = router(config());

    let (status, headers, body) = poll(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    let flags: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(flags["flags"][0]["value"], false);

    let (status, headers, body) = poll(&app, Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"], etag.as_str(), "the tag comes with the 304");
    assert!(body.is_empty());
    let weak = format!("\"other\", W/{etag}");
    assert_eq!(poll(&app, Some(&weak)).await.0, StatusCode::NOT_MODIFIED);
    assert_eq!(poll(&app, Some("\"stale\"")).await.0, StatusCode::OK);

    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().everyone(true))
            .by("ana")
            .because("on"),
    )
    .unwrap();
    let (status, headers, body) = poll(&app, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK, "an answer changed");
    assert_ne!(headers["etag"], etag.as_str());
    let flags: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(flags["flags"][0]["value"], true);
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_passes_the_preflight_and_reads_the_etag() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let app = router(config().allow_origins([APP]).unwrap());
    let preflight = |origin: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                "OPTIONS",
                BULK,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "content-type,if-none-match",
                    ),
                ],
                None,
            )
            .await
        }
    };
    let (status, headers, _) = preflight(APP).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], APP);
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed.contains("if-none-match") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let (_, headers, _) = preflight("https://evil.example.com").await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "another origin is not allowed"
    );

    let context = json!({ "context": { "targetingKey": "42" } });
    let (status, headers, _) = send(
        &app,
        "POST",
        BULK,
        &[("origin", APP), ("content-type", "application/json")],
        Some(context),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], APP);
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert!(
        exposed.contains("etag") && exposed.contains("retry-after"),
        "{exposed}"
    );

    // The admin pages and the JSON API stay same-origin.
    let (_, headers, _) = send(&app, "GET", "/", &[("origin", APP)], None).await;
    assert!(headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_allowed_origins_no_page_elsewhere_may_call() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let app = router(config());
    let (_, headers, _) = send(
        &app,
        "OPTIONS",
        BULK,
        &[("origin", APP), ("access-control-request-method", "POST")],
        None,
    )
    .await;
    assert!(headers.get("access-control-allow-origin").is_none());
    let any = router(config().allow_any_origin());
    let (_, headers, _) = send(
        &any,
        "OPTIONS",
        BULK,
        &[("origin", APP), ("access-control-request-method", "POST")],
        None,
    )
    .await;
    assert_eq!(headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn what_an_anonymous_client_is_told_is_configurable() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let one = "/ofrep/v1/evaluate/flags/grading.new_grader";
    let context = || Some(json!({ "context": { "targetingKey": "42" } }));
    let metadata = |body: &[u8]| serde_json::from_slice::<Value>(body).unwrap()["metadata"].clone();
    let json = [("content-type", "application/json")];
    let (_, _, body) = send(&router(config()), "POST", one, &json, context()).await;
    assert_eq!(metadata(&body), json!({"kind": "flag"}));
    let full = router(config().ofrep_metadata(OfrepMetadata::Full));
    let (_, _, body) = send(&full, "POST", one, &json, context()).await;
    let told = metadata(&body);
    assert_eq!(told["owner"], "grading-team");
    assert_eq!(told["life"], "temporary");
    assert_eq!(told["remove_by"], "2030-01-01");
    assert_eq!(told["expired"], false);
}

#[tokio::test]
async fn the_admin_path_without_its_slash_leads_to_the_list() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let app = axum::Router::new().nest("/toggles", router(config()));
    let (status, headers, _) = send(&app, "GET", "/toggles/admin", &[], None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers["location"], "admin/", "relative: /toggles/admin/");
    let (status, _, _) = send(&app, "GET", "/toggles/admin/", &[], None).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn an_origin_with_a_path_or_no_scheme_is_refused() {
    for bad in [
        "app.example.com",
        "https://app.example.com/",
        "ftp://x",
        "https://",
    ] {
        let refused = config().allow_origins([bad]).unwrap_err();
        assert!(refused
            .to_string()
            .starts_with(&format!("`{bad}` is not an origin")));
    }
}

/// The next chunk of an event stream, within 5 s.
async fn next_event(body: &mut Body) -> String {
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
        .unwrap();
    String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn the_event_stream_tells_of_each_change_and_what_a_reconnect_missed() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let app = axum::Router::new().nest("/toggles", router(config()));

    // The bulk answer names the stream beside it, wherever the router is nested.
    let context = json!({ "context": { "targetingKey": "42" } });
    let json = [("content-type", "application/json")];
    let (_, _, body) = send(
        &app,
        "POST",
        "/toggles/ofrep/v1/evaluate/flags",
        &json,
        Some(context),
    )
    .await;
    let bulk: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        bulk["eventStreams"],
        json!([{ "type": "sse", "endpoint": { "requestUri": "/toggles/ofrep/v1/events" }, "inactivityDelaySec": 120 }])
    );

    let open = |last: Option<String>| {
        let app = app.clone();
        async move {
            let mut request = Request::builder().uri("/toggles/ofrep/v1/events");
            if let Some(last) = last {
                request = request.header("last-event-id", last);
            }
            let response = app
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["content-type"], "text/event-stream");
            response.into_body()
        }
    };
    let mut stream = open(None).await;
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().percent(10.0))
            .by("ana")
            .because("10%"),
    )
    .unwrap();
    let generation = toggles::status().generation;
    let event = next_event(&mut stream).await;
    assert_eq!(
        event,
        format!("id: {generation}\ndata: {{\"type\":\"refetchEvaluation\"}}\n\n")
    );

    // A client that reconnects having seen an older state is told at once.
    let mut resumed = open(Some((generation - 1).to_string())).await;
    assert!(next_event(&mut resumed)
        .await
        .contains(&format!("id: {generation}")));
    // One that saw the newest hears nothing until the next change.
    let mut current = open(Some(generation.to_string())).await;
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(200), current.frame()).await;
    assert!(quiet.is_err(), "nothing to tell");
}
