//! The fleet report, from a store alone: three services' declarations merged with the stored
//! states and the audit log, and the drift — state no live service declares, toggles declared
//! but never set, services that disagree on a toggle's metadata.

mod support;

use std::time::Duration;

use serde_json::json;
use toggles::fleet::{Declared, FleetReport, LIVE_WITHIN};
use toggles::store::Store;
use toggles::store::{AuditEntry, Declarations, MemoryStore};
use toggles::{registry, toggle, Flag, Installer, Service, Switch, Timestamp};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
static NEW_GRADER: Flag;

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    owner = "catalog-team",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// A flag the old LMS still declares.
#[toggle(namespace = "lms", life = "temporary", remove_by = "2030-01-01")]
static OLD_FLAG: Flag;

fn declared(name: &str) -> Declared {
    Declared::of(registry().get(name).unwrap())
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// `seconds` before `now`: stores forget by the clock, so fixtures are dated from it.
fn ago(now: Timestamp, seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(now.unix_seconds() - seconds)
}

/// Writes `value` for `name` straight into the store, audited, as an admin tool would.
fn set(store: &dyn Store, section: &str, name: &str, value: &serde_json::Value, actor: &str) {
    store
        .update(&mut |snapshot| {
            let map = match section {
                "switches" => &mut snapshot.switches,
                "flags" => &mut snapshot.flags,
                _ => &mut snapshot.settings,
            };
            map.insert(name.to_owned(), value.clone());
            Ok(
                AuditEntry::new(name.to_owned(), actor.to_owned(), "fixture")
                    .after(Some(value.clone()))
                    .at(at("2026-03-01T09:00:00Z")),
            )
        })
        .unwrap();
}

/// Three services (two live, one gone quiet a week ago) and the state an admin tool wrote.
fn fleet(now: Timestamp) -> MemoryStore {
    let store = MemoryStore::new();

    // grading 1.4.2, two live instances: the grader and the kill switch.
    for _ in 0..2 {
        let grading = Declarations::new(
            Service::new("grading", "1.4.2"),
            vec![
                declared("grading.new_grader"),
                declared("catalog.recommendations"),
            ],
        );
        store.publish(&grading, now).unwrap();
    }
    // lms 2.0.0, live: the kill switch too, with another owner and description.
    let mut theirs = declared("catalog.recommendations");
    theirs.owner = Some("lms-team".into());
    theirs.description = "Recommendations on the dashboard.".into();
    let lms = Declarations::new(
        Service::new("lms", "2.0.0"),
        vec![theirs, declared("lms.old_flag")],
    );
    store.publish(&lms, now).unwrap();
    // studio 0.9.0, quiet for three days: its newest instance still speaks for it.
    let mut quiet = declared("lms.old_flag");
    quiet.full_name = "studio.quiet".into();
    let studio = Declarations::new(Service::new("studio", "0.9.0"), vec![quiet]);
    store.publish(&studio, ago(now, 3 * DAY)).unwrap();
    // lms 1.9.0, stopped an hour ago: replaced by 2.0.0, it judges nothing.
    let mut retired = declared("lms.old_flag");
    retired.full_name = "lms.retired".into();
    let lms_before = Declarations::new(Service::new("lms", "1.9.0"), vec![retired]);
    store.publish(&lms_before, ago(now, 2 * HOUR)).unwrap();
    store
        .seen(&lms_before.service.instance, ago(now, HOUR))
        .unwrap();

    set(
        &store,
        "switches",
        "catalog.recommendations",
        &json!(false),
        "ops",
    );
    set(
        &store,
        "flags",
        "lms.retired",
        &json!({"everyone": true}),
        "ana",
    );
    set(
        &store,
        "flags",
        "legacy.gone",
        &json!({"percent": 5}),
        "bob",
    );

    store
}

#[test]
fn three_services_and_their_drift() {
    let _ = (&NEW_GRADER, &RECOMMENDATIONS, &OLD_FLAG);
    let now = Timestamp::now();
    let store = fleet(now);
    let report = FleetReport::of(
        &store,
        "2026-01-01".parse().unwrap(),
        now,
        Duration::from_secs(90),
    )
    .unwrap();

    let services: Vec<_> = report
        .services
        .iter()
        .map(|s| {
            (
                s.service.as_str(),
                s.version.as_str(),
                s.instances,
                s.live_instances,
            )
        })
        .collect();
    assert_eq!(
        services,
        [
            ("grading", "1.4.2", 2, 2),
            ("lms", "1.9.0", 1, 0),
            ("lms", "2.0.0", 1, 1),
            ("studio", "0.9.0", 1, 0)
        ]
    );
    assert_eq!(report.drift.undeclared, ["legacy.gone", "lms.retired"]);
    assert_eq!(
        report.drift.never_set,
        ["grading.new_grader", "lms.old_flag", "studio.quiet"]
    );
    assert_eq!(report.drift.disagreements, ["catalog.recommendations"]);
    assert_eq!(report.expired, ["grading.new_grader"]);

    let rec = report
        .toggles
        .iter()
        .find(|t| t.full_name == "catalog.recommendations")
        .unwrap();
    assert_eq!(rec.disagreements, ["description", "owner"]);
    assert_eq!(rec.declared_by.len(), 2);
    assert_eq!(rec.state.value, Some(json!(false)));
    assert_eq!(rec.state.modified_by.as_deref(), Some("ops"));
    assert_eq!(rec.drift, None);
    // The current declarer that published last speaks for the metadata: lms, after grading.
    assert_eq!(
        rec.declaration.as_ref().unwrap().owner.as_deref(),
        Some("lms-team")
    );
    let retired = report
        .toggles
        .iter()
        .find(|t| t.full_name == "lms.retired")
        .unwrap();
    assert!(!retired.declared_now);
    assert_eq!(retired.declared_by.len(), 1);
    assert!(!retired.declared_by[0].live && !retired.declared_by[0].current);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["as_of"], "2026-01-01");
    let gone = json["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["full_name"] == "legacy.gone")
        .unwrap();
    assert_eq!(gone["drift"], "undeclared");
    assert_eq!(gone["declaration"], json!(null));
    assert_eq!(gone["state"]["source"], "store");
    assert_eq!(gone["declared_by"], json!([]));
}

#[test]
fn installing_publishes_this_program_and_the_heartbeat_marks_it_seen() {
    let _s = support::store::serial();
    let store = std::sync::Arc::new(MemoryStore::new());
    let service = Service::new("grading", "1.4.2");
    let _toggles = Installer::new(store.clone())
        .service(service.clone())
        .install()
        .unwrap();
    let installed = store.published().unwrap();
    assert_eq!(installed.len(), 1, "published on install");
    assert_eq!(installed[0].declarations.service, service);
    assert_eq!(
        installed[0].declarations.toggles[0],
        Declared::of(registry().iter().next().unwrap())
    );

    let declarations = Declarations::of(registry(), service.clone());
    let now = Timestamp::now();
    store.publish(&declarations, ago(now, 60)).unwrap();
    store.seen(&service.instance, ago(now, 30)).unwrap();
    let published = store.published().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].last_seen, ago(now, 30));
    assert_eq!(
        published[0].declarations.toggles.len(),
        registry().len(),
        "every toggle of the program"
    );
    // Publishing again replaces the instance's entry rather than adding one.
    store.publish(&declarations, now).unwrap();
    assert_eq!(store.published().unwrap().len(), 1);
}

#[test]
fn writes_from_outside_validate_against_the_fleets_declarations() {
    let _s = support::store::serial();
    // In-process: this program's registry.
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    // From outside: a store this program's declarations were published to, as a service's.
    let shared = MemoryStore::new();
    assert!(
        toggles::write(
            toggles::Change::switch("catalog.recommendations", false)
                .by("ops")
                .because("x")
                .to(&shared)
        )
        .unwrap_err()
        .to_string()
        .contains("no service has published its declarations"),
        "nothing to check against, nothing written"
    );
    shared
        .publish(
            &Declarations::of(registry(), Service::new("catalog", "2.1.0")),
            Timestamp::now(),
        )
        .unwrap();
    let bad = [
        toggles::Change::setting("catalog.recommendations", 3),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::rules::FlagRule::new().percent(101.0),
        ),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::rules::FlagRule::new().percent(12.345),
        ),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::rules::FlagRule::new().requires("grading.new_grader"),
        ),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::rules::FlagRule::new().requires("catalog.recommendations"),
        ),
    ];
    for change in &bad {
        let here = toggles::write(change.clone().by("ops").because("x"))
            .unwrap_err()
            .to_string();
        let there = toggles::write(change.clone().by("ops").because("x").to(&shared))
            .unwrap_err()
            .to_string();
        assert_eq!(here, there, "same rules, same messages");
    }
    let unknown = toggles::Change::switch("catalog.recomendations", true);
    assert_eq!(
        toggles::write(unknown.clone().by("ops").because("x").to(&shared)).unwrap_err().to_string(),
        "write refused: `catalog.recomendations` is not a toggle of the fleet; did you mean `catalog.recommendations`?"
    );
    assert!(
        shared
            .audit(&toggles::store::AuditQuery::all())
            .unwrap()
            .is_empty(),
        "nothing refused is audited"
    );

    let entry = toggles::write(
        toggles::Change::switch("catalog.recommendations", false)
            .by("ops")
            .because("spike")
            .to(&shared),
    )
    .unwrap();
    assert_eq!(entry.after, Some(json!(false)));
    assert_eq!(
        shared.load().unwrap().switches["catalog.recommendations"],
        json!(false)
    );
}

/// One instance of `service` at `version` on `host`.
fn instance(service: &str, version: &str, host: &str) -> Service {
    Service::new(service, version).on_host(host)
}

/// Publishes `toggles` as `service`, at `published`, last seen at `seen`.
fn run(
    store: &dyn Store,
    service: Service,
    toggles: Vec<Declared>,
    published: Timestamp,
    seen: Timestamp,
) -> Service {
    store
        .publish(&Declarations::new(service.clone(), toggles), published)
        .unwrap();
    store.seen(&service.instance, seen).unwrap();
    service
}

fn find<'r>(report: &'r FleetReport, name: &str) -> &'r toggles::fleet::FleetToggle {
    report.toggles.iter().find(|t| t.full_name == name).unwrap()
}

fn report(store: &dyn Store, as_of: &str, now: Timestamp) -> FleetReport {
    FleetReport::of(store, as_of.parse().unwrap(), now, LIVE_WITHIN).unwrap()
}

#[test]
fn a_toggle_removed_from_the_code_is_not_judged_by_the_version_that_declared_it() {
    let now = Timestamp::now();
    let store = MemoryStore::new();
    // grading 1.9.0 declared the grader (past its removal date); 1.10.0 removed it.
    let both = vec![
        declared("grading.new_grader"),
        declared("catalog.recommendations"),
    ];
    run(
        &store,
        instance("grading", "1.9.0", "web-1"),
        both,
        ago(now, 2 * HOUR),
        ago(now, HOUR),
    );
    let removed = vec![declared("catalog.recommendations")];
    run(
        &store,
        instance("grading", "1.10.0", "web-2"),
        removed,
        ago(now, 30 * 60),
        now,
    );

    let report = report(&store, "2026-01-01", now);
    assert_eq!(report.expired, Vec::<String>::new(), "the debt gate holds");
    let grader = find(&report, "grading.new_grader");
    assert!(!grader.declared_now && !grader.expired);
    assert_eq!(grader.drift, None, "nothing stored, nothing to clean up");
    assert_eq!(grader.declared_by[0].version, "1.9.0", "still on record");
    let versions: Vec<&str> = report.services.iter().map(|s| s.version.as_str()).collect();
    assert_eq!(
        versions,
        ["1.9.0", "1.10.0"],
        "in the order they were deployed"
    );
}

#[test]
fn a_description_edited_between_versions_disagrees_only_while_both_run() {
    let now = Timestamp::now();
    let mut edited = declared("catalog.recommendations");
    edited.description = "Turn recommendations off under load.".into();
    // Deployed and done: the old version stopped an hour ago.
    let store = MemoryStore::new();
    let old = vec![declared("catalog.recommendations")];
    run(
        &store,
        instance("catalog", "2.1.0", "web-1"),
        old.clone(),
        ago(now, 2 * HOUR),
        ago(now, HOUR),
    );
    run(
        &store,
        instance("catalog", "2.2.0", "web-2"),
        vec![edited.clone()],
        ago(now, 30 * 60),
        now,
    );
    let done = report(&store, "2026-01-01", now);
    let rec = find(&done, "catalog.recommendations");
    assert_eq!(rec.disagreements, Vec::<&str>::new());
    assert_eq!(
        rec.declaration.as_ref().unwrap().description,
        edited.description
    );
    assert_eq!(done.drift.disagreements, Vec::<String>::new());

    // Half-way through a rolling deploy, both run: that is a disagreement, and the version
    // deployed last speaks.
    let rolling = MemoryStore::new();
    run(
        &rolling,
        instance("catalog", "2.1.0", "web-1"),
        old,
        ago(now, 2 * HOUR),
        now,
    );
    run(
        &rolling,
        instance("catalog", "2.2.0", "web-2"),
        vec![edited.clone()],
        ago(now, 60),
        now,
    );
    let half = report(&rolling, "2026-01-01", now);
    let rec = find(&half, "catalog.recommendations");
    assert_eq!(rec.disagreements, ["description"]);
    assert_eq!(
        rec.declaration.as_ref().unwrap().description,
        edited.description
    );
}

#[test]
fn ownership_follows_the_version_deployed_last_not_the_version_string() {
    let _s = support::store::serial();
    let now = Timestamp::now();
    let owned_by = |team: &str| {
        let mut d = declared("catalog.recommendations");
        d.owner = Some(team.into());
        vec![d]
    };
    let store = MemoryStore::new();
    // 1.10.0, owned by the old team, stopped; 1.11.0 moved the toggle to the new team.
    run(
        &store,
        instance("catalog", "1.10.0", "web-1"),
        owned_by("old-team"),
        ago(now, 2 * HOUR),
        ago(now, HOUR),
    );
    run(
        &store,
        instance("catalog", "1.11.0", "web-2"),
        owned_by("new-team"),
        ago(now, 30 * 60),
        now,
    );
    let off = toggles::Change::switch("catalog.recommendations", false);
    let old = toggles::policy::Principal::new("olga").team("old-team");
    let new = toggles::policy::Principal::new("nina").team("new-team");
    let refused = toggles::write(off.clone().by(&old).because("spike").to(&store)).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "write refused: `catalog.recommendations` is owned by `new-team`: only its members and admins may change it, and `olga` is neither"
    );
    toggles::write(off.clone().by(&new).because("spike").to(&store)).unwrap();
    let report = report(&store, "2026-01-01", now);
    assert_eq!(
        find(&report, "catalog.recommendations")
            .declaration
            .as_ref()
            .unwrap()
            .owner
            .as_deref(),
        Some("new-team")
    );
}

#[test]
fn a_restart_replaces_the_killed_instance_at_once() {
    let now = Timestamp::now();
    let store = MemoryStore::new();
    let due_by = |date: &str| {
        let mut d = declared("grading.new_grader");
        d.remove_by = Some(date.parse().unwrap());
        vec![d]
    };
    // Killed 20 seconds ago, well within the live window; its replacement on the same host
    // extended the removal date.
    run(
        &store,
        instance("grading", "1.4.2", "web-1"),
        due_by("2026-06-01"),
        ago(now, 600),
        ago(now, 20),
    );
    run(
        &store,
        instance("grading", "1.4.3", "web-1"),
        due_by("2027-03-31"),
        ago(now, 10),
        ago(now, 10),
    );
    let report = report(&store, "2026-11-28", now);
    let lives: Vec<(&str, usize)> = report
        .services
        .iter()
        .map(|s| (s.version.as_str(), s.live_instances))
        .collect();
    assert_eq!(lives, [("1.4.2", 0), ("1.4.3", 1)]);
    let grader = find(&report, "grading.new_grader");
    assert!(!grader.expired, "judged by the process running now");
    assert_eq!(grader.disagreements, Vec::<&str>::new());
    assert_eq!(
        grader.declaration.as_ref().unwrap().remove_by,
        Some("2027-03-31".parse().unwrap())
    );
}

#[test]
fn a_store_forgets_an_instance_not_seen_for_its_retention() {
    let now = Timestamp::now();
    let store = MemoryStore::new().forget_instances_after(Duration::from_secs(DAY as u64));
    let gone = run(
        &store,
        instance("studio", "0.9.0", "web-1"),
        vec![declared("lms.old_flag")],
        ago(now, 3 * DAY),
        ago(now, 2 * DAY),
    );
    assert_eq!(store.published().unwrap(), [], "not read back");
    let here = run(
        &store,
        instance("grading", "1.4.2", "web-2"),
        vec![declared("grading.new_grader")],
        now,
        now,
    );
    let instances: Vec<String> = store
        .published()
        .unwrap()
        .into_iter()
        .map(|p| p.declarations.service.instance)
        .collect();
    assert_eq!(instances, [here.instance]);
    // Seen again (a late heartbeat): it was dropped when the other published, so it stays gone.
    store.seen(&gone.instance, now).unwrap();
    assert_eq!(store.published().unwrap().len(), 1);
}

#[test]
fn a_plain_install_publishes_a_version() {
    let _s = support::store::serial();
    let store = std::sync::Arc::new(MemoryStore::new());
    let _toggles = toggles::install(store.clone()).unwrap();
    let service = store.published().unwrap()[0].declarations.service.clone();
    // The test program is not named after a crate that declares toggles.
    assert_eq!(service.version, "unknown");
    assert!(!service.host.is_empty());
}

#[test]
fn the_state_a_retired_toggle_left_is_reset_by_an_admin_only() {
    let _s = support::store::serial();
    let now = Timestamp::now();
    let store = MemoryStore::new();
    let mut retired = declared("lms.old_flag");
    retired.full_name = "lms.retired".into();
    retired.owner = Some("lms-team".into());
    run(
        &store,
        instance("lms", "1.9.0", "web-1"),
        vec![retired],
        ago(now, 2 * HOUR),
        ago(now, HOUR),
    );
    run(
        &store,
        instance("lms", "2.0.0", "web-2"),
        vec![declared("lms.old_flag")],
        ago(now, HOUR),
        now,
    );
    set(
        &store,
        "flags",
        "lms.retired",
        &json!({"everyone": true}),
        "ana",
    );

    let on = toggles::Change::flag("lms.retired", toggles::rules::FlagRule::new());
    assert_eq!(
        toggles::write(on.clone().by("ops").because("x").to(&store)).unwrap_err().to_string(),
        "write refused: `lms.retired` is declared by no running service any more (last by lms 1.9.0): its state can only be reset"
    );
    let reset = toggles::Change::reset("lms.retired");
    let member = toggles::policy::Principal::new("lena").team("lms-team");
    assert!(matches!(
        toggles::write(reset.clone().by(&member).because("clean up").to(&store)),
        Err(toggles::WriteError::Forbidden(_))
    ));
    let admin = toggles::policy::Principal::new("root").admin();
    toggles::write(reset.clone().by(&admin).because("clean up").to(&store)).unwrap();
    assert!(store.load().unwrap().flags.is_empty());
    // Nothing left to reset: refused, not audited twice.
    assert!(toggles::write(reset.clone().by("ops").because("again").to(&store)).is_err());
}

#[test]
fn declarations_a_newer_version_published_break_nothing() {
    let _s = support::store::serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let store = toggles::store::FileStore::open(&path).unwrap();
    let now = Timestamp::now();
    run(
        &store,
        instance("catalog", "2.1.0", "web-1"),
        vec![declared("catalog.recommendations")],
        now,
        now,
    );
    // A newer version publishes a kind, a use case and a field this version does not know,
    // and one declaration whose date no version could read.
    let fleet_path = dir.path().join("toggles.json.fleet");
    let mut fleet: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fleet_path).unwrap()).unwrap();
    let mut newer = fleet[0].clone();
    newer["declarations"]["service"] = json!({
        "name": "checkout", "version": "3.0.0", "instance": "web-3-1-1", "host": "web-3"
    });
    let mut newer_kind = newer["declarations"]["toggles"][0].clone();
    newer_kind["full_name"] = json!("checkout.flow");
    newer_kind["kind"] = json!("schedule");
    newer_kind["use_cases"] = json!(["experiment", "monitored_rollout"]);
    newer_kind["slots"] = json!(["morning", "evening"]);
    let mut unreadable = newer_kind.clone();
    unreadable["full_name"] = json!("checkout.broken");
    unreadable["remove_by"] = json!("2027-02-30");
    newer["declarations"]["toggles"] = json!([newer_kind, unreadable]);
    fleet.as_array_mut().unwrap().push(newer);
    std::fs::write(&fleet_path, fleet.to_string()).unwrap();

    let published = store.published().unwrap();
    assert_eq!(published.len(), 2, "both instances read");
    let flow = &published[1].declarations.toggles;
    assert_eq!(
        flow.len(),
        1,
        "the unreadable declaration alone is left out"
    );
    assert_eq!(flow[0].kind, toggles::Kind::Unknown);
    assert_eq!(flow[0].use_cases, [toggles::UseCase::MonitoredRollout]);

    let report = report(&store, "2026-01-01", now);
    let flow = find(&report, "checkout.flow");
    assert!(flow.declared_now);
    assert_eq!(
        serde_json::to_value(flow).unwrap()["declaration"]["kind"],
        "unknown"
    );
    assert_eq!(
        toggles::write(toggles::Change::switch("checkout.flow", true).by("ops").because("x").to(&store))
            .unwrap_err()
            .to_string(),
        "write refused: `checkout.flow` is of a kind this version of toggles does not know: a newer version declares it, and writes it"
    );
    toggles::write(
        toggles::Change::switch("catalog.recommendations", false)
            .by("ops")
            .because("spike")
            .to(&store),
    )
    .unwrap();
}

#[test]
fn an_instance_the_store_forgot_publishes_again() {
    let _s = support::store::serial();
    let store =
        std::sync::Arc::new(MemoryStore::new().forget_instances_after(Duration::from_secs(1)));
    let service = instance("grading", "1.4.2", "web-1");
    let _toggles = Installer::new(store.clone())
        .service(service.clone())
        .heartbeat(Duration::from_millis(100))
        .install()
        .unwrap();
    // Unheard past the retention (the store was down, say): another instance's publish drops it.
    let later = ago(Timestamp::now(), -5);
    store
        .publish(
            &Declarations::new(instance("lms", "2.0.0", "web-2"), vec![]),
            later,
        )
        .unwrap();
    let ours = |store: &MemoryStore| {
        store
            .published()
            .unwrap()
            .iter()
            .any(|p| p.declarations.service.instance == service.instance)
    };
    assert!(!ours(&store), "forgotten");
    support::store::wait_for("the heartbeat publishes again", || ours(&store));
}

#[test]
fn a_write_to_a_fleets_store_compares_and_sets() {
    let now = Timestamp::now();
    let store = MemoryStore::new();
    run(
        &store,
        instance("catalog", "2.1.0", "web-1"),
        vec![declared("catalog.recommendations")],
        now,
        now,
    );
    let seen = toggles::Revision::of(None);
    let off = || toggles::Change::switch("catalog.recommendations", false);
    toggles::write(
        off()
            .by("ops")
            .because("spike")
            .to(&store)
            .if_revision(seen),
    )
    .unwrap();
    let late = toggles::write(
        off()
            .by("bob")
            .because("spike too")
            .to(&store)
            .if_revision(seen),
    );
    let Err(toggles::WriteError::Conflict {
        toggle,
        expected,
        found,
    }) = late
    else {
        panic!("a conflict: {late:?}");
    };
    assert_eq!(
        (toggle.as_str(), expected, found),
        (
            "catalog.recommendations",
            seen,
            toggles::Revision::of(Some(&json!(false)))
        )
    );
    assert_eq!(
        store
            .audit(&toggles::store::AuditQuery::all())
            .unwrap()
            .len(),
        1
    );
}
