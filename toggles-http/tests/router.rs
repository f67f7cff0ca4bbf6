//! Every endpoint and status code of the router, through tower's `oneshot` (no sockets).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use toggles::rules::FlagRule;
use toggles::store::{AuditEntry, MemoryStore, Snapshot};
use toggles::store::{AuditQuery, OnChange, Store};
use toggles::{toggle, Change, Flag, Setting, StoreError, Switch, WriteError};
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

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    owner = "catalog-team",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    owner = "grading-team",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

const TOKENS: &str = r#"{
    "ana-token": {"id": "ana", "teams": ["grading-team"]},
    "root-token": {"id": "root", "admin": true}
}"#;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A store installed for one test, which keeps other tests out until dropped.
struct Installed {
    _toggles: toggles::Installation,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

/// A fresh memory store, installed.
async fn fresh() -> Installed {
    let serial = SERIAL.lock().await;
    let toggles = toggles::install(MemoryStore::new()).unwrap();
    Installed {
        _toggles: toggles,
        _serial: serial,
    }
}

fn app() -> axum::Router {
    router(Config::new(BearerTokens::from_json(TOKENS).unwrap()).body_limit(4096))
}

async fn call(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json, challenge)
}

#[tokio::test]
async fn the_discoverability_endpoint_and_one_toggle() {
    let _g = fresh().await;
    let _ = (&NEW_GRADER, &RECOMMENDATIONS, &MAX_UPLOAD_BYTES);
    for i in 0..3 {
        let rule = FlagRule::new().percent(f64::from(10 * (i + 1)));
        toggles::write(
            Change::flag("grading.new_grader", rule)
                .by("ana")
                .because(format!("step {i}")),
        )
        .unwrap();
    }
    let (status, report, _) = call("GET", "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let grader = report["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["full_name"] == "grading.new_grader")
        .unwrap();
    assert_eq!(grader["state"]["value"]["percent"], 30.0);
    assert_eq!(grader["owner"], "grading-team");

    let (status, page, _) = call("GET", "/grading.new_grader?limit=2", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["toggle"]["full_name"], "grading.new_grader");
    let reasons: Vec<&str> = page["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["step 2", "step 1"], "newest first, paged");
    assert_eq!(page["next"], json!({"skip": 2, "limit": 2}));
    let (_, last, _) = call("GET", "/grading.new_grader?skip=2&limit=2", None, None).await;
    assert_eq!(last["audit"][0]["reason"], "step 0");
    assert_eq!(last["next"], Value::Null);

    let (status, body, _) = call("GET", "/grading.nope", None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn writes_answer_with_the_right_status() {
    let _g = fresh().await;
    let rollout = json!({"change": {"flag": {"percent": 50}}, "reason": "error rate flat"});

    let (status, body, challenge) =
        call("POST", "/grading.new_grader", None, Some(rollout.clone())).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );
    assert_eq!(body["error"], "unauthenticated");
    let (status, _, _) = call(
        "POST",
        "/grading.new_grader",
        Some("forged"),
        Some(rollout.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let off = json!({"change": {"switch": false}, "reason": "spike"});
    let (status, body, _) = call(
        "POST",
        "/catalog.recommendations",
        Some("ana-token"),
        Some(off.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "write refused: `catalog.recommendations` is owned by `catalog-team`: only its members and admins may change it, and `ana` is neither"
    );
    assert!(RECOMMENDATIONS.is_enabled(), "nothing changed");

    let bad = json!({"change": {"flag": {"percent": 150, "users": {"on": ["1"], "off": ["1"]}}}, "reason": "x"});
    let (status, body, _) = call("POST", "/grading.new_grader", Some("ana-token"), Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["problems"].as_array().unwrap().len(),
        2,
        "every problem: {body}"
    );

    let (status, body, _) = call(
        "POST",
        "/grading.new_grader",
        Some("ana-token"),
        Some(json!({"change": {"flag": 5}})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );

    let huge = json!({"change": {"setting": "x".repeat(10_000)}, "reason": "big"});
    let (status, _, _) = call(
        "POST",
        "/uploads.max_upload_bytes",
        Some("ana-token"),
        Some(huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, body, _) = call(
        "POST",
        "/grading.new_grader",
        Some("ana-token"),
        Some(rollout),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["entry"]["actor"].as_str(),
            body["entry"]["after"]["percent"].as_f64()
        ),
        (Some("ana"), Some(50.0))
    );
    let (status, _, _) = call(
        "POST",
        "/catalog.recommendations",
        Some("root-token"),
        Some(off),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!RECOMMENDATIONS.is_enabled());
    let reset = json!({"change": "reset", "reason": "back to the default"});
    let (status, _, _) = call(
        "POST",
        "/catalog.recommendations",
        Some("root-token"),
        Some(reset),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(RECOMMENDATIONS.is_enabled());
}

/// A store whose writes fail: the database is down.
struct Down(MemoryStore);

impl Store for Down {
    fn describe(&self) -> String {
        "down".into()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.0.load()
    }
    fn update(
        &self,
        _edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        Err(WriteError::Store(StoreError::Backend(
            "connection refused".into(),
        )))
    }
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.audit(query)
    }
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        self.0.watch(on_change)
    }
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_on_writes_and_reads_still_serve() {
    let _g = fresh().await;
    let mut snapshot = Snapshot::default();
    snapshot.apply(&Change::switch("catalog.recommendations", false));
    let _toggles = toggles::install(Down(MemoryStore::from(snapshot))).unwrap();
    let on = json!({"change": {"switch": true}, "reason": "calm"});
    let (status, body, _) = call(
        "POST",
        "/catalog.recommendations",
        Some("root-token"),
        Some(on),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["message"],
        "write failed, nothing changed: connection refused"
    );
    let (status, body, _) = call("GET", "/catalog.recommendations", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["toggle"]["state"]["value"], false,
        "the last good state"
    );
}

#[tokio::test]
async fn ofrep_evaluates_for_any_openfeature_sdk() {
    let _g = fresh().await;
    let rule = FlagRule::new()
        .users_on(["vip"])
        .constraint("region", ["RO", "US"])
        .groups_off("course", ["c-off"])
        .percent(100.0);
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana")
            .because("launch"),
    )
    .unwrap();
    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5)
            .by("ana")
            .because("small"),
    )
    .unwrap();
    let eval = |key: &str, context: Value| {
        let uri = format!("/ofrep/v1/evaluate/flags/{key}");
        async move { call("POST", &uri, None, Some(json!({ "context": context }))).await }
    };

    let (status, body, _) = eval(
        "grading.new_grader",
        json!({"targetingKey": "vip", "region": "RO"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["value"].clone(),
            body["variant"].clone(),
            body["reason"].clone()
        ),
        (json!(true), json!("on"), json!("TARGETING_MATCH"))
    );
    assert_eq!(
        body["metadata"],
        json!({"kind": "flag"}),
        "an anonymous client is told no owner, source or dates"
    );
    let uri = "/ofrep/v1/evaluate/flags/grading.new_grader";
    let context = json!({ "context": {"targetingKey": "vip", "region": "RO"} });
    let (_, signed_in, _) = call("POST", uri, Some("ana-token"), Some(context)).await;
    assert_eq!(signed_in["metadata"]["owner"], "grading-team");
    assert_eq!(signed_in["metadata"]["remove_by"], "2030-01-01");
    assert!(signed_in["metadata"]["source"]
        .as_str()
        .unwrap()
        .starts_with("toggles-http/tests/router.rs:"));
    let (_, body, _) = eval(
        "grading.new_grader",
        json!({"targetingKey": "x", "region": "RO"}),
    )
    .await;
    assert_eq!(body["reason"], "SPLIT");
    let (_, body, _) = eval(
        "grading.new_grader",
        json!({"targetingKey": "x", "region": "FR"}),
    )
    .await;
    assert_eq!(
        (body["value"].clone(), body["reason"].clone()),
        (json!(false), json!("DISABLED"))
    );
    let (_, body, _) = eval(
        "grading.new_grader",
        json!({"targetingKey": "x", "region": "RO", "group.course": "c1, c-off"}),
    )
    .await;
    assert_eq!(
        (body["value"].clone(), body["reason"].clone()),
        (json!(false), json!("TARGETING_MATCH"))
    );
    let (_, body, _) = eval(
        "grading.new_grader",
        json!({"targetingKey": "x", "region": "RO", "groups": {"course": ["c-off"]}}),
    )
    .await;
    assert_eq!(body["value"], false);

    let (_, body, _) = eval("uploads.max_upload_bytes", json!({})).await;
    assert_eq!(
        (body["value"].clone(), body["variant"].clone()),
        (json!(5), json!("5"))
    );
    let (_, body, _) = eval("catalog.recommendations", json!({})).await;
    assert_eq!(
        (
            body["value"].clone(),
            body["variant"].clone(),
            body["reason"].clone()
        ),
        (json!(true), json!("on"), json!("STATIC"))
    );
}

#[tokio::test]
async fn ofrep_errors_and_bulk_evaluation() {
    let _g = fresh().await;
    let eval = |key: &str, context: Value| {
        let uri = format!("/ofrep/v1/evaluate/flags/{key}");
        async move { call("POST", &uri, None, Some(json!({ "context": context }))).await }
    };
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().users_on(["vip"]))
            .by("ana")
            .because("beta"),
    )
    .unwrap();
    let (status, body, _) = eval("grading.nope", json!({})).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("FLAG_NOT_FOUND"))
    );
    let (status, body, _) =
        eval("grading.new_grader", json!({"targetingKey": {"nested": 1}})).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_CONTEXT"))
    );
    // What OpenFeature clients send beside the reserved fields — a nested object, a `Date` (as
    // JSON text), a `null` — is used where it can be and left out where not, as the OpenFeature
    // provider does: never an error.
    let (status, body, _) = eval(
        "grading.new_grader",
        json!({"targetingKey": "vip", "address": {"city": "Cluj"},
               "signedUpAt": "2026-03-01T09:30:00.000Z", "referrer": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["value"].as_bool(), body["reason"].as_str()),
        (Some(true), Some("TARGETING_MATCH"))
    );
    let (status, body, _) = eval("grading.new_grader", json!({"groups": 3})).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_CONTEXT"))
    );

    let (status, body, _) = call(
        "POST",
        "/ofrep/v1/evaluate/flags",
        None,
        Some(json!({"context": {"targetingKey": "vip", "region": "US"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let flags = body["flags"].as_array().unwrap();
    assert_eq!(flags.len(), toggles::registry().len());
    assert!(flags
        .iter()
        .any(|f| f["key"] == "grading.new_grader" && f["value"] == true));
}

/// `method uri` with a bearer token, a JSON body and an `If-Match`; the status, the JSON body
/// and the `ETag`.
async fn call_with_revision(
    method: &str,
    uri: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", "Bearer root-token");
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        etag,
    )
}

#[tokio::test]
async fn writes_compare_and_set_with_if_match() {
    let _g = fresh().await;
    let (status, body, etag) = call_with_revision("GET", "/grading.new_grader", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let etag = etag.expect("an ETag");
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            body["toggle"]["state"]["revision"].as_str().unwrap()
        )
    );

    let rollout = json!({"change": {"flag": {"percent": 20}}, "reason": "start"});
    let (status, _, _) =
        call_with_revision("POST", "/grading.new_grader", Some(&etag), Some(rollout)).await;
    assert_eq!(status, StatusCode::OK, "decided on what was stored");

    // A second write decided on the same, now outdated, revision.
    let wider = json!({"change": {"flag": {"percent": 50}}, "reason": "wider"});
    let (status, body, _) = call_with_revision(
        "POST",
        "/grading.new_grader",
        Some(&etag),
        Some(wider.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "conflict");
    let (_, now, fresh_tag) = call_with_revision("GET", "/grading.new_grader", None, None).await;
    assert_eq!(body["revision"], now["toggle"]["state"]["revision"]);
    assert_eq!(
        now["toggle"]["state"]["value"],
        json!({"percent": 20.0}),
        "nothing changed"
    );

    let (status, body, _) = call_with_revision(
        "POST",
        "/grading.new_grader",
        Some("yesterday"),
        Some(wider.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, _, _) = call_with_revision(
        "POST",
        "/grading.new_grader",
        fresh_tag.as_deref(),
        Some(wider),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "decided again, on what is stored now"
    );
}

#[tokio::test]
async fn feedback_is_given_by_anyone_and_read_by_principals() {
    let _g = fresh().await;
    let (status, given, _) = call(
        "POST",
        "/grading.new_grader/feedback",
        None,
        Some(json!({"arm": "on", "unit": "42", "text": "my partial credit vanished"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{given}");
    assert_eq!(given["feedback"]["arm"], "on");
    assert_eq!(given["feedback"]["unit"], "42");
    let (status, refused, _) = call(
        "POST",
        "/grading.new_grader/feedback",
        None,
        Some(json!({"arm": "maybe", "text": "?"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused["message"],
        "feedback refused: `grading.new_grader` is a flag: its arms are `on` and `off`, not `maybe`"
    );
    let (status, _, _) = call(
        "POST",
        "/grading.nope/feedback",
        None,
        Some(json!({"arm": "on", "text": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, bad, _) = call(
        "POST",
        "/grading.new_grader/feedback",
        None,
        Some(json!({"arm": "on", "text": "hi", "stars": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let (status, _, challenge) = call("GET", "/grading.new_grader/feedback", None, None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );
    let (status, log, _) = call(
        "GET",
        "/grading.new_grader/feedback",
        Some("ana-token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["per_arm"], json!({"on": 1}));
    assert_eq!(log["entries"][0]["text"], "my partial credit vanished");
}

#[tokio::test]
async fn a_token_file_may_hold_only_the_tokens_digests() {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    use toggles_http::Authenticate as _;
    let digest = Sha256::digest(b"s3cret")
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
    let tokens = BearerTokens::from_json(&format!(
        r#"{{"sha256:{digest}": {{"id": "ana", "teams": ["grading-team"]}}}}"#
    ))
    .unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("authorization", "BEARER s3cret".parse().unwrap());
    assert_eq!(tokens.principal(&headers).unwrap().id, "ana");
    headers.insert("authorization", "Bearer sha256:".parse().unwrap());
    assert!(
        tokens.principal(&headers).is_none(),
        "the digest is not the token"
    );
    let bad = BearerTokens::from_json(r#"{"sha256:abc": {"id": "ana"}}"#).unwrap_err();
    assert!(
        bad.to_string()
            .contains("`sha256:` is followed by the 64 hex digits of a SHA-256, not `abc`"),
        "{bad}"
    );
}
