//! Guards on a variant toggle's arms: an arm failing against the control is dropped to the
//! control by one audited write, the others keep their units, the control is never dropped,
//! and a dropped arm's units are not exposed.

#[path = "support/checkout.rs"]
mod checkout;
mod support;

use std::sync::Arc;

use checkout::{Checkout, CHECKOUT_FLOW, NAME};
use support::store::{all_audit, serial};
use toggles::rules::{Guard, VariantRule, GUARD_ACTOR};
use toggles::store::{MemoryStore, Store};
use toggles::{Change, Context, Installation, Installer, Step};

fn installed(rule: VariantRule) -> (Installation, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let toggles = Installer::new(Arc::clone(&store))
        .without_guard_thread()
        .without_exposure_thread()
        .install()
        .unwrap();
    toggles.check_guards();
    toggles::write(Change::variant(NAME, rule).by("ana").because("start")).unwrap();
    (toggles, store)
}

fn record(arm: Checkout, ok: usize, err: usize) {
    for _ in 0..ok {
        CHECKOUT_FLOW.record(arm, true);
    }
    for _ in 0..err {
        let outcome = CHECKOUT_FLOW.outcome(arm);
        drop(outcome); // not marked ok: a failure
    }
}

fn experiment() -> VariantRule {
    VariantRule::new()
        .coverage(100.0)
        .weight("classic", 3334)
        .weight("one_page", 3333)
        .weight("express", 3333)
        .track(true)
        .guard(Guard::margin(5.0).window_secs(60).min_requests(100))
}

#[test]
fn a_failing_arm_is_dropped_to_the_control_by_one_audited_write() {
    let _s = serial();
    let (toggles, store) = installed(experiment());
    let users: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    let before: Vec<Checkout> = users
        .iter()
        .map(|u| CHECKOUT_FLOW.get(&Context::new().with_user(u)))
        .collect();

    record(Checkout::Classic, 196, 4); // 2%
    record(Checkout::Express, 194, 6); // 3%: within 5 points
    record(Checkout::OnePage, 180, 20); // 10%: 8 points above the control
    assert_eq!(toggles.check_guards(), [format!("{NAME}#one_page")]);

    let trips: Vec<_> = all_audit()
        .into_iter()
        .filter(|e| e.actor == GUARD_ACTOR)
        .collect();
    assert_eq!(trips.len(), 1, "one write");
    assert!(
        trips[0].reason.contains(
            "arm `one_page`'s error rate 10.00% (20 of 200) is more than 5 points above the control `classic`'s 2.00% (4 of 200)"
        ),
        "{}",
        trips[0].reason
    );
    let stored: VariantRule =
        serde_json::from_value(store.load().unwrap().variants.get(NAME).unwrap().clone()).unwrap();
    assert_eq!(stored.dropped, ["one_page"]);

    // one_page's units get the control, and are not exposed; everyone else keeps their arm.
    for (user, was) in users.iter().zip(before) {
        let why = CHECKOUT_FLOW.explain(&Context::new().with_user(user));
        if was == Checkout::OnePage {
            assert_eq!(why.arm, Checkout::Classic);
            assert_eq!(
                why.step,
                Step::Dropped {
                    arm: "one_page".into()
                }
            );
            assert!(!why.is_exposure());
        } else {
            assert_eq!(why.arm, was, "{user} keeps its arm");
        }
    }
    // The guard judges what is left: express, still fine, and nothing more is written.
    record(Checkout::Classic, 196, 4);
    record(Checkout::Express, 194, 6);
    assert!(toggles.check_guards().is_empty());
}

#[test]
fn the_control_is_never_dropped_and_a_dropped_arm_must_be_declared() {
    let _s = serial();
    let (toggles, _store) = installed(experiment());
    // A failing control trips nothing: arms are judged against it, not it against them.
    record(Checkout::Classic, 100, 100);
    record(Checkout::OnePage, 200, 0);
    record(Checkout::Express, 200, 0);
    assert!(toggles.check_guards().is_empty());
    for (rule, expected) in [
        (
            experiment().drop_arm("classic"),
            "`dropped` names `classic`, the control",
        ),
        (experiment().drop_arm("one_pag"), "did you mean `one_page`?"),
    ] {
        let err = toggles::write(Change::variant(NAME, rule).by("ana").because("x")).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    // Dropped by hand: the same as by a guard.
    toggles::write(
        Change::variant(NAME, experiment().drop_arm("express"))
            .by("ana")
            .because("express pay is down"),
    )
    .unwrap();
    let everyone = (0..200)
        .map(|i| CHECKOUT_FLOW.get(&Context::new().with_user(&format!("user-{i}"))))
        .collect::<Vec<_>>();
    assert!(!everyone.contains(&Checkout::Express));
    assert!(everyone.contains(&Checkout::OnePage));
}

#[test]
fn two_arms_tripping_in_one_tick_are_dropped_by_one_write() {
    let _s = serial();
    let (toggles, store) = installed(experiment());
    record(Checkout::Classic, 196, 4);
    record(Checkout::OnePage, 180, 20);
    record(Checkout::Express, 170, 30);
    let mut tripped = toggles.check_guards();
    tripped.sort();
    assert_eq!(
        tripped,
        [format!("{NAME}#express"), format!("{NAME}#one_page")]
    );
    let writes: Vec<_> = all_audit()
        .into_iter()
        .filter(|e| e.actor == GUARD_ACTOR)
        .collect();
    assert_eq!(writes.len(), 1, "both arms in one write");
    assert!(
        writes[0].reason.contains("arm `express`'s"),
        "{}",
        writes[0].reason
    );
    assert!(
        writes[0].reason.contains("arm `one_page`'s"),
        "{}",
        writes[0].reason
    );
    let stored: VariantRule =
        serde_json::from_value(store.load().unwrap().variants.get(NAME).unwrap().clone()).unwrap();
    let mut dropped = stored.dropped.clone();
    dropped.sort();
    assert_eq!(dropped, ["express", "one_page"]);
    for i in 0..100 {
        let user = format!("user-{i}");
        assert_eq!(
            CHECKOUT_FLOW.get(&Context::new().with_user(&user)),
            Checkout::Classic
        );
    }
}

#[test]
fn an_arm_slower_than_the_control_is_dropped_on_its_p95() {
    let _s = serial();
    let guard = Guard::p95_margin(25.0).window_secs(60).min_requests(100);
    let (toggles, store) = installed(experiment().guard(guard));
    let runs = |arm: Checkout, n: usize, ms: u64| {
        for _ in 0..n {
            CHECKOUT_FLOW.record_timed(arm, true, std::time::Duration::from_millis(ms));
        }
    };
    runs(Checkout::Classic, 200, 80);
    runs(Checkout::Express, 200, 95); // within 25% of the control
    runs(Checkout::OnePage, 200, 160);
    assert_eq!(toggles.check_guards(), [format!("{NAME}#one_page")]);
    let trips: Vec<_> = all_audit()
        .into_iter()
        .filter(|e| e.actor == GUARD_ACTOR)
        .collect();
    assert_eq!(trips.len(), 1);
    assert!(
        trips[0]
            .reason
            .contains("arm `one_page`'s 95th-percentile run time")
            && trips[0]
                .reason
                .contains("(200 runs) is more than 25% above the control `classic`'s"),
        "{}",
        trips[0].reason
    );
    let stored: VariantRule =
        serde_json::from_value(store.load().unwrap().variants.get(NAME).unwrap().clone()).unwrap();
    assert_eq!(stored.dropped, ["one_page"]);
}

#[test]
fn an_arm_whose_traffic_falls_against_the_controls_is_dropped() {
    let _s = serial();
    // Half the units in: the control serves the other half too, so an arm with a third of the
    // weights expects a quarter of what the control sees (a sixth of the units to its four).
    let rule = VariantRule::new()
        .coverage(50.0)
        .weight("classic", 3334)
        .weight("one_page", 3333)
        .weight("express", 3333)
        .guard(Guard::traffic_drop(30.0).window_secs(60).min_requests(100));
    let (toggles, _store) = installed(rule);
    record(Checkout::Classic, 1000, 0);
    record(Checkout::Express, 200, 0); // 20% below its 250
    record(Checkout::OnePage, 100, 0); // 60% below
    assert_eq!(toggles.check_guards(), [format!("{NAME}#one_page")]);
    let reason = all_audit()
        .into_iter()
        .find(|e| e.actor == GUARD_ACTOR)
        .unwrap()
        .reason;
    assert!(
        reason.contains("arm `one_page`'s traffic of 100 outcomes is 59.99% below the 250.0 that the control `classic`'s 1000 predict at a 20.00% share"),
        "{reason}"
    );
}

#[test]
fn a_traffic_guard_on_arms_needs_the_draw_alone_to_decide() {
    let _s = serial();
    let (_toggles, _store) = installed(experiment());
    let guard = || Guard::traffic_drop(30.0);
    let all_in_no_control = VariantRule::new()
        .coverage(100.0)
        .weight("one_page", 5000)
        .weight("express", 5000);
    for rule in [
        experiment().guard(guard()).users("classic", ["qa-1"]),
        all_in_no_control.guard(guard()),
    ] {
        let err = toggles::write(Change::variant(NAME, rule).by("ana").because("x")).unwrap_err();
        assert!(
            err.to_string().contains(
                "`guard.max_traffic_drop` predicts each arm's traffic from the control's at the rule's weights, so only the draw may decide"
            ),
            "{err}"
        );
    }
}
