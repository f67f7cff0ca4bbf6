//! Publishing a compiled state, and rebuilding each toggle's cached state from it.

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use crate::compile::{Compiled, Entry};
use crate::declare::{
    key, published, registry, set_published, Cells, Toggle, ARM_SHIFT, EVAL, NOTE, NOTE_WORD, OFF,
    ON, SLOW, STORED,
};
use crate::state::overrides::Override;
use crate::state::retained;
use crate::targeting::Constant;

/// Gives `compiled` the next generation, retains it, publishes the generation, and rebuilds
/// every toggle's cached state from it. The caller holds the state lock.
pub(super) fn publish(_lock: &MutexGuard<'_, ()>, mut compiled: Compiled) -> Arc<Compiled> {
    // Only a publish writes the published generation, and publishes hold the lock.
    let generation = published() + 1;
    compiled.generation = generation;
    let compiled = Arc::new(compiled);
    // Retained before published: a context that pins the generation finds its state.
    retained::retain(Arc::clone(&compiled));
    set_published(generation);
    // The registry in id order beside the entries in id order: one pass, no lookups.
    let mut entries = compiled.entries().iter().peekable();
    for (id, t) in (0u32..).zip(registry()) {
        while entries.next_if(|(i, _)| *i < id).is_some() {}
        let entry = entries.next_if(|(i, _)| *i == id).map(|(_, entry)| entry);
        rebuild_from(t.toggle(), entry, generation);
    }
    drop(entries);
    crate::state::changes::changed(generation);
    compiled
}

/// Recomputes one toggle's cached state from `compiled` (`None`: the compiled defaults).
fn rebuild(toggle: &dyn Toggle, compiled: Option<&Compiled>) {
    let entry = compiled.and_then(|c| c.entry(toggle.cells().id().load(Ordering::Relaxed)));
    rebuild_from(toggle, entry, compiled.map_or(0, |c| c.generation));
}

/// Recomputes one toggle's cached state from `entry`, what the state of `generation` holds for
/// it (`None`: nothing, so the compiled default).
fn rebuild_from(toggle: &dyn Toggle, entry: Option<&Entry>, generation: u64) {
    let cells = toggle.cells();
    let slow = cells.overrides().load(Ordering::Relaxed) > 0;
    match cells {
        Cells::Switch(switch) => {
            let on = match entry {
                Some(Entry::Switch(on)) => *on,
                _ => switch.default,
            };
            let state = match (slow, on) {
                (true, _) => SLOW,
                (false, true) => ON,
                (false, false) => OFF,
            };
            // A note the heartbeat asked for stays asked (sweeps and publishes share the lock).
            let note = switch.state.load(Ordering::Relaxed) & NOTE;
            switch.state.store(state | note, Ordering::Relaxed);
        }
        Cells::Flag(flag) => {
            let state = if slow {
                SLOW
            } else {
                match entry {
                    Some(Entry::Flag(rule)) => match rule.constant() {
                        Constant::Is(on) => u8::from(on),
                        Constant::CompiledDefault => u8::from(flag.default),
                        Constant::Contextual => EVAL,
                    },
                    _ => u8::from(flag.default),
                }
            };
            let note = flag.state.load(Ordering::Relaxed) & NOTE_WORD;
            flag.state
                .store(generation << 2 | u64::from(state) | note, Ordering::Relaxed);
            let timed = matches!(entry, Some(Entry::Flag(rule)) if rule.timed());
            flag.timed.store(timed, Ordering::Relaxed);
        }
        Cells::Variant(variant) => {
            let (arm, state) = if slow {
                (0, SLOW)
            } else {
                match entry {
                    Some(Entry::Variant(rule)) => match rule.constant() {
                        Constant::Is(arm) if usize::from(arm) == variant.control => (0, OFF),
                        Constant::Is(arm) => (arm, ON),
                        Constant::CompiledDefault => (0, OFF),
                        Constant::Contextual => (0, EVAL),
                    },
                    _ => (0, OFF),
                }
            };
            let note = variant.state.load(Ordering::Relaxed) & NOTE_WORD;
            variant.state.store(
                generation << ARM_SHIFT | u64::from(arm) << 2 | u64::from(state) | note,
                Ordering::Relaxed,
            );
            let timed = matches!(entry, Some(Entry::Variant(rule)) if rule.timed());
            variant.timed.store(timed, Ordering::Relaxed);
        }
        Cells::Setting(setting) => {
            // The value word is written before the state that says to read it (release), so a
            // reader that sees `STORED` (acquire) reads a value some compiled state held.
            let state = match (slow, entry) {
                (true, _) => SLOW,
                (false, Some(Entry::Setting(bits))) => {
                    setting.bits.store(*bits, Ordering::Relaxed);
                    STORED
                }
                (false, _) => OFF,
            };
            let note = setting.state.load(Ordering::Relaxed) & NOTE;
            setting.state.store(state | note, Ordering::Release);
        }
    }
}

/// Forces `toggle` to `value` in the current scope until [`end_override`]; `None` if `value`
/// is not of the toggle's value type.
pub(crate) fn start_override(
    toggle: &'static dyn Toggle,
    value: Box<dyn Any + Send + Sync>,
) -> Option<Override> {
    if (*value).type_id() != toggle.cells().value_type() {
        return None;
    }
    let lock = super::lock();
    let active = Override::push(key(toggle), value);
    toggle.cells().overrides().fetch_add(1, Ordering::Relaxed);
    rebuild(toggle, retained::newest().as_deref());
    drop(lock);
    Some(active)
}

/// Ends an override [`start_override`] made.
pub(crate) fn end_override(toggle: &'static dyn Toggle, active: &Override) {
    let _lock = super::lock();
    active.pop();
    toggle.cells().overrides().fetch_sub(1, Ordering::Relaxed);
    rebuild(toggle, retained::newest().as_deref());
}
