//! Who hears of each new state put in force: a server's change stream, a cache to drop.

use std::sync::{Mutex, PoisonError};

/// A listener: called with each new generation, dropped once it answers `false`.
type Listener = Box<dyn Fn(u64) -> bool + Send + Sync>;

static LISTENERS: Mutex<Vec<Listener>> = Mutex::new(Vec::new());

/// Calls `listener` with the generation of each state put in force from now on (a write of
/// this process, a change the store reports, a reload), once every toggle's cached state
/// answers from it; `listener` is dropped once it returns `false`. It runs on the thread that
/// put the state in force, while that state is being published: it must be quick, and must
/// neither write, reload nor add a listener (a notification to a channel is what it is for).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use toggles::{toggle, Change, Switch};
/// use toggles::store::MemoryStore;
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let _toggles = toggles::install(MemoryStore::new())?;
/// let seen = Arc::new(AtomicU64::new(0));
/// let heard = Arc::clone(&seen);
/// toggles::on_state_change(move |generation| {
///     heard.store(generation, Ordering::Relaxed);
///     true
/// });
/// toggles::write(Change::switch("catalog.recommendations", false).by("ops").because("load"))?;
/// assert_eq!(seen.load(Ordering::Relaxed), toggles::status().generation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn on_state_change(listener: impl Fn(u64) -> bool + Send + Sync + 'static) {
    LISTENERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(listener));
}

/// Tells every listener of `generation`, now in force.
pub(crate) fn changed(generation: u64) {
    LISTENERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|listener| listener(generation));
}
