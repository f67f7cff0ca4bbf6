//! Staged rollouts: a flag's percent climbs its plan's stages by itself — once each stage has
//! been held and its guard holds — through audited writes by `rollout`; a trip stops it, a
//! person pauses, resumes, skips or rolls it back, and its progress is the store's.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
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
        "staged rollout: stage 1 of 3 (1%) after 10m held, now stage 2 of 3 (5%); guard held in this process on the stage's last 300s: the on arm's errors 0 of 100, the off arm's 0 of 0"
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
            "`plan.stages` stage 3 is the last and takes no `hold_secs`: reaching it completes the plan",
            "`percent` is the current stage's: 5% for stage 1 of 3 (5%), not 10% (the plan moves the percent: skip or roll back a stage, or remove the `plan`)",
            "`plan.since` is missing: a running plan holds each stage from when it began",
            "`everyone` decides before `percent`, so a staged rollout would climb unseen: remove one of them",
        ]
    );
    assert_eq!(rule(), FlagRule::new(), "nothing of it applied");
}

/// A memory store in which another instance's write lands just before this process's next
/// one: what a fleet's race looks like from one instance.
struct Raced {
    inner: Arc<MemoryStore>,
    ahead: std::sync::Mutex<Option<(FlagRule, &'static str)>>,
    /// Every write fails while it is set.
    down: AtomicBool,
}

impl Store for Raced {
    fn describe(&self) -> String {
        "raced memory store".into()
    }
    fn load(&self) -> Result<toggles::store::Snapshot, toggles::StoreError> {
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut toggles::store::Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(toggles::StoreError::Backend("the store is down".into()).into());
        }
        let ahead = self.ahead.lock().unwrap().take();
        if let Some((rule, actor)) = ahead {
            let json = serde_json::to_value(rule).unwrap();
            self.inner.update(&mut |snapshot| {
                let before = snapshot.flags.insert(NAME.into(), json.clone());
                Ok(AuditEntry::new(NAME, actor, "another instance's write")
                    .before(before)
                    .after(Some(json.clone())))
            })?;
        }
        self.inner.update(edit)
    }
    fn audit(
        &self,
        query: &toggles::store::AuditQuery,
    ) -> Result<Vec<AuditEntry>, toggles::StoreError> {
        self.inner.audit(query)
    }
    fn watch(&self, on_change: toggles::store::OnChange) -> Result<(), toggles::StoreError> {
        self.inner.watch(on_change)
    }
}

/// The guarded plan installed in a [`Raced`] store, its first tick taken.
fn raced() -> (Installation, Arc<Raced>, FlagRule) {
    let guard = Guard::error_rate(10.0).window_secs(300).min_requests(100);
    let rule = FlagRule::new().staged(plan()).guard(guard);
    let raced = Arc::new(Raced {
        inner: Arc::new(MemoryStore::new()),
        ahead: std::sync::Mutex::new(None),
        down: AtomicBool::new(false),
    });
    let toggles = install(Arc::clone(&raced));
    toggles::write(Change::flag(NAME, rule.clone()).by("ana").because("start")).unwrap();
    toggles.check_guards_at(at(0));
    (toggles, raced, rule)
}

#[test]
fn a_trip_is_not_lost_to_another_instances_advance() {
    let _s = serial();
    let (toggles, raced, rule) = raced();

    // This instance trips at the moment another advances the plan.
    *raced.ahead.lock().unwrap() = Some((rule.advanced(at(600)).unwrap(), ROLLOUT_ACTOR));
    record(true, 80, 20);
    assert_eq!(toggles.check_guards_at(at(600)), [NAME]);
    let stopped = self::rule();
    assert!(!stopped.active, "the trip went onto the advanced rule");
    let plan = stopped.plan.unwrap();
    assert_eq!((plan.stage, plan.state), (1, PlanState::Stopped));
    let actors: Vec<String> = all_audit().into_iter().map(|e| e.actor).collect();
    assert_eq!(actors, [GUARD_ACTOR, ROLLOUT_ACTOR, "ana"]);

    // A person's edit meanwhile is theirs: the trip yields to it.
    let resumed = self::rule().steer(Steer::Resume, at(700)).unwrap();
    toggles::write(
        Change::flag(NAME, resumed.clone())
            .by("ana")
            .because("fixed"),
    )
    .unwrap();
    let mut edited = resumed;
    edited.users.on = vec!["qa".into()];
    *raced.ahead.lock().unwrap() = Some((edited.clone(), "bob"));
    record(true, 80, 20);
    assert_eq!(toggles.check_guards_at(at(800)), [NAME]);
    assert_eq!(self::rule(), edited, "bob's edit stands");
}

#[test]
fn a_trip_pending_while_the_store_is_down_lands_on_the_plan_advanced_meanwhile() {
    let _s = serial();
    let (toggles, raced, rule) = raced();

    raced.down.store(true, Ordering::Relaxed);
    record(true, 80, 20);
    assert_eq!(toggles.check_guards_at(at(500)), [NAME]);
    assert!(!NEW_CHECKOUT.is_enabled(&toggles::Context::new().with_user("u1")));
    toggles.check_guards_at(at(700));
    assert!(
        rollout_entries().is_empty(),
        "no advance while its trip is pending"
    );
    // Another instance, whose store is reachable, advances the plan meanwhile.
    let advanced = serde_json::to_value(rule.advanced(at(600)).unwrap()).unwrap();
    raced
        .inner
        .update(&mut |snapshot| {
            let before = snapshot.flags.insert(NAME.into(), advanced.clone());
            Ok(
                AuditEntry::new(NAME, ROLLOUT_ACTOR, "another instance's advance")
                    .before(before)
                    .after(Some(advanced.clone())),
            )
        })
        .unwrap();

    raced.down.store(false, Ordering::Relaxed);
    toggles.check_guards_at(at(710));
    let stopped = self::rule();
    assert!(!stopped.active, "the trip landed on the advanced rule");
    assert_eq!(stopped.plan.unwrap().state, PlanState::Stopped);
}

#[test]
fn a_plan_climbs_only_within_its_window() {
    let _s = serial();
    let rule = FlagRule::new()
        .staged(plan())
        .window(Some(at(1_000)), Some(at(5_000)));
    let (toggles, _store) = installed(rule);
    toggles.check_guards_at(at(900));
    assert_eq!(
        stage().0,
        0,
        "before `from`: nobody is served, nothing is held"
    );
    toggles.check_guards_at(at(1_599));
    assert_eq!(stage().0, 0, "the hold counts from `from`");
    toggles.check_guards_at(at(1_600));
    assert_eq!(stage().0, 1);
    toggles.check_guards_at(at(1_600 + 1_800 + 10_000));
    assert_eq!(stage().0, 1, "after `until`");
}

#[test]
fn a_plan_that_could_not_finish_or_would_never_climb_is_refused() {
    let _s = serial();
    let (_toggles, _store) = installed(FlagRule::new());
    let problems = |rule: FlagRule| -> Vec<String> {
        match toggles::write(Change::flag(NAME, rule).by("ana").because("bad")) {
            Err(WriteError::Invalid(invalid)) => {
                invalid.problems.into_iter().map(|p| p.message).collect()
            }
            other => panic!("{other:?}"),
        }
    };
    let traffic = FlagRule::new()
        .staged(plan())
        .guard(Guard::traffic_drop(30.0));
    assert_eq!(
        problems(traffic),
        ["`guard.max_traffic_drop` compares the arms at every stage, and stage 3 at 100% leaves one arm empty: end the plan between 0 and 100%, or drop the traffic limit"]
    );
    let mut stopped = FlagRule::new().staged(plan());
    stopped.plan.as_mut().unwrap().state = PlanState::Stopped;
    assert_eq!(
        problems(stopped),
        ["`active` with a `stopped` plan would serve the stage's percent and never climb: resume the plan (`toggles rollout NAME resume`) to turn the flag back on"]
    );
}
