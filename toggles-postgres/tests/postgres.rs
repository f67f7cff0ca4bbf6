//! The PostgreSQL store against a real server (see `support`): transactional, audited writes;
//! refused writes that change nothing; writers in several processes; changes pushed to another
//! process; a killed listener; migrations run concurrently; the database unreachable at start-up
//! and later.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{client, schema, serial, wait_for, Proxy};
use toggles::rules::{FlagRule, Plan, PlanState, Stage, Steer, Timestamp};
use toggles::store::{AuditQuery, OutcomeWindow, RunBuckets, Store};
use toggles::store::{Declarations, Feedback, FEEDBACK_KEPT};
use toggles::{toggle, Change, Context, Flag, Installer, Service, Setting, Switch, WriteError};
use toggles_postgres::PostgresStore;

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

fn store(schema: &str) -> PostgresStore {
    PostgresStore::new(&support::url(), schema).unwrap()
}

/// Sets switch `catalog.recommendations` straight through `store`, behind the runtime's back,
/// as another instance or an admin tool would.
fn set_switch(store: &PostgresStore, on: bool, reason: &str) {
    store
        .update(&mut |snapshot| {
            let before = snapshot
                .switches
                .insert("catalog.recommendations".into(), json!(on));
            Ok(
                toggles::store::AuditEntry::new("catalog.recommendations", "admin", reason)
                    .before(before)
                    .after(Some(json!(on))),
            )
        })
        .unwrap();
}

/// Puts `rule` for `grading.new_grader` straight through `store`, audited as ana's, as an
/// admin tool would.
fn put_rule(store: &PostgresStore, rule: &serde_json::Value, reason: &str) {
    store
        .update(&mut |snapshot| {
            let before = snapshot
                .flags
                .insert("grading.new_grader".into(), rule.clone());
            Ok(
                toggles::store::AuditEntry::new("grading.new_grader", "ana", reason)
                    .before(before)
                    .after(Some(rule.clone())),
            )
        })
        .unwrap();
}

fn audit_rows(schema: &str) -> i64 {
    client()
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".audit"), &[])
        .unwrap()
        .get(0)
}

#[test]
fn writes_are_transactional_audited_and_in_force() {
    let Some(schema) = schema("writes") else {
        return;
    };
    let _s = serial();
    let _toggles = toggles::install(store(&schema)).unwrap();
    assert!(RECOMMENDATIONS.is_enabled());
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ana")
            .because("spike"),
    )
    .unwrap();
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().users_on(["42"]))
            .by("ana")
            .because("beta"),
    )
    .unwrap();
    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5)
            .by("bob")
            .because("small"),
    )
    .unwrap();
    assert!(!RECOMMENDATIONS.is_enabled());
    assert!(NEW_GRADER.is_enabled(&Context::new().with_user("42")));
    assert_eq!(MAX_UPLOAD_BYTES.get(), 5);

    let log = toggles::report::audit(&AuditQuery::all()).unwrap();
    assert_eq!(
        log.iter().map(|e| e.toggle.as_str()).collect::<Vec<_>>(),
        [
            "uploads.max_upload_bytes",
            "grading.new_grader",
            "catalog.recommendations"
        ],
        "newest first"
    );
    let one = toggles::report::audit(&AuditQuery::toggle("catalog.recommendations")).unwrap();
    assert_eq!((one.len(), one[0].after.clone()), (1, Some(json!(false))));
    let live = toggles::registry()
        .get("uploads.max_upload_bytes")
        .unwrap()
        .live()
        .unwrap();
    assert_eq!(live.modified_by.as_deref(), Some("bob"));

    // Refused: state and audit as they were.
    let entries_before = store(&schema).load().unwrap();
    let rows_before = audit_rows(&schema);
    for change in [
        Change::switch("grading.new_grader", true),
        Change::flag("grading.new_grader", FlagRule::new().percent(12.345)),
        Change::setting("uploads.max_upload_bytes", -1),
    ] {
        let err = toggles::write(change.clone().by("ana").because("bad")).unwrap_err();
        assert!(matches!(err, WriteError::Invalid(_)), "{err}");
    }
    assert_eq!(store(&schema).load().unwrap(), entries_before);
    assert_eq!(audit_rows(&schema), rows_before);
    assert_eq!(toggles::status().last_error, None);
}

const CHILD_SCHEMA: &str = "TOGGLES_TEST_PG_SCHEMA";
const CHILD_ROLE: &str = "TOGGLES_TEST_PG_ROLE";
const WRITES_PER_CHILD: usize = 25;

/// Not a test of its own: the processes the cross-process tests start.
#[test]
#[ignore = "run as a child process by the cross-process tests"]
fn child() {
    let (Ok(schema), Ok(role)) = (std::env::var(CHILD_SCHEMA), std::env::var(CHILD_ROLE)) else {
        return;
    };
    let store = store(&schema);
    if let Some(id) = role.strip_prefix("writer ") {
        for i in 0..WRITES_PER_CHILD {
            let name = format!("child{id}.write{i}");
            store
                .update(&mut |snapshot| {
                    // Read-modify-write of one shared value: a writer that did not wait its
                    // turn would overwrite another's increment.
                    let count = snapshot
                        .settings
                        .get("stress.count")
                        .and_then(serde_json::Value::as_u64);
                    snapshot
                        .settings
                        .insert("stress.count".into(), json!(count.unwrap_or(0) + 1));
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
    } else if role == "guarded" {
        // An instance whose "on" arm fails 60 times: under the guard's minimum of 100 on its
        // own, so only the fleet's total can trip it. The guard thread must not tick by itself.
        let toggles = Installer::new(store)
            .without_guard_thread()
            .install()
            .unwrap();
        for _ in 0..60 {
            NEW_GRADER.record(true, false);
        }
        let tripped = toggles.check_guards();
        println!("tripped: {tripped:?}");
    } else if role == "slow" {
        // An instance whose new code runs three times slower, on 60 runs an arm: under the
        // guard's minimum of 100 on its own, so only the fleet's run times can trip it.
        let toggles = Installer::new(store)
            .without_guard_thread()
            .install()
            .unwrap();
        for _ in 0..60 {
            NEW_GRADER.record_timed(true, true, Duration::from_millis(120));
            NEW_GRADER.record_timed(false, true, Duration::from_millis(40));
        }
        let tripped = toggles.check_guards();
        println!("tripped: {tripped:?}");
    } else if let Some(args) = role.strip_prefix("stager ") {
        // An instance of a fleet whose staged rollout is due: it records 10 good outcomes and
        // `failures` failed ones, and ticks as of `at` at the same instant as the other, from
        // the rule both loaded before either wrote.
        let toggles = Installer::new(store)
            .without_guard_thread()
            .install()
            .unwrap();
        let [start, at, failures]: [i64; 3] = args
            .split(' ')
            .map(|n| n.parse().unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        for i in 0..10 + failures {
            NEW_GRADER.record(true, i < 10);
        }
        let start = Duration::from_millis(u64::try_from(start).unwrap());
        std::thread::sleep(start.saturating_sub(now));
        toggles.check_guards_at(toggles::rules::Timestamp::from_unix_seconds(at));
        let in_force: FlagRule = serde_json::from_value(
            toggles::registry()
                .get("grading.new_grader")
                .unwrap()
                .live()
                .unwrap()
                .value,
        )
        .unwrap();
        println!("percent: {:?}", in_force.percent);
    } else if role == "flipper" {
        // Another service instance: installs the same store and writes through the runtime.
        let _toggles = toggles::install(store).unwrap();
        let on = !RECOMMENDATIONS.is_enabled();
        toggles::write(
            Change::switch("catalog.recommendations", on)
                .by("child")
                .because("flip"),
        )
        .unwrap();
    }
}

#[test]
fn a_guard_trips_on_the_fleets_counts() {
    let Some(schema) = schema("guard_fleet") else {
        return;
    };
    let guard = toggles::rules::Guard::error_rate(10.0)
        .window_secs(300)
        .min_requests(100);
    let rule = FlagRule::new().everyone(true).guard(guard);
    let writer = store(&schema);
    let roll_out = |reason: &str| {
        put_rule(&writer, &serde_json::to_value(&rule).unwrap(), reason);
    };
    let guarded = || {
        let out = spawn_child(&schema, "guarded").wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    roll_out("roll out");

    // Each instance alone has 60 failures, under the minimum of 100: only the fleet trips. The
    // instances first see the rule in different seconds; the window is the fleet's, not theirs.
    let first = guarded();
    assert!(first.contains("tripped: []"), "{first}");
    next_second();
    let second = guarded();
    assert!(
        second.contains("tripped: [\"grading.new_grader\"]"),
        "{second}"
    );

    let entries = writer
        .audit(&AuditQuery::toggle("grading.new_grader"))
        .unwrap();
    assert_eq!(entries.len(), 2, "the person's write and the guard's");
    assert_eq!(entries[0].actor, toggles::rules::GUARD_ACTOR);
    assert_eq!(
        entries[0].reason,
        "guard tripped: the on arm's error rate 100.00% (120 of 120) is above the limit of 10% over the last 300s across the fleet"
    );
    let stored: FlagRule =
        serde_json::from_value(writer.load().unwrap().flags["grading.new_grader"].clone()).unwrap();
    assert!(!stored.active, "off for every instance of the fleet");
    let rows: i64 = client()
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".outcomes"), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 2, "one row per instance per tick, not per request");

    // A person turns it back on: the failures from before are no longer counted.
    next_second();
    roll_out("fixed; on again");
    let third = guarded();
    assert!(third.contains("tripped: []"), "{third}");
}

#[test]
fn a_staged_rollout_advances_pauses_and_stops_once_however_many_instances_tick() {
    let Some(schema) = schema("staged_fleet") else {
        return;
    };
    let writer = store(&schema);
    let started = toggles::rules::Timestamp::from_unix_seconds(
        toggles::rules::Timestamp::now().unix_seconds() - 601,
    );
    let plan = Plan::new([
        Stage::hold(1.0, Duration::from_secs(600)),
        Stage::hold(5.0, Duration::from_secs(1800)),
        Stage::last(100.0),
    ])
    .since(started);
    let guard = toggles::rules::Guard::error_rate(50.0)
        .window_secs(300)
        .min_requests(10);
    let json = serde_json::to_value(FlagRule::new().staged(plan).guard(guard)).unwrap();
    put_rule(&writer, &json, "stage it");
    let now = toggles::rules::Timestamp::now().unix_seconds();
    let tick_together = |at: i64, failures: u32| {
        // Both instances are up and have read the rule before the instant they tick at.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 1500;
        let children: Vec<_> = (0..2)
            .map(|_| spawn_child(&schema, &format!("stager {start} {at} {failures}")))
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            let out = String::from_utf8(out.stdout).unwrap();
            assert!(out.contains("percent: Some(5.0)"), "{out}");
        }
    };
    let rollout_entries = || {
        writer
            .audit(&AuditQuery::toggle("grading.new_grader"))
            .unwrap()
            .into_iter()
            .filter(|e| e.actor == toggles::rules::ROLLOUT_ACTOR)
            .collect::<Vec<_>>()
    };

    tick_together(now, 0);
    let entries = rollout_entries();
    assert_eq!(entries.len(), 1, "one write for the advance: {entries:?}");
    assert!(
        entries[0].reason.starts_with(
            "staged rollout: stage 1 of 3 (1%) after 10m held, now stage 2 of 3 (5%); guard held across the fleet on the stage's last 300s: the on arm's errors 0 of "
        ),
        "{}",
        entries[0].reason
    );
    // Restarted, the fleet holds the stage: its 30 minutes start at the advance.
    tick_together(now, 0);
    assert_eq!(rollout_entries().len(), 1);
    let stored = || -> FlagRule {
        serde_json::from_value(writer.load().unwrap().flags["grading.new_grader"].clone()).unwrap()
    };
    assert_eq!(stored().plan.unwrap().stage, 1);

    // A person pauses it: however late the fleet ticks, it holds.
    let steer = |step: Steer| {
        let rule = stored()
            .steer(step, Timestamp::from_unix_seconds(now))
            .unwrap();
        put_rule(&writer, &serde_json::to_value(rule).unwrap(), "steer");
    };
    steer(Steer::Pause);
    let late = now + 1800 + 60;
    tick_together(late, 0);
    assert_eq!(rollout_entries().len(), 1);
    assert_eq!(stored().plan.unwrap().state, PlanState::Paused);

    // Resumed, and failing on both instances when its stage is due: one trip stops the plan
    // for the fleet, and nothing advances.
    steer(Steer::Resume);
    tick_together(late, 60);
    assert_eq!(
        rollout_entries().len(),
        1,
        "no advance over a tripped guard"
    );
    let trips = writer
        .audit(&AuditQuery::toggle("grading.new_grader"))
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == toggles::rules::GUARD_ACTOR)
        .count();
    assert_eq!(trips, 1, "one trip for the fleet");
    let stopped = stored();
    assert!(!stopped.active);
    assert_eq!(stopped.plan.unwrap().state, PlanState::Stopped);
}

/// Sleeps into the next wall-clock second (outcome counts are stamped in whole seconds).
fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(Duration::from_nanos(u64::from(
        1_000_000_000 - now.subsec_nanos(),
    )));
}

fn spawn_child(schema: &str, role: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--include-ignored",
            "--quiet",
            "--nocapture",
        ])
        .env(CHILD_SCHEMA, schema)
        .env(CHILD_ROLE, role)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn writers_in_four_processes_lose_no_update() {
    let Some(schema) = schema("four_writers") else {
        return;
    };
    let children: Vec<_> = (0..4)
        .map(|id| spawn_child(&schema, &format!("writer {id}")))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let snapshot = store(&schema).load().unwrap();
    assert_eq!(
        snapshot.switches.len(),
        4 * WRITES_PER_CHILD,
        "every write survives"
    );
    assert_eq!(
        snapshot.settings["stress.count"],
        json!(4 * WRITES_PER_CHILD),
        "no increment lost"
    );
    assert_eq!(
        audit_rows(&schema),
        i64::try_from(4 * WRITES_PER_CHILD).unwrap(),
        "one audit row per write"
    );
}

#[test]
fn a_write_in_another_process_is_in_force_here() {
    let Some(schema) = schema("propagation") else {
        return;
    };
    let _s = serial();
    let _toggles = toggles::install(store(&schema)).unwrap();
    for round in 0..3 {
        let before = RECOMMENDATIONS.is_enabled();
        let start = Instant::now();
        assert!(spawn_child(&schema, "flipper").wait().unwrap().success());
        wait_for("the other process's write is in force", 10, || {
            RECOMMENDATIONS.is_enabled() != before
        });
        eprintln!(
            "round {round}: in force {:?} after the writer exited",
            start.elapsed()
        );
    }
}

/// The backend of the installed store's listening connection.
fn listener_pid(schema: &str) -> Option<i32> {
    client()
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE query = $1",
            &[&format!("LISTEN \"toggles_{schema}\"")],
        )
        .unwrap()
        .map(|row| row.get(0))
}

#[test]
fn a_killed_listener_reconnects_and_reloads_in_full() {
    let Some(schema) = schema("killed_listener") else {
        return;
    };
    let _s = serial();
    let _toggles = toggles::install(store(&schema)).unwrap();
    wait_for("the listener is up", 5, || listener_pid(&schema).is_some());
    let before = RECOMMENDATIONS.is_enabled();
    let pid = listener_pid(&schema).unwrap();
    let mut admin = client();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    // Written while nobody listens: its notification is lost; the reconnect's reload finds it.
    set_switch(&store(&schema), !before, "while the listener was away");
    wait_for("the change made while disconnected is in force", 5, || {
        RECOMMENDATIONS.is_enabled() != before
    });
    wait_for("listening again on a new connection", 5, || {
        listener_pid(&schema).is_some_and(|new| new != pid)
    });
}

#[test]
fn concurrent_first_uses_migrate_once() {
    let Some(schema) = schema("migrate") else {
        return;
    };
    let loads: Vec<_> = (0..10)
        .map(|_| {
            let schema = schema.clone();
            std::thread::spawn(move || store(&schema).load())
        })
        .collect();
    for load in loads {
        assert_eq!(
            load.join().unwrap().unwrap(),
            toggles::store::Snapshot::default()
        );
    }
    let versions: Vec<i32> = client()
        .query(
            &format!("SELECT version FROM \"{schema}\".migrations ORDER BY version"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i32> = (1..=i32::try_from(PostgresStore::migrations()).unwrap()).collect();
    assert_eq!(versions, expected, "each migration applied once");
    // And again, on a schema already migrated: nothing to do, nothing fails.
    store(&schema).load().unwrap();
}

#[test]
fn the_database_unreachable_at_start_up_and_later() {
    let Some(schema) = schema("outage") else {
        return;
    };
    let _s = serial();
    // The state the database holds, written directly.
    let seed = store(&schema);
    set_switch(&seed, false, "seed");

    // Down at start-up: the error, the compiled defaults, and checks that answer at once.
    let proxy = Proxy::start(false);
    let _toggles = toggles::install(toggles::store::MemoryStore::new()).unwrap();
    let err = toggles::install(PostgresStore::new(&proxy.url(), &schema).unwrap()).unwrap_err();
    let toggles::InstallError::FirstLoad {
        installation: _following,
        source,
    } = err
    else {
        panic!("installed and followed: {err}");
    };
    assert!(
        source.to_string().starts_with("postgres 127.0.0.1:"),
        "{source}"
    );
    assert!(toggles::status().last_error.is_some());
    let start = Instant::now();
    assert!(RECOMMENDATIONS.is_enabled(), "the compiled default");
    assert!(
        // Far under the 3 s a connection attempt may take, with room for a loaded machine.
        start.elapsed() < Duration::from_millis(500),
        "a check never waits"
    );

    // Back: the store connects by itself and its contents take effect.
    proxy.restore();
    wait_for("the database's state is in force", 10, || {
        !RECOMMENDATIONS.is_enabled()
    });
    assert_eq!(toggles::status().last_error, None);

    // Down later: the last good state stays; a write fails and changes nothing.
    proxy.cut();
    let err = toggles::write(
        Change::switch("catalog.recommendations", true)
            .by("ana")
            .because("x"),
    )
    .unwrap_err();
    assert!(matches!(err, WriteError::Store(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("write failed, nothing changed: postgres"),
        "{err}"
    );
    assert!(!RECOMMENDATIONS.is_enabled(), "the last good state stays");
    wait_for("the outage is in the status", 5, || {
        toggles::status().last_error.is_some()
    });
    assert_eq!(
        store(&schema).load().unwrap().switches["catalog.recommendations"],
        json!(false)
    );

    // Back again: a change made meanwhile (directly) is found by the reconnect's full reload.
    set_switch(&seed, true, "during the outage");
    proxy.restore();
    wait_for(
        "recovered, with the change made during the outage",
        15,
        || RECOMMENDATIONS.is_enabled(),
    );
    assert_eq!(toggles::status().last_error, None, "and the status says so");
}

#[test]
fn installing_publishes_the_declarations_for_the_fleet_report() {
    let Some(schema) = schema("fleet") else {
        return;
    };
    let _s = serial();
    let service = toggles::Service::new("grading", "1.4.2");
    let _toggles = Installer::new(store(&schema))
        .service(service.clone())
        .install()
        .unwrap();
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ops")
            .because("spike"),
    )
    .unwrap();
    let shared = store(&schema);
    let now = toggles::Timestamp::now();
    shared.seen(&service.instance, now).unwrap();
    let report = toggles::fleet::FleetReport::of(
        &shared,
        "2026-01-01".parse().unwrap(),
        now,
        Duration::from_secs(90),
    )
    .unwrap();
    assert_eq!(report.services.len(), 1);
    assert_eq!(
        (
            report.services[0].service.as_str(),
            report.services[0].last_seen
        ),
        ("grading", now)
    );
    let rec = report
        .toggles
        .iter()
        .find(|t| t.full_name == "catalog.recommendations")
        .unwrap();
    assert_eq!(rec.state.value, Some(json!(false)));
    assert_eq!(rec.state.modified_by.as_deref(), Some("ops"));
    assert_eq!(rec.declared_by[0].service, "grading");
    assert!(report
        .drift
        .never_set
        .contains(&"grading.new_grader".to_owned()));
}

#[test]
fn the_fleet_reads_back_every_instance_as_it_published() {
    let Some(schema) = schema("fleet_read") else {
        return;
    };
    // Two builds: every toggle of this program, and all but the first; instances of each.
    let all = toggles::store::Declarations::of(toggles::registry(), Service::new("lms", "2"));
    let fewer =
        toggles::store::Declarations::new(Service::new("cms", "1"), all.toggles[1..].to_vec());
    let as_instance = |d: &toggles::store::Declarations, i: usize| {
        let mut d = d.clone();
        d.service.instance = format!("i{i:02}");
        d
    };
    let expected: Vec<_> = (0..7)
        .map(|i| as_instance(if i % 3 == 0 { &fewer } else { &all }, i))
        .collect();
    // Dated from the clock: the store forgets instances not seen for a week.
    let at = toggles::Timestamp::from_unix_seconds(toggles::Timestamp::now().unix_seconds() - 3600);
    let shared = store(&schema);
    for d in &expected {
        shared.publish(d, at).unwrap();
    }
    let read = |store: &PostgresStore| -> Vec<_> {
        store
            .published()
            .unwrap()
            .into_iter()
            .map(|p| {
                assert_eq!((p.published_at, p.last_seen), (at, at));
                p.declarations
            })
            .collect()
    };
    assert_eq!(read(&shared), expected);

    // Rows published before the digest column existed are given one when the store upgrades.
    client()
        .batch_execute(&format!(
            "ALTER TABLE \"{schema}\".instances DROP COLUMN toggles_digest;
             DELETE FROM \"{schema}\".migrations WHERE version = 4;"
        ))
        .unwrap();
    assert_eq!(read(&store(&schema)), expected);
}

#[test]
fn times_an_older_version_kept_as_text_become_timestamptz() {
    let Some(schema) = schema("times") else {
        return;
    };
    let q = format!("\"{schema}\"");
    let written = store(&schema);
    set_switch(&written, false, "spike");
    let rewind = |at: &str| {
        // The schema as version 4 left it: times as text.
        client()
            .batch_execute(&format!(
                "ALTER TABLE {q}.audit ALTER COLUMN at TYPE text
                     USING to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"');
                 ALTER TABLE {q}.instances ALTER COLUMN published_at TYPE text,
                     ALTER COLUMN last_seen TYPE text;
                 UPDATE {q}.audit SET at = '{at}';
                 DELETE FROM {q}.migrations WHERE version = 5;"
            ))
            .unwrap();
    };
    rewind("2026-03-01T09:30:00Z");
    let upgraded = store(&schema);
    let entry = &upgraded.audit(&AuditQuery::all()).unwrap()[0];
    assert_eq!(entry.at.to_string(), "2026-03-01T09:30:00Z");
    let kind: String = client()
        .query_one(
            "SELECT data_type FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = 'audit' AND column_name = 'at'",
            &[&schema],
        )
        .unwrap()
        .get(0);
    assert_eq!(kind, "timestamp with time zone");

    // A time that does not read is an error, never some other time.
    rewind("the first of March");
    let err = store(&schema).audit(&AuditQuery::all()).unwrap_err();
    assert!(err.to_string().contains("the first of March"), "{err}");
}

#[test]
fn a_slow_fleet_read_does_not_hold_up_a_load() {
    let Some(schema) = schema("pool") else {
        return;
    };
    let shared = std::sync::Arc::new(store(&schema));
    set_switch(&shared, true, "start");
    // Another session holds the instances table: a fleet read waits for it.
    let mut blocker = client();
    let mut tx = blocker.transaction().unwrap();
    tx.batch_execute(&format!(
        "LOCK TABLE \"{schema}\".instances IN ACCESS EXCLUSIVE MODE"
    ))
    .unwrap();
    let reader = std::sync::Arc::clone(&shared);
    let (started, waiting) = std::sync::mpsc::channel();
    let report = std::thread::spawn(move || {
        started.send(()).unwrap();
        reader.published().map(|p| p.len())
    });
    waiting.recv().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The load takes a connection of its own and finishes while the read waits.
    let (done, finished) = std::sync::mpsc::channel();
    let store = std::sync::Arc::clone(&shared);
    std::thread::spawn(move || done.send(store.load().is_ok()).unwrap());
    let in_time = finished.recv_timeout(Duration::from_secs(10));
    tx.rollback().unwrap();
    assert_eq!(in_time, Ok(true), "the load waited for the fleet read");
    assert_eq!(report.join().unwrap().unwrap(), 0);
}

#[test]
fn connections_that_died_while_idle_are_not_handed_out() {
    let Some(schema) = schema("stale") else {
        return;
    };
    let proxy = Proxy::start(true);
    let store = PostgresStore::new(&proxy.url(), &schema).unwrap();
    set_switch(&store, true, "start");
    store.load().unwrap();
    // The server goes away and comes back (a restart): the idle connections are dead, and the
    // driver does not know until one is used.
    proxy.cut();
    proxy.restore();
    std::thread::sleep(Duration::from_millis(5_500));
    assert!(
        store.load().is_ok(),
        "the first load after the outage works"
    );
}

#[test]
fn instances_not_seen_for_the_retention_are_forgotten() {
    let Some(schema) = schema("retention") else {
        return;
    };
    let now = toggles::Timestamp::now();
    let ago = |s: i64| toggles::Timestamp::from_unix_seconds(now.unix_seconds() - s);
    let shared = store(&schema).forget_instances_after(std::time::Duration::from_secs(86_400));
    let gone = Declarations::of(toggles::registry(), Service::new("studio", "0.9.0"));
    shared.publish(&gone, ago(3 * 86_400)).unwrap();
    shared
        .seen(&gone.service.instance, ago(2 * 86_400))
        .unwrap();
    assert_eq!(shared.published().unwrap(), [], "not read back");
    let here = Declarations::of(toggles::registry(), Service::new("grading", "1.4.2"));
    shared.publish(&here, now).unwrap();
    let rows: i64 = client()
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".instances"), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "deleted when another instance published");
    let published = shared.published().unwrap();
    assert_eq!(published[0].declarations.service, here.service);
}

#[test]
fn the_heartbeat_keeps_the_instance_seen() {
    let Some(schema) = schema("heartbeat") else {
        return;
    };
    let _s = serial();
    // A beat every 100 ms instead of 30 s.
    let service = toggles::Service::new("grading", "1.4.2");
    let _toggles = Installer::new(store(&schema))
        .service(service.clone())
        .heartbeat(Duration::from_millis(100))
        .install()
        .unwrap();
    let shared = store(&schema);
    let first = shared.published().unwrap();
    assert_eq!(first.len(), 1, "published on install");
    let published_at = first[0].published_at;
    // Timestamps are whole seconds: a refresh shows within a little over one.
    wait_for("the heartbeat refreshes last_seen", 5, || {
        shared.published().unwrap()[0].last_seen > published_at
    });
    assert_eq!(shared.published().unwrap()[0].published_at, published_at);
}

/// The checkout flows under test.
#[derive(Clone, Copy, Debug, PartialEq, toggles::Variants)]
enum Checkout {
    /// The control.
    Classic,
    /// Everything on one page.
    OnePage,
}

/// Try the one-page checkout against the classic one.
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
static CHECKOUT_FLOW: toggles::Variant<Checkout> = Checkout::Classic;

#[test]
fn variant_rules_and_sections_of_newer_versions_are_kept() {
    let Some(schema) = schema("variants") else {
        return;
    };
    let _s = serial();
    let writer = store(&schema);
    let _toggles = toggles::install(store(&schema)).unwrap();
    let rule = toggles::rules::VariantRule::new().users("one_page", ["42"]);
    toggles::write(
        Change::variant("checkout.checkout_flow", rule.clone())
            .by("ana")
            .because("try it on ana"),
    )
    .unwrap();
    assert_eq!(
        CHECKOUT_FLOW.get(&Context::new().with_user("42")),
        Checkout::OnePage
    );
    // A section a newer version added, written behind the runtime's back, is carried along
    // by this version's writes.
    client()
        .execute(
            &format!(
                "INSERT INTO \"{schema}\".entries (section, name, value) VALUES ('schedules', 'checkout.nightly', '{{\"at\": \"02:00\"}}')"
            ),
            &[],
        )
        .unwrap();
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ana")
            .because("spike"),
    )
    .unwrap();
    let snapshot = writer.load().unwrap();
    assert_eq!(
        snapshot.other["schedules"],
        json!({"checkout.nightly": {"at": "02:00"}})
    );
    let stored: toggles::rules::VariantRule = serde_json::from_value(
        snapshot
            .variants
            .get("checkout.checkout_flow")
            .unwrap()
            .clone(),
    )
    .unwrap();
    assert_eq!(stored, rule);
    let sections: Vec<String> = client()
        .query(
            &format!("SELECT section FROM \"{schema}\".entries ORDER BY section"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(sections, ["schedules", "switches", "variants"]);
}

#[test]
fn experiments_count_each_unit_once_across_instances() {
    use toggles::experiment::{Converted, Exposed};
    let Some(schema) = schema("experiments") else {
        return;
    };
    let _s = serial();
    let (one, two) = (store(&schema), store(&schema));
    let t = |s: i64| toggles::Timestamp::from_unix_seconds(1_800_000_000 + s);
    let toggle = "checkout.checkout_flow";
    // Two instances saw unit 1; the first to record it keeps its arm.
    one.record_exposures(&[
        Exposed::new(toggle, "1", "classic", t(0)),
        Exposed::new(toggle, "2", "one_page", t(0)),
    ])
    .unwrap();
    two.record_exposures(&[
        Exposed::new(toggle, "1", "one_page", t(5)),
        Exposed::new(toggle, "3", "one_page", t(5)),
    ])
    .unwrap();
    two.record_conversions(&[
        Converted::new(toggle, "1", "purchase", t(10)),
        // Before its exposure: not a conversion of the experiment.
        Converted::new(toggle, "3", "purchase", t(1)),
        // Never exposed.
        Converted::new(toggle, "4", "purchase", t(10)),
    ])
    .unwrap();
    one.record_conversions(&[
        Converted::new(toggle, "1", "purchase", t(20)),
        Converted::new(toggle, "2", "signup", t(20)),
    ])
    .unwrap();
    let counts = one.experiment_counts(toggle).unwrap().unwrap();
    assert_eq!(counts["classic"].exposed, 1);
    assert_eq!(counts["classic"].converted["purchase"], 1, "unit 1, once");
    assert_eq!(counts["one_page"].exposed, 2);
    assert_eq!(counts["one_page"].converted.get("purchase"), None);
    assert_eq!(counts["one_page"].converted["signup"], 1);
    assert_eq!(one.experiment_counts("checkout.other").unwrap(), None);
    // Unit 3 converts again, after its exposure: the latest conversion is kept, and counts.
    // Unit 2's exposure arrives late from a store that was down, earlier than the one on
    // record: the earliest exposure is the unit's.
    two.record_conversions(&[Converted::new(toggle, "3", "purchase", t(30))])
        .unwrap();
    one.record_exposures(&[Exposed::new(toggle, "2", "classic", t(-5))])
        .unwrap();
    let counts = one.experiment_counts(toggle).unwrap().unwrap();
    assert_eq!(counts["one_page"].converted["purchase"], 1, "unit 3, after");
    assert_eq!(counts["classic"].exposed, 2, "unit 2 first in classic");
    assert_eq!(counts["classic"].converted["signup"], 1);

    // Through an installation: a tracked check's exposure reaches the results.
    let toggles = Installer::new(store(&schema))
        .without_exposure_thread()
        .install()
        .unwrap();
    let rule = toggles::rules::VariantRule::new()
        .coverage(100.0)
        .weight("one_page", 1)
        .track(true);
    toggles::write(
        Change::variant("checkout.checkout_flow", rule)
            .by("ana")
            .because("experiment"),
    )
    .unwrap();
    let ctx = Context::new().with_user("42");
    assert_eq!(CHECKOUT_FLOW.get(&ctx), Checkout::OnePage);
    CHECKOUT_FLOW.convert(&ctx, "purchase");
    toggles.drain_exposures();
    let results = toggles::experiment::results(toggle).unwrap();
    let one_page = results.arms.iter().find(|a| a.arm == "one_page").unwrap();
    assert_eq!(one_page.exposed, 2, "units 3 and 42");
    let purchase = results.goals.iter().position(|g| g == "purchase").unwrap();
    assert_eq!(one_page.goals[purchase].converted, 2, "units 3 and 42");
}

#[test]
fn fleet_outcomes_answers_every_window_at_once_as_one_at_a_time_would() {
    use toggles::store::{Counts, OutcomeWindow, Timestamp};
    let Some(schema) = schema("fleet_outcomes") else {
        return;
    };
    let store = store(&schema);
    let now = Timestamp::now().unix_seconds();
    let at = |secs: i64| Timestamp::from_unix_seconds(now + secs);
    let recorded = |instance: &str, secs: i64, counts: &[(&str, Counts)]| {
        let counts: Vec<(String, Counts)> =
            counts.iter().map(|(k, c)| ((*k).to_owned(), *c)).collect();
        assert!(store.record_outcomes(instance, at(secs), &counts).unwrap());
    };
    recorded(
        "i1",
        -200,
        &[
            ("catalog.recommendations", Counts::new(5, 1, 0, 0)),
            ("grading.new_grader#fast", Counts::new(7, 0, 3, 0)),
        ],
    );
    recorded(
        "i2",
        -400,
        &[("grading.new_grader#fast", Counts::new(100, 0, 0, 0))],
    );
    // A change to the switch now: what was counted before it is out of its window.
    set_switch(&store, false, "changed");
    recorded(
        "i2",
        10,
        &[("catalog.recommendations", Counts::new(2, 2, 0, 0))],
    );
    recorded(
        "i1",
        20,
        &[("grading.new_grader#fast", Counts::new(1, 1, 1, 1))],
    );
    let windows = [
        OutcomeWindow::new(
            "catalog.recommendations",
            "catalog.recommendations",
            at(-300),
        ),
        OutcomeWindow::new("grading.new_grader#fast", "grading.new_grader", at(-300)),
        OutcomeWindow::new("nothing.recorded", "nothing.recorded", at(-300)),
    ];
    let at_once = store.fleet_outcomes(&windows).unwrap().unwrap();
    assert_eq!(
        at_once,
        [
            Counts::new(2, 2, 0, 0),
            Counts::new(8, 1, 4, 1),
            Counts::default()
        ],
        "each window from the later of its start and its toggle's last change"
    );
    // The trait's way, a window at a time, agrees.
    let one_at_a_time: Vec<Counts> = windows
        .iter()
        .map(|w| {
            let newest = store
                .audit(&AuditQuery::toggle(&w.toggle).limit(1))
                .unwrap();
            let changed = newest.first().map_or(i64::MIN, |e| e.at.unix_seconds());
            let since = Timestamp::from_unix_seconds(w.since.unix_seconds().max(changed));
            store.outcomes(&w.key, since).unwrap().unwrap()
        })
        .collect();
    assert_eq!(at_once, one_at_a_time);
}

#[test]
fn feedback_round_trips_bounded_and_counted() {
    let Some(schema) = schema("feedback") else {
        return;
    };
    let store = store(&schema);
    assert!(store.feedback("grading.new_grader", 10).unwrap().is_none());
    let at = |i: usize| {
        toggles::rules::Timestamp::from_unix_micros(
            1_900_000_000_000_000 + i64::try_from(i).unwrap(),
        )
    };
    let piece = |i: usize| {
        let (arm, unit) = if i.is_multiple_of(2) {
            ("on", Some(format!("u{i}")))
        } else {
            ("off", None)
        };
        Feedback::new("grading.new_grader", arm, unit, format!("piece {i}"), at(i))
    };
    let extra = 5;
    for i in 0..FEEDBACK_KEPT + extra {
        assert!(store.record_feedback(&piece(i)).unwrap());
    }
    let log = store.feedback("grading.new_grader", 3).unwrap().unwrap();
    let newest: Vec<Feedback> = (FEEDBACK_KEPT + extra - 3..FEEDBACK_KEPT + extra)
        .rev()
        .map(piece)
        .collect();
    assert_eq!(
        log.entries, newest,
        "newest first, with arm, unit, text and time"
    );
    assert_eq!(log.total(), u64::try_from(FEEDBACK_KEPT + extra).unwrap());
    assert_eq!(log.per_arm["on"], 503);
    let rows: i64 = client()
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".feedback"), &[])
        .unwrap()
        .get(0);
    assert_eq!(
        rows,
        i64::try_from(FEEDBACK_KEPT).unwrap(),
        "the oldest deleted"
    );
    let all = store
        .feedback("grading.new_grader", usize::MAX)
        .unwrap()
        .unwrap();
    assert_eq!(all.entries.last().unwrap().text, "piece 5");
}

#[test]
fn a_latency_guard_trips_on_the_fleets_run_times() {
    let Some(schema) = schema("latency_fleet") else {
        return;
    };
    let guard = toggles::rules::Guard::p95_margin(25.0)
        .window_secs(300)
        .min_requests(100);
    let json = serde_json::to_value(FlagRule::new().everyone(true).guard(guard)).unwrap();
    let writer = store(&schema);
    put_rule(&writer, &json, "time it");
    next_second();
    let slow = || {
        let out = spawn_child(&schema, "slow").wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let first = slow();
    assert!(first.contains("tripped: []"), "{first}");
    let second = slow();
    assert!(
        second.contains("tripped: [\"grading.new_grader\"]"),
        "{second}"
    );
    let entries = writer
        .audit(&AuditQuery::toggle("grading.new_grader"))
        .unwrap();
    assert_eq!(entries[0].actor, toggles::rules::GUARD_ACTOR);
    assert!(
        entries[0]
            .reason
            .starts_with("guard tripped: the on arm's 95th-percentile run time 12")
            && entries[0]
                .reason
                .ends_with("(120 runs) over the last 300s across the fleet"),
        "{}",
        entries[0].reason
    );
    let rows: i64 = client()
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".run_times"), &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 4, "a row per instance and arm per tick, not per run");
}

#[test]
fn fleet_run_times_sum_every_instance_bucket_by_bucket_within_the_window() {
    let Some(schema) = schema("run_times_sum") else {
        return;
    };
    let store = store(&schema);
    let at = toggles::rules::Timestamp::from_unix_seconds;
    let key = |k: &str| k.to_owned();
    store
        .record_run_times(
            "old",
            at(1_000),
            &[(
                key("grading.new_grader"),
                RunBuckets::new(vec![(5, 100)], vec![]),
            )],
        )
        .unwrap();
    for (instance, on, off) in [
        ("a", vec![(40, 3), (41, 1)], vec![(30, 2)]),
        ("b", vec![(41, 2), (300, 1)], vec![]),
    ] {
        let runs = [
            (key("grading.new_grader"), RunBuckets::new(on, off)),
            (
                key("checkout.flow#one_page"),
                RunBuckets::new(vec![(7, 1)], vec![(8, 1)]),
            ),
        ];
        assert!(store.record_run_times(instance, at(2_000), &runs).unwrap());
    }
    let windows = [
        OutcomeWindow::new("grading.new_grader", "grading.new_grader", at(1_500)),
        OutcomeWindow::new("checkout.flow#one_page", "checkout.flow", at(1_500)),
        OutcomeWindow::new("grading.quiet", "grading.quiet", at(1_500)),
    ];
    let sums = store.fleet_run_times(&windows).unwrap().unwrap();
    assert_eq!(
        sums,
        [
            RunBuckets::new(vec![(40, 3), (41, 3), (300, 1)], vec![(30, 2)]),
            RunBuckets::new(vec![(7, 2)], vec![(8, 2)]),
            RunBuckets::default(),
        ],
        "the tick before the window left out"
    );
}

#[test]
fn usage_is_kept_per_toggle_and_service_and_only_moves_forward() {
    use toggles::store::Use;

    let Some(schema) = schema("usage") else {
        return;
    };
    let store = store(&schema);
    assert_eq!(store.usage().unwrap(), Some(Vec::new()));
    let t = |s: i64| toggles::rules::Timestamp::from_unix_seconds(1_900_000_000 + s);
    let on = || vec!["on".to_owned()];
    let off = || vec!["off".to_owned()];
    store
        .record_usage(
            "lms",
            t(100),
            &[Use::new("a.b", on()), Use::new("a.c", vec![])],
        )
        .unwrap();
    store
        .record_usage("lms", t(200), &[Use::new("a.b", off())])
        .unwrap();
    // A late report from a slower instance moves nothing back.
    store
        .record_usage("lms", t(150), &[Use::new("a.b", on())])
        .unwrap();
    store
        .record_usage("cms", t(300), &[Use::new("a.b", on())])
        .unwrap();
    let usage = store.usage().unwrap().unwrap();
    let of = |toggle: &str, service: &str| {
        usage
            .iter()
            .find(|u| u.toggle == toggle && u.service == service)
            .unwrap_or_else(|| panic!("{toggle} by {service}: {usage:?}"))
    };
    let lms = of("a.b", "lms");
    assert_eq!((lms.first_evaluated, lms.last_evaluated), (t(100), t(200)));
    assert_eq!((lms.answers["on"], lms.answers["off"]), (t(150), t(200)));
    assert!(
        of("a.c", "lms").answers.is_empty(),
        "a setting's read: no answer"
    );
    let cms = of("a.b", "cms");
    assert_eq!((cms.first_evaluated, cms.last_evaluated), (t(300), t(300)));
    assert_eq!(usage.len(), 3);
}
