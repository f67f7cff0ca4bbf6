//! Variant toggles: the arms of an enum per context, through the installed store — the order a
//! rule is applied in, `get` and `explain` agreeing, what a write refuses, test overrides, and
//! the arms in the registry, the report and the published declarations. The store is
//! process-wide, so these tests take turns (`serial`).

#[path = "support/checkout.rs"]
mod checkout;
mod support;

use std::sync::{Arc, MutexGuard};

use checkout::{Checkout, CHECKOUT_FLOW, NAME};
use proptest::prelude::*;
use support::store::serial;
use toggles::rules::bucket::draw;
use toggles::rules::{FlagRule, VariantRule};
use toggles::store::{FileStore, MemoryStore, Snapshot, Store};
use toggles::{
    registry, toggle, Change, Context, Flag, Kind, Step, Timestamp, Variants, WriteError,
};

/// The new payment form, which the checkout experiment needs.
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
static NEW_PAYMENTS: Flag;

/// A store installed for one test, which keeps other tests out until dropped.
struct Installed {
    store: Arc<MemoryStore>,
    _toggles: toggles::Installation,
    _serial: MutexGuard<'static, ()>,
}

fn installed(rule: Option<VariantRule>) -> Installed {
    let serial = serial();
    let mut snapshot = Snapshot::default();
    if let Some(rule) = rule {
        snapshot.apply(&Change::variant(NAME, rule));
    }
    let store = Arc::new(MemoryStore::from(snapshot));
    let toggles = toggles::install(Arc::clone(&store)).expect("a valid rule");
    Installed {
        store,
        _toggles: toggles,
        _serial: serial,
    }
}

fn write(rule: VariantRule) -> Result<toggles::store::AuditEntry, WriteError> {
    toggles::write(Change::variant(NAME, rule).by("ana").because("experiment"))
}

#[track_caller]
fn check(ctx: &Context<'_>, arm: Checkout, step: &Step) {
    let why = CHECKOUT_FLOW.explain(ctx);
    assert_eq!((why.arm, &why.step), (arm, step), "explain");
    assert_eq!(CHECKOUT_FLOW.get(ctx), arm, "get");
    let by_name = registry().get(NAME).unwrap().assign(ctx).unwrap();
    assert_eq!((by_name.arm, &by_name.step), (arm.name(), step), "assign");
}

fn user(id: &str) -> Context<'_> {
    Context::new().with_user(id)
}

#[test]
fn no_rule_gives_the_control() {
    let _g = installed(None);
    check(&user("42"), Checkout::Classic, &Step::Default);
    check(&Context::new(), Checkout::Classic, &Step::Default);
}

#[test]
fn pins_win_in_the_order_site_user_group_then_everyone() {
    let _g = installed(Some(
        VariantRule::new()
            .sites("express", ["shop.example.com"])
            .users("one_page", ["42"])
            .groups("org", "express", ["edX"])
            .groups("org", "one_page", ["MITx"])
            .everyone("one_page"),
    ));
    let groups = [("org", "MITx"), ("org", "edX")];
    let everything = user("42")
        .with_site("shop.example.com")
        .with_groups(&groups);
    check(&everything, Checkout::Express, &Step::Site);
    let ctx = user("42").with_groups(&groups);
    check(&ctx, Checkout::OnePage, &Step::User);
    // Two groups pinned to different arms: the arm declared first wins, in either order.
    let reversed = [("org", "edX"), ("org", "MITx")];
    let group = Step::Group { kind: "org".into() };
    check(&user("7").with_groups(&groups), Checkout::OnePage, &group);
    check(&user("7").with_groups(&reversed), Checkout::OnePage, &group);
    check(&user("7"), Checkout::OnePage, &Step::Everyone);
}

#[test]
fn a_closed_gate_gives_the_control() {
    let _g = installed(Some(
        VariantRule::new()
            .everyone("express")
            .requires("checkout.new_payments")
            .environments(["prod"]),
    ));
    // A context answers from the state in force when it was made: one per step.
    let prod = || user("1").with_environment("prod");
    check(
        &prod(),
        Checkout::Classic,
        &Step::Requires {
            flag: "checkout.new_payments".into(),
        },
    );
    toggles::write(
        Change::flag("checkout.new_payments", FlagRule::new().everyone(true))
            .by("ana")
            .because("payments ready"),
    )
    .unwrap();
    check(&prod(), Checkout::Express, &Step::Everyone);
    check(
        &user("1").with_environment("dev"),
        Checkout::Classic,
        &Step::Environment,
    );
    write(VariantRule::new().everyone("express").active(false)).unwrap();
    check(&prod(), Checkout::Classic, &Step::Inactive);
    assert!(NEW_PAYMENTS.is_enabled(&prod()));
}

#[test]
fn the_experiment_draws_units_inside_its_coverage_and_exposes_only_them() {
    let _g = installed(Some(
        VariantRule::new()
            .coverage(50.0)
            .weight("one_page", 5000)
            .weight("express", 5000)
            .users("express", ["pinned"]),
    ));
    let mut arms = [0u32; 3];
    for i in 0..2_000 {
        let id = format!("user-{i}");
        let (bucket, _) = draw(NAME, &id);
        let why = CHECKOUT_FLOW.explain(&user(&id));
        let expected = Step::Split {
            bucket: Some(bucket),
            coverage: 5000,
            stickiness: None,
        };
        assert_eq!(why.step, expected);
        assert_eq!(
            why.is_exposure(),
            bucket < 5000,
            "exposed inside the coverage only"
        );
        if bucket >= 5000 {
            assert_eq!(
                why.arm,
                Checkout::Classic,
                "outside the coverage: the control"
            );
        }
        assert_eq!(CHECKOUT_FLOW.get(&user(&id)), why.arm);
        arms[why.arm.index()] += 1;
    }
    // 1,000 expected outside, 500 in each arm: 4 standard deviations apart at most.
    assert!((900..1100).contains(&arms[0]), "{arms:?}");
    assert!(
        (410..590).contains(&arms[1]) && (410..590).contains(&arms[2]),
        "{arms:?}"
    );
    let pinned = CHECKOUT_FLOW.explain(&user("pinned"));
    assert_eq!(
        (pinned.arm, pinned.is_exposure()),
        (Checkout::Express, false)
    );
    // No unit: the control, and the explanation says why.
    let why = CHECKOUT_FLOW.explain(&Context::new());
    assert_eq!(why.arm, Checkout::Classic);
    assert_eq!(why.step.to_string(), "no user id to draw an arm by");
}

#[test]
fn one_arm_for_everyone_is_answered_without_evaluating() {
    let _g = installed(Some(VariantRule::new().everyone("express")));
    // Answered from the cached word: the same arm for every context, with or without a unit.
    for ctx in [user("1"), Context::new(), user("2").with_site("x")] {
        check(&ctx, Checkout::Express, &Step::Everyone);
    }
}

#[test]
fn a_write_naming_an_arm_the_toggle_does_not_declare_is_refused_with_the_closest() {
    let g = installed(Some(VariantRule::new().everyone("express")));
    let before = g.store.load().unwrap();
    let err = write(
        VariantRule::new()
            .coverage(10.0)
            .weight("one_pag", 5000)
            .weight("classic", 5000)
            .users("expres", ["42"]),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`weights` names arm `one_pag`, which is not one of its arms (classic, one_page, express); did you mean `one_page`?"),
        "{message}"
    );
    assert!(
        message.contains("`users` names arm `expres`, which is not one of its arms (classic, one_page, express); did you mean `express`?"),
        "{message}"
    );
    assert_eq!(g.store.load().unwrap(), before, "nothing changed");
    check(&user("42"), Checkout::Express, &Step::Everyone);
}

#[test]
fn a_write_of_a_rule_that_cannot_draw_is_refused_whole() {
    let g = installed(None);
    for (rule, expected) in [
        (
            VariantRule::new().coverage(50.0),
            "`coverage` takes units into the experiment, but no arm has a weight to draw them by: give `weights`",
        ),
        (
            VariantRule::new().coverage(12.345).weight("express", 1),
            "`coverage` is held in whole basis points (0.01%): 12.345 is finer; write 12.34 or 12.35",
        ),
        (
            VariantRule::new().coverage(50.0).weight("express", 10_001),
            "the weight of `express` is from 0 to 10,000, not 10001",
        ),
        (
            VariantRule::new().users("express", ["42"]).users("one_page", ["42"]),
            "`42` is pinned to both `express` and `one_page` in `users`",
        ),
        (
            VariantRule::new().everyone("express").requires("checkout.no_such_flag"),
            "requires `checkout.no_such_flag`, which is not a flag of this program",
        ),
    ] {
        let err = write(rule).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    let err = toggles::write(
        Change::flag(NAME, FlagRule::new().percent(10.0))
            .by("ana")
            .because("wrong kind"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("is a variant, not a flag"),
        "{err}"
    );
    assert_eq!(
        g.store.load().unwrap(),
        Snapshot::default(),
        "nothing changed"
    );
}

#[test]
fn test_overrides_force_an_arm_and_with_each_runs_every_arm() {
    let _g = installed(Some(VariantRule::new().everyone("express")));
    {
        let _forced = toggles::testing::set(&CHECKOUT_FLOW, Checkout::OnePage);
        check_override(Checkout::OnePage);
    }
    check(&user("1"), Checkout::Express, &Step::Everyone);
    let mut seen = Vec::new();
    toggles::testing::with_each(&CHECKOUT_FLOW, |arm| {
        check_override(arm);
        seen.push(arm);
    });
    assert_eq!(
        seen,
        [Checkout::Classic, Checkout::OnePage, Checkout::Express]
    );
}

fn check_override(arm: Checkout) {
    let why = CHECKOUT_FLOW.explain(&user("1"));
    assert_eq!((why.arm, why.step), (arm, Step::TestOverride));
    assert_eq!(CHECKOUT_FLOW.get(&user("1")), arm);
}

#[test]
fn the_arms_are_in_the_registry_the_report_and_the_declarations() {
    let info = registry().get(NAME).unwrap();
    assert_eq!(info.kind(), Kind::Variant);
    assert_eq!(info.value_type(), "Checkout");
    assert_eq!(info.toggle().arms(), ["classic", "one_page", "express"]);
    let _g = installed(None);
    let report = serde_json::to_value(registry().report().unwrap()).unwrap();
    let entry = report["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["full_name"] == NAME)
        .unwrap()
        .clone();
    assert_eq!(entry["kind"], "variant");
    assert_eq!(entry["default"], "classic");
    assert_eq!(
        entry["arms"],
        serde_json::json!(["classic", "one_page", "express"])
    );
    let declared =
        toggles::store::Declarations::of(registry(), toggles::Service::new("shop", "1.0"));
    let flow = declared
        .toggles
        .iter()
        .find(|d| d.full_name == NAME)
        .unwrap();
    assert_eq!(flow.arms, ["classic", "one_page", "express"]);
}

/// A rule in the file store survives a restart: written through one store, read by a new one.
#[test]
fn a_variant_rule_survives_the_file_store() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let rule = VariantRule::new()
        .coverage(25.5)
        .weight("classic", 5000)
        .weight("express", 5000)
        .groups("org", "one_page", ["edX"]);
    {
        let store = Arc::new(FileStore::open(&path).unwrap());
        let _toggles = toggles::install(Arc::clone(&store)).unwrap();
        write(rule.clone()).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["variants"][NAME]["weights"]["express"], 5000);
    let _toggles = toggles::install(FileStore::open(&path).unwrap()).unwrap();
    let groups = [("org", "edX")];
    check(
        &user("1").with_groups(&groups),
        Checkout::OnePage,
        &Step::Group { kind: "org".into() },
    );
    let stored: VariantRule = serde_json::from_value(json["variants"][NAME].clone()).unwrap();
    assert_eq!(stored, rule);
}

fn rules() -> impl Strategy<Value = VariantRule> {
    let arm = || prop::sample::select(Checkout::ARMS.to_vec());
    (
        prop::option::of(prop::sample::select(vec![0.0, 0.01, 33.33, 50.0, 100.0])),
        proptest::collection::vec(0u16..=10_000, 3),
        proptest::collection::vec((arm(), prop::sample::select(vec!["a", "b"])), 0..3),
        prop::option::weighted(0.2, arm()),
        prop::option::weighted(0.2, Just("region")),
        (
            prop::bool::weighted(0.2),
            prop::option::weighted(0.3, prop::sample::select(vec!["one_page", "express"])),
        ),
    )
        .prop_map(
            |(coverage, weights, pins, everyone, sticky, (window, dropped))| {
                let mut rule = VariantRule::new();
                if let Some(arm) = dropped {
                    rule = rule.drop_arm(arm);
                }
                for (arm, w) in Checkout::ARMS.iter().zip(weights) {
                    rule = rule.weight(*arm, w);
                }
                if let Some(c) = coverage {
                    rule = rule.coverage(c);
                    if rule.weights.values().all(|w| *w == 0) {
                        rule = rule.weight("classic", 1);
                    }
                }
                for (arm, id) in pins {
                    if !rule.users.values().flatten().any(|u| u == id) {
                        rule = rule.users(arm, [id]);
                    }
                }
                rule.everyone = everyone.map(str::to_owned);
                if let Some(attribute) = sticky {
                    rule = rule.stickiness(attribute);
                }
                if window {
                    rule = rule.window(Some(Timestamp::from_unix_seconds(1000)), None);
                }
                rule
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `get`, `explain` and the registry's `assign` give the same arm for every context,
    /// whatever the rule, and the same again for the same context (deterministic).
    #[test]
    fn get_and_explain_agree(
        rule in rules(),
        contexts in proptest::collection::vec(
            (
                prop::option::of(prop::sample::select(vec!["a", "b", "42", "user-9"])),
                prop::option::of(prop::sample::select(vec!["US", "RO"])),
                prop::sample::select(vec![0i64, 5000]),
            ),
            16,
        ),
    ) {
        let _g = installed(Some(rule));
        for (user, region, now) in contexts {
            let attributes: Vec<(&str, &str)> = region.iter().map(|r| ("region", *r)).collect();
            let mut ctx = Context::new()
                .with_attributes(&attributes)
                .with_time(Timestamp::from_unix_seconds(now));
            if let Some(user) = user {
                ctx = ctx.with_user(user);
            }
            let why = CHECKOUT_FLOW.explain(&ctx);
            prop_assert_eq!(CHECKOUT_FLOW.get(&ctx), why.arm);
            prop_assert_eq!(CHECKOUT_FLOW.get(&ctx), why.arm, "deterministic");
            let by_name = registry().get(NAME).unwrap().assign(&ctx).unwrap();
            prop_assert_eq!((by_name.arm, by_name.step), (why.arm.name(), why.step));
        }
    }
}

/// Another version of the service, declaring another set of arms, may have written the rule: a
/// load takes it, and an arm this program does not declare gives the control where it is named.
#[test]
fn a_rule_naming_an_arm_another_version_declares_loads() {
    let _g = installed(Some(
        VariantRule::new()
            .coverage(100.0)
            .weight("retired", 5000)
            .weight("express", 5000)
            .users("retired", ["u-old"]),
    ));
    assert!(toggles::status().invalid_entries.is_empty());
    assert_eq!(CHECKOUT_FLOW.get(&user("u-old")), Checkout::Classic);
    for i in 0..50 {
        assert_eq!(
            CHECKOUT_FLOW.get(&user(&format!("user-{i}"))),
            Checkout::Express,
            "the only weighted arm this program has"
        );
    }
}
