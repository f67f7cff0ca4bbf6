//! Installing a store, reloading it, writing to it, and what the program can ask about it.

use std::sync::{Arc, PoisonError, RwLock};

use crate::compile::{
    change_problems, check_target, compile, Catalog, Change, Compiled, Invalid, Problem, Revision,
    Snapshot,
};
use crate::declare::{published, registry};
use crate::state::exposure::{self, ExposureCounts};
use crate::state::publish::publish;
use crate::state::{guard, lock, retained};
use crate::stores::{AuditEntry, AuditQuery, Store, StoreError, WriteError};
use crate::targeting::Timestamp;

struct Installed {
    store: Arc<dyn Store>,
    /// Tells a replaced store's watcher that it no longer speaks for the program.
    epoch: u64,
    /// This process, as it signs what it shares through the store (outcome counts).
    instance: String,
}

static INSTALLED: RwLock<Option<Installed>> = RwLock::new(None);
static STATUS: std::sync::Mutex<Status> = std::sync::Mutex::new(Status::compiled_defaults());

/// Where the toggles' values come from, and how the last load went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The store's description; `None` before a store is installed.
    pub store: Option<String>,
    /// The generation of the compiled state in force; 0 for the compiled defaults.
    pub generation: u64,
    /// When the state in force was last loaded or confirmed unchanged.
    pub loaded_at: Option<Timestamp>,
    /// The last load's error, if it failed: the state in force is then the last good one.
    pub last_error: Option<String>,
    /// Entries of the store this program cannot use, toggle by toggle (a field a newer version
    /// wrote, a value out of range, a hand edit gone wrong): each of these toggles keeps its last
    /// good state — or its compiled default, if it never had one — while every other entry is in
    /// force. Empty when every entry is in force.
    pub invalid_entries: Vec<Problem>,
    /// Flags a guard turned off in this process whose audited write has not landed yet (the
    /// store was down): retried every guard tick.
    pub guard_writes_pending: Vec<String>,
    /// What became of the exposures of tracked experiments: delivered, deduplicated, dropped.
    pub exposures: ExposureCounts,
}

impl Status {
    const fn compiled_defaults() -> Status {
        Status {
            store: None,
            generation: 0,
            loaded_at: None,
            last_error: None,
            invalid_entries: Vec::new(),
            guard_writes_pending: Vec::new(),
            exposures: ExposureCounts {
                delivered: 0,
                deduplicated: 0,
                dropped: 0,
                unit_too_long: 0,
            },
        }
    }
}

/// How the store in force is doing. A program can expose it on a health endpoint.
pub fn status() -> Status {
    let mut status = STATUS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    status.guard_writes_pending = guard::pending();
    status.exposures = exposure::counts();
    status
}

/// The store's contents in force in this program, as the store held them (entries of toggles
/// this program does not declare included), with the generation they were put in force as;
/// `None` until a store's contents are first in force. What a relay serves its followers: the
/// last good contents stay in force, and are served, while the store is down.
///
/// ```
/// use toggles::store::MemoryStore;
/// use toggles::{toggle, Change, Switch};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// assert!(toggles::snapshot_in_force().is_none(), "no store yet");
/// let _toggles = toggles::install(MemoryStore::new())?;
/// toggles::write(Change::switch("catalog.recommendations", false).by("ops").because("load"))?;
/// let (generation, snapshot) = toggles::snapshot_in_force().unwrap();
/// assert_eq!(generation, toggles::status().generation);
/// assert_eq!(snapshot.switches.get("catalog.recommendations"), Some(&false.into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn snapshot_in_force() -> Option<(u64, Snapshot)> {
    installed()?;
    retained::newest().map(|compiled| (compiled.generation, compiled.snapshot.clone()))
}

pub(super) fn installed() -> Option<(Arc<dyn Store>, u64)> {
    let guard = INSTALLED.read().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref().map(|i| (Arc::clone(&i.store), i.epoch))
}

/// The installed process's instance id, as the guards sign their counts.
pub(super) fn installed_instance() -> Option<String> {
    let guard = INSTALLED.read().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref().map(|i| i.instance.clone())
}

/// The installed store, for the report layer's audit queries.
/// The store installed in this program, if any: for what serves it further (a relay's
/// declarations and audit endpoints). Writes go through [`write`](crate::write), which
/// validates and audits them.
pub fn installed_store() -> Option<Arc<dyn Store>> {
    installed().map(|(store, _)| store)
}

/// The compiled state in force; `None` while the compiled defaults are.
pub(crate) fn current() -> Option<Arc<Compiled>> {
    retained::newest()
}

/// Installs `store`: its first load, its place as the installed store, and its watch. Returns
/// the installation's epoch, and the first load's error (the store is installed all the same).
pub(super) fn install_store(
    store: &Arc<dyn Store>,
    instance: &str,
) -> Result<(u64, Option<StoreError>), StoreError> {
    // Read before any lock is taken: a store that hangs holds up only its own installation.
    let first = load(&**store, None);
    let (epoch, first) = {
        // One critical section: a write racing with the install cannot publish between the
        // store's installation and its first state, only after both.
        let lock = lock();
        let mut slot = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
        let epoch = slot.as_ref().map_or(1, |i| i.epoch + 1);
        *slot = Some(Installed {
            store: Arc::clone(store),
            epoch,
            instance: instance.to_owned(),
        });
        drop(slot);
        let first = match first {
            Ok(compiled) => {
                let compiled = compiled.expect("compiled against no state");
                record(&**store, Ok(&publish(&lock, compiled)));
                None
            }
            Err(e) => {
                tracing::warn!(store = %store.describe(), error = %e, "toggles: store installed but not loaded; the state in force stays");
                record(&**store, Err(&e));
                Some(e)
            }
        };
        (epoch, first)
    };
    // A change between the load above and the watch's start is not lost: a store reports its
    // contents as changed until it has loaded them (the file store compares with what it read).
    let watched = store.watch(Arc::new(move || {
        if installed().is_some_and(|(_, e)| e == epoch) {
            let _ = reload_installed();
        }
    }));
    if let Err(e) = watched {
        uninstall(epoch);
        return Err(e);
    }
    Ok((epoch, first))
}

/// Stops following the store installed as `epoch`, if it is still the installed one: writes
/// are refused from then on, and the state in force stays.
pub(super) fn uninstall(epoch: u64) {
    let _lock = lock();
    let mut slot = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref().is_some_and(|i| i.epoch == epoch) {
        *slot = None;
    }
}

/// Whether the failed last load of the installed store should be tried again.
pub(super) fn last_load_failed() -> bool {
    STATUS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .last_error
        .is_some()
}

/// Loads `store` and compiles what it holds, patched with the guards' pending trips, against
/// `current`: `None` when it holds what `current` does. No lock of the state layer is held.
fn load(store: &dyn Store, current: Option<&Compiled>) -> Result<Option<Compiled>, StoreError> {
    let mut snapshot = store.load()?;
    if !snapshot.other.is_empty() && current.is_none_or(|c| c.snapshot.other != snapshot.other) {
        let sections: Vec<&str> = snapshot.other.keys().map(String::as_str).collect();
        tracing::warn!(store = %store.describe(), ?sections, "toggles: sections this version does not know are carried along unread (a newer version's, or a typo)");
    }
    guard::patch(&mut snapshot);
    if current.is_some_and(|c| c.snapshot == snapshot) {
        return Ok(None);
    }
    Ok(Some(compile(snapshot, registry(), current)))
}

/// Puts tripped guards in force now, on what is in force (the store may be down): the guard
/// layer calls this the moment a guard trips. It reads no store, so it never waits for one.
pub(super) fn apply_trips() {
    let lock = lock();
    let Some(current) = retained::newest() else {
        return;
    };
    let mut snapshot = current.snapshot.clone();
    guard::patch(&mut snapshot);
    if snapshot == current.snapshot {
        return;
    }
    let compiled = compile(snapshot, registry(), Some(&current));
    let mut status = STATUS.lock().unwrap_or_else(PoisonError::into_inner);
    status.invalid_entries.clone_from(&compiled.problems);
    status.generation = publish(&lock, compiled).generation;
}

/// Records how a load of `store` went: the compiled state in force after it (`Ok`), or the
/// error that left the last good one in force.
fn record(store: &dyn Store, outcome: Result<&Compiled, &StoreError>) {
    let mut status = STATUS.lock().unwrap_or_else(PoisonError::into_inner);
    status.store = Some(store.describe());
    match outcome {
        Ok(compiled) => {
            if !compiled.problems.is_empty() && status.invalid_entries != compiled.problems {
                let problems = Invalid {
                    problems: compiled.problems.clone(),
                };
                tracing::warn!(store = %store.describe(), %problems, "toggles: entries set aside; each of these toggles keeps its last good state, every other entry is in force");
            }
            status.generation = compiled.generation;
            status.loaded_at = Some(Timestamp::now());
            status.last_error = None;
            status.invalid_entries.clone_from(&compiled.problems);
        }
        Err(e) => status.last_error = Some(e.to_string()),
    }
}

/// Reads the installed store again and puts its contents in force: what a store's change
/// notification calls, and [`Installation::reload`](crate::Installation::reload).
///
/// Contents equal to the state in force are not published again. An entry this program cannot
/// use (a field a newer version wrote, a value out of range) is set aside: its toggle keeps its
/// last good state, [`Status::invalid_entries`] lists the problem, and every other entry takes
/// effect. If the store cannot be read at all, the last good state stays in force, the error
/// goes to `tracing` and [`status`], and it is returned.
///
/// The store is read without holding any lock a check, a guard trip or a test override needs:
/// a store that hangs (a database connect timing out) delays only its own reload. (One
/// exception keeps a reload from racing for ever: one that found other states published while
/// it read, eight times over — a storm of writes in this process — reads a last time under the
/// lock.)
pub(super) fn reload_installed() -> Result<(), StoreError> {
    let Some((store, epoch)) = installed() else {
        return Ok(());
    };
    follow(&*store, epoch, None)
}

/// How many times a reload reads the store again because another state was published while it
/// read, before it reads under the state lock to be sure of finishing.
const OPTIMISTIC_READS: usize = 8;

/// Puts what `store` (installed as `epoch`) holds in force. `written`, if given, is the state a
/// write of this process left in the store, compiled, with the generation in force when the
/// write began: it is published without reading the store again if nothing was published since.
///
/// The store is read and compiled outside the state lock, and the result published under it
/// only if the generation in force is still the one the read started from; otherwise a newer
/// state may have been published from a later read, and the store is read again.
pub(super) fn follow(
    store: &dyn Store,
    epoch: u64,
    mut written: Option<(u64, Compiled)>,
) -> Result<(), StoreError> {
    for attempt in 0..=OPTIMISTIC_READS {
        let last = attempt == OPTIMISTIC_READS;
        // The last attempt holds the lock across the read, so a reload always ends.
        let early_lock = last.then(lock);
        let (base, loaded) = match written.take() {
            // A write's own state: it changed the store (a write that set what was there
            // passes none, and is followed by a load), so it is published without comparing.
            Some((base, compiled)) => (base, Ok(Some(compiled))),
            None => {
                let base = published();
                // `load` compares with the state in force: an unchanged store is not published.
                (base, load(store, retained::newest().as_deref()))
            }
        };
        let lock = early_lock.unwrap_or_else(lock);
        if installed().is_none_or(|(_, e)| e != epoch) {
            // Replaced meanwhile: the new store's own load speaks for the program.
            return Ok(());
        }
        if published() != base && !last {
            continue;
        }
        let current = retained::newest();
        return match loaded {
            Ok(Some(compiled)) => {
                record(store, Ok(&publish(&lock, compiled)));
                Ok(())
            }
            Ok(None) => {
                if let Some(current) = current {
                    record(store, Ok(&current));
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(store = %store.describe(), error = %e, "toggles: store not reloaded; the last good state stays in force");
                record(store, Err(&e));
                Err(e)
            }
        };
    }
    unreachable!("the last attempt returns")
}

/// One validated write to `store`: refused whole with every problem `compile` finds against
/// `catalog`, or unless the toggle's entry is still at revision `expect` (when given) inside the
/// store's transaction, or stored with its audit entry. Returns the entry and the compiled
/// state the write left behind.
pub(super) fn transact_if(
    store: &dyn Store,
    change: &Change,
    actor: &str,
    reason: &str,
    catalog: &dyn Catalog,
    current: Option<&Compiled>,
    expect: Option<Revision>,
) -> Result<(AuditEntry, Option<Compiled>), WriteError> {
    if actor.trim().is_empty() || reason.trim().is_empty() {
        return Err(WriteError::Unattributed);
    }
    let mut compiled = None;
    let entry = store.update(&mut |snapshot| {
        check_target(change, catalog, snapshot)?;
        // The change as it was given: a value JSON cannot hold (a NaN percent) is seen here,
        // before it is written as JSON and lost.
        let given = change_problems(change, catalog);
        if !given.is_empty() {
            return Err(Invalid { problems: given }.into());
        }
        let name = change.name();
        let before = snapshot.entry(name).cloned();
        if let Some(expected) = expect {
            let found = Revision::of(before.as_ref());
            if found != expected {
                return Err(WriteError::Conflict {
                    toggle: name.to_owned(),
                    expected,
                    found,
                });
            }
        }
        // A store discards the edited contents of a refused edit, so they are edited in place.
        snapshot.apply(change);
        let after = snapshot.entry(name).cloned();
        // What this process puts in force: with the guards' trips that have not landed, as a
        // load would, so a write never turns a tripped flag back on here.
        let mut in_force = snapshot.clone();
        guard::patch(&mut in_force);
        let next = compile(in_force, catalog, current);
        let problems = next.problems_of(name);
        if !problems.is_empty() {
            return Err(Invalid { problems }.into());
        }
        // Setting what was there changes nothing to follow: the reload after it loads (and
        // compares with what is in force) instead of publishing the same state again.
        compiled = (before != after).then_some(next);
        Ok(
            AuditEntry::new(name.to_owned(), actor.to_owned(), reason.to_owned())
                .before(before)
                .after(after),
        )
    })?;
    Ok((entry, compiled))
}

/// The installed store's audit entries matching `query`, newest first; none before a store is
/// installed.
///
/// ```
/// use toggles::{toggle, Change, Switch};
/// use toggles::store::{AuditQuery, MemoryStore};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let _toggles = toggles::install(MemoryStore::new()).unwrap();
/// toggles::write(Change::switch("catalog.recommendations", false).by("ops").because("spike")).unwrap();
/// toggles::write(Change::switch("catalog.recommendations", true).by("ops").because("calm")).unwrap();
/// let last = toggles::report::audit(&AuditQuery::toggle("catalog.recommendations").limit(1)).unwrap();
/// assert_eq!(last[0].reason, "calm");
/// ```
pub fn audit(query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    match installed() {
        Some((store, _)) => store.audit(query),
        None => Ok(Vec::new()),
    }
}
