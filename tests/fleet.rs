//! The fleet report, from a store alone: three services' declarations merged with the stored
//! states and the audit log, and the drift — state no live service declares, toggles declared
//! but never set, services that disagree on a toggle's metadata.

mod support;

use std::time::Duration;

use serde_json::json;
use toggles::store::Store;
use toggles::{
    registry, toggle, AuditEntry, Declarations, Declared, Flag, FleetReport, MemoryStore, Service,
    Switch, Timestamp,
};

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

/// Writes `value` for `name` straight into the store, audited, as an admin tool would.
fn set(store: &MemoryStore, section: &str, name: &str, value: &serde_json::Value, actor: &str) {
    store
        .update(&mut |snapshot| {
            let map = match section {
                "switches" => &mut snapshot.switches,
                "flags" => &mut snapshot.flags,
                _ => &mut snapshot.settings,
            };
            map.insert(name.to_owned(), value.clone());
            Ok(AuditEntry {
                at: at("2026-03-01T09:00:00Z"),
                actor: actor.to_owned(),
                toggle: name.to_owned(),
                before: None,
                after: Some(value.clone()),
                reason: "fixture".into(),
            })
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
    // studio 0.9.0, last seen a week ago: its flag is no longer declared by anything live.
    let mut retired = declared("lms.old_flag");
    retired.full_name = "studio.retired".into();
    let studio = Declarations::new(Service::new("studio", "0.9.0"), vec![retired]);
    store.publish(&studio, at("2026-11-15T12:00:00Z")).unwrap();

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
        "studio.retired",
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
    let now = at("2026-11-22T12:00:00Z");
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
            ("lms", "2.0.0", 1, 1),
            ("studio", "0.9.0", 1, 0)
        ]
    );
    assert_eq!(report.drift.undeclared, ["legacy.gone", "studio.retired"]);
    assert_eq!(
        report.drift.never_set,
        ["grading.new_grader", "lms.old_flag"]
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
    // The first live declarer by service name speaks for the metadata.
    assert_eq!(
        rec.declaration.as_ref().unwrap().owner.as_deref(),
        Some("catalog-team")
    );

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
    toggles::install_as(support::store::SharedStore(store.clone()), service.clone()).unwrap();
    let installed = store.published().unwrap();
    assert_eq!(installed.len(), 1, "published on install");
    assert_eq!(installed[0].declarations.service, service);
    assert_eq!(
        installed[0].declarations.toggles[0],
        Declared::of(registry().iter().next().unwrap())
    );

    let declarations = Declarations::of(registry(), service.clone());
    store
        .publish(&declarations, at("2026-11-22T12:00:00Z"))
        .unwrap();
    store
        .seen(&service.instance, at("2026-11-22T12:00:30Z"))
        .unwrap();
    let published = store.published().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].last_seen, at("2026-11-22T12:00:30Z"));
    assert_eq!(
        published[0].declarations.toggles.len(),
        registry().len(),
        "every toggle of the program"
    );
    // Publishing again replaces the instance's entry rather than adding one.
    store
        .publish(&declarations, at("2026-11-22T12:01:00Z"))
        .unwrap();
    assert_eq!(store.published().unwrap().len(), 1);
}

#[test]
fn writes_from_outside_validate_against_the_fleets_declarations() {
    let _s = support::store::serial();
    // In-process: this program's registry.
    toggles::install(MemoryStore::new()).unwrap();
    // From outside: a store this program's declarations were published to, as a service's.
    let shared = MemoryStore::new();
    assert!(
        toggles::write_to(
            &shared,
            &toggles::Change::switch("catalog.recommendations", false),
            "ops",
            "x"
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
            toggles::FlagRule::new().percent(101.0),
        ),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::FlagRule::new().percent(12.345),
        ),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::FlagRule::new().requires("grading.new_grader"),
        ),
        toggles::Change::flag(
            "grading.new_grader",
            toggles::FlagRule::new().requires("catalog.recommendations"),
        ),
    ];
    for change in &bad {
        let here = toggles::write(change, "ops", "x").unwrap_err().to_string();
        let there = toggles::write_to(&shared, change, "ops", "x")
            .unwrap_err()
            .to_string();
        assert_eq!(here, there, "same rules, same messages");
    }
    let unknown = toggles::Change::switch("catalog.recomendations", true);
    assert_eq!(
        toggles::write_to(&shared, &unknown, "ops", "x").unwrap_err().to_string(),
        "write refused: `catalog.recomendations` is not a toggle of the fleet; did you mean `catalog.recommendations`?"
    );
    assert!(
        shared
            .audit(&toggles::AuditQuery::all())
            .unwrap()
            .is_empty(),
        "nothing refused is audited"
    );

    let entry = toggles::write_to(
        &shared,
        &toggles::Change::switch("catalog.recommendations", false),
        "ops",
        "spike",
    )
    .unwrap();
    assert_eq!(entry.after, Some(json!(false)));
    assert_eq!(
        shared.load().unwrap().switches["catalog.recommendations"],
        json!(false)
    );
}
