//! The cached state on each toggle static, and how a store change rebuilds it.
//!
//! # Rebuilding cached state
//!
//! A check must cost about one atomic load, so no check reads the store. Instead every
//! toggle static caches its answer, as tracing-core's callsites cache their interest:
//!
//! - a `Switch` holds `OFF`, `ON` or `SLOW` in an `AtomicU8`;
//! - a `Flag` holds, in one `AtomicU64`, the *generation* of the snapshot its state was
//!   computed from (high bits) and `OFF`, `ON`, `EVAL` ("the context decides") or `SLOW`
//!   (low two bits);
//! - a `Setting` holds its current value behind an `ArcSwapOption`, `None` for the default.
//!
//! When the store's contents change, the runtime validates and compiles them into a
//! [`Compiled`] snapshot with the next generation number, publishes it in [`CURRENT`], and then
//! walks the registry, storing each toggle's new state. Publishing and the walk happen under
//! one mutex, so two rebuilds never interleave, and test overrides (which force a toggle to
//! `SLOW`) take the same mutex.
//!
//! A request sees stable flag answers because its [`Context`](crate::Context) pins a snapshot
//! on its first flag check. A flag check compares the generation in the flag's state with the
//! context's pinned generation: equal, and the state is `ON` or `OFF`, the answer is right there
//! (one load and a compare). Anything else — the rule needs the context, a rebuild is half-way
//! through the walk, the store changed since the request began, an override is in scope — takes
//! the cold path, which evaluates against the context's pinned snapshot. So a check never sees a
//! state that no snapshot contained, and within one context never sees two snapshots.
//!
//! Relaxed ordering suffices for the states: a state word is only ever compared with the
//! generation it carries, and the compiled rules it refers to are reached through the
//! context's `Arc`, which `arc-swap` publishes with the ordering it needs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwapOption;
use serde_json::Value as Json;

use crate::rule::CompiledRule;
use crate::store::AuditEntry;
use crate::{registry, Kind, Snapshot, Timestamp};

pub(crate) const OFF: u8 = 0;
pub(crate) const ON: u8 = 1;
pub(crate) const EVAL: u8 = 2;
pub(crate) const SLOW: u8 = 3;

/// A store snapshot made ready for evaluation.
// `pub` only because the sealed toggle trait names it; the module keeps it unreachable.
#[allow(unreachable_pub)]
pub struct Compiled {
    pub(crate) generation: u64,
    pub(crate) snapshot: Snapshot,
    /// By registry id.
    pub(crate) entries: Vec<Entry>,
    pub(crate) history: HashMap<String, History>,
}

pub(crate) enum Entry {
    Default,
    Switch(bool),
    Flag(Box<CompiledRule>),
    Setting(Json),
}

/// Who changed a toggle and when, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct History {
    pub(crate) first_modified: Timestamp,
    pub(crate) last_modified: Timestamp,
    pub(crate) modified_by: String,
}

impl Compiled {
    /// Compiles a snapshot already validated against the registry.
    pub(crate) fn new(snapshot: Snapshot, audit: &[AuditEntry]) -> Compiled {
        let reg = registry();
        // Walk what the store holds, not the registry: a store usually holds far fewer entries
        // than the program declares toggles. The kind checks skip entries meant for another
        // program sharing the store.
        let mut entries: Vec<Entry> = std::iter::repeat_with(|| Entry::Default)
            .take(reg.len())
            .collect();
        let mut place = |name: &str, kind: Kind, entry: &dyn Fn() -> Entry| {
            if let Some(id) = reg.id_of(name) {
                if reg.by_id(id).is_some_and(|t| t.kind() == kind) {
                    entries[id as usize] = entry();
                }
            }
        };
        for (name, on) in &snapshot.switches {
            place(name, Kind::Switch, &|| Entry::Switch(*on));
        }
        for (name, value) in &snapshot.settings {
            place(name, Kind::Setting, &|| Entry::Setting(value.clone()));
        }
        for (name, rule) in &snapshot.flags {
            place(name, Kind::Flag, &|| {
                let requires = rule
                    .requires
                    .iter()
                    .filter_map(|r| reg.id_of(r).map(|id| (id, r.clone())))
                    .collect();
                Entry::Flag(Box::new(CompiledRule::compile(rule, name, requires)))
            });
        }
        let mut history: HashMap<String, History> = HashMap::new();
        for e in audit {
            history
                .entry(e.toggle.clone())
                .and_modify(|h| {
                    h.last_modified = e.at;
                    h.modified_by.clone_from(&e.actor);
                })
                .or_insert_with(|| History {
                    first_modified: e.at,
                    last_modified: e.at,
                    modified_by: e.actor.clone(),
                });
        }
        Compiled {
            generation: 0,
            snapshot,
            entries,
            history,
        }
    }

    pub(crate) fn entry(&self, id: u32) -> &Entry {
        self.entries.get(id as usize).unwrap_or(&Entry::Default)
    }
}

/// The snapshot in force; `None` until a store is installed.
static CURRENT: ArcSwapOption<Compiled> = ArcSwapOption::const_empty();
static REBUILD: Mutex<()> = Mutex::new(());
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

pub(crate) fn current() -> Option<Arc<Compiled>> {
    CURRENT.load_full()
}

/// Held while states are written: by a rebuild, and by a test override coming or going.
pub(crate) fn lock() -> MutexGuard<'static, ()> {
    // A panic while holding it leaves nothing half-written that the next holder cannot redo.
    REBUILD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Publishes `compiled` and rebuilds every toggle's cached state from it.
pub(crate) fn publish(mut compiled: Compiled) -> u64 {
    let _guard = lock();
    // The generation fits in the 62 bits a flag's state word has for it for ~10^18 rebuilds.
    compiled.generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
    let generation = compiled.generation;
    let compiled = Arc::new(compiled);
    CURRENT.store(Some(Arc::clone(&compiled)));
    for t in registry() {
        t.toggle().rebuild(Some(&compiled));
    }
    generation
}

/// What a context pins on its first flag check.
#[derive(Clone)]
pub(crate) struct Pinned {
    /// A copy of `compiled`'s generation, so the hot path compares without following the `Arc`.
    generation: u64,
    pub(crate) compiled: Option<Arc<Compiled>>,
    pub(crate) now: Timestamp,
}

impl Pinned {
    #[cold]
    pub(crate) fn now() -> Pinned {
        let compiled = current();
        Pinned {
            generation: compiled.as_ref().map_or(0, |c| c.generation),
            compiled,
            now: Timestamp::now(),
        }
    }

    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}
