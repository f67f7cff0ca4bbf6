//! Stores: validated writes refused whole, the audit log, the registry's live view, and the
//! file store's hot reload, atomic writes, bad files kept out and lock across processes.
//! The installed store is process-wide, so these tests take turns (`serial`).

mod support;

use std::time::Duration;

use serde_json::json;
use support::store::{all_audit, serial, wait_for, write_file};
use toggles::report::{LiveSource, ToggleReport};
use toggles::rules::FlagRule;
use toggles::store::{AuditQuery, Store};
use toggles::store::{FileStore, MemoryStore, Snapshot};
use toggles::{registry, toggle, Change, Context, Flag, Problem, Setting, Switch, WriteError};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// The grading engine's new queue.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_QUEUE: Flag;

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

fn refused(change: &Change) -> String {
    let before = all_audit().len();
    let err = toggles::write(change.clone().by("ana").because("testing"))
        .expect_err("the write should be refused");
    assert!(matches!(err, WriteError::Invalid(_)), "{err}");
    assert_eq!(all_audit().len(), before, "a refused write is not audited");
    err.to_string()
}

/// A memory store, installed, holding a 10% rollout of `grading.new_grader`.
fn with_a_rollout() -> (toggles::Installation, std::sync::Arc<MemoryStore>) {
    let store = std::sync::Arc::new(MemoryStore::new());
    let toggles = toggles::install(store.clone()).unwrap();
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().percent(10.0))
            .by("ana")
            .because("start"),
    )
    .unwrap();
    (toggles, store)
}

#[test]
fn refused_writes_change_nothing() {
    let _s = serial();
    let (_toggles, store) = with_a_rollout();
    let before = store.load().unwrap();

    assert_eq!(
        refused(&Change::switch("grading.unknown", true)),
        "write refused: `grading.unknown` is not a toggle of this program"
    );
    assert_eq!(
        refused(&Change::switch("grading.new_gradr", true)),
        "write refused: `grading.new_gradr` is not a toggle of this program; did you mean `grading.new_grader`?"
    );
    assert_eq!(
        refused(&Change::switch("Grading New Grader", true)),
        "write refused: `Grading New Grader` is not a toggle's full name: `namespace.name`, in lower-case words joined by `_` (and `.` in the namespace)"
    );
    assert_eq!(
        refused(&Change::switch("grading.new_grader", true)),
        "write refused: `grading.new_grader` is a flag, not a switch"
    );
    assert_eq!(
        refused(&Change::flag(
            "grading.new_grader",
            FlagRule::new().percent(100.5)
        )),
        "write refused: `grading.new_grader` `percent` is from 0 to 100, not 100.5"
    );
    assert_eq!(
        refused(&Change::flag(
            "grading.new_grader",
            FlagRule::new().users_on(["1"]).users_off(["1"])
        )),
        "write refused: `grading.new_grader` `1` is listed both on and off in `users`"
    );
    toggles::write(
        Change::flag(
            "grading.new_queue",
            FlagRule::new().requires("grading.new_grader"),
        )
        .by("ana")
        .because("chain"),
    )
    .unwrap();
    let before_cycle = store.load().unwrap();
    assert_eq!(
        refused(&Change::flag("grading.new_grader", FlagRule::new().requires("grading.new_queue"))),
        "write refused: `grading.new_grader` `requires` goes round in a cycle: grading.new_grader -> grading.new_queue -> grading.new_grader"
    );
    assert!(refused(&Change::flag(
        "grading.new_grader",
        FlagRule::new().requires("grading.new_grader")
    ))
    .contains("cycle"));
    assert_eq!(
        refused(&Change::setting("uploads.max_upload_bytes", "ten")),
        "write refused: `uploads.max_upload_bytes` takes a `u64`, not `\"ten\"`"
    );
    assert_eq!(
        refused(&Change::setting("uploads.max_upload_bytes", -1)),
        "write refused: `uploads.max_upload_bytes` takes a `u64`, not `-1`"
    );
    assert!(matches!(
        toggles::write(
            Change::switch("catalog.recommendations", false)
                .by("")
                .because("why")
        ),
        Err(WriteError::Unattributed)
    ));
    assert!(matches!(
        toggles::write(
            Change::switch("catalog.recommendations", false)
                .by("ana")
                .because(" ")
        ),
        Err(WriteError::Unattributed)
    ));

    assert_eq!(store.load().unwrap(), before_cycle);
    assert_eq!(
        before_cycle.flags["grading.new_grader"],
        before.flags["grading.new_grader"]
    );
    assert!(RECOMMENDATIONS.is_enabled());
    assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);
}

#[test]
fn a_rule_json_cannot_hold_is_refused_and_the_rule_before_stays() {
    let _s = serial();
    let (_toggles, store) = with_a_rollout();
    let before = store.load().unwrap();
    for (percent, shown) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        assert_eq!(
            refused(&Change::flag(
                "grading.new_grader",
                FlagRule::new().percent(percent)
            )),
            format!("write refused: `grading.new_grader` `percent` is from 0 to 100, not {shown}")
        );
    }
    let guard = toggles::rules::Guard::error_rate(f64::NAN);
    assert_eq!(
        refused(&Change::flag(
            "grading.new_grader",
            FlagRule::new().percent(10.0).guard(guard)
        )),
        "write refused: `grading.new_grader` `guard.max_error_rate` is from 0 (inclusive) to 100 (exclusive), not NaN"
    );
    assert_eq!(store.load().unwrap(), before, "the rule before is intact");
    assert_eq!(before.flags["grading.new_grader"], json!({"percent": 10.0}));
}

#[test]
fn a_refusal_lists_every_problem_of_the_rule() {
    let _s = serial();
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let rule = FlagRule::new()
        .percent(150.0)
        .users_on(["ana"])
        .users_off(["ana"])
        .requires("grading.no_such_flag")
        .requires("catalog.recommendations");
    assert_eq!(
        refused(&Change::flag("grading.new_grader", rule)),
        "write refused: `grading.new_grader` `percent` is from 0 to 100, not 150; \
         `grading.new_grader` `ana` is listed both on and off in `users`; \
         `grading.new_grader` requires `grading.no_such_flag`, which is not a flag of this program; \
         `grading.new_grader` requires `catalog.recommendations`, a switch; only flags can be required"
    );
}

#[test]
fn one_bad_entry_is_set_aside_and_every_other_entry_moves_on() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    write_file(
        &path,
        r#"{"switches": {"catalog.recommendations": true},
            "flags": {"grading.new_grader": {"users": {"on": ["ana"]}}}}"#,
    );
    let _toggles =
        toggles::install(FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap())
            .unwrap();
    // A context pins the state in force when it is built: a fresh one per look.
    let on_for = |user: &str| NEW_GRADER.is_enabled(&Context::new().with_user(user));
    assert!(on_for("ana"));

    // The kill switch turned off in the same edit that adds a field this version does not know
    // to another team's flag: the kill switch takes effect, the flag keeps its last good rule.
    write_file(
        &path,
        r#"{"switches": {"catalog.recommendations": false},
            "flags": {"grading.new_grader": {"users": {"on": ["bob"]}, "weekdays": ["mon"]}}}"#,
    );
    wait_for("the kill switch is in force", || {
        !RECOMMENDATIONS.is_enabled()
    });
    assert!(on_for("ana"), "the flag keeps its last good rule");
    assert!(!on_for("bob"));
    let status = toggles::status();
    assert_eq!(status.last_error, None);
    assert_eq!(
        status.invalid_entries.len(),
        1,
        "{:?}",
        status.invalid_entries
    );
    assert_eq!(status.invalid_entries[0].toggle, "grading.new_grader");
    assert!(
        status.invalid_entries[0]
            .message
            .starts_with("is not a flag rule: unknown field `weekdays`"),
        "{}",
        status.invalid_entries[0].message
    );
    // Another edit elsewhere: the entry stays set aside, its last good rule stays in force.
    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5)
            .by("ops")
            .because("smaller"),
    )
    .unwrap();
    assert_eq!(MAX_UPLOAD_BYTES.get(), 5);
    assert!(on_for("ana"));
    assert_eq!(toggles::status().invalid_entries.len(), 1);

    // A toggle that never had a good entry keeps its compiled default.
    write_file(
        &path,
        r#"{"flags": {"grading.new_grader": {"users": {"on": ["bob"]}, "weekdays": ["mon"]},
                      "grading.new_queue": {"everyone": "yes"}}}"#,
    );
    wait_for("the switch's entry is gone", || {
        RECOMMENDATIONS.is_enabled()
    });
    assert!(!NEW_QUEUE.is_enabled(&Context::new().with_user("ana")));
    assert!(on_for("ana"));
    let names: Vec<String> = toggles::status()
        .invalid_entries
        .into_iter()
        .map(|p| p.toggle)
        .collect();
    assert_eq!(names, ["grading.new_grader", "grading.new_queue"]);

    // Written over through the runtime: in force, nothing set aside any more.
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().users_on(["bob"]))
            .by("ana")
            .because("fix"),
    )
    .unwrap();
    toggles::write(Change::reset("grading.new_queue").by("ana").because("fix")).unwrap();
    assert!(on_for("bob"));
    assert!(!on_for("ana"));
    assert_eq!(toggles::status().invalid_entries, []);
}

#[test]
fn a_cycle_written_behind_the_runtimes_back_is_set_aside() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    write_file(
        &path,
        r#"{"flags": {"grading.new_grader": {"requires": ["grading.new_queue"], "everyone": true},
                      "grading.new_queue": {"everyone": true}}}"#,
    );
    let _toggles =
        toggles::install(FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap())
            .unwrap();
    let ctx = Context::new();
    assert!(NEW_GRADER.is_enabled(&ctx) && NEW_QUEUE.is_enabled(&ctx));
    // The queue now requires the grader, which requires the queue: a check would never end.
    write_file(
        &path,
        r#"{"flags": {"grading.new_grader": {"requires": ["grading.new_queue"], "everyone": true},
                      "grading.new_queue": {"requires": ["grading.new_grader"], "everyone": false}}}"#,
    );
    wait_for("the cycle is reported", || {
        !toggles::status().invalid_entries.is_empty()
    });
    assert_eq!(
        toggles::status().invalid_entries,
        [Problem {
            toggle: "grading.new_queue".into(),
            message: "`requires` goes round in a cycle: grading.new_grader -> grading.new_queue -> grading.new_grader".into()
        }]
    );
    let ctx = Context::new();
    assert!(
        NEW_QUEUE.is_enabled(&ctx),
        "the queue keeps its last good rule"
    );
    assert!(NEW_GRADER.is_enabled(&ctx));
}

#[test]
fn sections_a_newer_version_added_are_carried_along() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    write_file(
        &path,
        r#"{"switches": {"catalog.recommendations": false},
            "variants": {"checkout.flow": {"weights": {"one_page": 50}}}}"#,
    );
    let _toggles = toggles::install(FileStore::open(&path).unwrap()).unwrap();
    assert!(!RECOMMENDATIONS.is_enabled());
    assert_eq!(toggles::status().last_error, None);
    toggles::write(
        Change::switch("catalog.recommendations", true)
            .by("ops")
            .because("calm"),
    )
    .unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        written["variants"],
        json!({"checkout.flow": {"weights": {"one_page": 50}}}),
        "a write keeps what it cannot read"
    );
}

#[test]
fn accepted_writes_take_effect_and_are_audited() {
    let _s = serial();
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    assert!(RECOMMENDATIONS.is_enabled());
    let entry = toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ops@example.com")
            .because("traffic spike"),
    )
    .unwrap();
    assert!(!RECOMMENDATIONS.is_enabled());
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.toggle.as_str(),
            entry.reason.as_str()
        ),
        (
            "ops@example.com",
            "catalog.recommendations",
            "traffic spike"
        )
    );
    assert_eq!((entry.before, entry.after), (None, Some(json!(false))));
    assert!(entry.at.unix_seconds() > 1_700_000_000);

    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5_000_000)
            .by("ana")
            .because("smaller disks"),
    )
    .unwrap();
    toggles::write(
        Change::setting("home.greeting", "Hello")
            .by("ana")
            .because("rebrand"),
    )
    .unwrap();
    assert_eq!(MAX_UPLOAD_BYTES.get(), 5_000_000);
    assert_eq!(GREETING.get(), "Hello");
    let second = toggles::write(
        Change::switch("catalog.recommendations", true)
            .by("bob")
            .because("spike over"),
    )
    .unwrap();
    assert_eq!(
        (second.before, second.after),
        (Some(json!(false)), Some(json!(true)))
    );
    toggles::write(
        Change::reset("uploads.max_upload_bytes")
            .by("ana")
            .because("back to default"),
    )
    .unwrap();
    assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);

    let log = all_audit();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].after, None, "newest first");

    // The registry's live view: what is in force, where from, and who changed it when.
    let live = registry()
        .get("catalog.recommendations")
        .unwrap()
        .live()
        .unwrap();
    assert_eq!(
        (live.source, &live.value),
        (LiveSource::Store, &json!(true))
    );
    assert_eq!(live.modified_by.as_deref(), Some("bob"));
    assert_eq!(live.first_modified, Some(log[4].at));
    assert_eq!(live.last_modified, Some(log[1].at));
    // The report reads every toggle's history at once, and finds the same.
    let report = registry().report().unwrap();
    let named = |t: &&ToggleReport| t.declaration.full_name == "catalog.recommendations";
    assert_eq!(report.toggles.iter().find(named).unwrap().state, live);
    let recommendations =
        toggles::report::audit(&AuditQuery::toggle("catalog.recommendations")).unwrap();
    assert_eq!(
        recommendations
            .iter()
            .map(|e| e.actor.as_str())
            .collect::<Vec<_>>(),
        ["bob", "ops@example.com"],
        "one toggle's entries, newest first"
    );
    let paged = toggles::report::audit(&AuditQuery::all().skip(1).limit(2)).unwrap();
    assert_eq!(paged, log[1..3]);
    let untouched = registry().get("grading.new_queue").unwrap().live().unwrap();
    assert_eq!(
        (untouched.source, untouched.value, untouched.modified_by),
        (LiveSource::Default, json!(false), None)
    );
    let report = serde_json::to_value(registry().report().unwrap()).unwrap();
    let rec = report["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["full_name"] == "catalog.recommendations")
        .unwrap();
    assert_eq!(rec["state"]["modified_by"], "bob");
}

#[test]
fn file_store_hot_reloads_and_keeps_bad_files_out() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let _toggles =
        toggles::install(FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap())
            .unwrap();
    assert!(path.exists(), "opening creates an empty store");
    assert!(RECOMMENDATIONS.is_enabled());

    write_file(
        &path,
        r#"{"switches": {"catalog.recommendations": false}, "settings": {"uploads.max_upload_bytes": 42}}"#,
    );
    wait_for("a hand edit is in force", || {
        !RECOMMENDATIONS.is_enabled() && MAX_UPLOAD_BYTES.get() == 42
    });
    assert_eq!(toggles::status().last_error, None);
    let good = toggles::status().generation;

    // Corrupt JSON: ignored, reported, the last good state stays.
    write_file(&path, r#"{"switches": {"catalog.recommendations": tru"#);
    wait_for("the corrupt file is reported", || {
        toggles::status().last_error.is_some()
    });
    let error = toggles::status().last_error.unwrap();
    assert!(error.contains("is not a valid toggles file"), "{error}");
    assert!(!RECOMMENDATIONS.is_enabled());
    assert_eq!(MAX_UPLOAD_BYTES.get(), 42);
    assert_eq!(toggles::status().generation, good);
    // And a write onto a corrupt file is refused rather than overwriting it.
    let err = toggles::write(
        Change::switch("catalog.recommendations", true)
            .by("ana")
            .because("x"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("is not a valid toggles file"),
        "{err}"
    );

    // Valid JSON with one entry that does not fit the program (a switch's name holding a flag
    // rule): that entry is set aside and reported, its switch keeps its last good state, and
    // the rest of the file takes effect.
    write_file(
        &path,
        r#"{"flags": {"catalog.recommendations": {"everyone": true}}, "settings": {"uploads.max_upload_bytes": 7}}"#,
    );
    wait_for("the rest of the file is in force", || {
        MAX_UPLOAD_BYTES.get() == 7
    });
    let status = toggles::status();
    assert_eq!(status.last_error, None);
    assert_eq!(
        status.invalid_entries,
        [Problem {
            toggle: "catalog.recommendations".into(),
            message: "is a switch, not a flag".into()
        }]
    );
    assert!(
        !RECOMMENDATIONS.is_enabled(),
        "the entry set aside keeps its last good state"
    );

    // Fixed by hand: in force again, error cleared.
    write_file(&path, r#"{"switches": {"catalog.recommendations": true}}"#);
    wait_for("the fixed file is in force", || {
        RECOMMENDATIONS.is_enabled() && MAX_UPLOAD_BYTES.get() == 10_000_000
    });
    let status = toggles::status();
    assert_eq!(status.last_error, None);
    assert_eq!(status.invalid_entries, []);
}

#[test]
fn a_deleted_store_file_is_reported_and_its_return_takes_effect() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    write_file(&path, r#"{"switches": {"catalog.recommendations": false}}"#);
    let _toggles =
        toggles::install(FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap())
            .unwrap();
    assert!(!RECOMMENDATIONS.is_enabled());

    std::fs::remove_file(&path).unwrap();
    wait_for("the missing file is reported", || {
        toggles::status().last_error.is_some()
    });
    let error = toggles::status().last_error.unwrap();
    assert!(
        error.starts_with(&format!("cannot use {}", path.display())),
        "{error}"
    );
    assert!(!RECOMMENDATIONS.is_enabled(), "the last good state stays");
    assert!(
        toggles::write(
            Change::switch("catalog.recommendations", true)
                .by("ops")
                .because("x")
        )
        .is_err(),
        "nothing to write onto"
    );

    // Back as it was: the error clears; back changed: the change takes effect.
    write_file(&path, r#"{"switches": {"catalog.recommendations": false}}"#);
    wait_for("the error clears", || {
        toggles::status().last_error.is_none()
    });
    assert!(!RECOMMENDATIONS.is_enabled());
    write_file(&path, r#"{"switches": {"catalog.recommendations": true}}"#);
    wait_for("the new file is in force", || RECOMMENDATIONS.is_enabled());
}

#[test]
fn the_file_store_hears_of_a_change_from_the_operating_system() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    // A poll far longer than the test: only a file-system event can bring the change in time.
    let store = FileStore::open_with_poll(&path, Duration::from_secs(3600)).unwrap();
    let _toggles = toggles::install(store).unwrap();
    // Let the watch thread take its first look before the file changes.
    std::thread::sleep(Duration::from_millis(200));
    write_file(&path, r#"{"switches": {"catalog.recommendations": false}}"#);
    wait_for("the edit is in force", || !RECOMMENDATIONS.is_enabled());
}

#[test]
fn readers_of_the_file_store_do_not_wait_for_each_other() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let _toggles =
        toggles::install(FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap())
            .unwrap();
    // Another reader holds the lock, shared, for the whole test.
    let other = std::fs::File::open(dir.path().join("toggles.json.lock")).unwrap();
    other.lock_shared().unwrap();
    write_file(&path, r#"{"switches": {"catalog.recommendations": false}}"#);
    wait_for("the edit is in force", || !RECOMMENDATIONS.is_enabled());
    drop(other);
}

#[test]
fn windows_read_times_as_clients_write_them() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    // What JavaScript's `toISOString` writes, and a time with an offset.
    write_file(
        &path,
        r#"{"flags": {"grading.new_grader": {"from": "2026-03-01T09:30:00.000Z",
                                             "until": "2026-03-01T12:30:00+02:00",
                                             "everyone": true}}}"#,
    );
    let _toggles = toggles::install(FileStore::open(&path).unwrap()).unwrap();
    assert_eq!(toggles::status().invalid_entries, []);
    let at = |t: &str| NEW_GRADER.is_enabled(&Context::new().with_time(t.parse().unwrap()));
    assert!(!at("2026-03-01T09:29:59.999Z"));
    assert!(at("2026-03-01T09:30:00Z"));
    assert!(at("2026-03-01T10:29:59Z"));
    assert!(!at("2026-03-01T10:30:00Z"), "12:30 at +02:00 is 10:30 UTC");
}

#[test]
fn file_store_writes_atomically_with_an_audit_log_beside_it() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let store = FileStore::open(&path).unwrap();
    let audit_path = store.audit_path().to_owned();
    let _toggles = toggles::install(store).unwrap();
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().users_on(["42"]))
            .by("ana")
            .because("beta"),
    )
    .unwrap();
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("bob")
            .because("load"),
    )
    .unwrap();
    assert!(NEW_GRADER.is_enabled(&Context::new().with_user("42")));

    let on_disk: Snapshot = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        on_disk.flags["grading.new_grader"],
        serde_json::to_value(FlagRule::new().users_on(["42"])).unwrap()
    );
    assert_eq!(on_disk.switches["catalog.recommendations"], false);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        leftovers.iter().all(|f| !f.contains(".tmp.")),
        "no temporary file is left: {leftovers:?}"
    );

    let audit = std::fs::read_to_string(&audit_path).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["actor"], "bob");
    assert_eq!(lines[1]["toggle"], "catalog.recommendations");
    assert_eq!(lines[1]["before"], json!(null));
    assert_eq!(lines[1]["after"], json!(false));
    assert_eq!(lines[1]["reason"], "load");
    assert_eq!(all_audit().len(), 2);
}

const CHILD_PATH: &str = "TOGGLES_TEST_CHILD_STORE";
const CHILD_ID: &str = "TOGGLES_TEST_CHILD_ID";
const WRITES_PER_CHILD: usize = 25;

/// Not a test of its own: the writer process `file_store_lock_serializes_writers_across_processes` starts.
#[test]
#[ignore = "run as a child process by file_store_lock_serializes_writers_across_processes"]
fn file_store_writer_child() {
    let (Ok(path), Ok(id)) = (std::env::var(CHILD_PATH), std::env::var(CHILD_ID)) else {
        return;
    };
    let store = FileStore::open(path).unwrap();
    for i in 0..WRITES_PER_CHILD {
        let name = format!("child{id}.write{i}");
        store
            .update(&mut |snapshot| {
                // Read-modify-write: without the lock, a concurrent writer's entry is lost.
                snapshot.switches.insert(name.clone(), json!(true));
                Ok(toggles::store::AuditEntry::new(
                    name.clone(),
                    format!("child {id}"),
                    "lock test",
                )
                .after(Some(json!(true))))
            })
            .unwrap();
    }
}

#[test]
fn file_store_lock_serializes_writers_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    FileStore::open(&path).unwrap();
    let children: Vec<_> = (0..4)
        .map(|id| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "file_store_writer_child",
                    "--include-ignored",
                    "--quiet",
                ])
                .env(CHILD_PATH, &path)
                .env(CHILD_ID, id.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let store = FileStore::open(&path).unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(
        snapshot.switches.len(),
        4 * WRITES_PER_CHILD,
        "every process's every write survives"
    );
    let audited = store.audit(&AuditQuery::all().limit(usize::MAX)).unwrap();
    assert_eq!(audited.len(), 4 * WRITES_PER_CHILD);
}

#[test]
fn a_store_bad_at_start_up_leaves_the_defaults_and_takes_effect_once_fixed() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    std::fs::write(&path, r#"{"switches": {"catalog.recommendations": false"#).unwrap();
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let err =
        toggles::install(FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap())
            .unwrap_err();
    assert!(
        err.to_string().contains("is not a valid toggles file"),
        "{err}"
    );
    let status = toggles::status();
    assert!(status.store.unwrap().starts_with("file "));
    assert!(status.last_error.is_some());
    assert!(RECOMMENDATIONS.is_enabled(), "the state in force stays");

    write_file(&path, r#"{"switches": {"catalog.recommendations": false}}"#);
    wait_for("the fixed file is in force", || {
        !RECOMMENDATIONS.is_enabled()
    });
    assert_eq!(toggles::status().last_error, None);
}

/// What a crash in the middle of an audit append leaves: a torn last line.
const TORN: &str = r#"{"at":"2026-01-01T00:00:00Z","actor":"ana","toggle":"catalog.recomm"#;

#[test]
fn a_torn_audit_line_never_keeps_the_state_out() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    std::fs::write(&path, r#"{"switches": {"catalog.recommendations": false}}"#).unwrap();
    let store = FileStore::open_with_poll(&path, Duration::from_millis(50)).unwrap();
    let audit_path = store.audit_path().to_owned();
    let whole = serde_json::to_string(
        &toggles::store::AuditEntry::new("catalog.recommendations", "ana", "spike")
            .after(Some(json!(false)))
            .at("2026-01-01T00:00:00Z".parse().unwrap()),
    )
    .unwrap();
    std::fs::write(&audit_path, format!("{whole}\n{TORN}")).unwrap();

    // At start-up: the state loads; the torn line is set aside.
    let _toggles = toggles::install(store).unwrap();
    assert!(!RECOMMENDATIONS.is_enabled(), "the kill switch stays off");
    assert_eq!(toggles::status().last_error, None);
    assert_eq!(all_audit().len(), 1);

    // On reload too.
    write_file(
        &path,
        r#"{"switches": {"catalog.recommendations": false}, "settings": {"uploads.max_upload_bytes": 9}}"#,
    );
    wait_for("the edit is in force", || MAX_UPLOAD_BYTES.get() == 9);

    // A write after the torn line: accepted, and its entry stands on a line of its own.
    let entry = toggles::write(
        Change::switch("catalog.recommendations", true)
            .by("bob")
            .because("spike over"),
    )
    .expect("stored and audited");
    assert!(RECOMMENDATIONS.is_enabled());
    let log = all_audit();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], entry);
    let text = std::fs::read_to_string(&audit_path).unwrap();
    assert!(
        text.contains(&format!("{TORN}\n{{")),
        "the fragment is ended, not glued to: {text}"
    );
}

#[test]
fn a_write_whose_audit_line_cannot_be_written_changes_nothing() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let store = FileStore::open(&path).unwrap();
    // A directory where the audit log should be: the append fails.
    std::fs::create_dir(store.audit_path()).unwrap();
    let _toggles = toggles::install(store).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ana")
            .because("spike"),
    )
    .unwrap_err();
    assert!(matches!(err, WriteError::Store(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("write failed, nothing changed: cannot use"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is as it was"
    );
    assert!(RECOMMENDATIONS.is_enabled());
}

/// A store whose reads fail once a write has gone through: what a file broken by another
/// process right after our write looks like.
struct BreaksAfterWrite {
    inner: MemoryStore,
    broken: std::sync::atomic::AtomicBool,
}

impl Store for BreaksAfterWrite {
    fn describe(&self) -> String {
        "breaks after a write".into()
    }
    fn load(&self) -> Result<Snapshot, toggles::StoreError> {
        if self.broken.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(toggles::StoreError::Backend("unreadable".into()));
        }
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<toggles::store::AuditEntry, WriteError>,
    ) -> Result<toggles::store::AuditEntry, WriteError> {
        let entry = self.inner.update(edit)?;
        self.broken
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(entry)
    }
    fn audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<toggles::store::AuditEntry>, toggles::StoreError> {
        self.inner.audit(query)
    }
    fn watch(&self, on_change: toggles::store::OnChange) -> Result<(), toggles::StoreError> {
        self.inner.watch(on_change)
    }
}

#[test]
fn a_write_is_in_force_without_reading_the_store_back() {
    let _s = serial();
    let toggles = toggles::install(BreaksAfterWrite {
        inner: MemoryStore::new(),
        broken: false.into(),
    })
    .unwrap();
    let entry = toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ana")
            .because("spike"),
    );
    assert!(entry.is_ok(), "stored and audited: {entry:?}");
    assert_eq!(all_audit().len(), 1);
    assert!(
        !RECOMMENDATIONS.is_enabled(),
        "what the write stored is in force"
    );
    assert_eq!(toggles::status().last_error, None);
    // The store broke right after: the next reload says so, and the write stays in force.
    let error = toggles.reload().unwrap_err();
    assert_eq!(error.to_string(), "unreadable");
    assert_eq!(toggles::status().last_error.as_deref(), Some("unreadable"));
    assert!(!RECOMMENDATIONS.is_enabled(), "the last good state stays");
}

#[test]
fn a_setting_refuses_a_value_its_type_cannot_hold() {
    let _s = serial();
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let err = toggles::write(
        Change::setting("uploads.ratio", 1e300)
            .by("ana")
            .because("huge"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "write refused: `uploads.ratio` takes a `f32`, not `1e+300`"
    );
    assert_eq!(RATIO.get().to_bits(), 0.5f32.to_bits(), "unchanged");
    toggles::write(
        Change::setting("uploads.ratio", 0.25)
            .by("ana")
            .because("smaller"),
    )
    .unwrap();
    assert_eq!(RATIO.get().to_bits(), 0.25f32.to_bits());
}

/// A share of uploads to sample.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "tuned per deployment"
)]
static RATIO: Setting<f32> = 0.5;

#[test]
fn entries_of_other_programs_are_carried_along_unread() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    // Another service's flags: a field this version does not know, and a `requires` cycle
    // among flags this program does not declare.
    let theirs = json!({
        "billing.new_invoices": {"percent": 10, "guard": {"max_error_rate": 0.05}},
        "billing.a": {"requires": ["billing.b"]},
        "billing.b": {"requires": ["billing.a"]}
    });
    let file = json!({"flags": theirs, "switches": {"catalog.recommendations": false}});
    std::fs::write(&path, file.to_string()).unwrap();
    let _toggles = toggles::install(FileStore::open(&path).unwrap())
        .expect("their entries are not ours to judge");
    assert!(!RECOMMENDATIONS.is_enabled());
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().percent(5.0))
            .by("ana")
            .because("ours"),
    )
    .unwrap();
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (name, rule) in theirs.as_object().unwrap() {
        assert_eq!(&on_disk["flags"][name], rule, "{name} kept as it was");
    }
    // A write to a toggle this program does not declare is still refused.
    let err = toggles::write(
        Change::flag("billing.a", FlagRule::new())
            .by("ana")
            .because("x"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "write refused: `billing.a` is not a toggle of this program"
    );
}

#[test]
fn a_change_between_the_first_load_and_the_watch_is_not_missed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let store = FileStore::open_with_poll(&path, Duration::from_millis(20)).unwrap();
    store.load().unwrap();
    // The file changes after the load and before anyone watches it.
    write_file(&path, r#"{"switches": {"catalog.recommendations": false}}"#);
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    store
        .watch(std::sync::Arc::new(move || {
            let _ = tx.lock().unwrap().send(());
        }))
        .unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the change is reported");
}

/// Counts the loads of a file store.
struct CountingLoads {
    inner: FileStore,
    loads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Store for CountingLoads {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn load(&self) -> Result<Snapshot, toggles::StoreError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<toggles::store::AuditEntry, WriteError>,
    ) -> Result<toggles::store::AuditEntry, WriteError> {
        self.inner.update(edit)
    }
    fn audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<toggles::store::AuditEntry>, toggles::StoreError> {
        self.inner.audit(query)
    }
    fn watch(&self, on_change: toggles::store::OnChange) -> Result<(), toggles::StoreError> {
        self.inner.watch(on_change)
    }
}

#[test]
fn a_write_is_one_publish_and_no_load() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let loads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let poll = Duration::from_millis(20);
    let _toggles = toggles::install(CountingLoads {
        inner: FileStore::open_with_poll(&path, poll).unwrap(),
        loads: loads.clone(),
    })
    .unwrap();
    let count = || loads.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(count(), 1, "install loads once");
    let generation = toggles::status().generation;
    for (i, on) in [false, true, false].into_iter().enumerate() {
        toggles::write(
            Change::switch("catalog.recommendations", on)
                .by("ana")
                .because("flip"),
        )
        .unwrap();
        // Give the file's watcher several polls to (not) report our own write.
        std::thread::sleep(poll * 5);
        assert_eq!(count(), 1, "the write's own state is published: no load");
        assert_eq!(
            toggles::status().generation,
            generation + 1 + i as u64,
            "one publish per write"
        );
    }
    // Setting what is there already is audited, and publishes nothing.
    let before = toggles::status().generation;
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ana")
            .because("again"),
    )
    .unwrap();
    assert_eq!(
        toggles::status().generation,
        before,
        "nothing new to publish"
    );
    // A change from outside is still seen, and is one more publish.
    write_file(&path, r#"{"switches": {"catalog.recommendations": true}}"#);
    // A publish rebuilds the toggles' cached states before it counts the generation: wait
    // for both, then check it was one publish, not more.
    wait_for("the edit is in force", || {
        RECOMMENDATIONS.is_enabled() && toggles::status().generation > generation + 3
    });
    assert_eq!(toggles::status().generation, generation + 4);
}

#[test]
fn the_file_store_keeps_the_fleets_declarations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let store = FileStore::open(&path).unwrap();
    let grading = toggles::Service::new("grading", "1.4.2");
    let declarations = toggles::store::Declarations::of(registry(), grading.clone());
    // Dated from the clock: the store forgets instances not seen for its retention.
    let now = toggles::Timestamp::now().unix_seconds();
    let t0 = toggles::Timestamp::from_unix_seconds(now - 30);
    let t1 = toggles::Timestamp::from_unix_seconds(now);
    store.publish(&declarations, t0).unwrap();
    store.publish(&declarations, t0).unwrap();
    store.seen(&grading.instance, t1).unwrap();
    // Another handle, as another process would open it.
    let published = FileStore::open(&path).unwrap().published().unwrap();
    assert_eq!(published.len(), 1, "one entry per instance");
    assert_eq!(published[0].declarations, declarations);
    assert_eq!(
        (published[0].published_at, published[0].last_seen),
        (t0, t1)
    );
    assert!(dir.path().join("toggles.json.fleet").exists());

    // Not seen for longer than the retention: left out when read, dropped at the next write.
    let store = FileStore::open(&path)
        .unwrap()
        .forget_instances_after(Duration::from_secs(20));
    assert_eq!(store.published().unwrap().len(), 1, "seen 0 s ago");
    let later = toggles::Timestamp::from_unix_seconds(now + 60);
    let other = toggles::store::Declarations::of(registry(), toggles::Service::new("lms", "2.0.0"));
    store.publish(&other, later).unwrap();
    let fleet = std::fs::read_to_string(dir.path().join("toggles.json.fleet")).unwrap();
    assert!(!fleet.contains(&grading.instance), "forgotten for good");
    assert!(fleet.contains(&other.service.instance));
}

/// A memory store whose audit log can be made unreadable, counting its reads.
struct AuditReads {
    inner: MemoryStore,
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Store for AuditReads {
    fn describe(&self) -> String {
        "audit reads".into()
    }
    fn load(&self) -> Result<Snapshot, toggles::StoreError> {
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<toggles::store::AuditEntry, WriteError>,
    ) -> Result<toggles::store::AuditEntry, WriteError> {
        self.inner.update(edit)
    }
    fn audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<toggles::store::AuditEntry>, toggles::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(toggles::StoreError::Backend(
                "the audit table is gone".into(),
            ));
        }
        self.inner.audit(query)
    }
    fn watch(&self, on_change: toggles::store::OnChange) -> Result<(), toggles::StoreError> {
        self.inner.watch(on_change)
    }
}

#[test]
fn a_report_is_built_once_and_serialized_without_reading() {
    let _s = serial();
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _toggles = toggles::install(AuditReads {
        inner: MemoryStore::new(),
        reads: reads.clone(),
        broken: broken.clone(),
    })
    .unwrap();
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ops")
            .because("spike"),
    )
    .unwrap();
    let report = registry().report().unwrap();
    let after_build = reads.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after_build, 1, "the audit log read once for every toggle");
    let first = serde_json::to_string(&report).unwrap();
    let second = serde_json::to_string(&report).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        reads.load(std::sync::atomic::Ordering::SeqCst),
        after_build,
        "serializing reads nothing"
    );
    let rec = report
        .toggles
        .iter()
        .find(|t| t.declaration.full_name == "catalog.recommendations")
        .unwrap();
    assert_eq!(rec.state.modified_by.as_deref(), Some("ops"));

    // An audit log that cannot be read fails the report, rather than dropping the history.
    broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = registry().report().unwrap_err();
    assert_eq!(err.to_string(), "the audit table is gone");
    assert!(registry()
        .get("catalog.recommendations")
        .unwrap()
        .live()
        .is_err());
}
