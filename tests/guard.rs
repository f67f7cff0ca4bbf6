//! Guarded rollouts: a flag turns itself off when the error rate of its "on" arm passes its
//! guard's limit — not before, not on the "off" arm's errors, once, audited, at once in this
//! process even when the store is down.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::store::{all_audit, serial};
use toggles::rules::{FlagRule, Guard};
use toggles::store::{AuditEntry, MemoryStore, Snapshot};
use toggles::store::{AuditQuery, OnChange, Store};
use toggles::{toggle, Change, Context, Flag, Installation, Installer, StoreError, WriteError};

/// Guarded by error rate.
#[toggle(namespace = "guarded", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Guarded by the margin between the arms.
#[toggle(namespace = "guarded", life = "temporary", remove_by = "2030-01-01")]
static NEW_SEARCH: Flag;

/// `store` installed with no guard thread: these tests check the guards themselves.
fn install(store: impl Store) -> Installation {
    let toggles = Installer::new(store)
        .without_guard_thread()
        .install()
        .unwrap();
    toggles.check_guards(); // drains what earlier tests left recorded
    toggles
}

/// A fresh store with `rule` for `name`, installed; the store, to look behind the runtime.
fn installed(name: &str, rule: FlagRule) -> (Installation, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let toggles = install(Arc::clone(&store));
    toggles::write(
        Change::flag(name, rule)
            .by("ana")
            .because("start the rollout"),
    )
    .unwrap();
    (toggles, store)
}

fn record(flag: &Flag, on: bool, ok: usize, err: usize) {
    for _ in 0..ok {
        flag.record(on, true);
    }
    for _ in 0..err {
        flag.record(on, false);
    }
}

fn guard_entries() -> Vec<AuditEntry> {
    all_audit()
        .into_iter()
        .filter(|e| e.actor == toggles::rules::GUARD_ACTOR)
        .collect()
}

fn on(flag: &Flag) -> bool {
    flag.is_enabled(&Context::new().with_user("u1"))
}

#[test]
fn trips_above_the_limit_and_not_at_it() {
    let _s = serial();
    let guard = Guard::error_rate(10.0).window_secs(60).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );

    record(&NEW_GRADER, true, 90, 10);
    assert!(toggles.check_guards().is_empty(), "10% is not above 10%");
    assert!(on(&NEW_GRADER));

    record(&NEW_GRADER, true, 0, 1);
    assert_eq!(toggles.check_guards(), ["guarded.new_grader"], "11 of 101");
    assert!(!on(&NEW_GRADER), "off in this process at once");
    let entries = guard_entries();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        entry.reason,
        "guard tripped: the on arm's error rate 10.89% (11 of 101) is above the limit of 10% over the last 60s in this process"
    );
    let before: FlagRule = serde_json::from_value(entry.before.clone().unwrap()).unwrap();
    let after: FlagRule = serde_json::from_value(entry.after.clone().unwrap()).unwrap();
    assert!(before.active && !after.active, "the write turns it off");
    assert_eq!(
        after.clone().active(true),
        before,
        "and changes nothing else"
    );
    assert!(toggles::status().guard_writes_pending.is_empty());
}

#[test]
fn needs_its_minimum_of_requests() {
    let _s = serial();
    let guard = Guard::error_rate(10.0).window_secs(60).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );

    record(&NEW_GRADER, true, 0, 99);
    assert!(
        toggles.check_guards().is_empty(),
        "99 outcomes, all failures: too few to judge"
    );
    record(&NEW_GRADER, true, 0, 1);
    assert_eq!(toggles.check_guards(), ["guarded.new_grader"]);
}

#[test]
fn the_off_arms_errors_do_not_trip_it() {
    let _s = serial();
    let guard = Guard::error_rate(5.0).window_secs(60).min_requests(10);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().percent(50.0).guard(guard),
    );

    record(&NEW_GRADER, false, 0, 10_000);
    record(&NEW_GRADER, true, 100, 0);
    assert!(toggles.check_guards().is_empty());
    assert!(guard_entries().is_empty());
}

#[test]
fn a_margin_guard_compares_the_arms() {
    let _s = serial();
    let guard = Guard::margin(2.0).window_secs(60).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_search",
        FlagRule::new().percent(50.0).guard(guard),
    );

    // Both arms fail 5%: the rollout is not to blame.
    record(&NEW_SEARCH, true, 95, 5);
    record(&NEW_SEARCH, false, 95, 5);
    assert!(toggles.check_guards().is_empty());
    // On: 10 of 110 (9.1%), off: 5 of 100 (5%): more than 2 points worse.
    record(&NEW_SEARCH, true, 5, 5);
    assert_eq!(toggles.check_guards(), ["guarded.new_search"]);
    let reason = &guard_entries()[0].reason;
    assert!(
        reason.contains("is more than 2 points above the off arm's 5.00% (5 of 100)"),
        "{reason}"
    );
}

#[test]
fn trips_once_under_concurrent_recording() {
    let _s = serial();
    let guard = Guard::error_rate(20.0).window_secs(60).min_requests(1_000);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );

    let toggles = Arc::new(toggles);
    let done = Arc::new(AtomicBool::new(false));
    let checker = {
        let done = Arc::clone(&done);
        let toggles = Arc::clone(&toggles);
        std::thread::spawn(move || {
            let mut trips = 0;
            while !done.load(Ordering::Relaxed) {
                trips += toggles.check_guards().len();
            }
            trips + toggles.check_guards().len()
        })
    };
    let recorders: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                for i in 0..5_000 {
                    let on = on(&NEW_GRADER);
                    // Half of the "on" arm's requests fail: it must trip.
                    NEW_GRADER.record(on, !on || i % 2 == 0);
                }
            })
        })
        .collect();
    for r in recorders {
        r.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert_eq!(checker.join().unwrap(), 1, "tripped once");
    assert_eq!(guard_entries().len(), 1, "one audited write");
    assert!(!on(&NEW_GRADER));
}

#[test]
fn counts_leave_the_window() {
    let _s = serial();
    // Seconds to spare on each side: a loaded machine may stall the test between its steps.
    let guard = Guard::error_rate(10.0).window_secs(3).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );

    record(&NEW_GRADER, true, 0, 60);
    assert!(toggles.check_guards().is_empty(), "60 is under the minimum");
    std::thread::sleep(Duration::from_millis(4_100));
    record(&NEW_GRADER, true, 0, 60);
    assert!(
        toggles.check_guards().is_empty(),
        "the first 60 left the 3-second window"
    );
    record(&NEW_GRADER, true, 0, 60);
    assert_eq!(
        toggles.check_guards(),
        ["guarded.new_grader"],
        "120 within it"
    );
}

#[test]
fn turning_it_back_on_is_a_persons_write_and_starts_afresh() {
    let _s = serial();
    let guard = Guard::error_rate(10.0).window_secs(60).min_requests(100);
    let rule = FlagRule::new().everyone(true).guard(guard);
    let (toggles, _store) = installed("guarded.new_grader", rule.clone());
    record(&NEW_GRADER, true, 0, 100);
    assert_eq!(toggles.check_guards().len(), 1);
    assert!(
        toggles.check_guards().is_empty(),
        "an inactive rule is not watched"
    );

    toggles::write(
        Change::flag("guarded.new_grader", rule)
            .by("ana")
            .because("fixed, again"),
    )
    .unwrap();
    assert!(on(&NEW_GRADER));
    record(&NEW_GRADER, true, 95, 5);
    assert!(
        toggles.check_guards().is_empty(),
        "the failures before the fix do not count against the new rollout"
    );
    assert!(on(&NEW_GRADER));
}

/// A memory store that can be taken down: every call fails while it is.
struct Flaky {
    inner: Arc<MemoryStore>,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Relaxed) {
            Err(StoreError::Backend("the store is down".into()))
        } else {
            Ok(())
        }
    }
}

impl Store for Flaky {
    fn describe(&self) -> String {
        "flaky memory store".into()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.check()?;
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        self.check()?;
        self.inner.update(edit)
    }
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(query)
    }
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        self.inner.watch(on_change)
    }
}

#[test]
fn a_store_down_when_it_trips_loses_nothing() {
    let _s = serial();
    let down = Arc::new(AtomicBool::new(false));
    let toggles = install(Flaky {
        inner: Arc::new(MemoryStore::new()),
        down: Arc::clone(&down),
    });
    let guard = Guard::error_rate(10.0).window_secs(60).min_requests(100);
    let rule = FlagRule::new().everyone(true).guard(guard);
    toggles::write(
        Change::flag("guarded.new_grader", rule)
            .by("ana")
            .because("go"),
    )
    .unwrap();

    down.store(true, Ordering::Relaxed);
    record(&NEW_GRADER, true, 50, 50);
    assert_eq!(toggles.check_guards(), ["guarded.new_grader"]);
    assert!(!on(&NEW_GRADER), "off here at once, with the store down");
    assert_eq!(
        toggles::status().guard_writes_pending,
        ["guarded.new_grader"],
        "and status says the write is owed"
    );
    assert!(guard_entries().is_empty());
    toggles.check_guards();
    assert!(!on(&NEW_GRADER), "still off while the store is down");

    down.store(false, Ordering::Relaxed);
    // A person's write to another flag lands before the guard's write is retried.
    toggles::write(
        Change::flag("guarded.new_search", FlagRule::new().everyone(true))
            .by("bob")
            .because("unrelated"),
    )
    .unwrap();
    assert!(
        !on(&NEW_GRADER),
        "a write elsewhere does not turn the tripped flag back on"
    );
    assert!(
        toggles.check_guards().is_empty(),
        "retried, not tripped again"
    );
    assert_eq!(guard_entries().len(), 1, "the write landed");
    assert!(toggles::status().guard_writes_pending.is_empty());
    assert!(!on(&NEW_GRADER), "and the store says off now");
}

#[test]
fn a_bad_guard_is_refused_whole() {
    let _s = serial();
    let (_toggles, _store) = installed("guarded.new_grader", FlagRule::new());
    let bad = Guard::error_rate(150.0).window_secs(0).min_requests(0);
    let refused = toggles::write(
        Change::flag("guarded.new_grader", FlagRule::new().guard(bad))
            .by("ana")
            .because("x"),
    )
    .unwrap_err()
    .to_string();
    for problem in [
        "`guard.max_error_rate` is from 0 (inclusive) to 100 (exclusive), not 150",
        "`guard.window_secs` must be at least 1",
        "`guard.min_requests` must be at least 1",
    ] {
        assert!(refused.contains(problem), "{refused}");
    }
    let mut neither = Guard::error_rate(1.0);
    neither.max_error_rate = None;
    let refused = toggles::write(
        Change::flag("guarded.new_grader", FlagRule::new().guard(neither))
            .by("ana")
            .because("x"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains(
            "needs a limit: `max_error_rate`, `max_margin`, `max_slow_share`, `max_p95_margin` or `max_traffic_drop`"
        ),
        "{refused}"
    );
}

#[test]
fn a_bad_latency_limit_is_refused_whole_with_every_problem() {
    let _s = serial();
    let (_toggles, store) = installed("guarded.new_grader", FlagRule::new());
    let mut bad = Guard::slow_share(Duration::from_millis(250), 100.0).max_p95_margin(-5.0);
    bad.latency_baseline_ms = Some(0.0);
    let mut missing = Guard::p95_margin(20.0);
    missing.max_slow_share = Some(10.0);
    let mut unread = Guard::p95_margin(20.0);
    unread.latency_baseline_ms = Some(250.0);
    let mut huge = Guard::slow_share(Duration::from_millis(250), 10.0);
    huge.latency_baseline_ms = Some(1e23);
    let mut nan = Guard::slow_share(Duration::from_millis(250), f64::NAN);
    nan.max_p95_margin = Some(f64::INFINITY);
    let problems = [
        (bad, vec![
            "`guard.max_slow_share` is from 0 (inclusive) to 100 (exclusive), not 100",
            "`guard.latency_baseline_ms` is a run time above 0 and up to 4294967.296 milliseconds (71 minutes), not 0",
            "`guard.max_p95_margin` is a percentage of the off arm's 95th percentile, 0 or more, not -5",
        ]),
        (missing, vec!["`guard.max_slow_share` counts runs slower than `guard.latency_baseline_ms`, which is missing"]),
        (unread, vec!["`guard.latency_baseline_ms` is read only with `guard.max_slow_share`, which is missing"]),
        (huge, vec!["milliseconds (71 minutes), not 100000000000000000000000"]),
        (nan, vec![
            "`guard.max_slow_share` is from 0 (inclusive) to 100 (exclusive), not NaN",
            "`guard.max_p95_margin` is a percentage of the off arm's 95th percentile, 0 or more, not inf",
        ]),
    ];
    for (guard, expected) in problems {
        let refused = toggles::write(
            Change::flag("guarded.new_grader", FlagRule::new().guard(guard))
                .by("ana")
                .because("x"),
        )
        .unwrap_err()
        .to_string();
        for problem in expected {
            assert!(refused.contains(problem), "{refused}");
        }
    }
    assert_eq!(
        store.load().unwrap().flags["guarded.new_grader"],
        serde_json::json!({})
    );
}

/// `n` runs of `ms` milliseconds each, all successes, under `on`.
fn timed(flag: &Flag, on: bool, n: usize, ms: u64) {
    for _ in 0..n {
        flag.record_timed(on, true, Duration::from_millis(ms));
    }
}

#[test]
fn a_slow_share_trips_above_its_limit_and_not_at_it() {
    let _s = serial();
    let guard = Guard::slow_share(Duration::from_millis(250), 10.0)
        .window_secs(60)
        .min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );
    timed(&NEW_GRADER, true, 89, 100);
    timed(&NEW_GRADER, true, 10, 400);
    timed(&NEW_GRADER, false, 500, 900); // the off arm's run times are not judged
    assert!(
        toggles.check_guards().is_empty(),
        "10 of 99: below its minimum of runs"
    );
    timed(&NEW_GRADER, true, 1, 100);
    assert!(toggles.check_guards().is_empty(), "10% is not above 10%");
    assert!(on(&NEW_GRADER));

    timed(&NEW_GRADER, true, 1, 400);
    assert_eq!(toggles.check_guards(), ["guarded.new_grader"], "11 of 101");
    assert!(!on(&NEW_GRADER), "off in this process at once");
    let entries = guard_entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].reason,
        "guard tripped: the on arm's runs slower than 250 ms were 10.89% (11 of 101), above the limit of 10% over the last 60s in this process"
    );
}

#[test]
fn a_p95_margin_trips_when_the_on_arms_tail_passes_it() {
    let _s = serial();
    let guard = Guard::p95_margin(20.0).window_secs(60).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_search",
        FlagRule::new().percent(50.0).guard(guard),
    );
    timed(&NEW_SEARCH, false, 100, 100);
    // With 100 runs the 95th percentile is the 95th fastest: five slow runs leave it at 110 ms,
    // within 20% of the off arm's 100 ms.
    timed(&NEW_SEARCH, true, 95, 110);
    timed(&NEW_SEARCH, true, 5, 300);
    assert!(
        toggles.check_guards().is_empty(),
        "the slow runs are past the 95th"
    );
    // A sixth slow run makes the 96th of 101, the 95th percentile's rank, slow.
    timed(&NEW_SEARCH, true, 1, 300);
    assert_eq!(toggles.check_guards(), ["guarded.new_search"]);
    let reason = &guard_entries()[0].reason;
    assert!(
        reason.starts_with("guard tripped: the on arm's 95th-percentile run time 30"),
        "{reason}"
    );
    assert!(
        reason.contains("ms (101 runs) is more than 20% above the off arm's 10")
            && reason.ends_with("ms (100 runs) over the last 60s in this process"),
        "{reason}"
    );
}

#[test]
fn a_p95_margin_waits_for_both_arms_minimum() {
    let _s = serial();
    let guard = Guard::p95_margin(20.0).window_secs(60).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_search",
        FlagRule::new().percent(50.0).guard(guard),
    );
    timed(&NEW_SEARCH, true, 500, 900);
    timed(&NEW_SEARCH, false, 99, 100);
    assert!(toggles.check_guards().is_empty(), "99 runs of the off arm");
    timed(&NEW_SEARCH, false, 1, 100);
    assert_eq!(toggles.check_guards(), ["guarded.new_search"]);
}

#[test]
fn an_outcome_times_itself_from_creation_to_its_end() {
    let _s = serial();
    let guard = Guard::slow_share(Duration::from_millis(100), 50.0).min_requests(2);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );
    let quick = NEW_GRADER.outcome(true);
    quick.ok();
    let slow = NEW_GRADER.outcome(true);
    std::thread::sleep(Duration::from_millis(150));
    drop(slow); // a failure, and slow
    assert!(
        toggles.check_guards().is_empty(),
        "one of two: 50% is not above 50%"
    );
    let slow = NEW_GRADER.outcome(true);
    std::thread::sleep(Duration::from_millis(150));
    slow.ok();
    assert_eq!(
        toggles.check_guards(),
        ["guarded.new_grader"],
        "two of three"
    );
    assert!(guard_entries()[0].reason.contains("(2 of 3)"));
}

/// `n` outcomes under `on`, all successes.
fn traffic(flag: &Flag, on: bool, n: usize) {
    record(flag, on, n, 0);
}

#[test]
fn a_traffic_drop_trips_past_its_limit_and_not_at_it() {
    let _s = serial();
    let guard = Guard::traffic_drop(30.0).window_secs(60).min_requests(100);
    let (toggles, _store) = installed(
        "guarded.new_search",
        FlagRule::new().percent(50.0).guard(guard),
    );
    let start = toggles::rules::Timestamp::now().unix_seconds();
    let at = |secs| toggles::rules::Timestamp::from_unix_seconds(start + secs);
    traffic(&NEW_SEARCH, false, 100);
    traffic(&NEW_SEARCH, true, 70);
    assert!(
        toggles.check_guards_at(at(0)).is_empty(),
        "30% down is not more than 30%"
    );
    // A minute on, the window holds only what comes next.
    traffic(&NEW_SEARCH, false, 100);
    traffic(&NEW_SEARCH, true, 69);
    assert_eq!(toggles.check_guards_at(at(61)), ["guarded.new_search"]);
    assert!(!on_for_all(&NEW_SEARCH), "off in this process at once");
    assert_eq!(
        guard_entries()[0].reason,
        "guard tripped: the on arm's traffic of 69 outcomes is 31.00% below the 100.0 that the off arm's 100 predict at a 50.00% share, more than the limit of 30% over the last 60s in this process"
    );
}

#[test]
fn a_quiet_night_is_not_a_drop() {
    let _s = serial();
    let guard = Guard::traffic_drop(30.0).window_secs(600).min_requests(20);
    let (toggles, _store) = installed(
        "guarded.new_search",
        FlagRule::new().percent(20.0).guard(guard),
    );
    let start = toggles::rules::Timestamp::now().unix_seconds();
    let at = |hours: i64, secs: i64| {
        toggles::rules::Timestamp::from_unix_seconds(start + hours * 3600 + secs)
    };
    // A day on a 20% rollout, ticks every 10 minutes: busy by day (4,000 outcomes a tick),
    // quiet at night (100: still over the guard's minimum, so judged), the on arm a fifth of it
    // throughout. Against the rate before, the night would be a 97% drop; against the off
    // arm's, it is none.
    for hour in 0..24 {
        let per_tick = if (1..7).contains(&hour) { 100 } else { 4000 };
        for tick in 0..6 {
            traffic(&NEW_SEARCH, true, per_tick / 5);
            traffic(&NEW_SEARCH, false, per_tick * 4 / 5);
            assert!(
                toggles.check_guards_at(at(hour, tick * 600)).is_empty(),
                "hour {hour}, tick {tick}"
            );
        }
    }
    assert!(guard_entries().is_empty());
    // The next morning the on arm loses half its traffic while the off arm's holds: the first
    // tick of it shares the window with the tick before (25% down), the second has it alone.
    traffic(&NEW_SEARCH, true, 400);
    traffic(&NEW_SEARCH, false, 3200);
    assert!(toggles.check_guards_at(at(24, 0)).is_empty());
    traffic(&NEW_SEARCH, true, 400);
    traffic(&NEW_SEARCH, false, 3200);
    assert_eq!(toggles.check_guards_at(at(24, 600)), ["guarded.new_search"]);
    assert!(
        guard_entries()[0]
            .reason
            .contains("the on arm's traffic of 800 outcomes is 50.00% below the 1600.0"),
        "{}",
        guard_entries()[0].reason
    );
}

#[test]
fn a_traffic_guard_needs_both_arms_serving() {
    let _s = serial();
    let (_toggles, _store) = installed("guarded.new_search", FlagRule::new());
    for rule in [
        FlagRule::new().everyone(true),
        FlagRule::new().percent(100.0),
        FlagRule::new(),
        FlagRule::new().percent(50.0).users_off(["u1"]),
        FlagRule::new().percent(50.0).environments(["prod"]),
    ] {
        let refused = toggles::write(
            Change::flag("guarded.new_search", rule.guard(Guard::traffic_drop(30.0)))
                .by("ana")
                .because("x"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("`guard.max_traffic_drop` predicts the on arm's traffic from the off arm's at the rule's split, so only the split may answer off"),
            "{refused}"
        );
    }
}

#[test]
fn run_times_leave_the_window_on_the_guards_clock() {
    let _s = serial();
    let guard = Guard::slow_share(Duration::from_millis(250), 10.0)
        .window_secs(60)
        .min_requests(10);
    let (toggles, _store) = installed(
        "guarded.new_grader",
        FlagRule::new().everyone(true).guard(guard),
    );
    let start = toggles::rules::Timestamp::now().unix_seconds();
    let at = |secs| toggles::rules::Timestamp::from_unix_seconds(start + secs);
    timed(&NEW_GRADER, true, 9, 400);
    assert!(
        toggles.check_guards_at(at(0)).is_empty(),
        "9 runs: below the minimum"
    );
    timed(&NEW_GRADER, true, 10, 100);
    assert!(
        toggles.check_guards_at(at(61)).is_empty(),
        "the slow runs left the window; within it, 9 of 19 would trip"
    );
    timed(&NEW_GRADER, true, 2, 400);
    assert_eq!(
        toggles.check_guards_at(at(62)),
        ["guarded.new_grader"],
        "2 of 12 in the window"
    );
}

fn on_for_all(flag: &Flag) -> bool {
    (0..200).any(|i| flag.is_enabled(&Context::new().with_user(&format!("u{i}"))))
}
