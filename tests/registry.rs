//! `toggles::registry()`: every toggle of the binary, its metadata, its JSON, and expiry.

use serde_json::json;
use toggles::{registry, toggle, Date, Flag, Kind, Life, Setting, Switch, UseCase, Value};

mod grading {
    use super::{toggle, Flag};

    /// Grade problems with the rewritten engine.
    #[toggle(
        namespace = "grading",
        life = "temporary",
        remove_by = "2025-06-01",
        created = "2025-01-15",
        owner = "grading-team",
        use_cases = "incremental_release",
        tickets = "GRADE-1",
        warning = "needs the new queue"
    )]
    pub static NEW_GRADER: Flag;
}

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker for traffic spikes"
)]
static RECOMMENDATIONS: Switch = true;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

/// Show the exam timer.
#[toggle(
    namespace = "courseware.exams",
    name = "timer",
    life = "temporary",
    remove_by = "2025-06-02"
)]
static EXAM_TIMER: Switch;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

#[test]
fn lists_every_toggle_in_full_name_order() {
    let names: Vec<_> = registry()
        .iter()
        .map(toggles::ToggleInfo::full_name)
        .collect();
    assert_eq!(
        names,
        [
            "catalog.recommendations",
            "courseware.exams.timer",
            "grading.new_grader",
            "uploads.max_upload_bytes"
        ]
    );
    assert_eq!(registry().len(), 4);
    assert!(registry().duplicates().is_empty());
}

#[test]
fn looks_up_by_full_name() {
    assert!(registry().get("grading.new_grader").is_some());
    assert!(registry().get("grading").is_none());
    assert!(registry().get("grading.new_grade").is_none());
    assert!(registry().get("zzz").is_none());
    let timer = registry().get("courseware.exams.timer").unwrap();
    assert_eq!(timer.meta().namespace(), "courseware.exams");
    assert_eq!(timer.meta().name(), "timer");
    assert!(std::ptr::eq(timer.meta(), EXAM_TIMER.meta()));
}

#[test]
fn carries_the_declared_metadata() {
    let t = registry().get("grading.new_grader").unwrap();
    let m = t.meta();
    assert_eq!(t.kind(), Kind::Flag);
    assert_eq!(t.value_type(), "bool");
    assert_eq!(t.default_value(), Value::Bool(false));
    assert_eq!(m.description(), "Grade problems with the rewritten engine.");
    assert_eq!(
        m.life(),
        Life::Temporary {
            remove_by: date("2025-06-01")
        }
    );
    assert_eq!(m.remove_by(), Some(date("2025-06-01")));
    assert_eq!(m.justification(), None);
    assert_eq!(m.created(), Some(date("2025-01-15")));
    assert_eq!(m.owner(), Some("grading-team"));
    assert_eq!(m.use_cases(), [UseCase::IncrementalRelease]);
    assert_eq!(m.tickets(), Some("GRADE-1"));
    assert_eq!(m.warning(), Some("needs the new queue"));
    let s = m.source();
    assert_eq!(
        (s.crate_name, s.crate_version),
        ("toggles", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(s.module_path, "registry::grading");
    assert_eq!(s.file, "tests/registry.rs");
    assert_eq!(s.line, 10, "the line of the #[toggle] attribute");

    let upload = registry().get("uploads.max_upload_bytes").unwrap();
    assert_eq!((upload.kind(), upload.value_type()), (Kind::Setting, "u64"));
    assert_eq!(upload.default_value(), Value::UInt(10_000_000));
    assert_eq!(upload.meta().justification(), Some("sized per deployment"));
    assert_eq!(upload.meta().remove_by(), None);
    assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);
    assert!(RECOMMENDATIONS.is_enabled());
}

#[test]
fn expiry_is_judged_the_day_after_remove_by() {
    let expired = |d| {
        registry()
            .expired_on(date(d))
            .map(toggles::ToggleInfo::full_name)
            .collect::<Vec<_>>()
    };
    assert!(
        expired("2025-06-01").is_empty(),
        "due on its date, not yet expired"
    );
    assert_eq!(expired("2025-06-02"), ["grading.new_grader"]);
    assert_eq!(
        expired("2030-01-01"),
        ["courseware.exams.timer", "grading.new_grader"]
    );
}

#[test]
fn serializes_to_the_documented_json_shape() {
    let report =
        serde_json::to_value(registry().report_as_of(date("2025-06-02")).unwrap()).unwrap();
    assert_eq!(report["as_of"], "2025-06-02");
    assert_eq!(report["expired"], json!(["grading.new_grader"]));
    assert_eq!(report["duplicates"], json!([]));
    let toggles = report["toggles"].as_array().unwrap();
    assert_eq!(toggles.len(), 4);
    let grader = toggles
        .iter()
        .find(|t| t["full_name"] == "grading.new_grader")
        .unwrap();
    let source = &grader["source"];
    assert_eq!(
        *grader,
        json!({
            "full_name": "grading.new_grader",
            "namespace": "grading",
            "name": "new_grader",
            "kind": "flag",
            "value_type": "bool",
            "default": false,
            "description": "Grade problems with the rewritten engine.",
            "life": "temporary",
            "remove_by": "2025-06-01",
            "justification": null,
            "expired": true,
            "created": "2025-01-15",
            "owner": "grading-team",
            "use_cases": ["incremental_release"],
            "tickets": "GRADE-1",
            "warning": "needs the new queue",
            "source": {
                "crate": "toggles",
                "crate_version": env!("CARGO_PKG_VERSION"),
                "module_path": "registry::grading",
                "file": "tests/registry.rs",
                "line": 10,
                "column": source["column"],
            },
            "state": {
                "source": "default",
                "value": false,
                "revision": toggles::Revision::of(None).to_string(),
                "first_modified": null,
                "last_modified": null,
                "modified_by": null,
            },
        })
    );
    let upload = toggles
        .iter()
        .find(|t| t["full_name"] == "uploads.max_upload_bytes")
        .unwrap();
    assert_eq!(upload["default"], 10_000_000);
    assert_eq!(upload["value_type"], "u64");
    assert_eq!(upload["justification"], "sized per deployment");
    assert_eq!(upload["remove_by"], json!(null));

    // The registry itself serializes as the report as of today.
    let today = serde_json::to_value(registry().report().unwrap()).unwrap();
    assert_eq!(today["as_of"], Date::today().to_string());
}

#[test]
fn the_expiry_assertion_lists_every_expired_toggle() {
    toggles::testing::assert_no_expired_toggles_on(date("2025-06-01"));
    let failure = std::panic::catch_unwind(|| {
        toggles::testing::assert_no_expired_toggles_on(date("2026-01-01"));
    })
    .expect_err("two toggles are expired on 2026-01-01");
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("2 toggles past the `remove_by` date (as of 2026-01-01):\n"),
        "{message}"
    );
    assert!(
        message.contains("grading.new_grader      remove_by 2025-06-01  tests/registry.rs:10:"),
        "{message}"
    );
    assert!(message.contains("owner grading-team"), "{message}");
    assert!(
        message.contains("courseware.exams.timer  remove_by 2025-06-02"),
        "{message}"
    );

    toggles::testing::assert_no_expired_toggles_in("some-other-package", date("2026-01-01"));
    let failure = std::panic::catch_unwind(|| {
        toggles::testing::assert_no_expired_toggles_in("toggles", date("2026-01-01"));
    });
    assert!(failure.is_err());
}
