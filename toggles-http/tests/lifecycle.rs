//! The JSON API gives each toggle its lifecycle stage from what the fleet evaluates: the
//! report and a toggle's own page alike.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use toggles::store::{MemoryStore, Store as _, Use};
use toggles::{toggle, Flag, Switch, Timestamp};
use toggles_http::{router, BearerTokens, Config};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Show course recommendations.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "catalog owners decide"
)]
static RECOMMENDATIONS: Switch;

async fn body(app: &axum::Router, path: &str) -> Vec<u8> {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

async fn get(app: &axum::Router, path: &str) -> serde_json::Value {
    serde_json::from_slice(&body(app, path).await).unwrap()
}

#[tokio::test]
async fn the_report_and_a_toggle_give_their_lifecycle_stage() {
    let _declared = (&NEW_GRADER, &RECOMMENDATIONS);
    let store = Arc::new(MemoryStore::new());
    let _toggles = toggles::install(Arc::clone(&store)).unwrap();
    let long_ago = Timestamp::from_unix_seconds(Timestamp::now().unix_seconds() - 60 * 86_400);
    store
        .record_usage(
            "grading",
            long_ago,
            &[Use::new("grading.new_grader", vec!["on".to_owned()])],
        )
        .unwrap();
    let app = router(Config::new(BearerTokens::default()));

    let report = get(&app, "/").await;
    let entry = |name: &str| {
        report["toggles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["full_name"] == name)
            .cloned()
            .unwrap()
    };
    let grader = entry("grading.new_grader");
    assert_eq!(grader["lifecycle"]["stage"], "unused", "{grader}");
    assert_eq!(grader["lifecycle"]["stale"], true);
    assert!(grader["lifecycle"]["fix"]
        .as_str()
        .unwrap()
        .starts_with("remove the toggle and the code that reads it"));
    assert_eq!(
        entry("catalog.recommendations")["lifecycle"]["stage"],
        "never_evaluated"
    );

    let page = get(&app, "/grading.new_grader").await;
    assert_eq!(page["toggle"]["lifecycle"]["stage"], "unused");

    // The admin list shows the stage, flags the stale one and gives its fix on hover.
    let list = String::from_utf8(body(&app, "/admin/").await).unwrap();
    let row = list
        .split("<tr")
        .find(|r| r.contains("grading.new_grader"))
        .expect("the grader's row");
    assert!(row.contains("unused"), "{row}");
    assert!(row.contains("STALE"), "{row}");
    assert!(
        row.contains("title=\"remove the toggle and the code that reads it"),
        "{row}"
    );
    let other = list
        .split("<tr")
        .find(|r| r.contains("catalog.recommendations"))
        .unwrap();
    assert!(
        other.contains("never_evaluated") && !other.contains("STALE"),
        "{other}"
    );
}
