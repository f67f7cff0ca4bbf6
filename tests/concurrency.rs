//! Many threads checking toggles while another rewrites the store many times: no check sees a
//! state that no snapshot contained, a request's answers never change under it — whether they
//! come from the flag's cached state or from its rule in the state the context pinned — and
//! `explain` agrees with them; the final state is the last write's.

use std::sync::atomic::{AtomicBool, Ordering};

use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Flag, Setting, Switch};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// New grade reports: on for everyone whom the new grader is on for.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_REPORTS: Flag;

/// A counter the writer raises with every write.
#[toggle(namespace = "stress", life = "permanent", justification = "test")]
static COUNTER: Setting<u64> = 0;

const WRITES: u64 = 300;

/// Write `i`'s rule: everyone on, except that odd writes turn user `r` off — a rule the context
/// decides. Under either rule, user `other` is on; off would be a state no snapshot held.
fn rule(i: u64) -> FlagRule {
    let rule = FlagRule::new().everyone(true);
    if i % 2 == 1 {
        rule.users_off(["r"])
    } else {
        rule
    }
}

#[test]
fn checks_stay_consistent_while_the_store_is_rewritten() {
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    toggles::write(
        Change::flag("grading.new_grader", rule(0))
            .by("stress")
            .because("start"),
    )
    .unwrap();
    toggles::write(
        Change::flag(
            "grading.new_reports",
            FlagRule::new()
                .requires("grading.new_grader")
                .everyone(true),
        )
        .by("stress")
        .because("start"),
    )
    .unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let mut last_counter = 0;
                let mut checks = 0u64;
                while !done.load(Ordering::Relaxed) || checks == 0 {
                    let other = Context::new().with_user("other");
                    assert!(
                        NEW_GRADER.is_enabled(&other),
                        "user `other` is on in every snapshot"
                    );
                    let r = Context::new().with_user("r");
                    let first = NEW_GRADER.is_enabled(&r);
                    for _ in 0..10 {
                        assert_eq!(NEW_GRADER.is_enabled(&r), first, "one request, one answer");
                        std::hint::spin_loop();
                    }
                    assert_eq!(NEW_GRADER.explain(&r).enabled, first, "explain agrees");
                    // A flag that requires the grader answers from the same pinned state.
                    assert_eq!(
                        NEW_REPORTS.is_enabled(&r),
                        first,
                        "required flag, same state"
                    );
                    let counter = COUNTER.get();
                    assert!(
                        counter >= last_counter && counter <= WRITES,
                        "{counter} after {last_counter}"
                    );
                    last_counter = counter;
                    let _ = RECOMMENDATIONS.is_enabled();
                    checks += 1;
                }
            });
        }
        s.spawn(|| {
            for i in 1..=WRITES {
                toggles::write(
                    Change::flag("grading.new_grader", rule(i))
                        .by("stress")
                        .because("rewrite"),
                )
                .unwrap();
                toggles::write(
                    Change::setting("stress.counter", i)
                        .by("stress")
                        .because("count"),
                )
                .unwrap();
                toggles::write(
                    Change::switch("catalog.recommendations", i % 2 == 0)
                        .by("stress")
                        .because("flip"),
                )
                .unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
    });
    assert_eq!(COUNTER.get(), WRITES);
    assert!(RECOMMENDATIONS.is_enabled(), "the last write turned it on");
    assert!(
        NEW_GRADER.is_enabled(&Context::new().with_user("r")),
        "the last rule (even) has no exception"
    );
    assert_eq!(
        toggles::report::audit(&toggles::store::AuditQuery::all().limit(usize::MAX))
            .unwrap()
            .len(),
        usize::try_from(3 * WRITES + 2).unwrap()
    );
}
