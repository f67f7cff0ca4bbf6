//! A variant toggle through the OpenFeature client: string evaluation answers the arm's name as
//! value and variant, with the reason of the step that decided; a boolean evaluation of it is a
//! type mismatch.

use open_feature::{EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature};
use toggles::rules::VariantRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Variant, Variants};
use toggles_openfeature::TogglesProvider;

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
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

#[tokio::test]
async fn string_evaluation_answers_the_arm() {
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let rule = VariantRule::new()
        .coverage(100.0)
        .weight("one_page", 5000)
        .weight("express", 5000)
        .users("express", ["qa-1"])
        .groups("org", "classic", ["edX"]);
    toggles::write(
        Change::variant("checkout.checkout_flow", rule)
            .by("ana")
            .because("test"),
    )
    .unwrap();
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(TogglesProvider::new()).await;
    let client = api.create_client();
    drop(api);
    let drawn = CHECKOUT_FLOW.get(&Context::new().with_user("42")).name();
    for (ctx, arm, reason) in [
        (
            EvaluationContext::default().with_targeting_key("qa-1"),
            "express",
            EvaluationReason::TargetingMatch,
        ),
        (
            EvaluationContext::default().with_targeting_key("42"),
            drawn,
            EvaluationReason::Split,
        ),
        (
            EvaluationContext::default()
                .with_targeting_key("42")
                .with_custom_field("group.org", "edX"),
            "classic",
            EvaluationReason::TargetingMatch,
        ),
        (
            EvaluationContext::default(),
            "classic",
            EvaluationReason::Split,
        ),
    ] {
        let details = client
            .get_string_details("checkout.checkout_flow", Some(&ctx), None)
            .await
            .unwrap();
        assert_eq!(details.value, arm);
        assert_eq!(details.variant.as_deref(), Some(arm));
        assert_eq!(details.reason, Some(reason));
    }
    let mismatch = client
        .get_bool_details("checkout.checkout_flow", None, None)
        .await
        .unwrap_err();
    assert_eq!(mismatch.code, EvaluationErrorCode::TypeMismatch);
}
