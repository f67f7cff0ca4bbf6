//! Installing a store, writing to it, and what the program can ask about it.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::cache::{self, Compiled};
use crate::store::{AuditEntry, Store, StoreError, WriteError};
use crate::{registry, Change, Invalid, Problem, Timestamp};

struct Installed {
    store: Arc<dyn Store>,
    /// Tells a replaced store's watcher that it no longer speaks for the program.
    epoch: u64,
}

static INSTALLED: RwLock<Option<Installed>> = RwLock::new(None);
static STATUS: Mutex<Status> = Mutex::new(Status::compiled_defaults());
/// Reloads run one at a time, so an older snapshot is never published over a newer one.
static RELOAD: Mutex<()> = Mutex::new(());

/// Where the toggles' values come from, and how the last load went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The store's description; `None` before a store is installed.
    pub store: Option<String>,
    /// The generation of the snapshot in force; 0 for the compiled defaults.
    pub generation: u64,
    /// When the snapshot in force was loaded.
    pub loaded_at: Option<Timestamp>,
    /// The last load's error, if it failed: the snapshot in force is then the last good one.
    pub last_error: Option<String>,
}

impl Status {
    const fn compiled_defaults() -> Status {
        Status {
            store: None,
            generation: 0,
            loaded_at: None,
            last_error: None,
        }
    }
}

/// How the store in force is doing. A program can expose it on a health endpoint.
pub fn status() -> Status {
    STATUS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn installed() -> Option<(Arc<dyn Store>, u64)> {
    let guard = INSTALLED.read().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref().map(|i| (Arc::clone(&i.store), i.epoch))
}

/// Makes `store` the source of every toggle's value, replacing any store installed before.
///
/// Reads the store, checks it against the registry and rebuilds every toggle's cached state;
/// then follows the store's changes. Before any store is installed, every toggle has its
/// compiled default.
///
/// If the first read fails — the store is unreachable, or holds data that does not fit the
/// program — the error is returned and reported (through `tracing` and [`status`]), and the
/// state in force stays as it was (the compiled defaults at start-up); the store is installed
/// all the same and followed, so once it is fixed its contents take effect.
pub fn install(store: impl Store) -> Result<(), StoreError> {
    let store: Arc<dyn Store> = Arc::new(store);
    let first = load(&*store);
    let (epoch, first) = {
        // One critical section: a write racing with the install cannot publish between the
        // store's installation and its first snapshot, only after both.
        let _reload = RELOAD.lock().unwrap_or_else(PoisonError::into_inner);
        let mut slot = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
        let epoch = slot.as_ref().map_or(1, |i| i.epoch + 1);
        *slot = Some(Installed {
            store: Arc::clone(&store),
            epoch,
        });
        drop(slot);
        let first = match first {
            Ok(compiled) => {
                record(&*store, Ok(cache::publish(compiled)));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(store = %store.describe(), error = %e, "toggles: store installed but not loaded; the state in force stays");
                record(&*store, Err(&e));
                Err(e)
            }
        };
        (epoch, first)
    };
    store.watch(Arc::new(move || {
        if installed().is_some_and(|(_, e)| e == epoch) {
            let _ = reload();
        }
    }))?;
    first
}

fn load(store: &dyn Store) -> Result<Compiled, StoreError> {
    let snapshot = store.load()?;
    snapshot.validate(false)?;
    let audit = store.audit_log()?;
    Ok(Compiled::new(snapshot, &audit))
}

fn record(store: &dyn Store, outcome: Result<u64, &StoreError>) {
    let mut status = STATUS.lock().unwrap_or_else(PoisonError::into_inner);
    status.store = Some(store.describe());
    match outcome {
        Ok(generation) => {
            status.generation = generation;
            status.loaded_at = Some(Timestamp::now());
            status.last_error = None;
        }
        Err(e) => status.last_error = Some(e.to_string()),
    }
}

/// Reads the installed store again and puts its contents in force. Stores call this through
/// their change notification; call it yourself to force a refresh.
///
/// If the store cannot be read or holds bad data, the last good state stays in force, the error
/// goes to `tracing` and [`status`], and it is returned.
pub fn reload() -> Result<(), StoreError> {
    let _reload = RELOAD.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((store, _)) = installed() else {
        return Ok(());
    };
    match load(&*store) {
        Ok(compiled) => {
            record(&*store, Ok(cache::publish(compiled)));
            Ok(())
        }
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: store not reloaded; the last good state stays in force");
            record(&*store, Err(&e));
            Err(e)
        }
    }
}

/// Writes `change` to the installed store, on behalf of `actor`, for `reason`.
///
/// The change is checked against the registry inside the store's transaction — unknown toggle,
/// wrong kind, a rule out of range, a `requires` cycle, a setting value of the wrong type — and
/// refused whole with every problem listed, or stored together with its audit entry. When this
/// returns `Ok`, the change is in force in this process.
///
/// ```
/// use toggles::{toggle, Change, FlagRule, Flag, MemoryStore};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
/// static NEW_GRADER: Flag;
///
/// toggles::install(MemoryStore::new()).unwrap();
/// let rule = FlagRule::new().percent(150.0);
/// let refused = toggles::write(&Change::flag("grading.new_grader", rule), "ana", "wider rollout");
/// assert_eq!(
///     refused.unwrap_err().to_string(),
///     "write refused: `grading.new_grader` `percent` is from 0 to 100, not 150"
/// );
/// let entry = toggles::write(&Change::flag("grading.new_grader", FlagRule::new().percent(20.0)), "ana", "start the rollout").unwrap();
/// assert_eq!(entry.before, None);
/// ```
pub fn write(change: &Change, actor: &str, reason: &str) -> Result<AuditEntry, WriteError> {
    if actor.trim().is_empty() || reason.trim().is_empty() {
        return Err(WriteError::Unattributed);
    }
    let (store, _) = installed().ok_or(WriteError::NoStore)?;
    let entry = store.update(&mut |snapshot| {
        check_target(change)?;
        let before = snapshot.entry(change.name());
        let mut next = snapshot.clone();
        next.apply(change);
        next.validate(false)?;
        let after = next.entry(change.name());
        *snapshot = next;
        Ok(AuditEntry {
            at: Timestamp::now(),
            actor: actor.to_owned(),
            toggle: change.name().to_owned(),
            before,
            after,
            reason: reason.to_owned(),
        })
    })?;
    // In force here before returning, whatever the store's own notification does.
    reload()?;
    Ok(entry)
}

/// A write must name a toggle this program declares. (Its kind, like everything else about
/// the entry, is checked by validating the edited snapshot.)
fn check_target(change: &Change) -> Result<(), Invalid> {
    let name = change.name();
    if registry().get(name).is_some() {
        return Ok(());
    }
    Err(Invalid {
        problems: vec![Problem {
            toggle: name.to_owned(),
            message: "is not a toggle of this program".to_owned(),
        }],
    })
}

/// The installed store's audit log, oldest first.
pub fn audit_log() -> Result<Vec<AuditEntry>, StoreError> {
    match installed() {
        Some((store, _)) => store.audit_log(),
        None => Ok(Vec::new()),
    }
}
