//! Feedback on a toggle: refused unless it names a declared toggle and arm, kept by the memory
//! and file stores with its time, unit and arm, bounded per toggle with every piece counted,
//! and counted per arm in an experiment's results.

mod support;

use std::sync::Arc;

use support::store::serial;
use toggles::store::{FileStore, MemoryStore, Store, FEEDBACK_KEPT};
use toggles::{toggle, FeedbackError, Flag, Switch, Timestamp, Variant, Variants};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "fb", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "fb",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

#[derive(Clone, Copy, Debug, PartialEq, Variants)]
enum Checkout {
    Classic,
    OnePage,
}

/// Try the one-page checkout against the classic one.
#[toggle(namespace = "fb", life = "temporary", remove_by = "2030-03-01")]
static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

fn refused(result: Result<toggles::store::Feedback, FeedbackError>) -> String {
    match result {
        Err(e @ FeedbackError::Invalid(_)) => e.to_string(),
        other => panic!("not refused as invalid: {other:?}"),
    }
}

/// Records and reads back through `store`, installed: what a piece keeps, the order, the
/// counts per arm.
fn round_trip(store: impl Store) {
    let _toggles = toggles::install(store).unwrap();
    let before = Timestamp::now();
    NEW_GRADER
        .feedback(true, Some("42"), "  partial credit vanished  ")
        .unwrap();
    NEW_GRADER.feedback(false, None, "fine").unwrap();
    toggles::feedback("fb.new_grader", "on", Some("7"), "faster!").unwrap();
    CHECKOUT_FLOW
        .feedback(Checkout::OnePage, Some("9"), "where is the coupon box?")
        .unwrap();

    let log = toggles::feedback_of("fb.new_grader", 10).unwrap().unwrap();
    let texts: Vec<(&str, Option<&str>, &str)> = log
        .entries
        .iter()
        .map(|f| (f.arm.as_str(), f.unit.as_deref(), f.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("on", Some("7"), "faster!"),
            ("off", None, "fine"),
            ("on", Some("42"), "partial credit vanished"),
        ],
        "newest first, trimmed"
    );
    assert!(log
        .entries
        .iter()
        .all(|f| f.at >= before && f.toggle == "fb.new_grader"));
    assert_eq!(
        (log.per_arm["on"], log.per_arm["off"], log.total()),
        (2, 1, 3)
    );
    let limited = toggles::feedback_of("fb.new_grader", 1).unwrap().unwrap();
    assert_eq!((limited.entries.len(), limited.total()), (1, 3));
    let arm = toggles::feedback_of("fb.checkout_flow", 10)
        .unwrap()
        .unwrap();
    assert_eq!(arm.per_arm["one_page"], 1);
    assert!(toggles::feedback_of("fb.recommendations", 10)
        .unwrap()
        .is_none());
}

#[test]
fn feedback_round_trips_through_the_memory_store() {
    let _s = serial();
    round_trip(MemoryStore::new());
}

#[test]
fn feedback_round_trips_through_the_file_store_and_its_file() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    round_trip(FileStore::open(&path).unwrap());
    // Another handle on the file, as another process opens it.
    let reopened = FileStore::open(&path).unwrap();
    let log = reopened.feedback("fb.new_grader", 10).unwrap().unwrap();
    assert_eq!(log.total(), 3);
    assert_eq!(log.entries[0].text, "faster!");
}

#[test]
fn the_oldest_are_dropped_past_the_bound_and_still_counted() {
    let _s = serial();
    let store = Arc::new(MemoryStore::new());
    let _toggles = toggles::install(Arc::clone(&store)).unwrap();
    for i in 0..FEEDBACK_KEPT + 5 {
        NEW_GRADER
            .feedback(i.is_multiple_of(2), None, &format!("piece {i}"))
            .unwrap();
    }
    let log = store
        .feedback("fb.new_grader", usize::MAX)
        .unwrap()
        .unwrap();
    assert_eq!(log.entries.len(), FEEDBACK_KEPT);
    assert_eq!(
        log.entries.last().unwrap().text,
        "piece 5",
        "pieces 0 to 4 dropped"
    );
    assert_eq!(log.total(), u64::try_from(FEEDBACK_KEPT + 5).unwrap());
    assert_eq!(log.per_arm["on"], 503);
}

#[test]
fn feedback_names_a_declared_toggle_and_arm_or_is_refused() {
    let _s = serial();
    let store = Arc::new(MemoryStore::new());
    let _toggles = toggles::install(Arc::clone(&store)).unwrap();
    assert_eq!(
        refused(toggles::feedback("fb.new_gradr", "on", None, "hi")),
        "feedback refused: `fb.new_gradr` is not a toggle of this program; did you mean `fb.new_grader`?"
    );
    assert_eq!(
        refused(toggles::feedback("fb.new_grader", "yes", None, "hi")),
        "feedback refused: `fb.new_grader` is a flag: its arms are `on` and `off`, not `yes`"
    );
    assert_eq!(
        refused(toggles::feedback("fb.checkout_flow", "one_pag", None, "hi")),
        "feedback refused: `fb.checkout_flow` has no arm `one_pag`: its arms are `classic`, `one_page`; did you mean `one_page`?"
    );
    assert_eq!(
        refused(toggles::feedback("fb.recommendations", "on", None, "hi")),
        "feedback refused: `fb.recommendations` is a switch: feedback is on an arm a unit saw, and only flags and variant toggles answer units differently"
    );
    assert_eq!(
        refused(NEW_GRADER.feedback(true, None, "   ")),
        "feedback refused: feedback on `fb.new_grader` is 1 to 2000 characters, not 0"
    );
    assert!(NEW_GRADER.feedback(true, None, &"x".repeat(2000)).is_ok());
    assert_eq!(
        refused(NEW_GRADER.feedback(true, None, &"x".repeat(2001))),
        "feedback refused: feedback on `fb.new_grader` is 1 to 2000 characters, not 2001"
    );
    let log = store.feedback("fb.new_grader", 10).unwrap().unwrap();
    assert_eq!(log.total(), 1, "only the good piece was kept");
    let _ = &RECOMMENDATIONS;
}

#[test]
fn an_experiments_results_count_feedback_per_arm() {
    let _s = serial();
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    for _ in 0..3 {
        CHECKOUT_FLOW
            .feedback(Checkout::OnePage, None, "coupon?")
            .unwrap();
    }
    CHECKOUT_FLOW
        .feedback(Checkout::Classic, None, "ok")
        .unwrap();
    let results = toggles::experiment::results("fb.checkout_flow").unwrap();
    let feedback: Vec<(&str, u64)> = results
        .arms
        .iter()
        .map(|a| (a.arm.as_str(), a.feedback))
        .collect();
    assert_eq!(feedback, [("classic", 1), ("one_page", 3)]);
    assert!(
        results
            .to_string()
            .ends_with("feedback: classic 1, one_page 3\n"),
        "{results}"
    );
}

#[test]
fn without_a_store_feedback_is_not_kept_and_says_why() {
    let _s = serial();
    drop(toggles::install(MemoryStore::new()).unwrap());
    assert!(matches!(
        NEW_GRADER.feedback(true, None, "hi"),
        Err(FeedbackError::NoStore)
    ));
}
