//! `toggles refs` and `toggles check --refs` over `tests/fixtures/refs`: a library declaring
//! four toggles and a binary using it, read through a `use` rename, a re-export, `super` and
//! `crate` paths, a glob, a macro and a test, beside a same-named static that is not a toggle.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value as Json;
use support::{file_store, small_fleet, stdout, toggles};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/refs")
}

/// `toggles refs ARGS…` run in the fixture, with no store.
fn refs(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("toggles")
        .unwrap()
        .env_remove("TOGGLES_STORE")
        .current_dir(fixture())
        .arg("refs")
        .args(args)
        .output()
        .unwrap()
}

/// Each toggle's places as `file:line` (with ` test` for one in a test).
fn places(report: &Json, name: &str) -> BTreeSet<String> {
    let toggle = report["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["full_name"] == name)
        .unwrap_or_else(|| panic!("`{name}` is listed"));
    toggle["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let test = if r["in_test"] == true { " test" } else { "" };
            format!("{}:{}{test}", r["file"].as_str().unwrap(), r["line"])
        })
        .collect()
}

fn set(places: &[&str]) -> BTreeSet<String> {
    places.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn every_read_is_found_through_renames_re_exports_globs_and_macros() {
    let output = refs(&["--format", "json"]);
    assert!(output.status.success());
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    // A rename (`as GRADER`), a test closure, and the root's re-export inside `println!`; not
    // `web`'s own `local::NEW_GRADER`.
    assert_eq!(
        places(&report, "grading.new_grader"),
        set(&[
            "grading/src/engine/mod.rs:6",
            "grading/src/engine/mod.rs:19 test",
            "web/src/main.rs:6",
        ])
    );
    // `name = "rubric_v2"` on `RUBRICS`: through `super::super::toggles as flags`, and a glob.
    assert_eq!(
        places(&report, "grading.rubric_v2"),
        set(&["grading/src/engine/rubric.rs:5", "web/src/main.rs:5"])
    );
    assert_eq!(
        places(&report, "grading.max_score"),
        set(&["grading/src/engine/rubric.rs:4"])
    );
    let declared = &report["toggles"][0]["declared_at"];
    assert_eq!(declared["file"], "grading/src/toggles.rs");
    assert_eq!(declared["line"], 13, "MAX_SCORE's name is on line 13");
    let context = &report["toggles"][0]["references"][0]["lines"];
    assert_eq!(
        context[1]["text"],
        "    let most = crate::toggles::MAX_SCORE.get();"
    );
    assert_eq!(report["files"], 5);
}

#[test]
fn a_toggle_read_nowhere_is_a_dead_declaration() {
    let output = refs(&["--format", "json"]);
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["dead"], serde_json::json!(["grading.old_export"]));
    let text = stdout(&refs(&[]));
    assert!(
        text.contains(
            "warning: `grading.old_export` is declared at grading/src/toggles.rs:17 and read \
             nowhere: a dead declaration; remove it"
        ),
        "{text}"
    );
    assert!(
        text.contains("    > 6 |     if GRADER.is_enabled(ctx) {"),
        "{text}"
    );
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_the_rest_still_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.rs"), "fn f( {").unwrap();
    std::fs::write(
        dir.path().join("fine.rs"),
        "#[toggle(namespace = \"a\", life = \"permanent\", justification = \"x\")]\n\
         static ON: Switch;\nfn f() -> bool { ON.is_on() }\n",
    )
    .unwrap();
    let output = Command::cargo_bin("toggles")
        .unwrap()
        .env_remove("TOGGLES_STORE")
        .args(["refs", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 1);
    assert!(report["unreadable"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with("broken.rs"));
    assert_eq!(report["toggles"][0]["full_name"], "a.on");
    assert_eq!(report["toggles"][0]["references"][0]["line"], 3);
}

#[test]
fn the_fleet_s_toggles_are_joined_with_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &small_fleet());
    let output = toggles(&store)
        .current_dir(fixture())
        .args(["refs", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    let find = |name: &str| {
        report["toggles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["full_name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("grading.new_grader")["in_fleet"], true);
    assert_eq!(find("grading.max_score")["in_fleet"], false);
    let only_fleet = find("catalog.recommendations");
    assert_eq!(only_fleet["declared_at"], Json::Null);
    assert_eq!(only_fleet["in_fleet"], true);
}

#[test]
fn check_names_the_places_to_edit_for_an_expired_toggle() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &small_fleet());
    // `grading.new_grader` is due 2030-01-01 in the small fleet.
    let output = toggles(&store)
        .current_dir(fixture())
        .args(["check", "--as-of", "2031-01-01", "--refs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains(
            "  = edit: the declaration at grading/src/toggles.rs:5, and 3 places that read it:"
        ),
        "{text}"
    );
    assert!(
        text.contains("      grading/src/engine/mod.rs:19:38 (a test)"),
        "{text}"
    );
    assert!(text.contains("      web/src/main.rs:6:32"), "{text}");
    // Without `--refs`, no places.
    let plain = toggles(&store)
        .args(["check", "--as-of", "2031-01-01"])
        .output()
        .unwrap();
    assert!(!stdout(&plain).contains("= edit"));
}
