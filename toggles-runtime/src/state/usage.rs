//! The heartbeat's side of usage (see `declare::usage` for the checks' side): once per
//! interval it takes every toggle's answers since the last time and asks each toggle answered
//! by one load to note its next check.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::declare::{registry, Cells, NOTE, NOTE_WORD, OFF, ON, STORED, USED};
use crate::stores::Use;

/// Every toggle evaluated since the last sweep, with the answers it gave; and the next check of
/// each one-load toggle takes its cold path once, to be counted in the next interval.
pub(crate) fn sweep() -> Vec<Use> {
    // Publishes rebuild state words under this lock, keeping a note bit they find.
    let _lock = super::lock();
    let mut used = Vec::new();
    for info in registry() {
        let cells = info.toggle().cells();
        let answers = cells.usage().take();
        if answers & USED != 0 {
            used.push(Use::new(info.full_name(), names(&cells, answers & !USED)));
        }
        ask_to_note(&cells);
    }
    used
}

/// The answers in `bits`, by name.
fn names(cells: &Cells<'_>, bits: u64) -> Vec<String> {
    let given = |i: usize| bits & (1u64 << i) != 0;
    match cells {
        Cells::Switch(_) | Cells::Flag(_) => [(0, "off"), (1, "on")]
            .iter()
            .filter(|(i, _)| given(*i))
            .map(|(_, name)| (*name).to_owned())
            .collect(),
        Cells::Variant(v) => v
            .arms
            .iter()
            .enumerate()
            .filter(|(i, _)| given(*i))
            .map(|(_, arm)| (*arm).to_owned())
            .collect(),
        Cells::Setting(_) => Vec::new(),
    }
}

/// Sets the note bit of a toggle whose checks take one load (a contextual flag's checks note
/// their answers anyway; an overridden toggle is on its slow path already).
fn ask_to_note(cells: &Cells<'_>) {
    match cells {
        Cells::Switch(s) => note_byte(&s.state, |state| state == ON || state == OFF),
        Cells::Setting(s) => note_byte(s.state, |state| state == STORED || state == OFF),
        Cells::Flag(f) => note_word(&f.state),
        Cells::Variant(v) => note_word(v.state),
    }
}

fn note_byte(state: &AtomicU8, one_load: impl Fn(u8) -> bool) {
    let now = state.load(Ordering::Relaxed);
    if one_load(now) {
        let _ = state.compare_exchange(now, now | NOTE, Ordering::Relaxed, Ordering::Relaxed);
    }
}

fn note_word(state: &AtomicU64) {
    let now = state.load(Ordering::Relaxed);
    // The low two bits are OFF, ON, EVAL or SLOW for flags and variant toggles alike.
    let one_load = matches!((now & 3) as u8, OFF | ON);
    if one_load && now & NOTE_WORD == 0 {
        let _ = state.compare_exchange(now, now | NOTE_WORD, Ordering::Relaxed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::{note_byte, note_word};
    use crate::declare::{test_meta, Flag, Switch, NOTE, NOTE_WORD, OFF, ON, USED};
    use crate::targeting::Context;

    // Statics outside the registry: the checks read their cells as a declared toggle's.
    static ON_FLAG: Flag = Flag::__new(test_meta("usage.on_flag", "usage.rs", 1), true);
    static OFF_SWITCH: Switch = Switch::__new(test_meta("usage.off_switch", "usage.rs", 2), false);

    #[test]
    fn a_constant_flag_notes_its_answer_once_per_ask_and_is_fast_again() {
        let ctx = Context::new();
        let fast = ctx.generation() << 2 | u64::from(ON);
        ON_FLAG.state.store(fast, Relaxed);
        for _ in 0..3 {
            assert!(ON_FLAG.is_enabled(&ctx));
        }
        assert_eq!(ON_FLAG.usage.take(), 0, "the fast path notes nothing");

        note_word(&ON_FLAG.state);
        assert_eq!(ON_FLAG.state.load(Relaxed), fast | NOTE_WORD);
        assert!(
            ON_FLAG.is_enabled(&ctx),
            "the noted check answers as before"
        );
        assert_eq!(
            ON_FLAG.state.load(Relaxed),
            fast,
            "the note is cleared: the checks after it take the one load"
        );
        for _ in 0..100 {
            assert!(ON_FLAG.is_enabled(&ctx));
        }
        assert_eq!(ON_FLAG.state.load(Relaxed), fast);
        assert_eq!(ON_FLAG.usage.take(), USED | 1 << 1, "`on`, noted once");
    }

    #[test]
    fn a_switch_notes_its_answer_once_per_ask() {
        OFF_SWITCH.state.store(OFF, Relaxed);
        assert!(!OFF_SWITCH.is_enabled());
        assert_eq!(OFF_SWITCH.usage.take(), 0);
        note_byte(&OFF_SWITCH.state, |s| s == ON || s == OFF);
        assert_eq!(OFF_SWITCH.state.load(Relaxed), OFF | NOTE);
        assert!(!OFF_SWITCH.is_enabled());
        assert_eq!(OFF_SWITCH.state.load(Relaxed), OFF);
        assert!(!OFF_SWITCH.is_enabled());
        assert_eq!(OFF_SWITCH.usage.take(), USED | 1, "`off`, noted once");
    }

    #[test]
    fn a_contextual_flag_notes_every_answer_it_gives() {
        static ROLLOUT: Flag = Flag::__new(test_meta("usage.rollout", "usage.rs", 3), false);
        let ctx = Context::new();
        // EVAL: every check evaluates (here, with no rule in force, the default).
        ROLLOUT.state.store(
            ctx.generation() << 2 | u64::from(crate::declare::EVAL),
            Relaxed,
        );
        for _ in 0..10 {
            assert!(!ROLLOUT.is_enabled(&ctx));
        }
        assert_eq!(ROLLOUT.usage.take(), USED | 1);
        assert_eq!(ROLLOUT.usage.take(), 0, "taking starts a fresh interval");
    }
}
