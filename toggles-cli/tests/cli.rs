//! The `toggles` command end to end: the built binary against a file store, registry files and,
//! where the server is available, a PostgreSQL store.

mod support;

use std::collections::BTreeSet;

use serde_json::Value as Json;
use support::{
    edx_fleet, edx_full_name, edx_records, file_store, small_fleet, stderr, stdout, toggles,
};
use toggles_runtime::store::Store;
use toggles_runtime::{Service, Timestamp};

/// The Open edX toggles past their removal date on `as_of`, counted straight from the corpus:
/// a `YYYY-MM-DD` removal date that sorts before it.
fn edx_expired(as_of: &str) -> BTreeSet<String> {
    edx_records()
        .iter()
        .filter(|r| {
            r["toggle_target_removal_date"]
                .as_str()
                .map(str::trim)
                .is_some_and(|d| is_iso_date(d) && d < as_of)
        })
        .map(edx_full_name)
        .collect()
}

/// The toggles due in `[after, until]`, counted the same way.
fn edx_due(after: &str, until: &str) -> BTreeSet<String> {
    edx_records()
        .iter()
        .filter(|r| {
            r["toggle_target_removal_date"]
                .as_str()
                .map(str::trim)
                .is_some_and(|d| is_iso_date(d) && d >= after && d <= until)
        })
        .map(edx_full_name)
        .collect()
}

fn is_iso_date(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// The full names `check` printed as errors.
fn errors(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("error: `"))
        .map(|l| l.split('`').next().unwrap().to_owned())
        .collect()
}

#[test]
fn check_gates_the_edx_fleet_on_its_removal_dates() {
    let expired = edx_expired("2026-01-01");
    assert_eq!(
        expired.len(),
        40,
        "the corpus's own count, as the issue states it"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &edx_fleet());

    let failed = toggles(&store)
        .args(["check", "--as-of", "2026-01-01"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let out = stdout(&failed);
    assert_eq!(errors(&out), expired);
    assert!(out.contains("40 expired"), "{out}");
    assert!(out.trim_end().ends_with("failed"), "{out}");
    // Each names its owner, where it is declared, and the fix.
    let first = out.split("error: ").nth(1).unwrap();
    assert!(first.contains("  --> "), "{first}");
    assert!(first.contains("(owner: team-"), "{first}");
    assert!(first.contains("= fix: remove the toggle"), "{first}");

    let passed = toggles(&store)
        .args(["check", "--as-of", "2014-01-01"])
        .output()
        .unwrap();
    assert_eq!(passed.status.code(), Some(0), "{}", stdout(&passed));
    assert!(stdout(&passed).contains("0 expired"));

    // Due soon: warned about, not failed on.
    let due = edx_due("2026-01-01", "2026-05-01");
    assert!(!due.is_empty(), "the corpus has dates in early 2026");
    let warned = toggles(&store)
        .args(["check", "--as-of", "2026-01-01", "--warn-within", "120days"])
        .output()
        .unwrap();
    let out = stdout(&warned);
    let warnings: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("warning: `"))
        .map(|l| l.split('`').next().unwrap().to_owned())
        .collect();
    assert_eq!(warnings, due);
    assert_eq!(warned.status.code(), Some(1), "the expired ones still fail");

    // Scoped to a team: only its toggles count.
    let lms = toggles(&store)
        .args(["check", "--as-of", "2026-01-01", "--owner", "team-lms"])
        .output()
        .unwrap();
    let lms_expired: BTreeSet<String> = edx_records()
        .iter()
        .filter(|r| support::edx_service(r) == "lms")
        .map(edx_full_name)
        .filter(|n| expired.contains(n))
        .collect();
    assert_eq!(errors(&stdout(&lms)), lms_expired);
    assert!(lms_expired.len() < expired.len());
    let nobody = toggles(&store)
        .args(["check", "--as-of", "2026-01-01", "--owner", "team-nobody"])
        .output()
        .unwrap();
    assert_eq!(nobody.status.code(), Some(0));
}

#[test]
fn report_formats_agree_and_csv_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &edx_fleet());
    let names: BTreeSet<String> = edx_records().iter().map(edx_full_name).collect();
    let expired = edx_expired("2026-01-01");

    let csv = toggles(&store)
        .args(["report", "--format", "csv", "--as-of", "2026-01-01"])
        .output()
        .unwrap();
    assert!(csv.status.success(), "{}", stderr(&csv));
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    for column in [
        "toggle_name",
        "toggle_implementation",
        "toggle_default",
        "toggle_description",
        "toggle_use_cases",
        "toggle_creation_date",
        "toggle_target_removal_date",
        "toggle_warning",
        "toggle_tickets",
        "code_owner",
        "expired",
    ] {
        assert!(headers.iter().any(|h| h == column), "column {column}");
    }
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let csv_names: BTreeSet<String> = rows
        .iter()
        .map(|r| r[column("toggle_name")].to_owned())
        .collect();
    assert_eq!(csv_names, names);
    let csv_expired: BTreeSet<String> = rows
        .iter()
        .filter(|r| &r[column("expired")] == "true")
        .map(|r| r[column("toggle_name")].to_owned())
        .collect();
    assert_eq!(csv_expired, expired);
    // A description with commas, quotes and newlines survives the round trip.
    let described = rows
        .iter()
        .find(|r| r[column("toggle_description")].contains('\n'))
        .expect("the corpus has multi-line descriptions");
    assert!(!described[column("toggle_name")].is_empty());

    let json = toggles(&store)
        .args([
            "report",
            "--format",
            "json",
            "--expired",
            "--as-of",
            "2026-01-01",
        ])
        .output()
        .unwrap();
    let json: Json = serde_json::from_slice(&json.stdout).unwrap();
    let json_expired: BTreeSet<String> = json["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["full_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(json_expired, expired);
    assert_eq!(json["expired"].as_array().unwrap().len(), expired.len());

    let table = toggles(&store)
        .args([
            "report",
            "--as-of",
            "2026-01-01",
            "--namespace",
            "courseware",
        ])
        .output()
        .unwrap();
    let out = stdout(&table);
    assert!(out.contains("REMOVE BY"), "{out}");
    let courseware = names
        .iter()
        .filter(|n| n.starts_with("courseware."))
        .count();
    assert!(courseware > 0);
    assert!(
        out.contains(&format!("{courseware} toggles across 3 services")),
        "{out}"
    );
    assert!(!out.contains("lms.envs"), "other namespaces filtered out");
}

#[test]
fn report_filters_by_service_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &edx_fleet());
    // The rows are exactly the corpus's.
    let json = |args: &[&str]| -> BTreeSet<String> {
        let out = toggles(&store)
            .args(["report", "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let json: Json = serde_json::from_slice(&out.stdout).unwrap();
        json["toggles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["full_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let cms: BTreeSet<String> = edx_records()
        .iter()
        .filter(|r| support::edx_service(r) == "cms")
        .map(edx_full_name)
        .collect();
    assert_eq!(json(&["--service", "cms"]), cms);
    let waffle_flags: BTreeSet<String> = edx_records()
        .iter()
        .filter(|r| {
            r["toggle_implementation"]
                .as_str()
                .is_some_and(|i| i.contains("Flag"))
        })
        .map(edx_full_name)
        .collect();
    assert_eq!(json(&["--kind", "flag"]), waffle_flags);
}

#[test]
fn registry_files_stand_in_for_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for declarations in edx_fleet() {
        let path = dir
            .path()
            .join(format!("{}.json", declarations.service.name));
        std::fs::write(&path, serde_json::to_string(&declarations).unwrap()).unwrap();
        files.push(path.display().to_string());
    }
    let out = toggles("unused")
        .args(["check", "--as-of", "2026-01-01", "--from"])
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(errors(&stdout(&out)), edx_expired("2026-01-01"));

    // A service's registry report (`GET /`), named by `SERVICE=PATH`, with the state it saw.
    let report = serde_json::json!({
        "as_of": "2026-11-22",
        "toggles": [{
            "full_name": "grading.new_grader", "namespace": "grading", "name": "new_grader",
            "kind": "flag", "value_type": "bool", "default": false,
            "description": "Grade with the new engine.", "life": "temporary",
            "remove_by": "2025-06-01", "justification": null, "expired": true, "created": null,
            "owner": "team-grading", "use_cases": [], "tickets": null, "warning": null,
            "source": { "crate": "grading", "crate_version": "1.4.2",
                        "module_path": "grading::engine", "file": "src/engine.rs",
                        "line": 12, "column": 1 },
            "state": { "source": "store", "value": { "percent": 20.0 },
                       "first_modified": "2025-03-01T09:00:00Z",
                       "last_modified": "2025-04-02T14:30:00Z", "modified_by": "ana" }
        }],
        "expired": ["grading.new_grader"],
        "duplicates": []
    });
    let path = dir.path().join("registry.json");
    std::fs::write(&path, report.to_string()).unwrap();
    let out = toggles("unused")
        .args(["report", "--format", "json", "--from"])
        .arg(format!("grading={}", path.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Json = serde_json::from_slice(&out.stdout).unwrap();
    let t = &json["toggles"][0];
    assert_eq!(t["declared_by"][0]["service"], "grading");
    assert_eq!(t["state"]["value"]["percent"], 20.0);
    assert_eq!(t["state"]["modified_by"], "ana");
    assert_eq!(t["expired"], true);

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let out = toggles("unused")
        .args(["report", "--from"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is neither a registry report"),
        "{}",
        stderr(&out)
    );
}

/// The small fleet's store after three writes, each checked to print its audit entry.
fn written(dir: &std::path::Path) -> String {
    let store = file_store(dir, &small_fleet());

    let set = toggles(&store)
        .args([
            "set",
            "catalog.recommendations",
            "off",
            "--reason",
            "load spike",
        ])
        .args(["--actor", "ana"])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr(&set));
    let entry = stdout(&set);
    assert!(
        entry.contains("ana  catalog.recommendations  (default) → false  \"load spike\""),
        "{entry}"
    );

    let setting = toggles(&store)
        .args([
            "set",
            "uploads.max_bytes",
            "4096",
            "--reason",
            "bigger files",
        ])
        .env("USER", "osuser")
        .output()
        .unwrap();
    assert!(setting.status.success(), "{}", stderr(&setting));
    assert!(
        stdout(&setting).contains("osuser  uploads.max_bytes"),
        "the OS user by default"
    );

    let flag = toggles(&store)
        .args(["flag", "grading.new_grader", "--percent", "30"])
        .args(["--users-on", "amy,bob", "--groups-off", "course:c1"])
        .args(["--guard-error-rate", "5", "--guard-window", "10m"])
        .args(["--reason", "beta", "--actor", "ana"])
        .output()
        .unwrap();
    assert!(flag.status.success(), "{}", stderr(&flag));
    store
}

#[test]
fn show_explains_how_the_stored_rule_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());

    // How the stored rule answers, step by step.
    for (args, expected) in [
        (
            vec!["--user", "amy"],
            "for user amy: on — the user is listed",
        ),
        (
            vec!["--user", "zed", "--group", "course:c1"],
            "for user zed, group course:c1: off — a course group is listed",
        ),
        (
            vec![],
            "state: users +2 · course groups -1 · 30% · guarded: off if errors > 5%",
        ),
        (
            vec![],
            r#""guard":{"max_error_rate":5.0,"min_requests":100,"window_secs":600}"#,
        ),
    ] {
        let show = toggles(&store)
            .args(["show", "grading.new_grader"])
            .args(&args)
            .output()
            .unwrap();
        assert!(show.status.success(), "{}", stderr(&show));
        assert!(stdout(&show).contains(expected), "{}", stdout(&show));
    }
    let show = toggles(&store)
        .args(["show", "grading.new_grader", "--user", "u-7"])
        .output()
        .unwrap();
    assert!(stdout(&show).contains("(30% rollout)"), "{}", stdout(&show));
}

#[test]
fn a_guard_on_run_times_is_written_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());
    let flag = toggles(&store)
        .args(["flag", "grading.new_grader", "--percent", "30"])
        .args(["--guard-slow", "250ms", "--guard-slow-share", "10"])
        .args(["--guard-p95-margin", "20", "--guard-traffic-drop", "30"])
        .args(["--reason", "time it", "--actor", "ana"])
        .output()
        .unwrap();
    assert!(flag.status.success(), "{}", stderr(&flag));
    let show = toggles(&store)
        .args(["show", "grading.new_grader"])
        .output()
        .unwrap();
    let shown = stdout(&show);
    assert!(
        shown.contains(
            "guarded: off if over 10% of runs > 250 ms or p95 run time > off's + 20% or traffic > 30% below off's"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(
            r#""latency_baseline_ms":250.0,"max_p95_margin":20.0,"max_slow_share":10.0,"max_traffic_drop":30.0"#
        ),
        "{shown}"
    );
    // A share with no run time to count against is refused before anything is written.
    let half = toggles(&store)
        .args(["flag", "grading.new_grader", "--percent", "30"])
        .args([
            "--guard-slow-share",
            "10",
            "--reason",
            "x",
            "--actor",
            "ana",
        ])
        .output()
        .unwrap();
    assert!(!half.status.success());
    assert!(
        stderr(&half).contains("--guard-slow <DURATION>"),
        "{}",
        stderr(&half)
    );
}

#[test]
fn a_staged_rollout_is_written_shown_and_steered() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());
    let run = |args: &[&str]| {
        toggles(&store)
            .args(args)
            .args(["--reason", "staged", "--actor", "ana"])
            .output()
            .unwrap()
    };
    let flag = run(&[
        "flag",
        "grading.new_grader",
        "--stages",
        "1:10m,5:30m,25:1h,100",
        "--guard-error-rate",
        "5",
    ]);
    assert!(flag.status.success(), "{}", stderr(&flag));
    let show = || {
        let out = toggles(&store)
            .args(["show", "grading.new_grader"])
            .output()
            .unwrap();
        stdout(&out)
    };
    let shown = show();
    assert!(
        shown.contains("rollout: stage 1 of 4 (1%), running: stage 2 (5%) is due at "),
        "{shown}"
    );
    assert!(
        shown.contains("  once its guard holds on 100 outcomes under \"on\" in the stage"),
        "{shown}"
    );
    assert!(
        shown.contains("  stages: 1% for 10m, 5% for 30m, 25% for 1h, 100%"),
        "{shown}"
    );

    let skip = run(&["rollout", "grading.new_grader", "skip"]);
    assert!(skip.status.success(), "{}", stderr(&skip));
    assert!(
        stdout(&skip).contains("rollout: stage 2 of 4 (5%), running"),
        "{}",
        stdout(&skip)
    );
    let paused = run(&["rollout", "grading.new_grader", "pause"]);
    assert!(paused.status.success(), "{}", stderr(&paused));
    assert!(
        show().contains("rollout: stage 2 of 4 (5%), paused"),
        "{}",
        show()
    );
    let again = run(&["rollout", "grading.new_grader", "pause"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stderr(&again).trim(),
        "error: `grading.new_grader`: the plan is paused: only a running plan pauses"
    );
    let back = run(&["rollout", "grading.new_grader", "rollback"]);
    assert!(back.status.success(), "{}", stderr(&back));
    assert!(show().contains(r#""percent":1.0"#), "{}", show());

    // A stage without its hold, and a step that is not one, are refused before anything is
    // written.
    let bad = run(&["flag", "grading.new_grader", "--stages", "1,100"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`1`: every stage but the last is held for a time: `1:30m`"),
        "{}",
        stderr(&bad)
    );
    let bad = run(&["flag", "grading.new_grader", "--stages", "1:1500ms,100"]);
    assert!(
        stderr(&bad)
            .contains("`1:1500ms`: a stage is held for whole seconds, at least one (`30s`, `10m`)"),
        "{}",
        stderr(&bad)
    );
    let bad = run(&["rollout", "grading.new_grader", "faster"]);
    assert!(
        stderr(&bad).contains(
            "`faster` is not a step of a staged rollout: `pause`, `resume`, `skip` or `rollback`"
        ),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn feedback_is_listed_per_arm_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &small_fleet());
    let none = toggles(&store)
        .args(["feedback", "grading.new_grader"])
        .output()
        .unwrap();
    assert_eq!(stdout(&none), "grading.new_grader: no feedback yet\n");
    let file = toggles_runtime::store::FileStore::open(dir.path().join("toggles.json")).unwrap();
    for (i, (arm, unit, text)) in [
        ("on", Some("42"), "my partial credit vanished"),
        ("off", None, "fine"),
        ("on", Some("7"), "faster!"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = Timestamp::from_unix_seconds(1_900_000_000 + i64::try_from(i).unwrap());
        let piece = toggles_runtime::store::Feedback::new(
            "grading.new_grader",
            arm,
            unit.map(str::to_owned),
            text,
            at,
        );
        file.record_feedback(&piece).unwrap();
    }
    let listed = toggles(&store)
        .args(["feedback", "grading.new_grader", "--limit", "2"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&listed),
        "grading.new_grader: 3 pieces of feedback (off 1, on 2)\n\
         \x20 2030-03-17T17:46:42Z [on] 7: faster!\n\
         \x20 2030-03-17T17:46:41Z [off]: fine\n"
    );
    let json = toggles(&store)
        .args(["feedback", "grading.new_grader", "--json"])
        .output()
        .unwrap();
    let log: Json = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(log["per_arm"]["on"], 2);
    assert_eq!(log["entries"].as_array().unwrap().len(), 3);
    let typo = toggles(&store)
        .args(["feedback", "grading.new_gradr"])
        .output()
        .unwrap();
    assert!(
        stderr(&typo).contains("`grading.new_grader`"),
        "{}",
        stderr(&typo)
    );
}

#[test]
fn refused_writes_print_every_problem_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());
    let before = std::fs::read(store.strip_prefix("file:").unwrap()).unwrap();

    // A refused write prints every problem, changes nothing, exits 1.
    let refused = toggles(&store)
        .args(["flag", "grading.new_grader", "--percent", "150"])
        .args(["--users-on", "amy", "--users-off", "amy"])
        .args(["--reason", "oops", "--actor", "ana"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let problems = stderr(&refused);
    assert!(
        problems.contains("write refused, nothing changed"),
        "{problems}"
    );
    assert!(problems.contains("`percent`"), "{problems}");
    assert!(problems.contains("listed both on and off"), "{problems}");

    let wrong_value = toggles(&store)
        .args(["set", "catalog.recommendations", "maybe", "--reason", "x"])
        .output()
        .unwrap();
    assert_eq!(wrong_value.status.code(), Some(2));
    assert!(stderr(&wrong_value).contains("expected `on` or `off`"));

    let wrong_type = toggles(&store)
        .args([
            "set",
            "uploads.max_bytes",
            "-5",
            "--reason",
            "x",
            "--actor",
            "ana",
        ])
        .output()
        .unwrap();
    assert_eq!(wrong_type.status.code(), Some(1), "{}", stderr(&wrong_type));

    let unknown = toggles(&store)
        .args(["set", "grading.new_grade", "on", "--reason", "x"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("did you mean `grading.new_grader`?"),
        "{}",
        stderr(&unknown)
    );

    let unreasoned = toggles(&store)
        .args(["set", "catalog.recommendations", "on"])
        .output()
        .unwrap();
    assert_eq!(unreasoned.status.code(), Some(2));
    assert!(stderr(&unreasoned).contains("--reason"));
    let after = std::fs::read(store.strip_prefix("file:").unwrap()).unwrap();
    assert_eq!(before, after, "nothing changed");
}

#[test]
fn the_audit_log_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());

    // The audit log: newest first, paged.
    let audit = toggles(&store).arg("audit").output().unwrap();
    let lines: Vec<String> = stdout(&audit).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4, "three changes and the footer: {lines:?}");
    assert!(lines[0].contains("grading.new_grader"));
    assert!(lines[2].contains("catalog.recommendations"));
    let page = toggles(&store)
        .args(["audit", "--limit", "1", "--page", "2"])
        .output()
        .unwrap();
    assert!(stdout(&page).starts_with(&lines[1]), "{}", stdout(&page));
    let json = toggles(&store)
        .args(["audit", "uploads.max_bytes", "--json"])
        .output()
        .unwrap();
    let entry: Json = serde_json::from_str(stdout(&json).lines().next().unwrap()).unwrap();
    assert_eq!(entry["after"], 4096);
    assert_eq!(entry["actor"], "osuser");

    let reset = toggles(&store)
        .args([
            "reset",
            "catalog.recommendations",
            "--reason",
            "over",
            "--actor",
            "ana",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&reset).contains("false → (default)"),
        "{}",
        stdout(&reset)
    );
}

#[test]
fn errors_say_what_is_wrong_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.json");
    let out = toggles(&format!("file:{}", missing.display()))
        .arg("report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no toggles store at"),
        "{}",
        stderr(&out)
    );
    assert!(!missing.exists(), "reading never creates a store");

    let not_a_store = dir.path().join("notes.txt");
    std::fs::write(&not_a_store, "shopping list").unwrap();
    let out = toggles(not_a_store.to_str().unwrap())
        .arg("report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a valid toggles file"),
        "{}",
        stderr(&out)
    );

    // Port 9 (discard) refuses at once on loopback.
    let out = toggles("postgres://postgres:secret@127.0.0.1:9/test")
        .arg("report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("cannot read the fleet from postgres://postgres:***@127.0.0.1:9/test"),
        "{message}"
    );
    assert!(!message.contains("secret"), "the password is not printed");

    let mut no_store = assert_cmd::Command::cargo_bin("toggles").unwrap();
    let out = no_store
        .env_remove("TOGGLES_STORE")
        .arg("report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no store given"), "{}", stderr(&out));

    let store = file_store(dir.path(), &small_fleet());
    let out = toggles(&store)
        .args(["show", "grading.new_gradr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `grading.new_grader`?"),
        "{}",
        stderr(&out)
    );
    // Piped, nothing but the report: no progress drawn.
    let out = toggles(&store).arg("report").output().unwrap();
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn drift_is_reported_and_gated_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &small_fleet());
    toggles(&store)
        .args([
            "set",
            "catalog.recommendations",
            "off",
            "--reason",
            "r",
            "--actor",
            "a",
        ])
        .assert()
        .success();
    // The store holds state for a toggle no service declares any more.
    let path = store.strip_prefix("file:").unwrap();
    let mut snapshot: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    snapshot["switches"]["legacy.old_switch"] = Json::Bool(true);
    std::fs::write(path, snapshot.to_string()).unwrap();

    let plain = toggles(&store).args(["check"]).output().unwrap();
    assert_eq!(plain.status.code(), Some(0), "drift fails only when asked");
    let gated = toggles(&store)
        .args(["check", "--drift", "undeclared"])
        .output()
        .unwrap();
    assert_eq!(gated.status.code(), Some(1));
    let out = stdout(&gated);
    assert!(
        out.contains(
            "error: `legacy.old_switch` has state in the store, but no running service declares it"
        ),
        "{out}"
    );
    assert!(out.contains("toggles reset legacy.old_switch"), "{out}");
    assert!(!out.contains("never set"), "{out}");

    let report = toggles(&store)
        .args(["report", "--drift", "--format", "json"])
        .output()
        .unwrap();
    let json: Json = serde_json::from_slice(&report.stdout).unwrap();
    let drifted: BTreeSet<&str> = json["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        drifted,
        BTreeSet::from([
            "legacy.old_switch",
            "grading.new_grader",
            "uploads.max_bytes"
        ]),
        "undeclared, and declared but never set"
    );
}

#[test]
fn a_postgres_store_end_to_end() {
    let Some(schema) = support::postgres_schema("end_to_end") else {
        return;
    };
    let settings = support::postgres_settings();
    let pg = toggles_postgres::PostgresStore::new(&settings, &schema).unwrap();
    support::publish(&pg, &small_fleet());
    let store = format!("postgres:{settings}");
    let run = |args: &[&str]| {
        toggles(&store)
            .args(["--schema", &schema])
            .args(args)
            .output()
            .unwrap()
    };
    let flag = run(&[
        "flag",
        "grading.new_grader",
        "--everyone",
        "on",
        "--reason",
        "launch",
        "--actor",
        "ana",
    ]);
    assert!(flag.status.success(), "{}", stderr(&flag));
    let refused = run(&[
        "flag",
        "grading.new_grader",
        "--percent",
        "12.345",
        "--reason",
        "x",
        "--actor",
        "ana",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let show = run(&["show", "grading.new_grader", "--user", "x"]);
    assert!(
        stdout(&show).contains("for user x: on — `everyone` is set"),
        "{}",
        stdout(&show)
    );
    let check = run(&["check", "--as-of", "2030-01-02"]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(
        errors(&stdout(&check)),
        BTreeSet::from(["grading.new_grader".to_owned()])
    );
    let report = run(&["report", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(report.stdout.as_slice());
    assert_eq!(reader.records().count(), 3);
    let audit = run(&["audit", "grading.new_grader"]);
    let out = stdout(&audit);
    assert!(
        out.contains("ana  grading.new_grader  (default) → {"),
        "{out}"
    );
    assert!(out.contains("1 entries, page 1"), "{out}");
}

#[test]
fn the_gate_opens_once_the_deploy_that_removed_the_toggle_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut before = support::small_fleet().remove(0);
    before.service = before.service.on_host("web-1");
    let grader = before
        .toggles
        .iter_mut()
        .find(|d| d.full_name == "grading.new_grader")
        .unwrap();
    grader.remove_by = Some("2026-06-01".parse().unwrap());
    let store = file_store(dir.path(), std::slice::from_ref(&before));

    let failed = toggles(&store)
        .args(["check", "--as-of", "2026-06-02"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let out = stdout(&failed);
    assert!(
        out.contains("error: `grading.new_grader` is 1 day past its removal date (2026-06-01)"),
        "{out}"
    );

    // 1.4.3 removed the grader and runs on another host; 1.4.2 stopped an hour ago.
    let opened = toggles_runtime::store::FileStore::open(dir.path().join("toggles.json")).unwrap();
    let hour_ago = Timestamp::from_unix_seconds(Timestamp::now().unix_seconds() - 3600);
    opened.seen(&before.service.instance, hour_ago).unwrap();
    let mut after = before.clone();
    after.service = Service::new("grading", "1.4.3").on_host("web-2");
    after
        .toggles
        .retain(|d| d.full_name != "grading.new_grader");
    opened.publish(&after, Timestamp::now()).unwrap();

    let passed = toggles(&store)
        .args(["check", "--as-of", "2026-06-02"])
        .output()
        .unwrap();
    let out = stdout(&passed);
    assert_eq!(passed.status.code(), Some(0), "{out}");
    assert!(
        out.contains("toggles check: 3 toggles as of 2026-06-02: 0 expired"),
        "{out}"
    );
    let report = toggles(&store).args(["report"]).output().unwrap();
    assert!(
        stdout(&report).contains("3 toggles across 1 service as of"),
        "{}",
        stdout(&report)
    );
}
