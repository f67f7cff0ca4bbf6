//! A variant toggle over HTTP: OFREP evaluates its arm (value and variant the arm's name,
//! reason `SPLIT` or `TARGETING_MATCH`) and exposes drawn units; the JSON API writes its rule
//! and refuses an arm it does not declare; `GET /{name}/results` and the admin page give the
//! results, the page as a chart; the admin form writes coverage, weights and pins.

use std::sync::{Arc, Mutex};

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use toggles::experiment::Exposure;
use toggles::rules::bucket::draw;
use toggles::rules::VariantRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Installer, Variant, Variants};
use toggles_http::{router, BearerTokens, Config};
use tower::ServiceExt as _;

/// The checkout flows under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Variants)]
pub enum Checkout {
    /// The control.
    Classic,
    /// Everything on one page.
    OnePage,
    /// Pay with a saved card.
    Express,
}

/// Try the one-page and express checkouts against the classic one.
#[toggle(
    namespace = "checkout",
    life = "temporary",
    remove_by = "2030-03-01",
    owner = "checkout-team"
)]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

const NAME: &str = "checkout.checkout_flow";

const TOKENS: &str = r#"{"ana-token": {"id": "ana", "teams": ["checkout-team"]}}"#;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One router for the whole test: its forms' anti-forgery key is its own.
fn app() -> axum::Router {
    static APP: std::sync::OnceLock<axum::Router> = std::sync::OnceLock::new();
    APP.get_or_init(|| router(Config::new(BearerTokens::from_json(TOKENS).unwrap())))
        .clone()
}

/// A request to the router: `(status, body as text)`.
async fn call(
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<(&str, String)>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = auth {
        request = request
            .header("authorization", format!("Bearer {token}"))
            .header("cookie", support::session_cookie(&app(), token).await);
    }
    let body = match body {
        Some((content_type, body)) => {
            request = request.header("content-type", content_type);
            Body::from(body)
        }
        None => Body::empty(),
    };
    let response = app().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn ofrep(context: Value) -> Value {
    let uri = format!("/ofrep/v1/evaluate/flags/{NAME}");
    let (status, body) = call(
        "POST",
        &uri,
        None,
        Some((
            "application/json",
            json!({ "context": context }).to_string(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn experiment() -> VariantRule {
    VariantRule::new()
        .coverage(100.0)
        .weight("one_page", 5000)
        .weight("express", 5000)
        .users("express", ["qa-1"])
        .track(true)
}

#[tokio::test]
async fn ofrep_answers_the_arm_and_exposes_drawn_units() {
    let _g = SERIAL.lock().await;
    let seen: Arc<Mutex<Vec<Exposure>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let toggles = Installer::new(MemoryStore::new())
        .subscribe(move |batch: &[Exposure]| sink.lock().unwrap().extend_from_slice(batch))
        .without_exposure_thread()
        .install()
        .unwrap();
    let body = ofrep(json!({"targetingKey": "42"})).await;
    assert_eq!(
        (
            body["value"].clone(),
            body["variant"].clone(),
            body["reason"].clone()
        ),
        (json!("classic"), json!("classic"), json!("DEFAULT"))
    );
    assert_eq!(body["metadata"]["arms"], "classic,one_page,express");
    toggles::write(
        Change::variant(NAME, experiment())
            .by("ana")
            .because("test"),
    )
    .unwrap();

    let pinned = ofrep(json!({"targetingKey": "qa-1"})).await;
    assert_eq!(
        (pinned["value"].clone(), pinned["reason"].clone()),
        (json!("express"), json!("TARGETING_MATCH"))
    );
    let drawn = ofrep(json!({"targetingKey": "42"})).await;
    let arm = CHECKOUT_FLOW.get(&Context::new().with_user("42"));
    assert_eq!(
        (
            drawn["value"].clone(),
            drawn["variant"].clone(),
            drawn["reason"].clone()
        ),
        (json!(arm.name()), json!(arm.name()), json!("SPLIT"))
    );
    toggles.drain_exposures();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        1,
        "42 drawn (once, by OFREP and the check alike); qa-1 pinned"
    );
    assert_eq!((seen[0].unit.as_str(), seen[0].arm), ("42", arm.name()));
}

#[tokio::test]
async fn the_json_api_writes_the_rule_and_serves_the_results() {
    let _g = SERIAL.lock().await;
    let toggles = Installer::new(MemoryStore::new())
        .without_exposure_thread()
        .install()
        .unwrap();
    let write = |rule: Value| {
        let body = json!({"change": {"variant": rule}, "reason": "test"}).to_string();
        async move {
            call(
                "POST",
                &format!("/{NAME}"),
                Some("ana-token"),
                Some(("application/json", body)),
            )
            .await
        }
    };
    let (status, body) =
        write(json!({"coverage": 50, "weights": {"one_pag": 5000, "express": 5000}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("did you mean `one_page`?"), "{body}");
    let (status, body) = write(serde_json::to_value(experiment()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let drawn: Vec<String> = (0..400).map(|i| format!("user-{i}")).collect();
    for (i, user) in drawn.iter().enumerate() {
        let ctx = Context::new().with_user(user);
        CHECKOUT_FLOW.get(&ctx);
        if i % 4 == 0 {
            CHECKOUT_FLOW.convert(&ctx, "purchase");
        }
    }
    toggles.drain_exposures();
    let (status, body) = call("GET", &format!("/{NAME}/results"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(results["control"], "classic");
    let exposed: u64 = results["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["exposed"].as_u64().unwrap())
        .sum();
    assert_eq!(exposed, 400, "every user drawn at 100% coverage");
    assert_eq!(results["goals"], json!(["purchase"]));
    let (status, _) = call("GET", "/catalog.nothing/results", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The admin page draws them, and says which arm is which.
    let (status, page) = call("GET", &format!("/admin/t/{NAME}"), Some("ana-token"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<h2 id="results">Results</h2>"#), "{page}");
    assert!(page.contains("<svg class=\"chart\""), "{page}");
    assert_eq!(
        page.matches("<rect class=\"rate\"").count(),
        2,
        "one_page and express have units; classic none"
    );
    assert!(
        page.contains("no unit exposed"),
        "classic: pinned and drawn units only"
    );
}

/// The anti-forgery token and revision of the edit form on `page`.
fn form_of(page: &str) -> (String, String) {
    let value = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let at = page.find(&marker).expect("an edit form") + marker.len();
        page[at..].split('"').next().unwrap().to_owned()
    };
    (value("csrf"), value("revision"))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_admin_form_writes_coverage_weights_and_pins() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let (_, page) = call("GET", &format!("/admin/t/{NAME}"), Some("ana-token"), None).await;
    assert!(
        page.contains(r#"name="coverage""#) && page.contains(r#"name="weights""#),
        "{page}"
    );
    let (csrf, revision) = form_of(&page);
    let form = |weights: &str| {
        format!(
            "csrf={csrf}&revision={revision}&active=1&coverage=50&weights={}&pins={}&track=1&reason=checkout+test",
            encode(weights),
            encode("users express: qa-1, qa-2\ngroups org one_page: edX\n")
        )
    };
    let (status, body) = call(
        "POST",
        &format!("/admin/t/{NAME}"),
        Some("ana-token"),
        Some((
            "application/x-www-form-urlencoded",
            form("classic: 0\none_pag: 5000\nexpress: 5000\n"),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("did you mean `one_page`?"), "{body}");
    let (status, body) = call(
        "POST",
        &format!("/admin/t/{NAME}"),
        Some("ana-token"),
        Some((
            "application/x-www-form-urlencoded",
            form("classic: 0\none_page: 5000\nexpress: 5000\n"),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let pinned = CHECKOUT_FLOW.explain(&Context::new().with_user("qa-2"));
    assert_eq!(pinned.arm, Checkout::Express);
    let groups = [("org", "edX")];
    assert_eq!(
        CHECKOUT_FLOW.get(&Context::new().with_user("u").with_groups(&groups)),
        Checkout::OnePage
    );
    let outside = (0..10_000)
        .map(|i| format!("u-{i}"))
        .find(|u| draw(NAME, u).0 >= 5000)
        .unwrap();
    assert_eq!(
        CHECKOUT_FLOW.get(&Context::new().with_user(&outside)),
        Checkout::Classic,
        "50% coverage"
    );
}
