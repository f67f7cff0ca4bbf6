//! `toggles check --stale` and the report's lifecycle stages over a file store whose usage the
//! test wrote with times in the past: a controlled clock.

mod support;

use serde_json::Value as Json;
use support::{experiment_fleet, stderr, stdout, toggles};
use toggles_runtime::store::{FileStore, Store, Use};
use toggles_runtime::Timestamp;

fn days_ago(days: i64) -> Timestamp {
    Timestamp::from_unix_seconds(Timestamp::now().unix_seconds() - days * 86_400)
}

/// A file store of the experiment fleet whose `grading` service gave `grading.new_grader` both
/// answers until 60 days ago and only `on` since, read `uploads.max_bytes` yesterday, and
/// whose `checkout` service last drew `checkout.checkout_flow` 45 days ago.
fn store_with_history(dir: &std::path::Path) -> String {
    let path = dir.join("toggles.json");
    let store = FileStore::open(&path).unwrap();
    support::publish(&store, &experiment_fleet());
    let record = |service: &str, days: i64, toggle: &str, answers: &[&str]| {
        let answers = answers.iter().map(|a| (*a).to_owned()).collect();
        store
            .record_usage(service, days_ago(days), &[Use::new(toggle, answers)])
            .unwrap();
    };
    record("grading", 90, "grading.new_grader", &["on", "off"]);
    record("grading", 60, "grading.new_grader", &["on", "off"]);
    record("grading", 1, "grading.new_grader", &["on"]);
    record("grading", 1, "uploads.max_bytes", &[]);
    record(
        "checkout",
        45,
        "checkout.checkout_flow",
        &["classic", "one_page"],
    );
    format!("file:{}", path.display())
}

#[test]
fn stale_toggles_fail_the_check_with_their_fix() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_history(dir.path());
    let output = toggles(&store).args(["check", "--stale"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let sixty = days_ago(60).date();
    assert!(
        text.contains(&format!(
            "error: `grading.new_grader` is launched: everyone got `on` since {sixty}"
        )),
        "{text}"
    );
    assert!(
        text.contains("  = fix: remove the toggle and its `else` branch: everyone gets `on`"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "error: `checkout.checkout_flow` is unused: no service evaluated it since {}",
            days_ago(45).date()
        )),
        "{text}"
    );
    // A permanent switch nobody evaluated is staged, not stale: its justification stands.
    assert!(!text.contains("catalog.recommendations"), "{text}");
    assert!(text.contains(", 2 stale — failed"), "{text}");
}

#[test]
fn a_longer_window_lets_them_pass() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_history(dir.path());
    let output = toggles(&store)
        .args(["check", "--stale", "--stale-after", "temporary=100d"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains(", 0 stale — passed"));
    let refused = toggles(&store)
        .args(["check", "--stale", "--stale-after", "forever=1d"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("`forever` is not a life"));
}

#[test]
fn the_report_gives_each_toggle_its_stage() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_history(dir.path());
    let output = toggles(&store)
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    let stage = |name: &str| {
        report["toggles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["full_name"] == name)
            .map(|t| t["lifecycle"]["stage"].clone())
            .unwrap()
    };
    assert_eq!(stage("grading.new_grader"), "launched");
    assert_eq!(stage("checkout.checkout_flow"), "unused");
    assert_eq!(stage("uploads.max_bytes"), "live");
    assert_eq!(stage("catalog.recommendations"), "never_evaluated");
    assert_eq!(
        report["stale"],
        serde_json::json!(["checkout.checkout_flow", "grading.new_grader"])
    );
}

#[test]
fn a_stale_toggle_comes_with_the_places_to_edit() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_history(dir.path());
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/refs");
    let output = toggles(&store)
        .current_dir(&fixture)
        .args(["check", "--stale", "--refs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let launched = text
        .split("error: ")
        .find(|e| e.starts_with("`grading.new_grader` is launched"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        launched.contains(
            "  = edit: the declaration at grading/src/toggles.rs:5, and 3 places that read it:"
        ),
        "{launched}"
    );
    assert!(
        launched.contains("grading/src/engine/mod.rs:6:8"),
        "{launched}"
    );
    // The fixture does not declare the checkout flow: it says so rather than list nothing.
    let unused = text
        .split("error: ")
        .find(|e| e.starts_with("`checkout.checkout_flow` is unused"))
        .unwrap();
    assert!(
        unused.contains("not declared in the sources read"),
        "{unused}"
    );
}
