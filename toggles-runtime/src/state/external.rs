//! Writes from outside any service — an admin tool, a command line — validated against the
//! declarations the fleet published to the store.

use crate::compile::{Change, Fleet, Invalid, Problem};
use crate::state::install::transact;
use crate::stores::{AuditEntry, Published, Store, StoreError, WriteError};

/// Writes `change` to `store` on behalf of `actor`, for `reason`, from a process that declares
/// none of the toggles: an admin tool, a command line. The change is validated against the
/// declarations the fleet's services published to the store ([`install_as`](crate::install_as)),
/// with the rules and messages of [`write`](crate::write); where services declare a toggle
/// differently, the first by service name and version speaks for it.
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
    let published = by_service(store)?;
    if published.is_empty() {
        return Err(WriteError::Invalid(Invalid {
            problems: vec![Problem::new(
                change.name(),
                "cannot be checked: no service has published its declarations to this store",
            )],
        }));
    }
    let fleet = Fleet::new(published.iter().flat_map(|p| {
        p.declarations
            .toggles
            .iter()
            .map(|d| (d.full_name.clone(), d.kind, d.value_type.clone()))
    }));
    transact(store, change, actor, reason, &fleet, None).map(|(entry, _)| entry)
}

/// The fleet's published declarations in order of precedence: by service name, then version.
/// Where services declare one toggle differently, the first speaks for it.
pub(super) fn by_service(store: &dyn Store) -> Result<Vec<Published>, StoreError> {
    let mut published = store.published()?;
    published.sort_by(|a, b| {
        let (a, b) = (&a.declarations.service, &b.declarations.service);
        (&a.name, &a.version).cmp(&(&b.name, &b.version))
    });
    Ok(published)
}
