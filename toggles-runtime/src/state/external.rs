//! Writes from outside any service — an admin tool, a command line — validated against the
//! declarations the fleet published to the store.

use crate::compile::{Change, Fleet, Invalid, Problem};
use crate::rules::Timestamp;
use crate::state::install::transact;
use crate::stores::{AuditEntry, Roster, Store, WriteError, LIVE_WITHIN};

/// Writes `change` to `store` on behalf of `actor`, for `reason`, from a process that declares
/// none of the toggles: an admin tool, a command line. The change is validated against the
/// declarations the fleet's services published to the store ([`Installer::service`](crate::Installer::service)),
/// with the rules and messages of [`write`](crate::write). The declarations that count are those
/// of the fleet's current instances — running (seen within [`LIVE_WITHIN`]), or a stopped
/// service's newest — and where they declare a toggle differently, the one published last
/// speaks for it (see [`FleetReport`](crate::FleetReport)).
///
/// A toggle that only stopped or replaced versions declared takes no write but a reset:
/// [`Change::reset`] is how the state they left behind is cleaned up.
///
/// The processes that installed the store take the change in force as they follow it. A store
/// to which no service has published anything accepts no write: there is nothing to check a
/// change against.
///
/// ```
/// use toggles::{registry, toggle, Change, Declarations, MemoryStore, Service, Store, Switch, Timestamp};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let store = MemoryStore::new();
/// // What a service does when it installs the store:
/// store.publish(&Declarations::of(registry(), Service::new("catalog", "2.1.0")), Timestamp::now()).unwrap();
///
/// let refused = toggles::write_to(&store, &Change::setting("catalog.recommendations", 3), "ops", "x");
/// assert_eq!(
///     refused.unwrap_err().to_string(),
///     "write refused: `catalog.recommendations` is a switch, not a setting"
/// );
/// toggles::write_to(&store, &Change::switch("catalog.recommendations", false), "ops", "spike").unwrap();
/// ```
pub fn write_to(
    store: &dyn Store,
    change: &Change,
    actor: &str,
    reason: &str,
) -> Result<AuditEntry, WriteError> {
    let published = store.published()?;
    if published.is_empty() {
        return Err(WriteError::Invalid(Invalid {
            problems: vec![Problem::new(
                change.name(),
                "cannot be checked: no service has published its declarations to this store",
            )],
        }));
    }
    let roster = Roster::new(&published, Timestamp::now(), LIVE_WITHIN);
    transact(store, change, actor, reason, &fleet(&roster), None).map(|(entry, _)| entry)
}

/// The toggles the fleet declares now, each as the declaration that speaks for it, and those
/// only stopped or replaced versions declared, by who declared them last.
pub(super) fn fleet(roster: &Roster<'_>) -> Fleet {
    let mut declared = Vec::new();
    let mut retired = Vec::new();
    for name in roster.names() {
        match roster.speaker(name) {
            Some((d, true)) => declared.push((d.full_name.clone(), d.kind, d.value_type.clone())),
            _ => {
                let last = roster
                    .declarers(name)
                    .iter()
                    .map(|(i, _)| &roster.published()[*i])
                    .max_by_key(|p| p.published_at)
                    .map(|p| {
                        let s = &p.declarations.service;
                        format!("{} {}", s.name, s.version)
                    });
                retired.push((name.to_owned(), last.unwrap_or_default()));
            }
        }
    }
    Fleet::new(declared, retired)
}
