//! Which answers a toggle gave since the heartbeat last asked: one word per toggle, written
//! only on a check's cold path, so a check at steady state costs what it cost without it.
//!
//! A check whose answer the context decides (a rollout, an experiment) is already on its slow
//! path; it notes its answer there, with a load that finds the bit set after the first time
//! and no write. A check answered by one load (a switch, a constant flag, a setting) notes
//! nothing: instead, once per interval the heartbeat sets a toggle's *note* bit in its cached
//! state, the next check misses its fast path once, notes its answer and clears the bit, and
//! every check after it is fast again. One cold path per toggle per interval, none per request.

use std::sync::atomic::{AtomicU64, Ordering};

/// Set when the toggle was checked at all; the bits below it are the answers given (off and
/// on at 0 and 1, an arm at its index).
pub(crate) const USED: u64 = 1 << 63;

/// The note bit of a `u64` state word (flags, variant toggles): above every generation a
/// process reaches, so a context's generation never matches a word that carries it.
pub(crate) const NOTE_WORD: u64 = 1 << 63;

/// The note bit of a `u8` state (switches, settings): no other state has it.
pub(crate) const NOTE: u8 = 4;

/// A toggle's answers since the last [`take`](UsageCell::take).
#[derive(Debug)]
pub(crate) struct UsageCell(AtomicU64);

impl UsageCell {
    pub(crate) const fn new() -> UsageCell {
        UsageCell(AtomicU64::new(0))
    }

    /// Notes answer `answer` (below 63): a load, and a write only the first time.
    #[inline]
    pub(crate) fn note(&self, answer: usize) {
        let bits = USED | 1u64 << answer.min(62);
        if self.0.load(Ordering::Relaxed) & bits != bits {
            self.0.fetch_or(bits, Ordering::Relaxed);
        }
    }

    /// The answers noted since the last call (with [`USED`]), and a fresh interval.
    pub(crate) fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}
