//! The provider through the OpenFeature client API: each reason, each error code, the context
//! mapping, the metadata and the status.

use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{
    Client, EvaluationContext, EvaluationContextFieldValue, EvaluationErrorCode, EvaluationReason,
    FlagMetadataValue, OpenFeature,
};
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag, Setting, Switch};
use toggles_openfeature::TogglesProvider;

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
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

/// Share of uploads scanned.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "per deployment"
)]
static SCAN_RATIO: Setting<f64> = 0.25;

/// Greeting on the home page.
#[toggle(
    namespace = "home",
    life = "permanent",
    justification = "per deployment"
)]
static GREETING: Setting<&'static str> = "Welcome";

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A fresh store holding the grader's `rule`, and an OpenFeature client on the provider.
async fn client(
    rule: FlagRule,
) -> (
    (toggles::Installation, tokio::sync::MutexGuard<'static, ()>),
    Client,
) {
    let guard = SERIAL.lock().await;
    let _ = (
        &NEW_GRADER,
        &RECOMMENDATIONS,
        &MAX_UPLOAD_BYTES,
        &SCAN_RATIO,
        &GREETING,
    );
    let toggles = toggles::install(MemoryStore::new()).unwrap();
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana")
            .because("test"),
    )
    .unwrap();
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(TogglesProvider::new()).await;
    ((toggles, guard), api.create_client())
}

fn user(id: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(id)
}

#[tokio::test]
async fn reasons_follow_the_step_that_decided() {
    let rule = FlagRule::new()
        .users_on(["vip"])
        .constraint("region", ["RO", "US"])
        .groups_off("course", ["c-off"])
        .percent(100.0);
    let (_g, client) = client(rule).await;
    let cases = [
        (
            user("vip").with_custom_field("region", "RO"),
            true,
            EvaluationReason::TargetingMatch,
        ),
        (
            user("x").with_custom_field("region", "RO"),
            true,
            EvaluationReason::Split,
        ),
        (
            user("x").with_custom_field("region", "FR"),
            false,
            EvaluationReason::Disabled,
        ),
        (
            user("x")
                .with_custom_field("region", "US")
                .with_custom_field("group.course", "c1, c-off"),
            false,
            EvaluationReason::TargetingMatch,
        ),
        // A time and an opaque structure beside the fields the rule reads: the same mapping as
        // OFREP's, so the same answer.
        (
            user("vip")
                .with_custom_field("region", "RO")
                .with_custom_field(
                    "signedUpAt",
                    EvaluationContextFieldValue::DateTime(time::OffsetDateTime::UNIX_EPOCH),
                )
                .with_custom_field(
                    "address",
                    EvaluationContextFieldValue::new_struct(String::from("Cluj")),
                ),
            true,
            EvaluationReason::TargetingMatch,
        ),
    ];
    for (ctx, value, reason) in cases {
        let details = client
            .get_bool_details("grading.new_grader", Some(&ctx), None)
            .await
            .unwrap();
        assert_eq!((details.value, details.reason), (value, Some(reason)));
        assert_eq!(
            details.variant.as_deref(),
            Some(if value { "on" } else { "off" })
        );
    }
}

#[tokio::test]
async fn flag_metadata_only_when_asked_for() {
    let (_g, client) = client(FlagRule::new().everyone(true)).await;
    let details = || client.get_bool_details("grading.new_grader", None, None);
    assert!(details().await.unwrap().flag_metadata.values.is_empty());

    OpenFeature::singleton_mut()
        .await
        .set_provider(TogglesProvider::new().with_flag_metadata())
        .await;
    let metadata = details().await.unwrap().flag_metadata.values;
    assert_eq!(
        metadata["owner"],
        FlagMetadataValue::String("grading-team".into())
    );
    assert_eq!(
        metadata["remove_by"],
        FlagMetadataValue::String("2030-01-01".into())
    );
    assert_eq!(metadata["kind"], FlagMetadataValue::String("flag".into()));
    assert_eq!(metadata["expired"], FlagMetadataValue::Bool(false));
}

#[tokio::test]
async fn static_default_and_test_override() {
    let (_g, client) = client(FlagRule::new().everyone(true)).await;
    let details = client
        .get_bool_details("grading.new_grader", None, None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (true, Some(EvaluationReason::Static))
    );
    let switch = client
        .get_bool_details("catalog.recommendations", None, None)
        .await
        .unwrap();
    assert_eq!(
        (switch.value, switch.reason),
        (true, Some(EvaluationReason::Static))
    );

    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new())
            .by("ana")
            .because("empty"),
    )
    .unwrap();
    let details = client
        .get_bool_details("grading.new_grader", None, None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (false, Some(EvaluationReason::Default))
    );

    let _on = toggles::testing::set(&NEW_GRADER, true);
    let details = client
        .get_bool_details("grading.new_grader", None, None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (true, Some(EvaluationReason::Static))
    );
}

#[tokio::test]
async fn settings_resolve_by_their_type_and_errors_have_their_codes() {
    let (_g, client) = client(FlagRule::new()).await;
    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5)
            .by("ana")
            .because("small"),
    )
    .unwrap();
    assert_eq!(
        client
            .get_int_value("uploads.max_upload_bytes", None, None)
            .await
            .unwrap(),
        5
    );
    let ratio = client
        .get_float_value("uploads.scan_ratio", None, None)
        .await
        .unwrap();
    assert!((ratio - 0.25).abs() < f64::EPSILON);
    let greeting = client
        .get_string_details("home.greeting", None, None)
        .await
        .unwrap();
    assert_eq!(
        (greeting.value.as_str(), greeting.variant.as_deref()),
        ("Welcome", Some("Welcome"))
    );

    let code = |r: Result<(), open_feature::EvaluationError>| r.unwrap_err().code;
    let missing = client
        .get_bool_value("grading.nope", None, None)
        .await
        .map(|_| ());
    assert_eq!(code(missing), EvaluationErrorCode::FlagNotFound);
    for mismatch in [
        client
            .get_bool_value("uploads.max_upload_bytes", None, None)
            .await
            .map(|_| ()),
        client
            .get_float_value("uploads.max_upload_bytes", None, None)
            .await
            .map(|_| ()),
        client
            .get_int_value("uploads.scan_ratio", None, None)
            .await
            .map(|_| ()),
        client
            .get_string_value("grading.new_grader", None, None)
            .await
            .map(|_| ()),
        client
            .get_int_value("catalog.recommendations", None, None)
            .await
            .map(|_| ()),
    ] {
        assert_eq!(code(mismatch), EvaluationErrorCode::TypeMismatch);
    }
}

#[tokio::test]
async fn the_status_reports_a_store_that_failed_to_load() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    assert_eq!(TogglesProvider::new().status(), ProviderStatus::Ready);
    let dir = std::env::temp_dir().join(format!("toggles-of-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("toggles.json");
    std::fs::write(&path, "{ not json").unwrap();
    let failed = toggles::install(toggles::store::FileStore::open(&path).unwrap());
    assert!(matches!(
        failed,
        Err(toggles::InstallError::FirstLoad { .. })
    ));
    assert_eq!(TogglesProvider::new().status(), ProviderStatus::Error);
    assert_eq!(TogglesProvider::new().metadata().name, "toggles");
    let _ = std::fs::remove_dir_all(dir);
}
