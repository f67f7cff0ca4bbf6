//! The compiled states a generation number can still reach: the newest `RETAINED` for every
//! thread, and a few per thread in a thread-local cache that checks borrow from in place.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::compile::Compiled;

/// How many of the newest compiled states every thread can reach.
const RETAINED: usize = 64;
/// How many compiled states a thread keeps at hand.
const LOCAL: usize = 4;

static RECENT: Mutex<VecDeque<Arc<Compiled>>> = Mutex::new(VecDeque::new());

thread_local! {
    static CACHE: RefCell<[Option<Arc<Compiled>>; LOCAL]> = const { RefCell::new([None, None, None, None]) };
}

/// Keeps `compiled` reachable by its generation; the caller holds the state lock and publishes
/// generations in increasing order.
pub(super) fn retain(compiled: Arc<Compiled>) {
    let mut recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
    recent.push_back(compiled);
    while recent.len() > RETAINED {
        recent.pop_front();
    }
}

/// The newest compiled state: the one in force.
pub(super) fn newest() -> Option<Arc<Compiled>> {
    let recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
    recent.back().cloned()
}

/// The compiled state of `generation`, or, if it is no longer retained, the oldest that is.
fn find(generation: u64) -> Option<Arc<Compiled>> {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let recent = RECENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = recent.iter().find(|c| c.generation == generation) {
        return Some(Arc::clone(found));
    }
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            generation,
            retained = RETAINED,
            "toggles: a context outlived the compiled states retained for it; it answers from the oldest retained one (logged once)"
        );
    }
    recent.front().cloned()
}

/// Calls `f` with the compiled state of `generation` (`None` for generation 0, the compiled
/// defaults), borrowed from this thread's cache when it is there.
#[inline]
pub(super) fn with<R>(generation: u64, f: impl FnOnce(Option<&Compiled>) -> R) -> R {
    if generation == 0 {
        return f(None);
    }
    CACHE.with(|cache| {
        // A shared borrow: a flag's rule may require another flag, whose check borrows again.
        if let Ok(slots) = cache.try_borrow() {
            if let Some(hit) = slots.iter().flatten().find(|c| c.generation == generation) {
                return f(Some(hit));
            }
        }
        miss(cache, generation, f)
    })
}

#[cold]
#[inline(never)]
fn miss<R>(
    cache: &RefCell<[Option<Arc<Compiled>>; LOCAL]>,
    generation: u64,
    f: impl FnOnce(Option<&Compiled>) -> R,
) -> R {
    let found = find(generation);
    // Inside another check's borrow the cache cannot be written; the state is used uncached.
    if let (Some(found), Ok(mut slots)) = (&found, cache.try_borrow_mut()) {
        let oldest = slots
            .iter_mut()
            .min_by_key(|slot| slot.as_ref().map_or(0, |c| c.generation))
            .expect("the cache has slots");
        *oldest = Some(Arc::clone(found));
    }
    f(found.as_deref())
}
