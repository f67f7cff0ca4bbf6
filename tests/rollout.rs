//! Staged rollouts: a flag's percent climbs its plan's stages by itself — once each stage has
//! been held and its guard holds — through audited writes by `rollout`; a trip stops it, a
//! person pauses, resumes, skips or rolls it back, and its progress is the store's.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::store::{all_audit, serial};
use toggles::rules::{
    FlagRule, Guard, Plan, PlanState, Stage, Steer, Timestamp, GUARD_ACTOR, ROLLOUT_ACTOR,
};
use toggles::store::{AuditEntry, MemoryStore, Store};
use toggles::{toggle, Change, Flag, Installation, Installer, WriteError};

/// Rolled out in stages.
#[toggle(namespace = "staged", life = "temporary", remove_by = "2030-01-01")]
static NEW_CHECKOUT: Flag;

const NAME: &str = "staged.new_checkout";

/// The test's clock: `secs` after a fixed start.
fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_900_000_000 + secs)
}

/// 1% for 10 minutes, 5% for 30, then everyone.
fn plan() -> Plan {
    Plan::new([
        Stage::hold(1.0, Duration::from_secs(600)),
        Stage::hold(5.0, Duration::from_secs(1800)),
        Stage::last(100.0),
    ])
    .since(at(0))
}

fn install(store: impl Store) -> Installation {
    let toggles = Installer::new(store)
        .without_guard_thread()
        .install()
        .unwrap();
    toggles.check_guards(); // drains what earlier tests left recorded
    toggles
}

/// A fresh memory store holding `rule`, installed.
fn installed(rule: FlagRule) -> (Installation, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let toggles = install(Arc::clone(&store));
    toggles::write(Change::flag(NAME, rule).by("ana").because("start")).unwrap();
    (toggles, store)
}

/// The rule in force.
fn rule() -> FlagRule {
    let live = toggles::registry().get(NAME).unwrap().live().unwrap();
    serde_json::from_value(live.value).unwrap()
}

fn stage() -> (usize, PlanState, Option<f64>) {
    let rule = rule();
    let plan = rule.plan.unwrap();
    (plan.stage, plan.state, rule.percent)
}

/// The plan installed with a guard above 10% errors over 5 minutes, from 100 outcomes, its
/// first tick taken.
fn guarded() -> Installation {
    let guard = Guard::error_rate(10.0).window_secs(300).min_requests(100);
    let (toggles, _store) = installed(FlagRule::new().staged(plan()).guard(guard));
    toggles.check_guards_at(at(0));
    toggles
}

fn rollout_entries() -> Vec<AuditEntry> {
    all_audit()
        .into_iter()
        .filter(|e| e.actor == ROLLOUT_ACTOR)
        .collect()
}

fn record(on: bool, ok: usize, err: usize) {
    for i in 0..ok + err {
        NEW_CHECKOUT.record(on, i >= err);
    }
}

#[test]
fn climbs_each_stage_once_its_hold_has_passed_and_not_before() {
    let _s = serial();
    let (toggles, _store) = installed(FlagRule::new().staged(plan()));
    assert_eq!(stage(), (0, PlanState::Running, Some(1.0)));

    toggles.check_guards_at(at(599));
    assert_eq!(
        stage(),
        (0, PlanState::Running, Some(1.0)),
        "a second early"
    );
    toggles.check_guards_at(at(600));
    assert_eq!(stage(), (1, PlanState::Running, Some(5.0)));
    let entries = rollout_entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].reason,
        "staged rollout: stage 1 of 3 (1%) after 10m held, now stage 2 of 3 (5%); no guard"
    );
    assert_eq!(
        rule().plan.unwrap().since,
        Some(at(600)),
        "the next hold starts at the advance"
    );

    toggles.check_guards_at(at(600 + 1799));
    assert_eq!(stage().0, 1);
    toggles.check_guards_at(at(600 + 1800));
    assert_eq!(stage(), (2, PlanState::Done, Some(100.0)));
    toggles.check_guards_at(at(100_000));
    assert_eq!(
        rollout_entries().len(),
        2,
        "a done plan writes nothing more"
    );
    assert!(NEW_CHECKOUT.is_enabled(&toggles::Context::new().with_user("u1")));
}

#[test]
fn a_guarded_stage_waits_for_enough_outcomes_to_judge() {
    let _s = serial();
    let toggles = guarded();

    record(true, 99, 0);
    toggles.check_guards_at(at(600));
    assert_eq!(stage().0, 0, "99 outcomes: the guard cannot judge yet");
    record(true, 1, 0);
    toggles.check_guards_at(at(610));
    assert_eq!(stage(), (1, PlanState::Running, Some(5.0)));
    assert_eq!(
        rollout_entries()[0].reason,
        "staged rollout: stage 1 of 3 (1%) after 10m held, now stage 2 of 3 (5%); guard held over the last 300s in this process: the on arm's errors 0 of 100, the off arm's 0 of 0"
    );
}

#[test]
fn a_trip_stops_the_plan_and_turns_the_flag_off() {
    let _s = serial();
    let toggles = guarded();

    record(true, 80, 20);
    assert_eq!(
        toggles.check_guards_at(at(600)),
        [NAME],
        "due, but the guard trips"
    );
    let stopped = rule();
    assert!(!stopped.active);
    let plan = stopped.plan.unwrap();
    assert_eq!((plan.stage, plan.state), (0, PlanState::Stopped));
    assert_eq!(
        plan.stopped.as_deref(),
        Some("guard tripped: the on arm's error rate 20.00% (20 of 100) is above the limit of 10% over the last 300s in this process")
    );
    toggles.check_guards_at(at(10_000));
    assert!(
        rollout_entries().is_empty(),
        "a stopped plan does not climb"
    );
    assert_eq!(all_audit()[0].actor, GUARD_ACTOR);

    // A person resumes it: on again, at the stage it stopped at, its hold afresh.
    let resumed = rule().steer(Steer::Resume, at(20_000)).unwrap();
    toggles::write(Change::flag(NAME, resumed).by("ana").because("fixed")).unwrap();
    let rule = rule();
    assert!(rule.active);
    let plan = rule.plan.unwrap();
    assert_eq!(
        (plan.stage, plan.state, plan.stopped.as_deref()),
        (0, PlanState::Running, None)
    );
    assert_eq!(plan.due(), Some(at(20_600)));
}

#[test]
fn a_person_pauses_resumes_skips_and_rolls_back() {
    let _s = serial();
    let (toggles, _store) = installed(FlagRule::new().staged(plan()));
    let steer = |step: Steer, now: Timestamp| {
        let rule = rule().steer(step, now).unwrap();
        toggles::write(Change::flag(NAME, rule).by("ana").because("steer")).unwrap();
    };

    steer(Steer::Pause, at(300));
    toggles.check_guards_at(at(5_000));
    assert_eq!(
        stage(),
        (0, PlanState::Paused, Some(1.0)),
        "paused: no advance"
    );

    steer(Steer::Resume, at(6_000));
    toggles.check_guards_at(at(6_599));
    assert_eq!(stage().0, 0, "the hold starts afresh at the resume");
    toggles.check_guards_at(at(6_600));
    assert_eq!(stage(), (1, PlanState::Running, Some(5.0)));

    steer(Steer::Rollback, at(7_000));
    assert_eq!(
        stage(),
        (0, PlanState::Paused, Some(1.0)),
        "back one stage, paused"
    );
    assert_eq!(
        rule().steer(Steer::Rollback, at(7_000)).unwrap_err(),
        "the plan is paused: it is at its first stage; turn the flag off to roll back further"
    );

    steer(Steer::Skip, at(7_100));
    assert_eq!(
        stage(),
        (1, PlanState::Paused, Some(5.0)),
        "skipped, still paused"
    );
    steer(Steer::Skip, at(7_200));
    assert_eq!(stage(), (2, PlanState::Done, Some(100.0)));
    assert_eq!(
        rule().steer(Steer::Skip, at(7_300)).unwrap_err(),
        "the plan is done: it is at its last stage"
    );
    assert_eq!(
        rule().steer(Steer::Pause, at(7_300)).unwrap_err(),
        "the plan is done: only a running plan pauses"
    );
    assert_eq!(
        rollout_entries().len(),
        1,
        "only the one advance was the rollout's"
    );
}

#[test]
fn progress_lives_in_the_store_across_a_restart() {
    let _s = serial();
    let (toggles, store) = installed(FlagRule::new().staged(plan()));
    toggles.check_guards_at(at(600));
    assert_eq!(stage().0, 1);
    drop(toggles);

    // A new installation of the same store: it climbs on from the stored stage and time.
    let toggles = install(Arc::clone(&store));
    assert_eq!(stage(), (1, PlanState::Running, Some(5.0)));
    toggles.check_guards_at(at(600 + 1799));
    assert_eq!(stage().0, 1);
    toggles.check_guards_at(at(600 + 1800));
    assert_eq!(stage(), (2, PlanState::Done, Some(100.0)));
}

#[test]
fn a_bad_plan_is_refused_whole_with_every_problem() {
    let _s = serial();
    let (_toggles, _store) = installed(FlagRule::new());
    let json = serde_json::json!({
        "percent": 10,
        "everyone": true,
        "plan": {
            "stages": [
                { "percent": 5 },
                { "percent": 5, "hold_secs": 0 },
                { "percent": 100.001, "hold_secs": 60 }
            ],
            "stage": 0,
            "state": "running"
        }
    });
    let bad: FlagRule = serde_json::from_value(json).unwrap();
    let refused = toggles::write(Change::flag(NAME, bad).by("ana").because("bad"));
    let Err(WriteError::Invalid(invalid)) = refused else {
        panic!("{refused:?}");
    };
    let problems: Vec<String> = invalid.problems.iter().map(|p| p.message.clone()).collect();
    assert_eq!(
        problems,
        [
            "`plan.stages` stage 1 needs a `hold_secs`: how long it is held before stage 2",
            "`plan.stages` stage 2's `hold_secs` must be at least 1",
            "`plan.stages` climb: stage 2's 5% is not above stage 1's 5%",
            "`plan.stages` stage 3's `percent` is from 0 to 100, not 100.001",
            "`plan.stages` stage 3 is the last: it has no `hold_secs`, reaching it completes the plan",
            "`percent` is the current stage's: 5% for stage 1 of 3 (5%), not 10%",
            "`plan.since` is missing: a running plan holds each stage from when it began",
            "`everyone` decides before `percent`, so a staged rollout would climb unseen: remove one of them",
        ]
    );
    assert_eq!(rule(), FlagRule::new(), "nothing of it applied");
}
