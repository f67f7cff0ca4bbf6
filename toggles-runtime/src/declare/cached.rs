//! The words a toggle static caches its state in, and the generation they belong to.
//!
//! The `state` layer writes them (its module essay says how and why); checks read them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A switch's or flag's state: off for everyone.
pub(crate) const OFF: u8 = 0;
/// On for everyone.
pub(crate) const ON: u8 = 1;
/// A flag whose answer the context decides.
pub(crate) const EVAL: u8 = 2;
/// Ask the slow path: a test override may be in scope.
pub(crate) const SLOW: u8 = 3;
/// A setting whose value is the one in its `bits` word (otherwise the compiled default).
pub(crate) const STORED: u8 = 1;

/// The generation of the compiled state most recently published; 0 for the compiled defaults.
static PUBLISHED: AtomicU64 = AtomicU64::new(0);

/// The generation a new context pins: one load of a word that only a publish writes.
#[inline]
pub(crate) fn published() -> u64 {
    // Acquire: a context that sees generation `g` finds `g`'s compiled state retained.
    PUBLISHED.load(Ordering::Acquire)
}

pub(crate) fn set_published(generation: u64) {
    PUBLISHED.store(generation, Ordering::Release);
}
