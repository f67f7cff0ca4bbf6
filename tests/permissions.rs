//! Least privilege: a write as a principal succeeds for an admin and for the owning team's
//! members, is refused — naming who may, changing nothing, auditing nothing — for everyone
//! else, honours a policy the service plugs in, and, from outside a service, takes the owner
//! from the fleet's published declarations.

mod support;

use support::store::{all_audit, serial};
use toggles::policy::{OwnersAndAdmins, Policy, Principal, Refusal, Target};
use toggles::store::Store;
use toggles::store::{Declarations, MemoryStore};
use toggles::{registry, toggle, Change, Service, Switch, Timestamp, WriteError};

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    owner = "catalog-team",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// Maintenance mode for the whole site; nobody owns it.
#[toggle(namespace = "site", life = "permanent", justification = "operations")]
static MAINTENANCE: Switch;

fn off() -> Change {
    Change::switch("catalog.recommendations", false)
}

#[track_caller]
fn refused(principal: &Principal, change: &Change) -> String {
    let audited = all_audit().len();
    let err = toggles::write(change.clone().by(principal).because("trying")).unwrap_err();
    assert!(matches!(err, WriteError::Forbidden(_)), "{err}");
    assert_eq!(all_audit().len(), audited, "a refused write is not audited");
    err.to_string()
}

#[test]
fn owners_and_admins_and_no_one_else() {
    let _s = serial();
    toggles::policy::set_policy(OwnersAndAdmins);
    let _toggles = toggles::install(MemoryStore::new()).unwrap();

    let outsider = Principal::new("ana").team("grading-team");
    assert_eq!(
        refused(&outsider, &off()),
        "write refused: `catalog.recommendations` is owned by `catalog-team`: only its members and admins may change it, and `ana` is neither"
    );
    assert!(RECOMMENDATIONS.is_enabled(), "nothing changed");
    assert!(!toggles::policy::may_change(
        &outsider,
        "catalog.recommendations"
    ));

    let member = Principal::new("bob").team("ops").team("catalog-team");
    assert!(toggles::policy::may_change(
        &member,
        "catalog.recommendations"
    ));
    let entry = toggles::write(off().by(&member).because("spike")).unwrap();
    assert_eq!(entry.actor, "bob", "the audit records the principal");
    assert!(!RECOMMENDATIONS.is_enabled());

    // No owner: admins only.
    let on = Change::switch("site.maintenance", true);
    assert_eq!(
        refused(&member, &on),
        "write refused: `site.maintenance` has no owner, so only admins may change it, and `bob` is not an admin"
    );
    assert!(!MAINTENANCE.is_enabled());
    let admin = Principal::new("root").admin();
    assert!(toggles::policy::may_change(&admin, "site.maintenance"));
    toggles::write(on.clone().by(&admin).because("deploy")).unwrap();
    assert!(MAINTENANCE.is_enabled());
    toggles::write(
        Change::switch("catalog.recommendations", true)
            .by(&admin)
            .because("calm"),
    )
    .unwrap();

    // An unknown toggle is refused by validation, as for any write.
    let err =
        toggles::write(Change::switch("catalog.nope", true).by(&admin).because("x")).unwrap_err();
    assert!(matches!(err, WriteError::Invalid(_)), "{err}");
}

/// Each team changes the toggles of its namespace.
struct NamespacePerTeam;

impl Policy for NamespacePerTeam {
    fn may_change(&self, who: &Principal, toggle: &Target<'_>) -> Result<(), Refusal> {
        let team = format!("{}-team", toggle.namespace);
        if who.teams.contains(&team) {
            Ok(())
        } else {
            let why = format!("`{}` may be changed by team `{team}`", toggle.full_name);
            Err(Refusal::new(toggle.full_name, why))
        }
    }
}

#[test]
fn a_service_plugs_in_its_own_policy() {
    let _s = serial();
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    toggles::policy::set_policy(NamespacePerTeam);
    let site = Principal::new("sam").team("site-team");
    toggles::write(
        Change::switch("site.maintenance", false)
            .by(&site)
            .because("ok"),
    )
    .unwrap();
    let admin = Principal::new("root").admin();
    assert_eq!(
        refused(&admin, &off()),
        "write refused: `catalog.recommendations` may be changed by team `catalog-team`"
    );
    toggles::policy::set_policy(OwnersAndAdmins);
}

#[test]
fn writes_from_outside_take_the_owner_from_the_fleet() {
    let _s = serial();
    toggles::policy::set_policy(OwnersAndAdmins);
    let shared = MemoryStore::new();
    shared
        .publish(
            &Declarations::of(registry(), Service::new("catalog", "2.1.0")),
            Timestamp::now(),
        )
        .unwrap();
    let outsider = Principal::new("ana").team("grading-team");
    let err = toggles::write(off().by(&outsider).because("x").to(&shared)).unwrap_err();
    assert!(matches!(err, WriteError::Forbidden(_)), "{err}");
    assert!(
        shared.load().unwrap().switches.is_empty(),
        "nothing changed"
    );
    assert!(shared
        .audit(&toggles::store::AuditQuery::all())
        .unwrap()
        .is_empty());
    let member = Principal::new("bob").team("catalog-team");
    let entry = toggles::write(off().by(&member).because("spike").to(&shared)).unwrap();
    assert_eq!(entry.actor, "bob");
}
