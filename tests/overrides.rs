//! Test overrides: scoped, undone on drop, isolated between tests running in parallel threads,
//! held across `.await`, and the both-states and every-combination runners.

use std::sync::Barrier;

use toggles::testing::{set, with_both, with_each_combination};
use toggles::{toggle, Context, Flag, Setting, Switch};

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

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

/// Greeting on the home page.
#[toggle(
    namespace = "home",
    life = "permanent",
    justification = "per deployment"
)]
static GREETING: Setting<&'static str> = "Welcome";

fn grader() -> bool {
    NEW_GRADER.is_enabled(&Context::new().with_user("1"))
}

#[test]
fn overrides_nest_and_undo_themselves() {
    assert!(!grader());
    {
        let _on = set(&NEW_GRADER, true);
        assert!(grader());
        {
            let _off = set(&NEW_GRADER, false);
            assert!(!grader());
        }
        assert!(grader());
    }
    assert!(!grader());

    let _off = set(&RECOMMENDATIONS, false);
    let _small = set(&MAX_UPLOAD_BYTES, 1);
    let _hi = set(&GREETING, "Hi");
    assert!(!RECOMMENDATIONS.is_enabled());
    assert_eq!((MAX_UPLOAD_BYTES.get(), GREETING.get()), (1, "Hi"));
}

#[test]
fn overrides_are_isolated_between_threads() {
    // Each thread overrides the same toggles differently, and checks while the others' are in
    // scope; a third thread with no override sees the compiled defaults throughout.
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        for on in [false, true] {
            let barrier = &barrier;
            s.spawn(move || {
                let _flag = set(&NEW_GRADER, on);
                let _switch = set(&RECOMMENDATIONS, on);
                let _value = set(&MAX_UPLOAD_BYTES, u64::from(on));
                barrier.wait();
                for _ in 0..1000 {
                    assert_eq!(grader(), on);
                    assert_eq!(RECOMMENDATIONS.is_enabled(), on);
                    assert_eq!(MAX_UPLOAD_BYTES.get(), u64::from(on));
                }
                barrier.wait();
            });
        }
        let barrier = &barrier;
        s.spawn(move || {
            barrier.wait();
            for _ in 0..1000 {
                assert!(!grader());
                assert!(RECOMMENDATIONS.is_enabled());
                assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);
            }
            barrier.wait();
        });
    });
    assert!(!grader());
    assert!(RECOMMENDATIONS.is_enabled());
}

#[tokio::test]
async fn overrides_hold_across_await() {
    let _on = set(&NEW_GRADER, true);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    tokio::task::yield_now().await;
    assert!(grader());
    let answer = async { NEW_GRADER.is_enabled(&Context::new()) }.await;
    assert!(answer);
}

#[test]
fn with_both_runs_off_then_on() {
    let mut seen = Vec::new();
    with_both(&NEW_GRADER, |on| {
        assert_eq!(grader(), on);
        seen.push(on);
    });
    assert_eq!(seen, [false, true]);
    assert!(!grader());
}

#[test]
fn with_each_combination_runs_every_combination() {
    let mut seen = Vec::new();
    with_each_combination(&[&NEW_GRADER, &RECOMMENDATIONS], |states| {
        assert_eq!(
            (grader(), RECOMMENDATIONS.is_enabled()),
            (states[0], states[1])
        );
        seen.push((states[0], states[1]));
    });
    seen.sort_unstable();
    assert_eq!(
        seen,
        [(false, false), (false, true), (true, false), (true, true)]
    );
    assert!(RECOMMENDATIONS.is_enabled());
}

#[test]
#[should_panic(
    expected = "`uploads.max_upload_bytes` is a setting; combinations are of switches and flags"
)]
fn combinations_refuse_settings() {
    with_each_combination(&[&MAX_UPLOAD_BYTES], |_| {});
}

/// On the multi-thread runtime a task may resume on another worker after every `.await`, and
/// tasks share workers; in a `testing::scope` a task's overrides follow the task, and neither
/// another task on the same worker nor anything outside the scope sees them. (With overrides
/// kept per thread, tasks interleaved on one worker see each other's values and this fails.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_in_a_task_scope_follow_the_task_across_threads() {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(toggles::testing::scope(async move {
                let on = i % 2 == 0;
                let _forced = set(&NEW_GRADER, on);
                let _limit = set(&MAX_UPLOAD_BYTES, i);
                for _ in 0..50 {
                    tokio::task::yield_now().await;
                    assert_eq!(grader(), on, "task {i}");
                    assert_eq!(MAX_UPLOAD_BYTES.get(), i, "task {i}");
                }
            }))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(!grader(), "no override outside the scopes");
    assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);
}

/// A guard may travel: it ends its override wherever it is dropped.
#[test]
fn a_guard_may_be_dropped_on_another_thread() {
    let guard = set(&RECOMMENDATIONS, false);
    assert!(!RECOMMENDATIONS.is_enabled());
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert!(RECOMMENDATIONS.is_enabled(), "dropping it anywhere ends it");
}

/// An async handler under the flags: it awaits (and may resume on another worker) before and
/// after it reads them.
async fn handler() -> (bool, bool) {
    tokio::task::yield_now().await;
    let grader = grader();
    tokio::task::yield_now().await;
    (grader, RECOMMENDATIONS.is_enabled())
}

/// The flags as a handler reads them, without awaiting.
fn handler_now() -> (bool, bool) {
    (grader(), RECOMMENDATIONS.is_enabled())
}

#[tokio::test]
async fn an_async_handler_in_both_states() {
    let mut seen = Vec::new();
    toggles::testing::with_both_async(&NEW_GRADER, |on| {
        // What the closure does before its future is polled runs in the state already.
        seen.push((on, grader()));
        async move {
            assert_eq!(handler().await.0, on);
        }
    })
    .await;
    assert_eq!(seen, [(false, false), (true, true)]);
    assert!(!grader(), "undone after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_combinations_hold_on_the_multi_thread_runtime() {
    let mut seen = Vec::new();
    toggles::testing::with_each_combination_async(&[&NEW_GRADER, &RECOMMENDATIONS], |states| {
        seen.push((states.clone(), handler_now()));
        async move {
            for _ in 0..20 {
                assert_eq!(handler().await, (states[0], states[1]));
            }
        }
    })
    .await;
    assert_eq!(seen.len(), 4);
    for (states, now) in seen {
        assert_eq!(now, (states[0], states[1]), "before the first poll too");
    }
}
